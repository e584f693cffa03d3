"""Per-label threshold search (evaluation/thresholds.py) and `clintiny calibrate` end to end.

The CLI tests run a pipeline whose doc heads read their probabilities from the doc text (a
registered test architecture: the doc "0.9 0.2" gets probabilities 0.9 and 0.2), so the scores
the command calibrates on are hand-made and the thresholds it must choose are known. The
relation head's test architecture reads a pair's probability from the number after its tail
("aspirin rash 0.9": aspirin -> rash 0.9, rash -> aspirin 0.01). For the relation-evidence
component a doc head reads its probability from the doc's last number instead."""

import json

import catalogue
import numpy
import pytest
import spacy
from spacy.tokens import DocBin
from spacy.util import registry
from thinc.api import Linear, Model
from typer.testing import CliRunner

from spacy_clintiny.cli import app
from spacy_clintiny.evaluation.thresholds import (
    calibrate_thresholds,
    decide,
    f1_threshold,
    label_thresholds,
    micro_thresholds,
)
from spacy_clintiny.relations import get_predicted_relations, set_gold_relations

TEXT_SCORES = "clintiny-test.ScoresFromText.v1"
PAIR_SCORES = "clintiny-test.PairScoresFromText.v1"
LAST_SCORE = "clintiny-test.LastScoreFromText.v1"


# ---------------------------------------------------------------- the search


def test_f1_threshold_known_answer():
    gold = numpy.array([1, 1, 0, 1, 0])
    scores = numpy.array([0.9, 0.7, 0.6, 0.4, 0.2])
    # keeping down to 0.4 gives tp 3 of 4 predicted, F1 6/7 (best); midpoint to 0.2 is 0.3
    choice = f1_threshold(gold, scores, default=0.5, min_positives=1)
    assert choice.threshold == pytest.approx(0.3)
    assert choice.f1 == pytest.approx(6 / 7)
    assert choice.f1_default == pytest.approx(2 * 2 / (3 + 3))  # 0.9, 0.7, 0.6 at 0.5
    assert (choice.positives, choice.docs, choice.fallback) == (3, 5, False)


def test_f1_threshold_counts_gold_positives_no_item_stands_for():
    gold = numpy.array([1, 1, 0, 1, 0])
    scores = numpy.array([0.9, 0.7, 0.6, 0.4, 0.2])
    # one more gold positive that no threshold can find: 4 gold in every F1
    choice = f1_threshold(gold, scores, default=0.5, min_positives=1, missed=1)
    assert choice.threshold == pytest.approx(0.3)
    assert choice.f1 == pytest.approx(2 * 3 / (4 + 4))
    assert choice.f1_default == pytest.approx(2 * 2 / (3 + 4))
    assert choice.positives == 3  # the floor counts positives a threshold can decide
    assert f1_threshold(gold, scores, default=0.5, min_positives=4, missed=5).fallback
    with pytest.raises(ValueError, match="E891"):
        f1_threshold(gold, scores, default=0.5, min_positives=1, missed=-1)


def test_micro_thresholds_keep_a_hopeless_rare_label_off():
    a = (numpy.array([1, 1, 1, 1, 0]), numpy.array([0.9, 0.8, 0.7, 0.6, 0.1]), 0)
    # B's one positive scores lowest: its own best F1 (2/7) predicts all six
    b = (numpy.array([1, 0, 0, 0, 0, 0]), numpy.array([0.3, 0.35, 0.4, 0.45, 0.5, 0.55]), 0)
    assert f1_threshold(*b[:2], default=0.5, min_positives=1).threshold == pytest.approx(0.15)
    choices = micro_thresholds([a, b], ["A", "B"], default=[0.5, 0.5], min_positives=1)
    assert choices["A"].threshold == pytest.approx(0.35)
    # B predicted for none: micro-F1 8/9 (all of B: 10/15); B's threshold above its top score
    assert choices["B"].threshold == pytest.approx((0.55 + 1) / 2)
    assert choices["A"].f1 == choices["B"].f1 == pytest.approx(8 / 9)
    # at the defaults: A 4 of 4, B 0.5 and 0.55 predicted (false): 8 / (6 + 5)
    assert choices["A"].f1_default == pytest.approx(8 / 11)
    # a label below the floor keeps its threshold; misses of a label count in the micro-F1
    floor = micro_thresholds([a, (b[0], b[1], 3)], ["A", "B"], default=[0.5, 0.4], min_positives=2)
    assert floor["B"].fallback and floor["B"].threshold == 0.4
    # A: 4 of 4; B: 4 predicted (0.4-0.55), none right, 1 + 3 missed gold: 8 / (8 + 8)
    assert floor["A"].f1 == pytest.approx(2 * 4 / (4 + 4 + 4 + 4))


