"""Helpers for tests and benchmarks: a tiny random BERT written to a local folder (no download)."""

import string
from pathlib import Path
from typing import Iterable, Optional, Union

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
COMMON_WORDS = (
    "the a of and to in with for on at by is was no not patient pt denies reports history "
    "pain chest fever cough shortness breath nausea vomiting headache rash pneumonia diabetes "
    "hypertension cancer infection aspirin insulin metformin heparin warfarin lisinopril mg po "
    "daily bid tid prn iv x-ray ct mri ecg cbc blood pressure glucose test scan given started "
    "dr mr mrs ms john smith mary jones hospital clinic boston street road phone date year age "
    "admitted discharged mother father family doctor nurse note plan assessment impression"
).split()


def tiny_bert_vocab(extra_words: Iterable[str] = ()) -> list:
    """A WordPiece vocab that can spell any ASCII text: every printable character as a
    word start and as a ``##`` continuation, plus some whole clinical words."""
    chars = [c for c in string.printable if not c.isspace()]
    vocab = list(SPECIAL) + chars + ["##" + c for c in chars]
    seen = set(vocab)
    for word in list(COMMON_WORDS) + [w.lower() for w in extra_words]:
        if word not in seen:
            vocab.append(word)
            seen.add(word)
    return vocab


def make_tiny_bert(
    path: Union[str, Path],
    *,
    hidden_size: int = 32,
    num_hidden_layers: int = 2,
    num_attention_heads: int = 2,
    intermediate_size: int = 64,
    max_position_embeddings: int = 512,
    extra_words: Iterable[str] = (),
    seed: int = 0,
    with_mlm_head: bool = False,
    vocab: Optional[list] = None,
) -> Path:
    """Write a randomly initialised tiny BERT and its tokenizer to ``path``.

    RETURNS (Path): The folder, loadable with ``AutoModel.from_pretrained``.
    """
    import torch
    from transformers import BertConfig, BertForMaskedLM, BertModel, BertTokenizerFast

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    vocab = vocab if vocab is not None else tiny_bert_vocab(extra_words)
    vocab_file = path / "vocab.txt"
    vocab_file.write_text("\n".join(vocab) + "\n", encoding="utf8")
    tokenizer = BertTokenizerFast(vocab_file=str(vocab_file), do_lower_case=True)
    tokenizer.model_max_length = max_position_embeddings
    tokenizer.save_pretrained(str(path))
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden_size,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=num_attention_heads,
        intermediate_size=intermediate_size,
        max_position_embeddings=max_position_embeddings,
    )
    torch.manual_seed(seed)
    model = BertForMaskedLM(config) if with_mlm_head else BertModel(config)
    model.save_pretrained(str(path))
    return path
