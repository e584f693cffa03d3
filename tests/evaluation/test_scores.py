"""The figures the report is built from, against values counted by hand: PHI token recall and
precision (evaluation.scores.phi_token_scores), the student/teacher kept fraction, the relation
P/R/F of clintiny_rel's score method, and predict's pairing of predictions with their gold."""

import pytest
import spacy
from spacy.tokens import Doc
from spacy.training import Example

from spacy_clintiny.evaluation.scores import kept_fraction, phi_token_scores, predict
from spacy_clintiny.relations import Relation, set_gold_relations

NOTE = "Pt John Smith seen 3/14/2021 at Mercy Hospital."
# the predicted doc's tokens:  Pt | John | Smith | seen | 3/14/2021 | at | Mercy | Hospital | .


@pytest.fixture
def nlp():
    return spacy.blank("en")


def _char_spans(doc, items):
    """Spans from (substring, label): the first occurrence of each substring in ``doc.text``."""
    spans = []
    for text, label in items:
        start = doc.text.index(text)
        span = doc.char_span(start, start + len(text), label=label)
        assert span is not None, text
        spans.append(span)
    return spans


def _phi_example(nlp, text, gold, predicted, *, ref_words=None):
    """gold / predicted: (substring, label) lists, or None for a doc without a "phi" group."""
    pred = nlp.make_doc(text)
    if ref_words is None:
        ref = nlp.make_doc(text)
    else:  # the reference may be tokenized differently from the predicted doc
        ref = Doc(nlp.vocab, words=ref_words[0], spaces=ref_words[1])
        assert ref.text == text
    if gold is not None:
        ref.spans["phi"] = _char_spans(ref, gold)
    if predicted is not None:
        pred.spans["phi"] = _char_spans(pred, predicted)
    return Example(pred, ref)


def _note_example(nlp):
    # the reference splits "3/14/2021" and marks only "14/2021": a partial overlap with the
    # predicted token, which makes the whole token "3/14/2021" a PHI token
    words = ["Pt", "John", "Smith", "seen", "3/", "14/2021", "at", "Mercy", "Hospital", "."]
    spaces = [True, True, True, True, False, True, True, True, False, False]
    gold = [("John Smith", "NAME"), ("14/2021", "DATE"), ("Mercy Hospital", "LOCATION")]
    # labels do not matter at token level: "seen 3/14/2021" as NAME still covers the DATE token
    predicted = [("Pt", "NAME"), ("Smith", "NAME"), ("seen 3/14/2021", "NAME")]
    return _phi_example(nlp, NOTE, gold, predicted, ref_words=(words, spaces))


def test_phi_token_scores_partial_overlaps_and_multi_token_spans(nlp):
    # gold tokens: John, Smith, 3/14/2021, Mercy, Hospital (5); predicted: Pt, Smith, seen, 3/14/2021 (4)
    # tp: Smith, 3/14/2021 (2); fp: Pt, seen (2); fn: John, Mercy, Hospital (3)
    scores = phi_token_scores([_note_example(nlp)])
    assert scores == {
        "token_recall": pytest.approx(2 / 5),
        "token_precision": pytest.approx(2 / 4),
        "gold_tokens": 5,
        "docs": 1,
    }


def test_phi_token_scores_no_predictions_no_gold_and_unannotated_docs(nlp):
    examples = [
        _note_example(nlp),  # tp 2, fp 2, fn 3
        _phi_example(nlp, "Seen in Boston today.", [("Boston", "LOCATION")], None),  # no prediction: fn 1
        _phi_example(nlp, "Hello there.", [], [("Hello", "NAME")]),  # no gold PHI: fp 1
        _phi_example(nlp, "Mary was seen.", None, [("Mary", "NAME")]),  # not annotated: ignored
    ]
    scores = phi_token_scores(examples)
    assert scores["token_recall"] == pytest.approx(2 / 6)
    assert scores["token_precision"] == pytest.approx(2 / 5)
    assert scores["gold_tokens"] == 6 and scores["docs"] == 3


def test_phi_token_scores_without_gold_or_predictions_are_zero_not_an_error(nlp):
    assert phi_token_scores([]) == {"token_recall": 0.0, "token_precision": 0.0, "gold_tokens": 0, "docs": 0}
    nothing = phi_token_scores([_phi_example(nlp, "Hello there.", [], [])])
    assert nothing == {"token_recall": 0.0, "token_precision": 0.0, "gold_tokens": 0, "docs": 1}
    perfect = phi_token_scores([_phi_example(nlp, NOTE, [("John Smith", "NAME")], [("John Smith", "DATE")])])
    assert perfect == {"token_recall": 1.0, "token_precision": 1.0, "gold_tokens": 2, "docs": 1}