def test_label_thresholds_give_each_label_its_own_best_f1():
    a = (numpy.array([1, 1, 1, 1, 0]), numpy.array([0.9, 0.8, 0.7, 0.6, 0.1]), 0)
    b = (numpy.array([1, 0, 0, 0, 0, 0]), numpy.array([0.3, 0.35, 0.4, 0.45, 0.5, 0.55]), 0)
    choices = label_thresholds([a, b], ["A", "B"], default=[0.5, 0.5], min_positives=1)
    # B predicted for all six (its own best, 2/7), where the micro-F1 aim turns it off
    assert choices["B"].threshold == pytest.approx(0.15) and choices["B"].f1 == pytest.approx(2 / 7)
    assert choices["A"].threshold == pytest.approx(0.35) and choices["A"].f1 == 1.0
    # misses count in a label's own F1; a label below the floor keeps its threshold
    floor = label_thresholds([(a[0], a[1], 4), b], ["A", "B"], default=[0.5, 0.4], min_positives=2)
    assert floor["A"].f1 == pytest.approx(2 * 4 / (4 + 8)) and floor["B"].fallback and floor["B"].threshold == 0.4


def test_f1_threshold_counts_forced_top_labels():
    gold = numpy.array([1, 1, 0, 1, 0])
    scores = numpy.array([0.9, 0.7, 0.6, 0.4, 0.2])
    forced = numpy.array([False, False, False, True, False])  # the 0.4 doc's top label: always predicted
    choice = f1_threshold(gold, scores, default=0.5, min_positives=1, forced=forced)
    assert choice.threshold == pytest.approx(0.65)  # keep 0.9, 0.7: with the forced doc F1 = 1
    assert choice.f1 == 1.0


def test_f1_threshold_predict_none_and_ties_and_floor():
    # the only positive scores lowest: predicting it costs 2 false positives, F1 1/2 > 0
    assert f1_threshold(numpy.array([0, 0, 1]), numpy.array([0.8, 0.6, 0.1]), default=0.5, min_positives=1).f1 == 0.5
    # a negative above every positive that is forced anyway: best is to predict none of the others
    none = f1_threshold(
        numpy.array([0, 1]), numpy.array([0.7, 0.9]), default=0.5, min_positives=1, forced=numpy.array([False, True])
    )
    assert none.threshold == pytest.approx(0.85) and none.f1 == 1.0
    # equally good cuts: the one nearest the default
    tie = f1_threshold(numpy.array([1, 1, 1]), numpy.array([0.9, 0.9, 0.9]), default=0.5, min_positives=1)
    assert tie.threshold == pytest.approx(0.45)
    floor = f1_threshold(numpy.array([1, 1, 0]), numpy.array([0.9, 0.8, 0.1]), default=0.5, min_positives=3)
    assert floor.fallback and floor.threshold == 0.5 and floor.positives == 2
    with pytest.raises(ValueError, match="E888"):
        f1_threshold(numpy.array([1]), numpy.array([0.5]), default=0.5, min_positives=0)


def test_calibrate_thresholds_masks_unannotated_labels_and_decide():
    probs = numpy.array([[0.9, 0.3], [0.2, 0.6], [0.4, 0.35]])
    gold = numpy.array([[1, 0], [0, 1], [1, 1]])
    mask = numpy.array([[1, 1], [1, 1], [1, 0]])  # doc 2 is not annotated for B
    choices = calibrate_thresholds(probs, gold, mask, ["A", "B"], default=0.5, min_positives=1)
    assert choices["A"].docs == 3 and choices["B"].docs == 2
    assert choices["A"].threshold == pytest.approx(0.3)  # keep 0.9 and 0.4, not 0.2
    assert choices["B"].threshold == pytest.approx(0.45)
    assert decide(probs, numpy.array([0.95, 0.95]), always_top=True).tolist() == [
        [True, False],
        [False, True],
        [True, False],
    ]


# ---------------------------------------------------------------- the command


