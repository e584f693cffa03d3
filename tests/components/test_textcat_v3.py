"""spacy-clintiny.TextClassifier.v3: the encoder head stacked on a TF-IDF + logistic regression
fitted at initialize (spacy_clintiny.tfidf), out-of-fold logits while training."""

import numpy
import pytest
import spacy
from numpy.testing import assert_allclose
from spacy.training import Example
from spacy.util import fix_random_seed

from helpers import TEXTCAT_LISTENER as LISTENER
from helpers import cats_examples as _examples
from helpers import cats_in_fresh_process, textcat_pipeline
from spacy_clintiny.pairs import make_pair_doc
from spacy_clintiny.tfidf import fit_tfidf_logits, tfidf_logits

WORDS = {
    "CARDIO": ["chest", "pain", "ecg", "troponin", "murmur"],
    "PULMO": ["cough", "wheeze", "sputum", "pneumonia", "dyspnea"],
    "DERMA": ["rash", "itchy", "lesion", "eczema", "biopsy"],
}
FILLER = ["patient", "seen", "today", "with", "and", "noted"]


def _docs(n_per_label, seed=0):
    """Short notes of 2-3 key words of one or two specialties among filler words."""
    rng = numpy.random.default_rng(seed)
    items = []
    for i in range(n_per_label):
        for label, words in WORDS.items():
            labels = {label}
            chosen = list(rng.choice(words, size=3, replace=False))
            if i % 4 == 3:  # a few docs carry a second specialty
                other = sorted(set(WORDS) - {label})[i % 2]
                labels.add(other)
                chosen.append(str(rng.choice(WORDS[other])))
            tokens = chosen + list(rng.choice(FILLER, size=4))
            rng.shuffle(tokens)
            items.append((" ".join(tokens), {name: float(name in labels) for name in WORDS}))
    return items


def _pipeline(encoder, *, model=None, **textcat_cfg):
    return textcat_pipeline(encoder, arch="v3", model={"folds": 3, **(model or {})}, **textcat_cfg)