def test_phi_token_scores_read_another_span_group(nlp):
    pred, ref = nlp.make_doc(NOTE), nlp.make_doc(NOTE)
    ref.spans["deid"] = _char_spans(ref, [("Mercy Hospital", "LOCATION")])
    pred.spans["deid"] = _char_spans(pred, [("Hospital", "LOCATION")])
    scores = phi_token_scores([Example(pred, ref)], spans_key="deid")
    assert (scores["token_recall"], scores["token_precision"], scores["gold_tokens"]) == (0.5, 1.0, 2)
    assert phi_token_scores([Example(pred, ref)])["docs"] == 0  # no "phi" group anywhere


@pytest.mark.parametrize(
    "student,teacher,expected",
    [
        (0.9, 0.95, 0.9 / 0.95),
        (0.0, 0.8, 0.0),
        (1.2, 1.0, 1.2),
        (None, 0.9, None),
        (0.9, None, None),
        (0.5, 0.0, None),
        (None, None, None),
    ],
)
def test_kept_fraction(student, teacher, expected):
    got = kept_fraction(student, teacher)
    assert got is None if expected is None else got == pytest.approx(expected)


# ---------------------------------------------------------------- relation P/R/F


@pytest.fixture
def rel_pipe(nlp):
    rel = nlp.add_pipe("clintiny_rel", config={"spans_keys": ["concepts"]})
    rel.add_label("DRUG_AE")
    rel.add_label("DRUG_DOSE")
    return rel


def _offsets(text, sub):
    start = text.index(sub)
    return [start, start + len(sub)]


def _rel_example(nlp, text, entities, predicted, gold):
    """entities: (substring, label) of the PREDICTED doc's concepts; predicted / gold:
    (head, tail, label) by substring; gold None = the doc is not annotated for relations."""
    pred, ref = nlp.make_doc(text), nlp.make_doc(text)
    pred.spans["concepts"] = _char_spans(pred, entities)
    if gold is not None:
        set_gold_relations(
            ref, [{"head": _offsets(text, h), "tail": _offsets(text, t), "label": label} for h, t, label in gold]
        )
    pred._.clintiny_rels = [
        Relation(head=_char_spans(pred, [(h, "")])[0], tail=_char_spans(pred, [(t, "")])[0], label=label, score=0.9)
        for h, t, label in predicted
    ]
    return Example(pred, ref)


def test_relation_prf_against_hand_counts(nlp, rel_pipe):
    examples = [
        _rel_example(
            nlp,
            "aspirin 81 mg caused rash and nausea.",
            [("aspirin", "DRUG"), ("81", "DOSE"), ("rash", "AE"), ("nausea", "AE")],
            predicted=[
                ("aspirin", "rash", "DRUG_AE"),  # tp
                ("rash", "aspirin", "DRUG_AE"),  # fp: the direction matters
                ("aspirin", "81", "DRUG_DOSE"),  # fp: "81" is not the gold "81 mg" (and that one is fn)
                ("aspirin", "nausea", "DRUG_DOSE"),  # fp: right pair, wrong label (gold DRUG_AE is fn)
            ],
            gold=[("aspirin", "rash", "DRUG_AE"), ("aspirin", "nausea", "DRUG_AE"), ("aspirin", "81 mg", "DRUG_DOSE")],
        ),
        # annotated, no relation there: every prediction is a false positive
        _rel_example(
            nlp,
            "ibuprofen gave her a headache.",
            [("ibuprofen", "DRUG"), ("headache", "AE")],
            predicted=[("ibuprofen", "headache", "DRUG_AE")],
            gold=[],
        ),
        # not annotated for relations: ignored, whatever is predicted
        _rel_example(
            nlp,
            "warfarin and bruising.",
            [("warfarin", "DRUG"), ("bruising", "AE")],
            predicted=[("warfarin", "bruising", "DRUG_AE")],
            gold=None,
        ),
        # a gold relation whose tail is no predicted entity (fn, unreachable); CID is not a label of the head
        _rel_example(
            nlp,
            "heparin caused bleeding.",
            [("heparin", "DRUG")],
            predicted=[("heparin", "bleeding", "CID")],
            gold=[("heparin", "bleeding", "DRUG_AE"), ("heparin", "bleeding", "CID")],
        ),
    ]
    scores = rel_pipe.score(examples)
    # DRUG_AE: tp 1 (aspirin>rash); fp 2 (rash>aspirin, ibuprofen>headache); fn 2 (aspirin>nausea, heparin>bleeding)
    ae = scores["clintiny_rel_rel_per_type"]["DRUG_AE"]
    assert (ae["p"], ae["r"], ae["f"]) == pytest.approx((1 / 3, 1 / 3, 1 / 3))
    # DRUG_DOSE: tp 0; fp 2 (aspirin>81, aspirin>nausea); fn 1 (aspirin>81 mg)
    dose = scores["clintiny_rel_rel_per_type"]["DRUG_DOSE"]
    assert (dose["p"], dose["r"], dose["f"]) == (0.0, 0.0, 0.0)
    # micro: tp 1, fp 4, fn 3 -> P 1/5, R 1/4, F 2PR/(P+R) = 2/9
    assert scores["clintiny_rel_rel_p"] == pytest.approx(1 / 5)
    assert scores["clintiny_rel_rel_r"] == pytest.approx(1 / 4)
    assert scores["clintiny_rel_rel_f"] == pytest.approx(2 / 9)
    # no candidate pair for aspirin>"81 mg" (the predicted entity is "81") nor for heparin>bleeding
    assert scores["clintiny_rel_rel_gold_unreachable"] == 2.0