def _register_doc_scores(name, read):
    """Register, for the duration of a module fixture, a doc head architecture whose
    probabilities ``read(doc)`` takes from the doc's text; yields the architecture's name."""

    def build(nO=None):
        output = Linear(nO=nO, nI=1)  # sized by the component; unused

        def forward(model, X, is_train):
            docs, _ = X
            probs = numpy.asarray([read(doc) for doc in docs], dtype="float32")
            probs = numpy.clip(probs.reshape(len(docs), -1), 1e-6, 1 - 1e-6)
            return model.ops.asarray2f(numpy.log(probs / (1 - probs))), lambda d: d

        model = Model(name, forward, layers=[output], init=lambda m, X=None, Y=None: output.initialize())
        model.set_ref("output_layer", output)
        return model

    registry.architectures.register(name, func=build)
    yield name
    catalogue.REGISTRY.pop((*registry.architectures.namespace, name), None)


@pytest.fixture(scope="module")
def scores_from_text():
    """Every token is a probability: "0.9 0.2" gets 0.9 and 0.2."""
    yield from _register_doc_scores(TEXT_SCORES, lambda doc: [float(t.text) for t in doc])


SPECIALTY = [  # (probabilities A B, gold A B)
    ("0.9 0.1", (1, 0)),
    ("0.6 0.7", (1, 1)),
    ("0.4 0.3", (1, 0)),
    ("0.35 0.8", (0, 1)),
    ("0.1 0.2", (0, 0)),
]
ADE = [("0.8", 1), ("0.55", 1), ("0.3", 1), ("0.5", 0), ("0.2", 0), ("0.1", 0)]


def _pipeline(path, scores_from_text, *, always_top=True):
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    spec = nlp.add_pipe(
        "clintiny_textcat",
        name="specialty",
        config={"model": {"@architectures": scores_from_text}, "always_top": always_top},
    )
    ade = nlp.add_pipe("clintiny_textcat", name="ade", config={"model": {"@architectures": scores_from_text}})
    exclusive = nlp.add_pipe(
        "clintiny_textcat",
        name="exclusive",
        config={"model": {"@architectures": scores_from_text}, "exclusive_classes": True},
    )
    for pipe, labels in ((spec, ["A", "B"]), (ade, ["ADE"]), (exclusive, ["X", "Y"])):
        pipe.cfg["labels"] = labels
        pipe.model.get_ref("output_layer").set_dim("nO", len(labels))
        pipe.model.initialize()
    nlp.to_disk(path)
    return path


def _corpus(path, *, with_ade=True):
    nlp = spacy.blank("en")
    docs = []
    for text, (a, b) in SPECIALTY:
        doc = nlp.make_doc(text)
        doc.cats = {"A": float(a), "B": float(b)}
        docs.append(doc)
    for text, gold in ADE if with_ade else []:
        doc = nlp.make_doc(text)
        doc.cats = {"ADE": float(gold)}
        docs.append(doc)
    DocBin(docs=docs).to_disk(path)
    return path


def _run(*args):
    result = CliRunner().invoke(app, ["calibrate", *map(str, args)])
    return result.exit_code, " ".join(result.output.split())  # msg wraps long lines


def test_calibrate_cli_picks_the_known_thresholds(tmp_path, scores_from_text):
    pipeline = _pipeline(tmp_path / "pipeline", scores_from_text)
    corpus = _corpus(tmp_path / "calib.spacy")
    out = tmp_path / "calibrated"
    code, output = _run(
        pipeline, corpus, out, "-c", "specialty", "-c", "ade", "--min-positives", "2", "--report", tmp_path / "r.json"
    )
    assert code == 0, output
    nlp = spacy.load(out)
    # A is the top label of docs 1 and 3 (predicted whatever the threshold); of the others, keeping
    #   0.6 (doc 2, gold) gives F1 1: the threshold is the midpoint to the next score, 0.35
    # B is the top label of docs 2, 4 and 5 (both positives among them): F1 0.8 predicting no
    #   other doc, less with 0.3 (doc 3): the threshold is the midpoint between 0.3 and 1
    assert nlp.get_pipe("specialty").cfg["thresholds"] == pytest.approx({"A": 0.475, "B": 0.65})
    # ADE: keeping down to 0.55 gives F1 0.8, down to 0.3 (one false positive, 0.5) F1 6/7, the best
    assert nlp.get_pipe("ade").cfg["thresholds"] == pytest.approx({"ADE": 0.25})
    assert nlp.get_pipe("exclusive").cfg["thresholds"] == {}
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["components"]["ade"]["labels"]["ADE"]["f1"] == pytest.approx(6 / 7)
    assert report["components"]["specialty"]["docs"] == 5
    # the input pipeline is untouched
    assert spacy.load(pipeline).get_pipe("ade").cfg["thresholds"] == {}
    # the decisions change as calibrated
    ade = nlp.get_pipe("ade")
    assert ade.predicted_labels(nlp("0.3")) == ["ADE"] and ade.predicted_labels(nlp("0.2")) == []


