"""``clintiny_relation_evidence``: features, the fitted combination, the relation gate,
serialization, bad input."""

import numpy
import pytest
import spacy

from spacy_clintiny.components.evidence import RelationEvidence
from spacy_clintiny.relations import get_predicted_relations, set_predicted_pairs, set_relation_maxima


def _doc(nlp, text, prob, maxima):
    """A doc as the doc head and the relation extractor leave it: ``maxima`` are each relation
    label's highest probability over the doc's candidate pairs."""
    doc = nlp.make_doc(text)
    doc.cats = {"ADE": prob, "OTHER": 0.5}
    set_relation_maxima(doc, maxima)
    return doc


@pytest.fixture
def nlp():
    nlp = spacy.blank("en")
    nlp.add_pipe("clintiny_relation_evidence", name="ade_evidence", config={"relations": ["DRUG_AE", "AE2"]})
    return nlp


def test_features_read_the_head_and_the_evidence_relation_scores(nlp):
    pipe = nlp.get_pipe("ade_evidence")
    docs = [
        _doc(nlp, "aspirin gave rash", 0.5, {"DRUG_AE": 0.9, "AE2": 0.2, "X": 0.99}),
        _doc(nlp, "aspirin and rash", 0.8, {"DRUG_AE": 0.3, "AE2": 0.6}),
        _doc(nlp, "no pair here", 0.2, {"DRUG_AE": 0.0}),
    ]
    features = pipe.features(docs)
    assert features[:, 0] == pytest.approx([0.0, numpy.log(4.0), numpy.log(0.25)], abs=1e-5)
    assert features[:, 1].tolist() == pytest.approx([0.9, 0.6, 0.0])  # its labels only, the highest


def test_unfitted_passes_the_probability_on_and_fitted_combines(nlp, tmp_path):
    pipe = nlp.get_pipe("ade_evidence")
    doc = nlp(_doc(nlp, "aspirin gave rash", 0.3, {"DRUG_AE": 0.9}))
    assert doc.cats["ADE"] == pytest.approx(0.3) and not pipe.is_fitted
    # positives: a confident relation score, whatever the head says
    features = numpy.asarray([[0.0, 0.9], [-1.0, 0.8], [1.0, 0.0], [0.5, 0.1], [-0.5, 0.95], [0.8, 0.05]])
    gold = numpy.asarray([1, 1, 0, 0, 1, 0])
    pipe.fit(features, gold, owner="textcat_ade")
    assert pipe.is_fitted and pipe.cfg["weights"][1] > 0 and pipe.cfg["owner"] == "textcat_ade"
    combined = pipe.probabilities(features)
    assert combined[gold == 1].min() > combined[gold == 0].max()
    related = nlp(_doc(nlp, "aspirin gave rash", 0.3, {"DRUG_AE": 0.9})).cats
    unrelated = nlp(_doc(nlp, "aspirin gave rash", 0.7, {"DRUG_AE": 0.0})).cats
    assert related["ADE"] > 0.5 > unrelated["ADE"] and related["OTHER"] == 0.5  # other labels untouched
    # round trip through disk: the same combination
    nlp.to_disk(tmp_path / "p")
    again = spacy.load(tmp_path / "p")
    loaded = again.get_pipe("ade_evidence").cfg
    assert loaded["weights"] == pytest.approx(pipe.cfg["weights"]) and loaded["bias"] == pytest.approx(pipe.cfg["bias"])
    assert {k: v for k, v in loaded.items() if k not in ("weights", "bias")} == {
        k: v for k, v in pipe.cfg.items() if k not in ("weights", "bias")
    }
    doc = again(_doc(again, "aspirin gave rash", 0.3, {"DRUG_AE": 0.9}))
    assert doc.cats["ADE"] == pytest.approx(related["ADE"])
    # a doc no doc head annotated is left alone
    assert nlp("plain text").cats == {}


def _related(nlp, prob, pair_score):
    """A doc with a predicted DRUG_AE, AE2 and OTHER relation between its first two words."""
    doc = _doc(nlp, "aspirin gave rash", prob, {"DRUG_AE": pair_score, "AE2": 0.1})
    set_predicted_pairs(doc, [doc[0:1], doc[2:3]], [(0, 1, label, pair_score) for label in ("DRUG_AE", "AE2", "OTHER")])
    return doc