def test_relation_scores_are_none_without_annotated_examples(nlp, rel_pipe):
    example = _rel_example(
        nlp,
        "warfarin and bruising.",
        [("warfarin", "DRUG"), ("bruising", "AE")],
        predicted=[("warfarin", "bruising", "DRUG_AE")],
        gold=None,
    )
    scores = rel_pipe.score([example])
    assert scores == {f"clintiny_rel_rel_{k}": None for k in ("p", "r", "f", "per_type", "gold_unreachable")}


def test_relation_perfect_predictions_score_one(nlp, rel_pipe):
    example = _rel_example(
        nlp,
        "aspirin 81 mg caused rash.",
        [("aspirin", "DRUG"), ("81 mg", "DOSE"), ("rash", "AE")],
        predicted=[("aspirin", "rash", "DRUG_AE"), ("aspirin", "81 mg", "DRUG_DOSE")],
        gold=[("aspirin", "rash", "DRUG_AE"), ("aspirin", "81 mg", "DRUG_DOSE")],
    )
    scores = rel_pipe.score([example])
    assert (scores["clintiny_rel_rel_p"], scores["clintiny_rel_rel_r"], scores["clintiny_rel_rel_f"]) == (1.0, 1.0, 1.0)
    assert scores["clintiny_rel_rel_gold_unreachable"] == 0.0


# ---------------------------------------------------------------- predict


def test_predict_pairs_each_prediction_with_its_own_gold(nlp):
    texts = ["first note.", "second, longer note here.", ""]
    examples = [Example(nlp.make_doc(t), nlp.make_doc(t)) for t in texts]
    predicted = predict(nlp, examples, batch_size=2)
    assert [(eg.predicted.text, eg.reference.text) for eg in predicted] == [(t, t) for t in texts]
    assert all(eg.reference is src.reference for eg, src in zip(predicted, examples))


def test_predict_refuses_a_pipeline_that_drops_docs(nlp, monkeypatch):
    examples = [Example(nlp.make_doc(t), nlp.make_doc(t)) for t in ("one.", "two.", "three.")]
    real_pipe = nlp.pipe
    monkeypatch.setattr(nlp, "pipe", lambda texts, **kwargs: list(real_pipe(texts, **kwargs))[:-1])
    with pytest.raises(ValueError, match=r"E604.*2 doc\(s\) for 3 example\(s\)"):
        predict(nlp, examples)


def test_the_phi_notes_run_through_the_phi_head_alone(tiny_encoder, monkeypatch):
    """score_pipeline gives the real PHI notes (gold PHI only) to the PHI head and its encoder
    only; every other corpus goes through the whole pipeline."""
    from helpers import add_tiny_encoder, span_examples
    from spacy_clintiny.evaluation import score_pipeline

    nlp = spacy.blank("en")
    add_tiny_encoder(nlp, tiny_encoder)
    nlp.add_pipe("clintiny_ner", name="ner_phi", config={"spans_key": "phi"})
    nlp.add_pipe("clintiny_ner", name="ner_concepts", config={"spans_key": "concepts"})
    phi = span_examples(nlp, [(NOTE, [(3, 13, "NAME")])], "phi")
    concepts = span_examples(nlp, [("Aspirin caused a rash.", [(0, 7, "TREATMENT"), (17, 21, "PROBLEM")])], "concepts")
    nlp.initialize(lambda: phi + concepts)
    seen = {"ner_phi": [], "ner_concepts": []}
    for name in seen:
        pipe = nlp.get_pipe(name)
        real = pipe.predict
        monkeypatch.setattr(pipe, "predict", lambda docs, real=real, name=name: seen[name].extend(docs) or real(docs))
    result = score_pipeline(nlp, {"physionet": phi * 3, "bc5cdr": concepts})
    assert [d.text for d in seen["ner_concepts"]] == ["Aspirin caused a rash."]
    assert sorted(d.text for d in seen["ner_phi"]) == sorted([NOTE] * 3 + ["Aspirin caused a rash."])
    assert result["phi_tokens"]["docs"] == 3 and result["phi_tokens"]["gold_tokens"] == 6
    assert nlp.pipe_names == ["clintiny_encoder", "ner_phi", "ner_concepts"]  # nothing left disabled