def test_calibrate_cli_keeps_the_default_below_the_floor(tmp_path, scores_from_text):
    pipeline = _pipeline(tmp_path / "pipeline", scores_from_text)
    corpus = _corpus(tmp_path / "calib.spacy")
    code, output = _run(pipeline, corpus, tmp_path / "out", "--min-positives", "3")
    assert code == 0, output
    nlp = spacy.load(tmp_path / "out")
    # A has 3 calibration positives, B 2 and ADE 3: B keeps the default 0.5
    assert nlp.get_pipe("specialty").cfg["thresholds"] == pytest.approx({"A": 0.475})
    assert nlp.get_pipe("specialty").label_thresholds.tolist() == pytest.approx([0.475, 0.5])
    assert "threshold kept" in output


def test_calibrate_cli_keeps_a_labels_own_threshold_below_the_floor(tmp_path, scores_from_text):
    """A label with too few calibration positives keeps the threshold it has (a v3 head's
    out-of-fold one), not the head's default."""
    pipeline = _pipeline(tmp_path / "pipeline", scores_from_text)
    nlp = spacy.load(pipeline)
    nlp.get_pipe("specialty").set_thresholds({"A": 0.1, "B": 0.3})
    nlp.to_disk(pipeline)
    code, output = _run(pipeline, _corpus(tmp_path / "calib.spacy"), tmp_path / "out", "--min-positives", "3")
    assert code == 0, output
    calibrated = spacy.load(tmp_path / "out").get_pipe("specialty")
    # A (3 positives) is calibrated as before; B (2) keeps its own 0.3
    assert calibrated.cfg["thresholds"] == pytest.approx({"A": 0.475, "B": 0.3})


def test_calibrate_cli_bad_input(tmp_path, scores_from_text):
    pipeline = _pipeline(tmp_path / "pipeline", scores_from_text)
    corpus = _corpus(tmp_path / "calib.spacy")
    code, output = _run(pipeline, corpus, tmp_path / "o1", "-c", "sentencizer")
    assert code == 1 and "E883" in output and "'sentencizer'" in output and "'specialty'" in output
    code, output = _run(pipeline, corpus, tmp_path / "o2", "-c", "nothing")
    assert code == 1 and "E883" in output and "no such component" in output
    code, output = _run(pipeline, corpus, tmp_path / "o3", "-c", "exclusive")
    assert code == 1 and "E884" in output
    no_ade = _corpus(tmp_path / "no_ade.spacy", with_ade=False)
    code, output = _run(pipeline, no_ade, tmp_path / "o4", "-c", "ade")
    assert code == 1 and "E885" in output and "['ADE']" in output
    code, output = _run(pipeline, corpus, pipeline / "inside")
    assert code == 1 and "E747" in output  # the commands' shared check (calibrate_pipeline's own: E886)
    code, output = _run(pipeline, corpus, tmp_path / "o6", "--report", str(corpus))
    assert code == 1 and "E747" in output and corpus.is_file()
    code, output = _run(pipeline, tmp_path, tmp_path, "--force")  # would replace the folder holding the corpus
    assert code == 1 and "E747" in output and corpus.is_file()
    code, output = _run(pipeline, corpus, tmp_path / "o5", "--min-positives", "0")
    assert code == 1 and "E888" in output
    for name in ("o1", "o2", "o3", "o4", "o5"):
        assert not (tmp_path / name).exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp folder left


def test_calibrate_cli_replaces_an_output_only_with_force(tmp_path, scores_from_text):
    pipeline = _pipeline(tmp_path / "pipeline", scores_from_text)
    corpus = _corpus(tmp_path / "calib.spacy")
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    code, output = _run(pipeline, corpus, out, "-c", "ade", "--min-positives", "1")
    assert code == 1 and "E886" in output and "already exists" in output
    assert (out / "old.txt").exists()
    code, output = _run(pipeline, corpus, out, "-c", "ade", "--min-positives", "1", "--force")
    assert code == 0, output
    assert not (out / "old.txt").exists() and (out / "config.cfg").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


# ---------------------------------------------------------------- relation heads


