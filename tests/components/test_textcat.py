"""clintiny_textcat: doc classification (exclusive / multi-label) and NLI pair mode."""

import numpy
import pytest
import spacy
from numpy.testing import assert_allclose
from spacy.training import Example
from thinc.api import NumpyOps

from helpers import encoder_config, train_with_spacy
from spacy_clintiny.architectures._pooling import pool_ranges
from spacy_clintiny.augmenters import copy_gold_spans
from spacy_clintiny.pairs import make_pair_doc

CONFIG = (
    encoder_config(["clintiny_encoder", "clintiny_textcat"])
    + """
[components.clintiny_textcat]
factory = "clintiny_textcat"
mode = "doc"
exclusive_classes = true
threshold = 0.5
pair_spans_key = "nli_pair"

[components.clintiny_textcat.model]
@architectures = "spacy-clintiny.TextClassifier.v1"
pooling = "mean_max"
hidden_width = 32
dropout = 0.0

[components.clintiny_textcat.model.tok2vec]
@architectures = "spacy-transformers.TransformerListener.v1"
grad_factor = 1.0
upstream = "*"

[components.clintiny_textcat.model.tok2vec.pooling]
@layers = "reduce_mean.v1"

[corpora]

[corpora.train]
@readers = "spacy.Corpus.v1"
path = ${paths.train}
augmenter = {"@augmenters": "spacy-clintiny.CopyGoldSpans.v1", "spans_keys": ["nli_pair"]}

[corpora.dev]
@readers = "spacy.Corpus.v1"
path = ${paths.dev}
augmenter = {"@augmenters": "spacy-clintiny.CopyGoldSpans.v1", "spans_keys": ["nli_pair"]}

[training]
seed = ${system.seed}
gpu_allocator = ${system.gpu_allocator}
dropout = 0.0
accumulate_gradient = 1
patience = 0
max_epochs = 0
max_steps = 30
eval_frequency = 30
frozen_components = []
annotating_components = []
dev_corpus = "corpora.dev"
train_corpus = "corpora.train"
before_to_disk = null
before_update = null
logger = {"@loggers": "spacy.ConsoleLogger.v1"}

[training.batcher]
@batchers = "spacy.batch_by_sequence.v1"
size = 8
get_length = null

[training.optimizer]
@optimizers = "Adam.v1"
learn_rate = 0.005
use_averages = false

[training.score_weights]
clintiny_textcat_acc = 1.0

[initialize]
vectors = null
init_tok2vec = null
vocab_data = null
lookups = null
before_init = null
after_init = null

[initialize.components]

[initialize.tokenizer]
"""
)

SPECIALTY_DOCS = [
    ("patient reports chest pain and blood pressure is high", {"CARDIO": 1.0, "PULMO": 0.0, "DERMA": 0.0}),
    ("ecg shows changes , chest pain on exertion", {"CARDIO": 1.0, "PULMO": 0.0, "DERMA": 0.0}),
    ("cough and shortness of breath with fever", {"CARDIO": 0.0, "PULMO": 1.0, "DERMA": 0.0}),
    ("pneumonia on x-ray , cough for a week", {"CARDIO": 0.0, "PULMO": 1.0, "DERMA": 0.0}),
    ("rash on the arm after a new soap", {"CARDIO": 0.0, "PULMO": 0.0, "DERMA": 1.0}),
    ("itchy rash , no fever", {"CARDIO": 0.0, "PULMO": 0.0, "DERMA": 1.0}),
]
MULTI_DOCS = [
    ("chest pain and cough", {"CARDIO": 1.0, "PULMO": 1.0, "DERMA": 0.0}),
    ("chest pain at rest", {"CARDIO": 1.0, "PULMO": 0.0, "DERMA": 0.0}),
    ("cough with rash", {"CARDIO": 0.0, "PULMO": 1.0, "DERMA": 1.0}),
    ("rash only", {"CARDIO": 0.0, "PULMO": 0.0, "DERMA": 1.0}),
    ("routine visit , no complaints", {"CARDIO": 0.0, "PULMO": 0.0, "DERMA": 0.0}),
    ("chest pain , cough and rash", {"CARDIO": 1.0, "PULMO": 1.0, "DERMA": 1.0}),
]
NLI_PAIRS = [
    ("patient denies chest pain", "the patient has chest pain", "contradiction"),
    ("patient denies chest pain", "the patient has no chest pain", "entailment"),
    ("patient denies chest pain", "the patient is a smoker", "neutral"),
    ("fever and cough for two days", "the patient has a fever", "entailment"),
    ("fever and cough for two days", "the patient is afebrile", "contradiction"),
    ("fever and cough for two days", "the patient has pneumonia", "neutral"),
]
NLI_LABELS = ("entailment", "neutral", "contradiction")


