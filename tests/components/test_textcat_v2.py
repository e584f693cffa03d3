"""spacy-clintiny.TextClassifier.v2 (pooled encoder vectors + a bag of n-grams) and the
clintiny_textcat decisions: per-label thresholds and always_top."""

import numpy
import pytest
import spacy
from numpy.testing import assert_allclose
from spacy.training import Example
from spacy.util import fix_random_seed

from helpers import TEXTCAT_LISTENER as LISTENER
from helpers import cats_examples as _examples
from helpers import textcat_pipeline as _pipeline
from spacy_clintiny.pairs import make_pair_doc

# Two classes that differ by one word the tiny encoder cannot see: neither "ø" nor "þ" is in its
# vocab (nor decomposes to a letter that is), so both are [UNK] and the encoder's input, hence
# every vector v1 pools, is the same for both docs. spaCy's LOWER tells them apart.
ONE_WORD = [
    ("the patient has ø today", {"A": 1.0, "B": 0.0}),
    ("the patient has þ today", {"A": 0.0, "B": 1.0}),
    ("pain and ø noted", {"A": 1.0, "B": 0.0}),
    ("pain and þ noted", {"A": 0.0, "B": 1.0}),
]
SPECIALTY = [
    ("chest pain and ecg changes", {"CARDIO": 1.0, "PULMO": 0.0, "DERMA": 0.0}),
    ("cough and fever with pneumonia", {"CARDIO": 0.0, "PULMO": 1.0, "DERMA": 0.0}),
    ("itchy rash on the arm", {"CARDIO": 0.0, "PULMO": 0.0, "DERMA": 1.0}),
    ("chest pain with cough", {"CARDIO": 1.0, "PULMO": 1.0, "DERMA": 0.0}),
]


def _train(nlp, examples, n_updates):
    optimizer = nlp.initialize(lambda: examples)
    optimizer.learn_rate = 0.01
    for _ in range(n_updates):
        nlp.update(examples, sgd=optimizer, drop=0.0)
    return optimizer


def test_unk_words_give_the_encoder_identical_input(tiny_encoder):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_encoder))
    assert tokenizer(ONE_WORD[0][0])["input_ids"] == tokenizer(ONE_WORD[1][0])["input_ids"]


def test_v2_learns_a_one_word_difference_that_v1_cannot_separate(tiny_encoder):
    results = {}
    for arch in ("v1", "v2"):
        fix_random_seed(0)
        nlp = _pipeline(tiny_encoder, arch=arch, model={"bow_length": 1024} if arch == "v2" else None)
        _train(nlp, _examples(nlp, ONE_WORD), 40)
        results[arch] = [nlp(text).cats for text, _ in ONE_WORD]
    v1, v2 = results["v1"], results["v2"]
    # v1 sees the same input for both classes: its outputs are identical, whatever it learned
    assert v1[0] == pytest.approx(v1[1], abs=1e-6) and v1[2] == pytest.approx(v1[3], abs=1e-6)
    for cats, (_, gold) in zip(v2, ONE_WORD):
        right, wrong = sorted(gold, key=gold.get, reverse=True)
        assert cats[right] - cats[wrong] > 0.3


def test_v2_overfits_multilabel_docs_with_the_spacy_train_step(tiny_encoder):
    nlp = _pipeline(tiny_encoder, model={"bow_length": 4096})
    examples = _examples(nlp, SPECIALTY)
    _train(nlp, examples, 20)
    scores = nlp.evaluate(_examples(nlp, SPECIALTY))
    assert scores["clintiny_textcat_micro_f"] == 1.0
    assert scores["clintiny_textcat_acc"] == 1.0


