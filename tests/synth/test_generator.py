import re
from collections import Counter

import pytest
from spacy.tokens import DocBin

from spacy_clintiny.converters import ConversionReport
from spacy_clintiny.converters.labels import ASSERTIONS, PHI_LABELS
from spacy_clintiny.synth import NOTE_LABELS, SynthGenerator, generate_docs, synth_corpus


@pytest.fixture(scope="module")
def notes():
    return list(SynthGenerator(seed=0).generate(300))


@pytest.fixture(scope="module")
def docs():
    report = ConversionReport("synth")
    return list(generate_docs(150, seed=3, report=report)), report


def test_every_span_is_the_inserted_surrogate(notes, docs):
    for note in notes:
        for span in note.spans:
            assert note.text[span.start : span.end] == span.expected_text
    placed, report = docs
    assert report.n_unplaceable == 0
    sources = {n.doc_id: n for n in SynthGenerator(seed=3).generate(150)}
    for doc in placed:
        src = sources[doc.user_data["clintiny_source"]["doc_id"]]
        got = sorted((s.start_char, s.end_char, s.label_, s.kb_id_, s.id_) for k in doc.spans for s in doc.spans[k])
        want = sorted((s.start, s.end, s.label, s.kb_id, s.assertion) for s in src.spans)
        assert got == want
        assert len(doc.user_data["clintiny_rels"]) == len(src.relations)


def test_deterministic_and_prefix_stable():
    a = [(n.text, [(s.start, s.end, s.label) for s in n.spans]) for n in SynthGenerator(seed=7).generate(20)]
    b = [(n.text, [(s.start, s.end, s.label) for s in n.spans]) for n in SynthGenerator(seed=7).generate(40)]
    c = [n.text for n in SynthGenerator(seed=8).generate(20)]
    assert a == b[:20]
    assert [t for t, _ in a] != c


def test_variety_of_notes_phi_and_concepts(notes):
    kinds = Counter(max(n.cats, key=n.cats.get) for n in notes)
    assert set(kinds) == set(NOTE_LABELS)
    phi = [(n.text[s.start : s.end], s.label, s.kb_id) for n in notes for s in n.spans if s.group == "phi"]
    assert {label for _, label, _ in phi} == set(PHI_LABELS)
    subtypes = {kb for _, _, kb in phi}
    assert {
        "PATIENT",
        "DOCTOR",
        "RELATIVE",
        "HOSPITAL",
        "DEPARTMENT",
        "STREET",
        "CITY",
        "STATE",
        "ZIP",
        "PHONE",
        "FAX",
        "EMAIL",
        "MEDICALRECORD",
        "ACCOUNT",
        "PROFESSION",
        "AGE",
    } <= subtypes
    names = [text for text, label, _ in phi if label == "NAME"]
    assert any("-" in t for t in names) and any(t.isupper() and len(t) > 3 for t in names)
    assert any(t.islower() for t in names) and any(re.fullmatch(r"[A-Z]\. \w+", t) for t in names)
    dates = {re.sub(r"[A-Za-z]+", "a", re.sub(r"\d", "9", t)) for t, label, _ in phi if label == "DATE"}
    assert len(dates) >= 12
    assert all(int(t) > 89 for t, label, _ in phi if label == "AGE")
    assertions = Counter(s.assertion for n in notes for s in n.spans if s.label == "PROBLEM")
    assert set(assertions) == set(ASSERTIONS)
    rels = Counter(r.label for n in notes for r in n.relations)
    assert {"TrAP", "TeRP", "TeCP", "DRUG_DOSE", "DRUG_ROUTE", "DRUG_FREQUENCY", "PIP"} <= set(rels)
    nursing = [n for n in notes if n.cats["NURSING_NOTE"] == 1.0]
    assert any(n.text == n.text.upper() for n in nursing) and any(n.text != n.text.upper() for n in nursing)


def test_age_policy_all_annotates_every_age():
    ages = [
        int(n.text[s.start : s.end])
        for n in SynthGenerator(seed=1, age_policy="all", style="referral").generate(30)
        for s in n.spans
        if s.label == "AGE"
    ]
    assert len(ages) == 30 and min(ages) < 90


def test_synth_corpus_writes_docbins_and_report(tmp_path, nlp):
    report, written = synth_corpus(tmp_path / "train.spacy", n=40, seed=0, style="nursing", dev_fraction=0.25)
    assert [p.name for p in written] == ["train.spacy", "dev.spacy", "train.report.json"]
    train = list(DocBin().from_disk(tmp_path / "train.spacy").get_docs(nlp.vocab))
    dev = list(DocBin().from_disk(tmp_path / "dev.spacy").get_docs(nlp.vocab))
    assert len(train) + len(dev) == 40 and len(dev) == 10
    assert all(d.cats["NURSING_NOTE"] == 1.0 for d in train)
    assert set(train[0].spans) == {"phi", "concepts", "modifiers"}
    with pytest.raises(ValueError, match="E412"):
        synth_corpus(tmp_path / "x.spacy", n=1, style="poetry")
