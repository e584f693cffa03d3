"""Registered readers, DocBin round trip, label-map validation, alignment modes."""

import json

import pytest
from spacy.tokens import DocBin
from spacy.util import registry

from spacy_clintiny.converters import ConversionReport, LabelMap, convert_corpus
from spacy_clintiny.converters.labels import get_label_map
from spacy_clintiny.converters.placement import build_doc
from spacy_clintiny.converters.source import SourceDoc, SourceSpan

READERS = [
    "PhysioNetCorpus",
    "I2b2DeidCorpus",
    "I2b2TemporalCorpus",
    "I2b2RelationsCorpus",
    "BratCorpus",
    "MedNLICorpus",
    "ADECorpus",
    "PubTatorCorpus",
    "CoNLLCorpus",
    "MTSamplesCorpus",
]


@pytest.mark.parametrize("name", READERS)
def test_readers_are_registered(name):
    assert callable(registry.readers.get(f"spacy-clintiny.{name}.v1"))


def test_reader_yields_examples_of_one_split(fixtures_dir, nlp):
    build = registry.readers.get("spacy-clintiny.I2b2DeidCorpus.v1")
    train = list(build(fixtures_dir / "i2b2-2014", split="train", dev_fraction=0.5)(nlp))
    dev = list(build(fixtures_dir / "i2b2-2014", split="dev", dev_fraction=0.5)(nlp))
    assert len(train) + len(dev) == 3 and train and dev
    assert {e.reference.user_data["clintiny_source"]["group"] for e in train}.isdisjoint(
        {e.reference.user_data["clintiny_source"]["group"] for e in dev}
    )
    assert train[0].predicted.text == train[0].reference.text and "phi" in train[0].reference.spans


def test_docbin_round_trip_keeps_kb_id_assertion_relations(fixtures_dir, tmp_path, nlp):
    report, written = convert_corpus("i2b2-2010", fixtures_dir / "i2b2-2010", tmp_path / "c.spacy")
    doc = next(DocBin().from_disk(tmp_path / "c.spacy").get_docs(nlp.vocab))
    absent = [s for s in doc.spans["concepts"] if s.id_ == "absent"]
    assert [s.text for s in absent] == ["chest pain", "shortness of breath"]
    assert absent[0].kb_id_ == "problem"
    assert len(doc.user_data["clintiny_rels"]) == 4
    saved = json.loads((tmp_path / "c.report.json").read_text())
    assert saved["relations"] == {"PIP": 1, "TeRP": 1, "TrAP": 1, "TrNAP": 1} and saved["docs"] == 1


def test_label_map_round_trip_and_unknown_keys():
    lmap = get_label_map("n2c2-2018", default="identity")
    again = LabelMap.from_dict(lmap.to_dict())
    assert again.entities == lmap.entities and again.relations == lmap.relations
    with pytest.raises(ValueError, match="E404.*entitites.*Allowed keys"):
        LabelMap.from_dict({"entitites": {}})
    with pytest.raises(ValueError, match="E405"):
        get_label_map("no-such-preset", default="identity")


@pytest.mark.parametrize(
    "alignment,placed,reason",
    [
        ("retokenize", ["9/2/92"], None),
        ("expand", ["TOXICITY-9/2/92-"], None),
        ("strict", [], "token_misaligned"),
    ],
)
def test_alignment_modes(nlp, alignment, placed, reason):
    src = SourceDoc(
        text="LITHIUM TOXICITY-9/2/92- NOTED",
        doc_id="x",
        group_id="x",
        corpus="t",
        spans=[SourceSpan(17, 23, "phi", "DATE")],
        groups={"phi"},
    )
    report = ConversionReport("t")
    doc = build_doc(src, nlp, report, alignment=alignment)
    assert doc.text == src.text
    assert [s.text for s in doc.spans["phi"]] == placed
    assert (reason in report.events["unplaceable"]) if reason else report.n_unplaceable == 0


def test_options_that_do_not_apply_are_rejected(fixtures_dir):
    from spacy_clintiny.converters import read_format

    with pytest.raises(ValueError, match="E418.*label_map"):
        read_format("mednli", fixtures_dir / "mednli", label_map="n2c2-2018")
    with pytest.raises(ValueError, match="E419"):
        list(read_format("brat", fixtures_dir / "n2c2-2018", discontinuous="glue"))