def test_bow_part_is_only_in_doc_mode(tiny_encoder):
    doc_nlp = _pipeline(tiny_encoder, model={"bow_length": 1000})
    _train(doc_nlp, _examples(doc_nlp, SPECIALTY), 3)
    model = doc_nlp.get_pipe("clintiny_textcat").model
    sparse = model.get_ref("bow_layer")
    assert model.attrs["use_bow"] is True
    assert sparse.get_dim("length") == 1024  # rounded up to a power of two
    assert numpy.abs(sparse.get_param("W")).max() > 0  # it learned
    docs = list(doc_nlp.pipe([text for text, _ in SPECIALTY]))
    dense, _ = model.layers
    X = (docs, [[doc[:]] for doc in docs])
    assert not numpy.allclose(model.predict(X), dense.predict(X), atol=1e-3)

    pair_nlp = _pipeline(tiny_encoder, mode="pair", exclusive_classes=True, model={"bow_length": 1000})
    pairs = [("no chest pain", "pain is absent", "yes"), ("no chest pain", "has chest pain", "no")]
    examples = []
    for premise, hypothesis, label in pairs:
        ref = make_pair_doc(pair_nlp, premise, hypothesis)
        ref.cats = {"yes": float(label == "yes"), "no": float(label == "no")}
        examples.append(Example(make_pair_doc(pair_nlp, premise, hypothesis), ref))
    _train(pair_nlp, examples, 2)
    model = pair_nlp.get_pipe("clintiny_textcat").model
    assert model.attrs["use_bow"] is False
    assert model.get_ref("bow_layer").get_dim("length") == 1  # one row per label, never read
    docs = [eg.predicted for eg in examples]
    X = (docs, [list(doc.spans["nli_pair"]) for doc in docs])
    assert_allclose(model.predict(X), model.layers[0].predict(X), atol=1e-6)  # pair mode is v1's head


def test_pooling_covers_every_window_of_a_long_doc(tiny_encoder):
    # window 8 / stride 6 tokens: a 40-token doc spans six windows
    nlp = _pipeline(tiny_encoder, window=8, stride=6, model={"pooling": "mean_max"})
    text = " ".join(["fever"] * 20 + ["rash", "cough"] * 10)
    nlp.initialize(lambda: _examples(nlp, [(text, {"A": 1.0})]))
    doc = nlp.get_pipe("clintiny_encoder")(nlp.make_doc(text))
    model = nlp.get_pipe("clintiny_textcat").model
    vectors = model.get_ref("tok2vec").predict([doc])[0]  # (n_tokens, width)
    assert vectors.shape[0] == len(doc) == 40
    assert numpy.abs(vectors[-8:]).sum(axis=1).min() > 0  # the last window's tokens are encoded
    pooled = model.get_ref("pooler").predict(([doc], [[doc[:]]]))
    assert_allclose(pooled[0], numpy.concatenate([vectors.mean(axis=0), vectors.max(axis=0)]), rtol=1e-5, atol=1e-6)


def test_v2_keeps_its_weights_through_disk_and_new_labels(tiny_encoder, tmp_path):
    nlp = _pipeline(tiny_encoder, model={"bow_length": 512})
    _train(nlp, _examples(nlp, SPECIALTY), 3)
    nlp.to_disk(tmp_path / "p")
    loaded = spacy.load(tmp_path / "p")
    for text, _ in SPECIALTY:
        assert loaded(text).cats == pytest.approx(nlp(text).cats, abs=1e-6)
    # initialized again with another label set: both output parts get the new size
    textcat = nlp.get_pipe("clintiny_textcat")
    examples = _examples(nlp, [(t, {"CARDIO": c["CARDIO"], "PULMO": c["PULMO"]}) for t, c in SPECIALTY])
    textcat.initialize(lambda: examples, nlp=nlp, labels=["CARDIO", "PULMO"])
    assert textcat.model.get_ref("bow_layer").get_dim("nO") == 2
    assert set(nlp("chest pain").cats) == {"CARDIO", "PULMO"}


# ---------------------------------------------------------------- thresholds and always_top