def _sklearn_logits(texts, y, test_texts):
    """What scikit-learn's own TfidfVectorizer + LogisticRegression give, label by label."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(min_df=2, sublinear_tf=True, dtype=numpy.float32)
    X = vec.fit_transform(texts)
    out = []
    for j in range(y.shape[1]):
        clf = LogisticRegression(solver="liblinear", dual=True, max_iter=1000, C=10.0, class_weight="balanced")
        clf.fit(X, y[:, j])
        out.append(clf.decision_function(vec.transform(test_texts)))
    return numpy.stack(out, axis=1)


def test_fitted_arrays_give_scikit_learns_logits():
    items = _docs(8)
    texts = [t for t, _ in items]
    y = numpy.array([[c[name] for name in WORDS] for _, c in items])
    model, oof = fit_tfidf_logits(texts, y, numpy.ones_like(y), [str(i) for i in range(len(texts))], folds=3)
    test_texts = [t for t, _ in _docs(3, seed=1)]
    assert_allclose(tfidf_logits(model, test_texts), _sklearn_logits(texts, y, test_texts), rtol=1e-4, atol=1e-4)
    full = tfidf_logits(model, texts)
    # out of fold, a doc's logits come from a model that did not see it: less sure of its own labels
    margin_full = (full * (2 * y - 1)).mean()
    margin_oof = (oof * (2 * y - 1)).mean()
    assert margin_oof < margin_full
    assert margin_oof > 0  # and still right on average


def test_masked_labels_are_fitted_on_their_annotated_docs_only():
    items = _docs(8)
    texts = [t for t, _ in items]
    y = numpy.array([[c[name] for name in WORDS] for _, c in items])
    mask = numpy.ones_like(y)
    mask[::2, 0] = 0  # half the docs do not annotate CARDIO
    groups = [str(i) for i in range(len(texts))]
    masked, _ = fit_tfidf_logits(texts, y, mask, groups, folds=3)
    flipped = y.copy()
    flipped[::2, 0] = 1 - flipped[::2, 0]  # what the unannotated docs say does not matter
    same, _ = fit_tfidf_logits(texts, flipped, mask, groups, folds=3)
    assert_allclose(masked.coef, same.coef)
    assert_allclose(masked.intercept, same.intercept)


def test_v3_starts_at_the_regression_and_trains_on_out_of_fold_logits(tiny_encoder):
    fix_random_seed(0)
    nlp = _pipeline(tiny_encoder)
    items = _docs(8)
    examples = _examples(nlp, items)
    nlp.initialize(lambda: examples)
    textcat = nlp.get_pipe("clintiny_textcat")
    layer = textcat.model.get_ref("tfidf")
    assert textcat.cfg["tfidf"]["docs"] == len(items) and textcat.cfg["tfidf"]["terms"] > 10
    texts = [t for t, _ in items]
    y = numpy.array([[c[name] for name in textcat.labels] for _, c in items])
    docs = [nlp.make_doc(t) for t in texts]
    expected_full = _sklearn_logits(texts, y, texts)
    assert_allclose(layer.predict(docs), expected_full, rtol=1e-4, atol=1e-4)
    _, oof = fit_tfidf_logits(texts, y, numpy.ones_like(y), [f"doc {i}" for i in range(len(texts))], folds=3)
    train_logits, _ = layer(docs, is_train=True)
    assert_allclose(train_logits, oof, rtol=1e-4, atol=1e-4)
    assert not numpy.allclose(train_logits, expected_full, atol=0.1)
    # a training-mode doc that is not a training doc gets the full model's logits
    other = nlp.make_doc("rash and cough noted today")
    assert_allclose(layer([other], is_train=True)[0], layer.predict([other]), atol=1e-6)


def test_v3_learns_and_round_trips_through_disk_in_a_fresh_process(tiny_encoder, tmp_path):
    fix_random_seed(0)
    nlp = _pipeline(tiny_encoder)
    examples = _examples(nlp, _docs(8))
    optimizer = nlp.initialize(lambda: examples)
    optimizer.learn_rate = 0.01
    layer = nlp.get_pipe("clintiny_textcat").model.get_ref("tfidf")
    W_before = layer.get_param("W").copy()
    losses = []
    for _ in range(15):
        loss = nlp.update(examples, sgd=optimizer, drop=0.0, losses={})
        losses.append(loss["clintiny_textcat"])
    assert losses[-1] < losses[0] * 0.7
    assert_allclose(layer.get_param("W"), W_before)  # the regression stays as fitted
    assert not numpy.allclose(layer.get_param("scale"), 1.0)  # its weight per label learns
    assert nlp.evaluate(_examples(nlp, _docs(8)))["clintiny_textcat_acc"] == 1.0
    test = _docs(3, seed=2)
    assert nlp.evaluate(_examples(nlp, test))["clintiny_textcat_acc"] >= 0.8  # new docs
    nlp.to_disk(tmp_path / "p")
    texts = [t for t, _ in test]
    expected = [[round(doc.cats[k], 5) for k in sorted(doc.cats)] for doc in nlp.pipe(texts)]
    assert_allclose(numpy.array(cats_in_fresh_process(tmp_path / "p", texts)), numpy.array(expected), atol=2e-5)


def test_v3_thresholds_start_where_the_out_of_fold_predictions_reach_their_best_f1(tiny_encoder):
    """The TF-IDF baseline's decision rule: each label's threshold is the F1-best cut of the
    regression's out-of-fold probabilities on the training docs (top label counted); a
    threshold given in the config is kept, and a second initialize derives the same ones."""
    from spacy_clintiny.evaluation.thresholds import calibrate_thresholds

    nlp = _pipeline(tiny_encoder, always_top=True, thresholds={"DERMA": 0.9})
    items = _docs(8)
    nlp.initialize(lambda: _examples(nlp, items))
    textcat = nlp.get_pipe("clintiny_textcat")
    labels = list(textcat.labels)
    texts = [t for t, _ in items]
    y = numpy.array([[c[name] for name in labels] for _, c in items])
    _, oof = fit_tfidf_logits(texts, y, numpy.ones_like(y), [f"doc {i}" for i in range(len(texts))], folds=3)
    probs = 1 / (1 + numpy.exp(-oof))
    expected = calibrate_thresholds(probs, y, numpy.ones_like(y), labels, default=0.5, min_positives=1, always_top=True)
    derived = [label for label in labels if label != "DERMA"]
    assert textcat.cfg["tfidf"]["oof_thresholds"] == sorted(derived)
    for label in derived:
        assert textcat.cfg["thresholds"][label] == pytest.approx(expected[label].threshold, abs=1e-6)
        assert expected[label].f1 >= expected[label].f1_default
    assert textcat.cfg["thresholds"]["DERMA"] == 0.9
    before = dict(textcat.cfg["thresholds"])
    textcat.initialize(lambda: _examples(nlp, items), nlp=nlp)
    assert textcat.cfg["thresholds"] == pytest.approx(before)


def test_v3_new_label_set_and_pair_mode(tiny_encoder):
    nlp = _pipeline(tiny_encoder)
    items = _docs(6)
    nlp.initialize(lambda: _examples(nlp, items))
    textcat = nlp.get_pipe("clintiny_textcat")
    two = [(t, {"CARDIO": c["CARDIO"], "PULMO": c["PULMO"]}) for t, c in items]
    textcat.initialize(lambda: _examples(nlp, two), nlp=nlp, labels=["CARDIO", "PULMO"])
    layer = textcat.model.get_ref("tfidf")
    assert layer.get_param("W").shape[1] == 2 and layer.get_dim("nO") == 2
    assert set(nlp("chest pain").cats) == {"CARDIO", "PULMO"}

    pair_nlp = _pipeline(tiny_encoder, mode="pair", exclusive_classes=True)
    examples = []
    for premise, hypothesis, label in [("no chest pain", "pain is absent", "yes"), ("no pain", "has pain", "no")]:
        ref = make_pair_doc(pair_nlp, premise, hypothesis)
        ref.cats = {"yes": float(label == "yes"), "no": float(label == "no")}
        examples.append(Example(make_pair_doc(pair_nlp, premise, hypothesis), ref))
    pair_nlp.initialize(lambda: examples)
    pair = pair_nlp.get_pipe("clintiny_textcat")
    assert "tfidf" not in pair.cfg and pair.model.attrs["use_bow"] is False
    docs = [eg.predicted for eg in examples]
    X = (docs, [list(doc.spans["nli_pair"]) for doc in docs])
    assert_allclose(pair.model.predict(X), pair.model.layers[0].predict(X), atol=1e-6)


@pytest.mark.parametrize(
    "setting,value",
    [("features", "word 1-3"), ("C", 0), ("class_weight", "auto"), ("folds", 1)],
)
def test_bad_v3_settings_are_clear_errors(nlp, setting, value):
    config = {"@architectures": "spacy-clintiny.TextClassifier.v3", setting: value, "tok2vec": LISTENER}
    with pytest.raises(ValueError, match=f"E882.*v3: {setting} = "):
        nlp.add_pipe("clintiny_textcat", config={"model": config})


def test_initialize_reads_the_whole_corpus_when_given_one(tiny_encoder, tmp_path):
    from spacy.tokens import DocBin

    nlp = _pipeline(tiny_encoder, pos_weight_power=1.0)
    items = _docs(8)
    examples = _examples(nlp, items)
    DocBin(docs=[eg.reference for eg in examples]).to_disk(tmp_path / "train.spacy")
    corpus = spacy.registry.readers.get("spacy.Corpus.v1")(
        tmp_path / "train.spacy", gold_preproc=False, max_length=0, limit=0
    )
    nlp.initialize(lambda: examples[:3])
    textcat = nlp.get_pipe("clintiny_textcat")
    assert textcat.cfg["tfidf"]["docs"] == 3
    # spaCy's initialize shows a streamed corpus's first 100 examples; here the first 3
    textcat.initialize(lambda: examples[:3], nlp=nlp, corpus=corpus)
    assert textcat.cfg["tfidf"]["docs"] == len(items)
    y = numpy.array([[c[label] for label in textcat.labels] for _, c in items])
    expected = ((len(y) - y.sum(axis=0)) / y.sum(axis=0)).tolist()
    assert [textcat.cfg["pos_weights"][label] for label in textcat.labels] == pytest.approx(expected)
    with pytest.raises(ValueError, match="E217"):
        textcat.initialize(lambda: examples, corpus=corpus)