def _doc_with_cats(nlp, text, cats):
    doc = nlp.make_doc(text)
    doc.cats = dict(cats)
    return doc


def _pair_doc(nlp, premise, hypothesis, label):
    doc = make_pair_doc(nlp, premise, hypothesis)
    doc.cats = {lab: float(lab == label) for lab in NLI_LABELS}
    return doc


def gold_examples(nlp, docs, keys=("nli_pair",)):
    return [copy_gold_spans(Example(nlp.make_doc(doc.text), doc), list(keys)) for doc in docs]


def test_textcat_exclusive_overfits_with_spacy_train(tmp_path, tiny_encoder):
    blank = spacy.blank("en")
    docs = [_doc_with_cats(blank, t, c) for t, c in SPECIALTY_DOCS]
    nlp = train_with_spacy(CONFIG, tmp_path, tiny_encoder, docs, {})
    scores = nlp.evaluate(gold_examples(nlp, docs))
    assert scores["clintiny_textcat_acc"] == 1.0
    assert scores["clintiny_textcat_macro_f"] == 1.0
    doc = nlp(docs[2].text)
    assert set(doc.cats) == {"CARDIO", "PULMO", "DERMA"}
    assert max(doc.cats, key=doc.cats.get) == "PULMO"
    assert sum(doc.cats.values()) == pytest.approx(1.0, abs=1e-4)


def test_textcat_multilabel_overfits_with_spacy_train(tmp_path, tiny_encoder):
    blank = spacy.blank("en")
    docs = [_doc_with_cats(blank, t, c) for t, c in MULTI_DOCS]
    overrides = {"components.clintiny_textcat.exclusive_classes": False}
    nlp = train_with_spacy(CONFIG, tmp_path, tiny_encoder, docs, overrides)
    scores = nlp.evaluate(gold_examples(nlp, docs))
    assert scores["clintiny_textcat_acc"] == 1.0
    assert scores["clintiny_textcat_micro_f"] == 1.0
    # the all-negative doc gets no label above threshold
    assert max(nlp(MULTI_DOCS[4][0]).cats.values()) < 0.5


def test_textcat_nli_pair_mode_overfits_with_spacy_train(tmp_path, tiny_encoder):
    blank = spacy.blank("en")
    docs = [_pair_doc(blank, p, h, label) for p, h, label in NLI_PAIRS]
    overrides = {"components.clintiny_textcat.mode": "pair"}
    nlp = train_with_spacy(CONFIG, tmp_path, tiny_encoder, docs, overrides)
    scores = nlp.evaluate(gold_examples(nlp, docs))
    assert scores["clintiny_textcat_acc"] == 1.0
    assert nlp.get_pipe("clintiny_textcat").labels == tuple(sorted(NLI_LABELS))
    # same premise, different hypotheses: the head reads the hypothesis
    doc = nlp(make_pair_doc(nlp, NLI_PAIRS[3][0], NLI_PAIRS[3][1]))
    assert max(doc.cats, key=doc.cats.get) == "entailment"
    # round trip: labels, cfg and predictions survive to_disk/from_disk
    nlp.to_disk(tmp_path / "model")
    nlp2 = spacy.load(tmp_path / "model")
    assert nlp2.get_pipe("clintiny_textcat").cfg == nlp.get_pipe("clintiny_textcat").cfg
    doc2 = nlp2(make_pair_doc(nlp2, NLI_PAIRS[3][0], NLI_PAIRS[3][1]))
    for label in NLI_LABELS:
        assert doc2.cats[label] == pytest.approx(doc.cats[label], abs=1e-5)