def _scored(nlp, name, rows):
    """Examples whose predicted cats are given probabilities (no model run)."""
    examples = []
    for text, gold, pred in rows:
        ref = nlp.make_doc(text)
        ref.cats = gold
        eg = Example(nlp.make_doc(text), ref)
        eg.predicted.cats = pred
        examples.append(eg)
    return examples


ROWS = [
    ("a", {"A": 1.0, "B": 0.0}, {"A": 0.30, "B": 0.10}),
    ("b", {"A": 1.0, "B": 1.0}, {"A": 0.45, "B": 0.20}),
    ("c", {"A": 0.0, "B": 1.0}, {"A": 0.35, "B": 0.40}),
    ("d", {"A": 0.0, "B": 0.0}, {"A": 0.05, "B": 0.02}),
]


def test_per_label_thresholds_and_always_top_decide_the_scores(nlp):
    pipe = nlp.add_pipe("clintiny_textcat", name="tc")
    pipe.cfg["labels"] = ["A", "B"]
    examples = _scored(nlp, "tc", ROWS)
    # default 0.5: nothing is predicted
    before = pipe.score(examples)
    assert before["tc_micro_f"] == 0.0
    # A from 0.25 (a, b, c), B from 0.15 (b, c): A tp 2 fp 1, B tp 2 fp 0
    pipe.set_thresholds({"A": 0.25, "B": 0.15})
    scores = pipe.score(examples)
    assert scores["tc_per_label"]["A"] == pytest.approx({"p": 2 / 3, "r": 1.0, "f": 0.8})
    assert scores["tc_per_label"]["B"] == pytest.approx({"p": 1.0, "r": 1.0, "f": 1.0})
    assert scores["tc_acc"] == 1.0  # d has no positive and no label over its threshold: correct
    # the AUC still reads the probabilities
    assert scores["tc_macro_auc"] == before["tc_macro_auc"] == pytest.approx((0.75 + 1.0) / 2)
    # always_top: d's top label A is predicted too (a false positive), and d is now wrong
    pipe.cfg["always_top"] = True
    scores = pipe.score(examples)
    assert scores["tc_per_label"]["A"]["p"] == pytest.approx(2 / 4)
    assert scores["tc_acc"] == 0.75
    decisions = pipe.decide(numpy.asarray([[0.30, 0.10], [0.05, 0.02], [0.20, 0.60]], dtype="float32"))
    assert decisions.tolist() == [[True, False], [True, False], [False, True]]
    # the predicted docs' cats are left as they were
    assert examples[0].predicted.cats == ROWS[0][2]


def test_thresholds_round_trip_and_change_predicted_labels(tiny_encoder, tmp_path):
    nlp = _pipeline(tiny_encoder, model={"bow_length": 512}, thresholds={"CARDIO": 0.0}, threshold=1.0)
    _train(nlp, _examples(nlp, SPECIALTY), 2)
    textcat = nlp.get_pipe("clintiny_textcat")
    doc = nlp("itchy rash")
    assert "CARDIO" in textcat.predicted_labels(doc)  # threshold 0: always predicted
    textcat.set_thresholds({"CARDIO": 1.0, "DERMA": 0.0})
    assert textcat.predicted_labels(doc) == ["DERMA"]
    nlp.to_disk(tmp_path / "p")
    loaded = spacy.load(tmp_path / "p")
    loaded_textcat = loaded.get_pipe("clintiny_textcat")
    assert loaded_textcat.cfg["thresholds"] == {"CARDIO": 1.0, "DERMA": 0.0}
    assert loaded_textcat.predicted_labels(loaded("itchy rash")) == ["DERMA"]
    assert loaded_textcat.label_thresholds.tolist() == [1.0, 0.0, 1.0]  # CARDIO, DERMA, PULMO (default)


def test_always_top_is_ignored_by_a_one_label_head(nlp):
    pipe = nlp.add_pipe("clintiny_textcat", name="ade", config={"always_top": True})
    pipe.cfg["labels"] = ["ADE"]
    assert pipe.decide(numpy.asarray([[0.2], [0.7]], dtype="float32")).tolist() == [[False], [True]]


