"""spacy-clintiny.TokenClassifier.v3: word-list membership features beside the encoder. The
feature rows are the lists' answers; the head learns with them and its output moves with them;
it round-trips; bad lexicon names are refused with the value. Whether the features help on
real notes is measured by cross-validation over patients (bench/phi_cv.py), not here."""

import numpy
import pytest
import spacy
from thinc.api import Adam

import spacy_clintiny.architectures.lexicon as lexicon_module
from helpers import phi_head_pipeline, span_examples
from spacy_clintiny.architectures.lexicon import LEXICONS, lexicon_features, lexicon_set
from spacy_clintiny.architectures.token_head import build_token_classifier_v3

LEXICON_NAMES = ["first_name", "last_name", "english", "town"]
SMALL_V3 = {
    "@architectures": "spacy-clintiny.TokenClassifier.v3",
    "surface_width": 16,
    "surface_rows": [200, 100, 100, 50],
    "lexicons": LEXICON_NAMES,
    "width": 32,
    "depth": 1,
    "hidden_width": 16,
}
# lower case throughout, so that shape cannot tell a name from a word
SEEN_NAMES = ["smith", "johnson", "williams", "brown", "miller", "davis"]
SEEN_WORDS = ["team", "nursing", "staff", "pharmacy", "surgery", "radiology"]


def test_lexicon_rows_are_the_lists_answers():
    nlp = spacy.blank("en")
    doc = nlp("Mr Kowalczyk lives in Baltimore with the patient")
    (Y,), _ = lexicon_features(LEXICON_NAMES)([doc], is_train=False)
    assert Y.shape == (len(doc), len(LEXICON_NAMES))
    for token, row in zip(doc, Y):
        expected = [float(token.lower_ in lexicon_set(name)) for name in LEXICON_NAMES]
        assert row.tolist() == expected
    col = {name: i for i, name in enumerate(LEXICON_NAMES)}
    assert Y[1, col["last_name"]] == 1.0  # Kowalczyk: census surname
    assert Y[4, col["town"]] == 1.0  # Baltimore
    assert Y[2, col["english"]] == 1.0 and Y[2, col["last_name"]] == 0.0  # lives
    (empty,), _ = lexicon_features(LEXICON_NAMES)([nlp("")], is_train=False)
    assert empty.shape == (0, len(LEXICON_NAMES))


def _data(words, is_name):
    out = []
    for word in words:
        text = f"seen by {word} today"
        out.append((text, [(8, 8 + len(word), "NAME")] if is_name else []))
    return out


@pytest.fixture(scope="module")
def lexicon_trained(tiny_encoder):
    spacy.util.fix_random_seed(0)
    nlp = phi_head_pipeline(tiny_encoder, SMALL_V3)
    examples = span_examples(nlp, _data(SEEN_NAMES, True) + _data(SEEN_WORDS, False), "phi")
    optimizer = nlp.initialize(lambda: examples, sgd=Adam(0.01))
    losses = [nlp.update(examples, sgd=optimizer, drop=0.0)["ner_phi"] for _ in range(60)]
    return nlp, losses


def test_v3_learns_and_its_output_depends_on_the_lexicon_columns(lexicon_trained, monkeypatch):
    nlp, losses = lexicon_trained
    assert losses[-1] < 0.1 * losses[0]
    for text, gold in _data(SEEN_NAMES, True) + _data(SEEN_WORDS, False):
        doc = nlp(text)
        assert [(s.start_char, s.end_char, s.label_) for s in doc.spans["phi"]] == gold
    head, encoder = nlp.get_pipe("ner_phi"), nlp.get_pipe("clintiny_encoder")
    text = "seen by kowalczyk today"
    with_lists = head.predict([encoder(nlp.make_doc(text))])[0]
    # the same doc with every list empty: only the lexicon columns change
    monkeypatch.setattr(lexicon_module, "lexicon_set", lambda name: frozenset())
    monkeypatch.setattr(lexicon_module, "_ROWS", {})
    without_lists = head.predict([encoder(nlp.make_doc(text))])[0]
    assert numpy.abs(with_lists - without_lists)[2].max() > 0  # kowalczyk's tag probabilities move


def test_v3_round_trips_through_disk(lexicon_trained, tmp_path):
    nlp, _ = lexicon_trained
    nlp.to_disk(tmp_path / "pipeline")
    loaded = spacy.load(tmp_path / "pipeline")
    text = "seen by kowalczyk today"
    expected = nlp.get_pipe("ner_phi").predict([nlp.get_pipe("clintiny_encoder")(nlp.make_doc(text))])[0]
    got = loaded.get_pipe("ner_phi").predict([loaded.get_pipe("clintiny_encoder")(loaded.make_doc(text))])[0]
    numpy.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert (
        'lexicons = ["first_name","last_name","english","town"]' in (tmp_path / "pipeline" / "config.cfg").read_text()
    )


def test_unknown_lexicon_is_refused_with_its_name():
    from thinc.api import noop

    with pytest.raises(ValueError, match="E892.*'surnames'"):
        build_token_classifier_v3(noop(), lexicons=["surnames"])
    assert "surnames" not in LEXICONS


def test_row_cache_is_bounded_and_rows_stay_right(monkeypatch):
    monkeypatch.setattr(lexicon_module, "MAX_CACHED", 2)
    monkeypatch.setattr(lexicon_module, "_ROWS", {})
    doc = spacy.blank("en")("kowalczyk lives in baltimore today")
    (Y,), _ = lexicon_features(LEXICON_NAMES)([doc], is_train=False)
    assert len(lexicon_module._ROWS[tuple(LEXICON_NAMES)]) == 2
    for token, row in zip(doc, Y):
        assert row.tolist() == [float(token.lower_ in lexicon_set(name)) for name in LEXICON_NAMES]
