"""spacy-clintiny.TokenClassifier.v2: surface features + context over the encoder. It learns
tiny PHI data through clintiny_ner, survives empty docs, round-trips through disk and loads in
a fresh process; its layer mix has the gradient of its formula; bad settings name the value."""

import json
import os
import subprocess
import sys

import numpy
import pytest
import spacy
from thinc.api import Adam, NumpyOps

from helpers import phi_head_pipeline, span_examples
from spacy_clintiny.architectures.token_head import build_token_classifier_v2, layer_mix

PHI = [
    ("John Smith was seen at Boston clinic on Monday.", [(0, 10, "NAME"), (23, 29, "LOCATION")]),
    ("Mary Jones reports chest pain.", [(0, 10, "NAME")]),
    ("Dr Jones admitted the patient to Boston hospital.", [(3, 8, "NAME"), (33, 39, "LOCATION")]),
    ("The patient denies fever.", []),
]
SMALL_V2 = {
    "@architectures": "spacy-clintiny.TokenClassifier.v2",
    "surface_width": 16,
    "surface_rows": [200, 100, 100, 50],
    "width": 32,
    "depth": 1,
    "hidden_width": 16,
}
LSTM_V2 = {**SMALL_V2, "context": "lstm"}


def spans_of(doc):
    return [(s.start_char, s.end_char, s.label_) for s in doc.spans["phi"]]


@pytest.fixture(scope="module")
def trained(tiny_encoder):
    spacy.util.fix_random_seed(0)
    nlp = phi_head_pipeline(tiny_encoder, SMALL_V2)
    examples = span_examples(nlp, PHI, "phi")
    optimizer = nlp.initialize(lambda: examples, sgd=Adam(0.01))
    losses = []
    for _ in range(40):
        losses.append(nlp.update(examples, sgd=optimizer, drop=0.0)["ner_phi"])
    return nlp, losses


def test_v2_overfits_tiny_phi_data(trained):
    nlp, losses = trained
    assert losses[-1] < 0.1 * losses[0]
    for text, gold in PHI:
        assert spans_of(nlp(text)) == gold


def test_a_long_doc_in_segments_gets_the_scores_of_the_whole_doc(trained, monkeypatch):
    # the CNN context sees one token each side: segments with margins change no token's score
    from spacy_clintiny.components import _common

    nlp, _ = trained
    doc = nlp.make_doc(" ".join(text for text, _ in PHI) * 12)
    doc = nlp.get_pipe("clintiny_encoder")(doc)
    head = nlp.get_pipe("ner_phi")
    whole = head.predict([doc])[0]
    monkeypatch.setattr(_common, "PREDICT_TOKENS", 24)
    segments = head.predict([doc])[0]
    assert len(doc) > 10 * 24 and segments.shape == whole.shape
    numpy.testing.assert_allclose(segments, whole, rtol=1e-5, atol=1e-6)
    head.set_annotations([doc], [segments])
    assert spans_of(doc)[:2] == PHI[0][1]


def test_v2_lstm_context_learns(tiny_encoder):
    spacy.util.fix_random_seed(0)
    nlp = phi_head_pipeline(tiny_encoder, LSTM_V2)
    examples = span_examples(nlp, PHI, "phi")
    optimizer = nlp.initialize(lambda: examples, sgd=Adam(0.01))
    losses = [nlp.update(examples, sgd=optimizer, drop=0.0)["ner_phi"] for _ in range(30)]
    assert losses[-1] < 0.5 * losses[0]


def test_v2_handles_empty_docs_in_a_batch(trained):
    nlp, _ = trained
    docs = list(nlp.pipe(["", PHI[1][0], " ", PHI[0][0]]))
    assert spans_of(docs[0]) == [] and spans_of(docs[2]) == []
    assert spans_of(docs[1]) == PHI[1][1]
    assert spans_of(docs[3]) == PHI[0][1]


def test_v2_round_trips_in_a_fresh_process(trained, tmp_path):
    nlp, _ = trained
    nlp.to_disk(tmp_path / "pipeline")
    texts = [text for text, _ in PHI]
    script = (
        "import json, sys, spacy\n"
        "nlp = spacy.load(sys.argv[1])\n"
        "texts = json.loads(sys.stdin.read())\n"
        "out = [[(s.start_char, s.end_char, s.label_) for s in d.spans['phi']] for d in nlp.pipe(texts)]\n"
        "probs = nlp.get_pipe('ner_phi').predict([nlp.get_pipe('clintiny_encoder')(nlp.make_doc(texts[0]))])[0]\n"
        "print(json.dumps({'spans': out, 'probs': probs.tolist()}))\n"
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1")
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", script, str(tmp_path / "pipeline")],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert [[tuple(s) for s in doc] for doc in loaded["spans"]] == [gold for _, gold in PHI]
    expected = nlp.get_pipe("ner_phi").predict([nlp.get_pipe("clintiny_encoder")(nlp.make_doc(texts[0]))])[0]
    numpy.testing.assert_allclose(numpy.asarray(loaded["probs"]), expected, rtol=1e-5, atol=1e-6)


def test_layer_mix_matches_its_formula_and_gradient():
    ops = NumpyOps()
    mix = layer_mix(3)
    rng = numpy.random.default_rng(0)
    X = rng.normal(size=(4, 3 * 5)).astype("float32")  # 4 tokens, 3 layers of width 5
    mix.initialize(X=[X])
    mix.set_param("s", numpy.asarray([0.2, -0.1, 0.5], dtype="float32"))
    mix.set_param("gamma", numpy.asarray([1.5], dtype="float32"))
    (Y,), backprop = mix([X], is_train=True)
    w = numpy.exp([0.2, -0.1, 0.5]) / numpy.exp([0.2, -0.1, 0.5]).sum()
    layers = X.reshape(4, 3, 5)
    numpy.testing.assert_allclose(Y, 1.5 * (layers * w[None, :, None]).sum(axis=1), rtol=1e-5)
    dY = rng.normal(size=Y.shape).astype("float32")
    (dX,) = backprop([dY])

    # numeric gradients of sum(Y * dY) w.r.t. s, gamma and X
    def objective(s, gamma, x):
        ws = numpy.exp(s) / numpy.exp(s).sum()
        return float((gamma * (x.reshape(4, 3, 5) * ws[None, :, None]).sum(axis=1) * dY).sum())

    s0, g0, eps = numpy.asarray([0.2, -0.1, 0.5]), 1.5, 1e-4
    num_s = [(objective(s0 + eps * e, g0, X) - objective(s0 - eps * e, g0, X)) / (2 * eps) for e in numpy.eye(3)]
    num_g = (objective(s0, g0 + eps, X) - objective(s0, g0 - eps, X)) / (2 * eps)
    numpy.testing.assert_allclose(mix.get_grad("s"), num_s, rtol=1e-3, atol=1e-4)
    numpy.testing.assert_allclose(mix.get_grad("gamma")[0], num_g, rtol=1e-3)
    numpy.testing.assert_allclose(dX, (1.5 * w[None, :, None] * dY[:, None, :]).reshape(4, 15), rtol=1e-5)
    assert ops.xp is numpy


@pytest.mark.parametrize(
    "kwargs,code",
    [({"context": "gru"}, "E870"), ({"n_layers": 0}, "E871"), ({"surface_rows": [10]}, "E872")],
)
def test_v2_rejects_bad_settings_naming_the_value(kwargs, code):
    from thinc.api import noop

    with pytest.raises(ValueError, match=code):
        build_token_classifier_v2(noop(), **kwargs)