@pytest.fixture(scope="module")
def pair_scores_from_text():
    """Register the pair test architecture for this module only."""

    def build(nO=None):
        output = Linear(nO=nO, nI=1)  # sized by the component; unused

        def forward(model, X, is_train):
            docs, candidates = X
            n_labels = model.get_ref("output_layer").get_dim("nO")
            probs = []
            for doc, cands in zip(docs, candidates):
                for _, tail in cands.pairs:
                    end = cands.spans[tail].end
                    after = doc[end] if end < len(doc) else None
                    probs.append(float(after.text) if after is not None and after.like_num else 0.01)
            probs = numpy.clip(numpy.repeat(numpy.asarray(probs, dtype="float32"), n_labels), 1e-6, 1 - 1e-6)
            logits = numpy.log(probs / (1 - probs)).reshape(-1, n_labels)
            return model.ops.asarray2f(logits), lambda d: d

        init = lambda m, X=None, Y=None: output.initialize()  # noqa: E731
        model = Model("pair_scores_from_text", forward, layers=[output], init=init)
        model.set_ref("output_layer", output)
        return model

    registry.architectures.register(PAIR_SCORES, func=build)
    yield PAIR_SCORES
    catalogue.REGISTRY.pop((*registry.architectures.namespace, PAIR_SCORES), None)


def _rel_pipeline(path, pair_scores):
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("span_ruler", config={"spans_key": "concepts"})
    ruler.add_patterns(
        [
            {"label": "DRUG", "pattern": [{"LOWER": {"IN": ["aspirin", "heparin"]}}]},
            {"label": "EFFECT", "pattern": [{"LOWER": {"IN": ["rash", "bleeding"]}}]},
        ]
    )
    rel = nlp.add_pipe(
        "clintiny_rel", name="rel", config={"model": {"@architectures": pair_scores}, "spans_keys": ["concepts"]}
    )
    rel.cfg["labels"] = ["AE"]
    rel.model.get_ref("output_layer").set_dim("nO", 1)
    rel.model.initialize()
    nlp.to_disk(path)
    return path


# (text, gold AE relation from the first to the second word): the pair scores are those of
# test_f1_threshold_counts_gold_positives_no_item_stands_for; "felt" is no entity, so the last
# doc's gold relation has no candidate pair (missed at every threshold)
RELATIONS = [
    ("aspirin rash 0.9", True),
    ("heparin bleeding 0.7", True),
    ("aspirin bleeding 0.6", False),
    ("heparin rash 0.4", True),
    ("aspirin rash 0.2", False),
    ("aspirin felt 0.8", True),
]


def _rel_corpus(path, *, with_relations=True):
    nlp = spacy.blank("en")
    docs = []
    for text, related in RELATIONS:
        doc = nlp.make_doc(text)
        if with_relations:
            head, tail = doc[0:1], doc[1:2]
            set_gold_relations(doc, [(head.start_char, head.end_char, tail.start_char, tail.end_char, "AE")] * related)
        docs.append(doc)
    DocBin(docs=docs, store_user_data=True).to_disk(path)
    return path


def test_calibrate_cli_chooses_relation_thresholds_end_to_end(tmp_path, pair_scores_from_text):
    pipeline = _rel_pipeline(tmp_path / "pipeline", pair_scores_from_text)
    out = tmp_path / "calibrated"
    code, output = _run(
        pipeline, _rel_corpus(tmp_path / "calib.spacy"), out, "--min-positives", "1", "--report", tmp_path / "r.json"
    )
    assert code == 0, output
    assert "6 calibration docs, 10 candidate pairs" in output
    assert "1 gold relation(s) had no candidate pair" in output
    nlp = spacy.load(out)
    assert nlp.get_pipe("rel").cfg["thresholds"] == pytest.approx({"AE": 0.3})
    choice = json.loads((tmp_path / "r.json").read_text())["components"]["rel"]["labels"]["AE"]
    assert choice["f1"] == pytest.approx(6 / 8) and choice["f1_default"] == pytest.approx(4 / 7)
    assert (choice["positives"], choice["docs"], choice["missed"]) == (3, 10, 1)
    # the decisions change as calibrated; the input pipeline is untouched
    assert [r.label for r in nlp("heparin rash 0.4")._.clintiny_rels] == ["AE"]
    assert nlp("heparin rash 0.25")._.clintiny_rels == []
    before = spacy.load(pipeline)
    assert before.get_pipe("rel").cfg["thresholds"] == {} and before("heparin rash 0.4")._.clintiny_rels == []