def test_the_gate_removes_its_relations_from_docs_decided_negative(nlp, tmp_path):
    pipe = nlp.get_pipe("ade_evidence")
    assert pipe.cfg["gate"] and not pipe.gates  # on by default, inactive until calibrated
    features = numpy.asarray([[0.0, 0.9], [-1.0, 0.8], [1.0, 0.0], [0.5, 0.1], [-0.5, 0.95], [0.8, 0.05]])
    pipe.fit(features, numpy.asarray([1, 1, 0, 0, 1, 0]), owner="textcat_ade")
    assert not pipe.gates  # fitted, but no threshold from calibration yet: relations kept
    assert len(get_predicted_relations(nlp(_related(nlp, 0.7, 0.0)))) == 3
    pipe.cfg["threshold"] = 0.5
    assert pipe.gates
    negative, positive = nlp(_related(nlp, 0.7, 0.0)), nlp(_related(nlp, 0.3, 0.9))
    assert negative.cats["ADE"] < 0.5 <= positive.cats["ADE"]
    assert [r.label for r in get_predicted_relations(negative)] == ["OTHER"]  # its labels only
    assert [r.label for r in get_predicted_relations(positive)] == ["DRUG_AE", "AE2", "OTHER"]
    # the gate and its threshold survive the disk; off, every relation stays
    nlp.to_disk(tmp_path / "p")
    again = spacy.load(tmp_path / "p")
    assert again.get_pipe("ade_evidence").cfg["threshold"] == 0.5
    assert [r.label for r in get_predicted_relations(again(_related(again, 0.7, 0.0)))] == ["OTHER"]
    ungated = spacy.load(tmp_path / "p", config={"components": {"ade_evidence": {"gate": False}}})
    assert not ungated.get_pipe("ade_evidence").gates
    assert len(get_predicted_relations(ungated(_related(ungated, 0.7, 0.0)))) == 3
    # refitting unsets the threshold: calibration chooses it again for the new combination
    pipe.fit(features, numpy.asarray([1, 1, 0, 0, 1, 0]))
    assert pipe.cfg["threshold"] is None and not pipe.gates


def test_bad_input(nlp):
    pipe = nlp.get_pipe("ade_evidence")
    pipe.fit(numpy.asarray([[0.0, 0.9], [0.0, 0.0]]), numpy.asarray([1, 0]))
    doc = nlp.make_doc("aspirin gave rash")
    doc.cats = {"ADE": 0.4}  # no relation extractor ran
    with pytest.raises(ValueError, match="E900"):
        nlp(doc)
    with pytest.raises(ValueError, match="E901.*'ADE'"):
        pipe.features([nlp.make_doc("x")])
    with pytest.raises(ValueError, match="E902"):
        pipe.fit(numpy.zeros((3, 2)), numpy.asarray([1, 1, 1]))
    for config, setting in (
        ({"label": ""}, "label"),
        ({"relations": []}, "relations"),
    ):
        with pytest.raises(ValueError, match=f"E300.*{setting}"):
            spacy.blank("en").add_pipe("clintiny_relation_evidence", config=config)
    with pytest.raises(ValueError, match="E300.*relations"):  # a string is no list of labels
        RelationEvidence("ade_evidence", relations="DRUG_AE")
    with pytest.raises(ValueError, match="E300.*gate"):  # the config coerces "yes"; the class takes no string
        RelationEvidence("ade_evidence", gate="yes")


def test_calibrate_needs_a_doc_head_that_owns_the_label(tmp_path):
    from spacy.tokens import DocBin

    from spacy_clintiny.cli.calibrate import calibrate_pipeline

    nlp = spacy.blank("en")
    nlp.add_pipe("clintiny_relation_evidence", name="ade_evidence")
    nlp.to_disk(tmp_path / "p")
    doc = nlp.make_doc("aspirin gave rash")
    doc.cats = {"ADE": 1.0}
    DocBin(docs=[doc]).to_disk(tmp_path / "c.spacy")
    with pytest.raises(ValueError, match="E903.*'ADE'"):
        calibrate_pipeline(tmp_path / "p", tmp_path / "c.spacy", tmp_path / "out")
    assert not (tmp_path / "out").exists()