# ---------------------------------------------------------------- in-process pipelines


def _pipeline(encoder, *, no_dropout=False, **textcat_cfg):
    nlp = spacy.blank("en")
    model = {"name": str(encoder), "window": 48, "stride": 36}
    if no_dropout:
        model["transformer_config"] = {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
    nlp.add_pipe("clintiny_encoder", config={"model": model})
    cfg = {"model": {"hidden_width": 16, "dropout": 0.0}, **textcat_cfg}
    nlp.add_pipe("clintiny_textcat", config=cfg)
    return nlp


def _examples(nlp, items):
    return [Example(nlp.make_doc(t), _doc_with_cats(nlp, t, c)) for t, c in items]


def test_textcat_loss_falls(tiny_encoder):
    nlp = _pipeline(tiny_encoder, exclusive_classes=True)
    examples = _examples(nlp, SPECIALTY_DOCS)
    optimizer = nlp.initialize(lambda: examples)
    optimizer.learn_rate = 0.005
    history = [nlp.update(examples, sgd=optimizer, drop=0.0)["clintiny_textcat"] for _ in range(12)]
    assert history[-1] < 0.5 * history[0]


def _head_grads(pipe):
    grads = {}
    for node in pipe.model.walk():
        for name in node.param_names:
            if node.has_grad(name):
                grads[(node.id, name)] = numpy.array(node.get_grad(name))
                node.set_grad(name, node.ops.alloc(node.get_grad(name).shape))
    return grads


@pytest.mark.parametrize("exclusive", [True, False])
def test_textcat_unannotated_docs_change_neither_loss_nor_gradients(tiny_encoder, exclusive):
    nlp = _pipeline(tiny_encoder, no_dropout=True, exclusive_classes=exclusive)
    annotated = _examples(nlp, SPECIALTY_DOCS[:4])
    # docs annotated for other heads (ADE label, NLI) or for nothing at all
    others = _examples(
        nlp, [("aspirin caused a rash", {"ADE": 1.0}), ("no cats here at all", {}), ("fever", {"ADE": 0.0})]
    )
    nlp.initialize(lambda: annotated)
    pipe = nlp.get_pipe("clintiny_textcat")
    loss_a = nlp.update(annotated, sgd=False, drop=0.0)["clintiny_textcat"]
    grads_a = _head_grads(pipe)
    mixed = [others[0], annotated[0], annotated[1], others[1], annotated[2], others[2], annotated[3]]
    loss_b = nlp.update(mixed, sgd=False, drop=0.0)["clintiny_textcat"]
    grads_b = _head_grads(pipe)
    assert loss_a > 0
    assert loss_b == pytest.approx(loss_a, rel=1e-5)
    assert grads_a.keys() == grads_b.keys() and len(grads_a) >= 4
    for key in grads_a:
        assert_allclose(grads_b[key], grads_a[key], rtol=1e-4, atol=1e-6)
    # only unannotated docs: no loss at all
    assert nlp.update(others, sgd=False, drop=0.0)["clintiny_textcat"] == 0.0
    assert all(not g.any() for g in _head_grads(pipe).values())


def test_textcat_empty_and_whitespace_docs_get_cats(tiny_encoder):
    nlp = _pipeline(tiny_encoder, exclusive_classes=True)
    nlp.initialize(lambda: _examples(nlp, SPECIALTY_DOCS))
    docs = list(nlp.pipe(["", "   \n ", "chest pain"]))
    for doc in docs:
        assert set(doc.cats) == {"CARDIO", "PULMO", "DERMA"}
        assert sum(doc.cats.values()) == pytest.approx(1.0, abs=1e-4)
    assert nlp("").cats.keys() == docs[0].cats.keys()


def test_only_own_labels_are_written(tiny_encoder):
    nlp = _pipeline(tiny_encoder)
    nlp.initialize(lambda: _examples(nlp, MULTI_DOCS))
    doc = nlp.make_doc("chest pain")
    doc.cats["ADE"] = 1.0  # written earlier by another head
    doc = nlp(doc)
    assert doc.cats["ADE"] == 1.0 and set(doc.cats) == {"ADE", "CARDIO", "PULMO", "DERMA"}


def test_make_pair_doc_carries_premise_and_hypothesis(nlp):
    doc = make_pair_doc(nlp, "no chest pain.", " pain is absent ")
    premise, hypothesis = doc.spans["nli_pair"]
    assert doc.text == "no chest pain.\n pain is absent "
    assert (premise.label_, premise.text) == ("PREMISE", "no chest pain.")
    assert (hypothesis.label_, hypothesis.text) == ("HYPOTHESIS", "pain is absent")


# ---------------------------------------------------------------- errors


def test_pair_mode_doc_without_pair_spans_is_a_clear_error(tiny_encoder):
    nlp = _pipeline(tiny_encoder, mode="pair", exclusive_classes=True)
    blank = spacy.blank("en")
    nlp.initialize(lambda: gold_examples(nlp, [_pair_doc(blank, p, h, lab) for p, h, lab in NLI_PAIRS]))
    good = make_pair_doc(nlp, "fever", "febrile")
    with pytest.raises(ValueError, match=r"E202.*doc 1 of the batch \(of 2\).*'nli_pair'"):
        list(nlp.pipe([good, nlp.make_doc("fever\nfebrile")]))
    one_span = make_pair_doc(nlp, "fever", "febrile")
    one_span.spans["nli_pair"] = [one_span.spans["nli_pair"][0]]
    with pytest.raises(ValueError, match=r"E203.*doc 0 .*1 span\(s\).*\['PREMISE'\]"):
        nlp(one_span)


@pytest.mark.parametrize(
    "cfg,items,labels,code",
    [
        ({"mode": "sentence"}, None, None, "E200"),
        ({"exclusive_classes": True}, [("aspirin caused rash", {"ADE": 1.0})], None, "E206"),
        ({}, [("no cats", {})], None, "E204"),
        ({"mode": "pair"}, SPECIALTY_DOCS, None, "E208"),
        ({"threshold": 1.5}, None, None, "E209"),
        ({"pos_weight_power": -0.5}, None, None, "E890"),
        ({"pos_weight_power": 1.0, "exclusive_classes": True}, None, None, "E889"),
    ],
)
def test_misconfigured_textcat_errors(tiny_encoder, cfg, items, labels, code):
    with pytest.raises(ValueError, match=code):
        nlp = _pipeline(tiny_encoder, **cfg)
        examples = _examples(nlp, items)
        if labels is None:
            nlp.initialize(lambda: examples)
        else:
            nlp.get_pipe("clintiny_textcat").initialize(lambda: examples, nlp=nlp, labels=labels)


def test_exclusive_doc_with_two_positive_labels_is_an_error(tiny_encoder):
    nlp = _pipeline(tiny_encoder, exclusive_classes=True)
    nlp.initialize(lambda: _examples(nlp, SPECIALTY_DOCS))
    bad = _examples(nlp, [SPECIALTY_DOCS[0], ("chest pain and cough", {"CARDIO": 1.0, "PULMO": 1.0})])
    with pytest.raises(ValueError, match=r"E207.*doc 1 .*\['CARDIO', 'PULMO'\]"):
        nlp.update(bad)


def test_no_encoder_upstream_is_a_clear_error(nlp):
    nlp.add_pipe("clintiny_textcat")
    examples = _examples(nlp, SPECIALTY_DOCS)
    with pytest.raises(ValueError, match="E004.*clintiny_textcat"):
        nlp.initialize(lambda: examples)


def test_label_cannot_be_added_after_initialize(tiny_encoder):
    nlp = _pipeline(tiny_encoder)
    nlp.initialize(lambda: _examples(nlp, SPECIALTY_DOCS))
    with pytest.raises(ValueError, match="E210.*'ONCOLOGY'"):
        nlp.get_pipe("clintiny_textcat").add_label("ONCOLOGY")


# ---------------------------------------------------------------- pooling maths


@pytest.mark.parametrize("pooling", ["mean", "mean_max"])
def test_pool_ranges_backprop_matches_finite_differences(pooling):
    ops = NumpyOps()
    rng = numpy.random.default_rng(0)
    Xs = [rng.normal(size=(5, 3)).astype("float64"), numpy.zeros((0, 0)), rng.normal(size=(4, 3)).astype("float64")]
    ranges = [(0, 0, 5), (0, 1, 3), (2, 2, 2), (2, 0, 4), (0, 4, 5)]
    out, backprop = pool_ranges(ops, Xs, ranges, pooling=pooling, width=3)
    assert out.shape == (5, 3 if pooling == "mean" else 6)
    assert not out[2].any()  # empty range pools to zeros
    for row, (d, start, end) in enumerate(ranges):
        if end > start:
            assert out[row, :3] == pytest.approx(Xs[d][start:end].mean(axis=0))
            if pooling == "mean_max":
                assert out[row, 3:] == pytest.approx(Xs[d][start:end].max(axis=0))
    d_out = rng.normal(size=out.shape)
    dXs = backprop(d_out.astype("float32"))
    assert dXs[1].shape == (0, 0)
    eps = 1e-4
    for d in (0, 2):
        for idx in numpy.ndindex(Xs[d].shape):
            plus = [X.copy() for X in Xs]
            minus = [X.copy() for X in Xs]
            plus[d][idx] += eps
            minus[d][idx] -= eps
            f_plus = (pool_ranges(ops, plus, ranges, pooling=pooling, width=3)[0] * d_out).sum()
            f_minus = (pool_ranges(ops, minus, ranges, pooling=pooling, width=3)[0] * d_out).sum()
            assert dXs[d][idx] == pytest.approx((f_plus - f_minus) / (2 * eps), abs=1e-3)


def test_scores_judge_partially_annotated_docs_on_their_labels(nlp):
    pipe = nlp.add_pipe("clintiny_textcat", name="specialty")
    pipe.cfg["labels"] = ["ADE", "CARDIO", "PULMO"]  # a multi-label head over two corpora

    def example(text, gold, pred):
        eg = Example(nlp.make_doc(text), _doc_with_cats(nlp, text, gold))
        eg.predicted.cats = pred
        return eg

    examples = [
        example("chest pain", {"CARDIO": 1.0, "PULMO": 0.0}, {"ADE": 0.97, "CARDIO": 0.9, "PULMO": 0.1}),
        example("aspirin given", {"ADE": 0.0}, {"ADE": 0.1, "CARDIO": 0.9, "PULMO": 0.2}),
        example("nli doc", {"entailment": 1.0}, {"ADE": 0.9, "CARDIO": 0.9, "PULMO": 0.9}),  # not annotated
    ]
    scores = pipe.score(examples)
    assert scores["specialty_acc"] == 1.0  # labels unknown for a doc are not ranked
    assert scores["specialty_micro_f"] == 1.0  # ... nor counted as false positives
    assert scores["specialty_per_label"]["CARDIO"] == {"p": 1.0, "r": 1.0, "f": 1.0}
    # spaCy's keys, printed by `spacy evaluate` as TEXTCAT (multi-label: macro AUC, as spaCy's own)
    assert scores["cats_score_desc"] == "macro AUC"
    assert scores["cats_score"] == scores["specialty_macro_auc"]
    assert set(scores["cats_f_per_type"]) == {"ADE", "CARDIO", "PULMO"}
    examples[1].predicted.cats["ADE"] = 0.8
    assert pipe.score(examples)["specialty_acc"] == 0.5
    assert pipe.score(examples[2:])["specialty_acc"] is None
    assert "cats_score" not in pipe.score(examples[2:])  # another head's data: its keys stay free


def test_given_label_missing_from_the_examples_is_kept_with_a_warning(tiny_encoder):
    nlp = _pipeline(tiny_encoder)
    examples = _examples(nlp, SPECIALTY_DOCS)
    # as `[initialize.components.clintiny_textcat] labels = ...` in a training config
    nlp.config["initialize"]["components"]["clintiny_textcat"] = {"labels": ["CARDIO", "ONCOLOGY"]}
    with pytest.warns(UserWarning, match=r"W103.*\['ONCOLOGY'\]"):
        nlp.initialize(lambda: examples)
    assert nlp.get_pipe("clintiny_textcat").labels == ("CARDIO", "ONCOLOGY")


def test_reinitialize_with_another_label_set(tiny_encoder):
    # a trained head re-initialized with fewer labels gets a fresh output layer of that size
    nlp = _pipeline(tiny_encoder)
    examples = _examples(nlp, SPECIALTY_DOCS)
    nlp.initialize(lambda: examples)
    textcat = nlp.get_pipe("clintiny_textcat")
    assert len(textcat.labels) == 3
    textcat.initialize(lambda: examples, nlp=nlp, labels=["CARDIO", "PULMO"])
    assert textcat.labels == ("CARDIO", "PULMO")
    doc = nlp("chest pain and cough")
    assert set(doc.cats) == {"CARDIO", "PULMO"}


def test_class_weights_come_from_the_training_counts_and_survive_disk(tiny_encoder, tmp_path):
    # CARDIO: 3 positives of 4 annotated docs; PULMO 1 of 4; DERMA 1 of 3 (one doc leaves it out)
    items = [
        ("chest pain", {"CARDIO": 1.0, "PULMO": 0.0, "DERMA": 0.0}),
        ("ecg changes", {"CARDIO": 1.0, "PULMO": 0.0, "DERMA": 0.0}),
        ("murmur and cough", {"CARDIO": 1.0, "PULMO": 1.0}),
        ("rash", {"CARDIO": 0.0, "PULMO": 0.0, "DERMA": 1.0}),
    ]
    nlp = _pipeline(tiny_encoder, pos_weight_power=0.5)
    examples = _examples(nlp, items)
    nlp.initialize(lambda: examples)
    weights = nlp.get_pipe("clintiny_textcat").cfg["pos_weights"]
    assert weights == pytest.approx({"CARDIO": (1 / 3) ** 0.5, "PULMO": 3**0.5, "DERMA": 2**0.5})
    # the weights change the loss: the same batch, unweighted, gives another value
    plain = _pipeline(tiny_encoder)
    plain.initialize(lambda: _examples(plain, items))
    probs = numpy.full((4, 3), 0.5, dtype="float32")
    weighted_loss, _ = nlp.get_pipe("clintiny_textcat").get_loss(examples, probs)
    plain_loss, _ = plain.get_pipe("clintiny_textcat").get_loss(_examples(plain, items), probs)
    ln2 = numpy.log(2)
    # 11 known (label, doc) cells: 5 positives weighted, 6 negatives, averaged over 4 docs
    assert plain_loss == pytest.approx(11 * ln2 / 4, rel=1e-5)
    assert weighted_loss == pytest.approx((3 * (1 / 3) ** 0.5 + 3**0.5 + 2**0.5 + 6) * ln2 / 4, rel=1e-5)
    nlp.to_disk(tmp_path / "weighted")
    loaded = spacy.load(tmp_path / "weighted")
    assert loaded.get_pipe("clintiny_textcat").cfg["pos_weights"] == pytest.approx(weights)