def test_calibrate_cli_relation_bad_input(tmp_path, pair_scores_from_text):
    pipeline = _rel_pipeline(tmp_path / "pipeline", pair_scores_from_text)
    corpus = _rel_corpus(tmp_path / "calib.spacy")
    code, output = _run(pipeline, corpus, tmp_path / "o0", "--relation-objective", "macro")
    assert code == 1 and "E904" in output and "'macro'" in output and not (tmp_path / "o0").exists()
    no_rels = _rel_corpus(tmp_path / "plain.spacy", with_relations=False)
    code, output = _run(pipeline, no_rels, tmp_path / "o1")
    assert code == 1 and "E885" in output and "'rel'" in output and "gold relations" in output
    code, output = _run(pipeline, no_rels, tmp_path / "o2", "-c", "span_ruler")
    assert code == 1 and "E883" in output and "['rel']" in output
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()
    with pytest.raises(ValueError, match="E880"):
        spacy.blank("en").add_pipe("clintiny_rel", config={"thresholds": {"AE": 1.5}})


# ---------------------------------------------------------------- relation evidence


@pytest.fixture(scope="module")
def last_score_from_text():
    """A one-label doc head whose probability is the doc's last token ("... 0.3": 0.3)."""
    yield from _register_doc_scores(LAST_SCORE, lambda doc: [float(doc[-1].text)])


def _evidence_pipeline(path, pair_scores, last_score):
    """Entities, an ADE doc head (last number), a relation head (the number after the tail) and
    the evidence component combining them."""
    _rel_pipeline(path, pair_scores)
    nlp = spacy.load(path)
    ade = nlp.add_pipe("clintiny_textcat", name="ade", before="rel", config={"model": {"@architectures": last_score}})
    ade.cfg["labels"] = ["ADE"]
    ade.model.get_ref("output_layer").set_dim("nO", 1)
    ade.model.initialize()
    nlp.add_pipe("clintiny_relation_evidence", name="ade_evidence", config={"label": "ADE", "relations": ["AE"]})
    nlp.to_disk(path)
    return path


# (text, gold ADE): ADE exactly when the relation head's score (the number after the effect) is
# high; the doc head's own probability (the last number) does not separate the two classes
EVIDENCE = [
    ("aspirin rash 0.9 0.2", 1),
    ("heparin bleeding 0.8 0.3", 1),
    ("aspirin bleeding 0.7 0.6", 1),
    ("heparin rash 0.9 0.4", 1),
    ("aspirin rash 0.1 0.7", 0),
    ("heparin bleeding 0.05 0.5", 0),
    ("aspirin felt 0.2 0.6", 0),
    ("heparin rash 0.1 0.3", 0),
]


def _evidence_corpus(path, *, with_relations=False):
    """The EVIDENCE docs three times; ``with_relations``: an ADE doc states the AE relation of
    its first two words, the others none (as the ADE corpus's sentences)."""
    nlp = spacy.blank("en")
    docs = []
    for text, gold in EVIDENCE * 3:  # enough docs for the regression to weigh the relation score
        doc = nlp.make_doc(text)
        doc.cats = {"ADE": float(gold)}
        if with_relations:
            head, tail = doc[0:1], doc[1:2]
            set_gold_relations(doc, [(head.start_char, head.end_char, tail.start_char, tail.end_char, "AE")] * gold)
        docs.append(doc)
    DocBin(docs=docs, store_user_data=True).to_disk(path)
    return path


def test_calibrate_cli_fits_relation_evidence_and_the_owners_threshold(
    tmp_path, pair_scores_from_text, last_score_from_text
):
    pipeline = _evidence_pipeline(tmp_path / "pipeline", pair_scores_from_text, last_score_from_text)
    corpus = _evidence_corpus(tmp_path / "calib.spacy")
    out = tmp_path / "calibrated"
    args = (
        pipeline,
        corpus,
        out,
        "-c",
        "ade",
        "-c",
        "ade_evidence",
        "--min-positives",
        "2",
        "--report",
        tmp_path / "r.json",
    )
    code, output = _run(*args)
    assert code == 0, output
    entry = json.loads((tmp_path / "r.json").read_text())["components"]["ade_evidence"]
    choice = entry["labels"]["ADE"]
    # the doc head alone cannot separate the classes; with the relation scores every doc is right
    assert choice["f1_default"] < 0.9 and choice["f1"] == pytest.approx(1.0)
    assert entry["owner"] == "ade" and (choice["positives"], choice["docs"]) == (12, 24)
    assert entry["weights"][1] > 0  # the relation score is evidence for the label
    nlp = spacy.load(out)
    evidence, head = nlp.get_pipe("ade_evidence"), nlp.get_pipe("ade")
    assert evidence.is_fitted and evidence.cfg["owner"] == "ade"
    assert head.cfg["thresholds"] == pytest.approx({"ADE": choice["threshold"]})
    # new docs: decided by the relation evidence, against the doc head's own probability
    assert head.predicted_labels(nlp("heparin bleeding 0.85 0.1")) == ["ADE"]
    assert head.predicted_labels(nlp("aspirin rash 0.1 0.9")) == []
    with nlp.select_pipes(disable=["ade_evidence"]):
        assert nlp("aspirin rash 0.1 0.9").cats["ADE"] == pytest.approx(0.9)
    # the input pipeline is untouched: unfitted, the component passes the head's probability on
    before = spacy.load(pipeline)
    assert not before.get_pipe("ade_evidence").is_fitted
    assert before("aspirin rash 0.1 0.9").cats["ADE"] == pytest.approx(0.9)


