import json

import pytest
import torch
from spacy.tokens import Doc, DocBin
from spacy.vocab import Vocab
from transformers import AutoTokenizer

from spacy_clintiny.distill.corpus import (
    CorpusSettings,
    build_corpus,
    expand_paths,
    global_batch_indices,
    load_corpus,
    read_documents,
    split_documents,
)


@pytest.fixture(scope="module")
def tokenizer(tiny_encoder):
    return AutoTokenizer.from_pretrained(str(tiny_encoder))


def test_plain_text_splits(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("one two\nthree\n\n  \nfour five\n\nsix\n", encoding="utf8")
    blocks, _ = read_documents([path], CorpusSettings())
    assert blocks == ["one two\nthree", "four five", "six"]
    lines, _ = read_documents([path], CorpusSettings(text_split="line"))
    assert lines == ["one two", "three", "four five", "six"]
    whole, _ = read_documents([path], CorpusSettings(text_split="file"))
    assert len(whole) == 1


def test_crlf_text_splits_like_lf_and_a_file_that_is_not_utf8_is_named(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"one two\r\nthree\r\n\r\nfour\r\n")
    assert read_documents([path], CorpusSettings())[0] == ["one two\nthree", "four"]
    path.write_bytes(b"caf\xe9 au lait\n")  # latin-1
    with pytest.raises(ValueError, match=r"E528.*a\.txt.*byte 3"):
        read_documents([path], CorpusSettings())
    jsonl = tmp_path / "b.jsonl"
    jsonl.write_bytes(b'{"text": "fine"}\n{"text": "caf\xe9"}\n')
    with pytest.raises(ValueError, match=r"E528.*b\.jsonl', line 2,"):
        read_documents([jsonl], CorpusSettings())


def test_jsonl_field_dedupe_and_missing_values(tmp_path):
    path = tmp_path / "notes.jsonl"
    rows = [
        {"transcription": "pain in chest"},
        {"transcription": "pain in chest"},
        {"transcription": "<NA>"},
        {"transcription": "fever"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf8")
    texts, dropped = read_documents([path], CorpusSettings(text_field="transcription"))
    assert texts == ["pain in chest", "fever"] and dropped == 1


def test_jsonl_missing_field_error_names_fields_not_text(tmp_path):
    path = tmp_path / "notes.jsonl"
    path.write_text(json.dumps({"note": "secret patient text"}) + "\n", encoding="utf8")
    with pytest.raises(ValueError, match="E517") as err:
        read_documents([path], CorpusSettings(text_field="transcription"))
    assert "secret" not in str(err.value) and "note" in str(err.value) and "line 1" in str(err.value)


def test_docbin_and_directory_input(tmp_path):
    vocab = Vocab()
    db = DocBin()
    db.add(Doc(vocab, words=["pt", "denies", "fever"]))
    (tmp_path / "d").mkdir()
    db.to_disk(tmp_path / "d" / "synth.spacy")
    (tmp_path / "d" / "x.txt").write_text("cough\n", encoding="utf8")
    files = expand_paths([tmp_path / "d"])
    texts, _ = read_documents(files, CorpusSettings())
    assert sorted(texts) == ["cough", "pt denies fever"]
    with pytest.raises(ValueError, match="E523"):
        expand_paths([tmp_path / "missing.txt"])
    (tmp_path / "bad.csv").write_text("a", encoding="utf8")
    with pytest.raises(ValueError, match="E516"):
        read_documents([tmp_path / "bad.csv"], CorpusSettings())


def test_split_pack_and_determinism(text_corpus, tokenizer):
    settings = CorpusSettings(seq_len=32, heldout_fraction=0.1, seed=1)
    a = build_corpus([text_corpus], tokenizer, settings)
    b = build_corpus([text_corpus], tokenizer, settings)
    assert torch.equal(a.train.input_ids, b.train.input_ids)
    assert a.info["heldout_documents"] == 8 and a.info["train_documents"] == 72
    ids = a.train.input_ids
    assert ids.shape[1] == 32 and (ids[:, 0] == tokenizer.cls_token_id).all()
    # every row is full except possibly the last one
    assert (a.train.attention_mask[:-1] == 1).all()
    other = build_corpus([text_corpus], tokenizer, CorpusSettings(seq_len=32, heldout_fraction=0.1, seed=2))
    assert not torch.equal(other.heldout.input_ids[:1], a.heldout.input_ids[:1])


def test_heldout_documents_are_not_in_training(tmp_path, tokenizer):
    path = tmp_path / "c.txt"
    path.write_text("\n\n".join(f"zq{i}x " + "pain " * 5 for i in range(20)), encoding="utf8")
    settings = CorpusSettings(seq_len=16, heldout_fraction=0.25)
    corpus = build_corpus([path], tokenizer, settings)

    def stream(seqs):  # undo the packing: drop each row's [CLS] and closing [SEP]
        rows = [ids[1 : int(n) - 1] for ids, n in zip(seqs.input_ids, seqs.attention_mask.sum(1))]
        return tokenizer.decode(torch.cat(rows)).replace(" ", "")

    train_text, held_text = stream(corpus.train), stream(corpus.heldout)
    _, held = split_documents(20, heldout_fraction=0.25, seed=0)
    assert len(held) == 5
    for i in range(20):
        marker = f"zq{i}x"
        assert (marker in held_text) == (i in held)
        assert (marker in train_text) == (i not in held)


def test_cache_is_keyed_by_settings(text_corpus, tokenizer, tmp_path):
    settings = CorpusSettings(seq_len=32)
    first = load_corpus([text_corpus], tokenizer, settings, cache_dir=tmp_path)
    second = load_corpus([text_corpus], tokenizer, settings, cache_dir=tmp_path)
    assert first.info["cache"] == second.info["cache"]
    assert torch.equal(first.train.input_ids, second.train.input_ids)
    third = load_corpus([text_corpus], tokenizer, CorpusSettings(seq_len=48), cache_dir=tmp_path)
    assert third.info["cache"] != first.info["cache"]
    assert len(list(tmp_path.glob("*.pt"))) == 2


def test_global_batches_walk_whole_epochs():
    seen = torch.cat([global_batch_indices(10, batch_size=4, step=s, seed=0) for s in range(5)])
    assert sorted(seen[:10].tolist()) == list(range(10))
    assert sorted(seen[10:20].tolist()) == list(range(10))
    assert torch.equal(global_batch_indices(10, batch_size=4, step=3, seed=0), seen[12:16])