def test_exclusive_head_decides_its_top_class(nlp):
    pipe = nlp.add_pipe("clintiny_textcat", name="tc", config={"exclusive_classes": True})
    pipe.cfg["labels"] = ["A", "B", "C"]
    probs = numpy.asarray([[0.2, 0.5, 0.3], [0.4, 0.3, 0.3]], dtype="float32")
    assert pipe.decide(probs).tolist() == [[False, True, False], [True, False, False]]


@pytest.mark.parametrize(
    "cfg,code",
    [
        ({"thresholds": {"A": 1.5}}, "E880.*'A'.*1.5"),
        ({"model": {"@architectures": "spacy-clintiny.TextClassifier.v2", "ngram_size": 0}}, "E882.*ngram_size"),
        ({"model": {"@architectures": "spacy-clintiny.TextClassifier.v2", "bow_length": 0}}, "E882.*bow_length"),
        ({"model": {"@architectures": "spacy-clintiny.TextClassifier.v2", "ngram_weighting": "tfidf"}}, "E882.*tfidf"),
    ],
)
def test_bad_settings_are_clear_errors(nlp, cfg, code):
    if "model" in cfg:
        cfg["model"]["tok2vec"] = LISTENER
    with pytest.raises(ValueError, match=code):
        nlp.add_pipe("clintiny_textcat", config=cfg)


def test_set_thresholds_checks_values_and_labels(nlp):
    pipe = nlp.add_pipe("clintiny_textcat", name="tc")
    pipe.cfg["labels"] = ["A", "B"]
    with pytest.raises(ValueError, match="E880.*'B'.*True"):
        pipe.set_thresholds({"A": 0.5, "B": True})
    with pytest.raises(ValueError, match=r"E881.*\['C'\]"):
        pipe.set_thresholds({"C": 0.5})
    assert pipe.cfg["thresholds"] == {}  # nothing half-set


def test_threshold_for_an_unknown_label_is_an_error_at_initialize(tiny_encoder):
    nlp = _pipeline(tiny_encoder, thresholds={"ONCOLOGY": 0.3})
    with pytest.raises(ValueError, match=r"E881.*\['ONCOLOGY'\].*\['CARDIO', 'DERMA', 'PULMO'\]"):
        nlp.initialize(lambda: _examples(nlp, SPECIALTY))


def test_sublinear_l2_weighting_of_the_bag(nlp):
    from spacy.attrs import LOWER
    from spacy.ml.extract_ngrams import extract_ngrams

    from spacy_clintiny.architectures.text_head import sublinear_l2

    docs = [nlp.make_doc("a a b"), nlp.make_doc(""), nlp.make_doc("c")]
    keys, counts, lengths = extract_ngrams(1, attr=LOWER).predict(docs)
    _, values, out_lengths = sublinear_l2().predict((keys, counts, lengths))
    assert out_lengths.tolist() == [2, 0, 1]
    by_key = dict(zip(keys[:2].tolist(), values[:2].tolist()))
    a, b = nlp.vocab.strings["a"], nlp.vocab.strings["b"]
    norm = ((1 + numpy.log(2)) ** 2 + 1) ** 0.5
    assert by_key[a] == pytest.approx((1 + numpy.log(2)) / norm, rel=1e-5)
    assert by_key[b] == pytest.approx(1 / norm, rel=1e-5)
    assert values[2] == pytest.approx(1.0)  # a one-word doc has unit length too


def test_sublinear_l2_bag_learns_the_one_word_difference(tiny_encoder):
    fix_random_seed(0)
    nlp = _pipeline(tiny_encoder, model={"bow_length": 1024, "ngram_weighting": "sublinear_l2"})
    _train(nlp, _examples(nlp, ONE_WORD), 40)
    for text, gold in ONE_WORD:
        cats = nlp(text).cats
        right, wrong = sorted(gold, key=gold.get, reverse=True)
        assert cats[right] - cats[wrong] > 0.3