def test_calibrate_cli_leaves_relation_evidence_unfitted_below_the_floor(
    tmp_path, pair_scores_from_text, last_score_from_text
):
    pipeline = _evidence_pipeline(tmp_path / "pipeline", pair_scores_from_text, last_score_from_text)
    corpus = _evidence_corpus(tmp_path / "calib.spacy")
    code, output = _run(pipeline, corpus, tmp_path / "out", "-c", "ade_evidence", "--min-positives", "13")
    assert code == 0, output
    assert "threshold kept" in output
    nlp = spacy.load(tmp_path / "out")
    assert not nlp.get_pipe("ade_evidence").is_fitted and nlp.get_pipe("ade").cfg["thresholds"] == {}
    assert nlp("aspirin rash 0.1 0.9").cats["ADE"] == pytest.approx(0.9)
    # a fitted component is kept as it is, with its owner's threshold
    code, output = _run(pipeline, corpus, tmp_path / "fitted", "-c", "ade_evidence", "--min-positives", "2")
    assert code == 0, output
    fitted = spacy.load(tmp_path / "fitted")
    code, output = _run(tmp_path / "fitted", corpus, tmp_path / "kept", "-c", "ade_evidence", "--min-positives", "13")
    assert code == 0 and "threshold kept" in output, output
    kept = spacy.load(tmp_path / "kept")
    assert kept.get_pipe("ade_evidence").cfg == fitted.get_pipe("ade_evidence").cfg
    assert kept.get_pipe("ade").cfg["thresholds"] == fitted.get_pipe("ade").cfg["thresholds"] != {}


def test_calibrating_a_head_refits_the_evidence_after_it(tmp_path, pair_scores_from_text, last_score_from_text):
    """Re-calibrating only the doc head of a calibrated pipeline would put its threshold on the
    head's own probability while doc.cats holds the combined one: the evidence component after
    it is refitted too, and the threshold stays on the combined probability."""
    pipeline = _evidence_pipeline(tmp_path / "pipeline", pair_scores_from_text, last_score_from_text)
    corpus = _evidence_corpus(tmp_path / "calib.spacy")
    code, output = _run(pipeline, corpus, tmp_path / "first", "-c", "ade", "-c", "ade_evidence", "--min-positives", "2")
    assert code == 0, output
    args = ("-c", "ade", "--min-positives", "2", "--report", tmp_path / "r.json")
    code, output = _run(tmp_path / "first", corpus, tmp_path / "again", *args)
    assert code == 0, output
    report = json.loads((tmp_path / "r.json").read_text())["components"]
    assert list(report) == ["ade", "ade_evidence"]
    chosen = report["ade_evidence"]["labels"]["ADE"]
    nlp = spacy.load(tmp_path / "again")
    assert nlp.get_pipe("ade").cfg["thresholds"] == pytest.approx({"ADE": chosen["threshold"]})
    assert chosen["f1"] == pytest.approx(1.0)
    # recalibrating the relation head on a corpus without docs for its label keeps its fit, and says so
    before = nlp.get_pipe("ade_evidence").cfg["weights"]
    relations = _rel_corpus(tmp_path / "rels.spacy")
    code, output = _run(tmp_path / "again", relations, tmp_path / "third", "-c", "rel", "--min-positives", "1")
    assert code == 0, output
    assert "'ade_evidence' was not refitted" in output
    assert spacy.load(tmp_path / "third").get_pipe("ade_evidence").cfg["weights"] == pytest.approx(before)


