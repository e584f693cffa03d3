"""`clintiny labels`: the label files the training config gives each head."""

import json

import spacy
from spacy.tokens import DocBin, Span
from typer.testing import CliRunner

from spacy_clintiny.cli import app
from spacy_clintiny.relations import set_gold_relations


def _docbin(path, docs):
    db = DocBin(store_user_data=True)
    for doc in docs:
        db.add(doc)
    db.to_disk(path)
    return path


def _doc(nlp, text, spans, rels=None, cats=None):
    doc = nlp(text)
    doc.spans["concepts"] = [Span(doc, s, e, label=label) for s, e, label in spans]
    if rels is not None:
        set_gold_relations(doc, rels)
    doc.cats = cats or {}
    return doc


def test_labels_from_several_docbins(tmp_path):
    nlp = spacy.blank("en")
    a = _docbin(
        tmp_path / "a.spacy",
        [
            _doc(
                nlp,
                "aspirin caused a rash",
                [(0, 1, "TREATMENT"), (3, 4, "PROBLEM")],
                rels=[{"head": [0, 7], "tail": [17, 21], "label": "DRUG_AE"}],
                cats={"ADE": 1.0},
            ),
        ],
    )
    b = _docbin(
        tmp_path / "b.spacy",
        [
            _doc(
                nlp,
                "cisplatin nephrotoxicity",
                [(0, 1, "TREATMENT"), (1, 2, "PROBLEM")],
                rels=[{"head": [0, 9], "tail": [10, 24], "label": "CID"}],
            ),
            _doc(nlp, "a chest x-ray", [(1, 4, "TEST")]),
        ],
    )
    runner = CliRunner()
    for kind, extra, expected in [
        ("rels", [], ["CID", "DRUG_AE"]),
        ("spans", ["--spans-key", "concepts"], ["PROBLEM", "TEST", "TREATMENT"]),
        ("cats", [], ["ADE"]),
    ]:
        out = tmp_path / f"{kind}.json"
        result = runner.invoke(app, ["labels", str(a), str(b), str(out), "--kind", kind, *extra])
        assert result.exit_code == 0, result.output
        assert json.loads(out.read_text()) == expected
    # the label file is what spacy.read_labels.v1 gives the head in the training config
    reader = spacy.registry.readers.get("spacy.read_labels.v1")
    assert reader(tmp_path / "rels.json") == ["CID", "DRUG_AE"]


def test_labels_errors_name_the_problem(tmp_path):
    nlp = spacy.blank("en")
    a = _docbin(tmp_path / "a.spacy", [_doc(nlp, "no relations here", [])])
    runner = CliRunner()
    result = runner.invoke(app, ["labels", str(tmp_path / "missing.spacy"), str(tmp_path / "o.json")])
    assert result.exit_code == 1 and "missing.spacy" in result.output and "corpus step" in result.output
    result = runner.invoke(app, ["labels", str(a), str(tmp_path / "o.json"), "--kind", "rels"])
    assert result.exit_code == 1 and "No rels labels" in result.output
    result = runner.invoke(app, ["labels", str(a), str(tmp_path / "o.json"), "--kind", "spans"])
    assert result.exit_code == 1 and "--spans-key" in result.output
    result = runner.invoke(app, ["labels", str(tmp_path / "o.json"), str(a)])
    assert result.exit_code == 1
    assert not (tmp_path / "o.json").exists()
