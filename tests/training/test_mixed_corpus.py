from collections import Counter

import pytest
import spacy
from spacy.tokens import DocBin

from spacy_clintiny.registry import registry


@pytest.fixture
def two_corpora(tmp_path):
    nlp = spacy.blank("en")
    paths = {}
    for name, n in (("small", 5), ("big", 50)):
        db = DocBin(store_user_data=True)
        for i in range(n):
            db.add(nlp(f"{name} doc number {i}"))
        paths[name] = str(tmp_path / f"{name}.spacy")
        db.to_disk(paths[name])
    return nlp, paths


def make(paths, **kwargs):
    return registry.readers.get("spacy-clintiny.MixedCorpus.v1")(paths, **kwargs)


def test_weights_balance_corpora_not_sizes(two_corpora):
    nlp, paths = two_corpora
    read = make(paths, weights={"small": 1.0, "big": 1.0}, epoch_size=1000)
    counts = Counter(eg.reference.text.split()[0] for eg in read(nlp))
    assert sum(counts.values()) == 1000
    assert 400 < counts["small"] < 600  # equal weight although 10x fewer docs


def test_each_call_is_one_epoch_and_order_is_seeded(two_corpora):
    nlp, paths = two_corpora
    first = [eg.reference.text for eg in make(paths, seed=3)(nlp)]
    again = [eg.reference.text for eg in make(paths, seed=3)(nlp)]
    assert len(first) == 55
    assert first == again
    read = make(paths, seed=3)
    list(read(nlp))
    assert [eg.reference.text for eg in read(nlp)] != first  # the next epoch goes on


def test_zero_weight_skips_a_corpus(two_corpora):
    nlp, paths = two_corpora
    texts = [eg.reference.text for eg in make(paths, weights={"small": 0}, epoch_size=100)(nlp)]
    assert all(t.startswith("big") for t in texts)


def test_clear_errors(two_corpora, tmp_path):
    nlp, paths = two_corpora
    with pytest.raises(ValueError, match="E602"):
        make(paths, weights={"nope": 1.0})
    with pytest.raises(ValueError, match="E601"):
        list(make({"gone": str(tmp_path / "missing.spacy")})(nlp))


def test_fixed_dev_mode_yields_every_doc_once_in_order(two_corpora):
    nlp, paths = two_corpora
    read = make(paths, sample=False, limit=3)
    texts = [eg.reference.text for eg in read(nlp)]
    assert texts == [f"big doc number {i}" for i in range(3)] + [f"small doc number {i}" for i in range(3)]
    assert [eg.reference.text for eg in read(nlp)] == texts


def test_readers_of_one_pipeline_share_what_they_decode(two_corpora, monkeypatch):
    """spacy train builds its training reader twice and the doc heads read their corpus at
    initialize: one pipeline decodes each file once; another pipeline, a different limit or a
    rewritten file reads again."""
    from spacy_clintiny.training import mixed_corpus

    nlp, paths = two_corpora
    decoded = []
    real = mixed_corpus.load_examples
    monkeypatch.setattr(mixed_corpus, "load_examples", lambda *a, **k: decoded.append(a[1].name) or real(*a, **k))
    first = list(make(paths, sample=False)(nlp))
    again = list(make({"small": paths["small"]}, sample=False)(nlp))
    assert sorted(decoded) == ["big.spacy", "small.spacy"]
    assert all(a is b for a, b in zip(first[50:], again)) and len(again) == 5
    list(make({"small": paths["small"]}, sample=False, limit=2)(nlp))
    other = spacy.blank("en")
    list(make({"small": paths["small"]}, sample=False)(other))
    assert decoded[2:] == ["small.spacy", "small.spacy"]
    db = DocBin(store_user_data=True)
    db.add(nlp("rewritten small corpus with more words"))
    db.to_disk(paths["small"])
    texts = [eg.reference.text for eg in make({"small": paths["small"]}, sample=False)(nlp)]
    assert texts == ["rewritten small corpus with more words"] and decoded[4:] == ["small.spacy"]