def test_calibrate_cli_gates_the_relations_and_chooses_their_thresholds_on_the_gated_output(
    tmp_path, pair_scores_from_text, last_score_from_text
):
    """With the gate, a doc decided not ADE keeps no AE relation, so the relation head's AE
    threshold is chosen again on what the gate lets through: without the negatives' pairs
    (0.1, 0.05, 0.1) the best cut keeps every positive pair (0.9, 0.8, 0.7), midway to the reverse
    pairs' 0.01."""
    pipeline = _evidence_pipeline(tmp_path / "pipeline", pair_scores_from_text, last_score_from_text)
    corpus = _evidence_corpus(tmp_path / "calib.spacy", with_relations=True)
    out = tmp_path / "calibrated"
    code, output = _run(pipeline, corpus, out, "--min-positives", "2", "--report", tmp_path / "r.json")
    assert code == 0, output
    assert "'rel' thresholds chosen again with the gate: 12 doc(s) decided not ADE keep no AE" in output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["relation_objective"] == "label"
    components = report["components"]
    # ungated, the cut falls midway between the lowest positive pair (0.7) and the highest negative (0.1)
    assert components["rel"]["labels"]["AE"]["threshold"] == pytest.approx(0.4)
    gated = components["ade_evidence"]["gated_relations"]
    assert gated["component"] == "rel" and gated["gated"] == {"labels": ["AE"], "docs": 12}
    assert gated["labels"]["AE"]["threshold"] == pytest.approx(0.355) and gated["labels"]["AE"]["f1"] == 1.0
    nlp = spacy.load(out)
    evidence, head = nlp.get_pipe("ade_evidence"), nlp.get_pipe("ade")
    assert nlp.get_pipe("rel").cfg["thresholds"] == pytest.approx({"AE": 0.355})
    assert evidence.gates and evidence.cfg["threshold"] == pytest.approx(head.cfg["thresholds"]["ADE"])
    # a new doc whose pair clears the relation threshold but that is decided not ADE keeps no AE
    doc = nlp("aspirin rash 0.36 0.9")
    assert doc.cats["ADE"] < evidence.cfg["threshold"] and get_predicted_relations(doc) == []
    with nlp.select_pipes(disable=["ade_evidence"]):
        assert [r.label for r in get_predicted_relations(nlp("aspirin rash 0.36 0.9"))] == ["AE"]
    assert [r.label for r in get_predicted_relations(nlp("aspirin rash 0.9 0.2"))] == ["AE"]


def test_calibration_passes_encode_each_doc_once(tiny_encoder):
    """The calibration passes share their docs: a pass runs the encoder only on the docs no
    earlier pass encoded, the heads on all of them, and gives the docs back in order with the
    probabilities of a plain pass."""
    from spacy.training import Example

    from spacy_clintiny.cli.calibrate import _pipe

    def pipeline():
        nlp = spacy.blank("en")
        nlp.add_pipe("clintiny_encoder", config={"model": {"name": str(tiny_encoder)}, "overlap": False})
        listener = {
            "@architectures": "spacy-transformers.TransformerListener.v1",
            "grad_factor": 1.0,
            "upstream": "*",
            "pooling": {"@layers": "reduce_mean.v1"},
        }
        model = {"@architectures": "spacy-clintiny.TextClassifier.v1", "pooling": "mean", "tok2vec": listener}
        nlp.add_pipe("clintiny_textcat", config={"model": model})
        examples = []
        for i, text in enumerate(["fever and cough", "knee pain", "no rash", "chest pain today"]):
            doc = nlp.make_doc(text)
            examples.append(Example.from_dict(doc, {"cats": {"A": float(i % 2), "B": float(i < 2)}}))
        nlp.initialize(lambda: examples)
        return nlp

    texts = [f"patient {i} has {'chest pain and ' * (i % 4)}fever" for i in range(9)]
    nlp = pipeline()
    encoder = nlp.get_pipe("clintiny_encoder")
    encoded = []
    predict = encoder.predict

    def counting(docs):
        docs = list(docs)
        encoded.extend(doc.text for doc in docs)
        return predict(docs)

    encoder.predict = counting
    enable = ["clintiny_encoder", "clintiny_textcat"]
    docs = [nlp.make_doc(text) for text in texts]
    _pipe(nlp, docs[:4], enable, batch_size=3)
    assert sorted(encoded) == sorted(texts[:4])
    first = [dict(doc.cats) for doc in docs[:4]]
    out = _pipe(nlp, docs, enable, batch_size=3)
    assert sorted(encoded) == sorted(texts)  # the first four were not encoded again
    assert [doc.text for doc in out] == texts and all(a is b for a, b in zip(out, docs))
    assert [doc.cats for doc in out[:4]] == first
    plain = list(nlp.pipe(texts, batch_size=3))
    for doc, want in zip(out, plain):
        assert doc.cats.keys() == want.cats.keys()
        numpy.testing.assert_allclose([doc.cats[k] for k in want.cats], list(want.cats.values()), rtol=1e-5)
