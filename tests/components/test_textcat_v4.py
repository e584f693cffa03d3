"""spacy-clintiny.TextClassifier.v4: v3 with a context encoder (BiLSTM or window CNN) between the
encoder's token vectors and the pooling."""

import numpy
import pytest
import spacy
from numpy.testing import assert_allclose
from spacy.util import fix_random_seed

from helpers import TEXTCAT_LISTENER as LISTENER
from helpers import cats_examples as _examples
from helpers import cats_in_fresh_process, textcat_pipeline


def _items(n):
    """The same three words, the label given by their order only: a bag of words cannot tell."""
    drugs = ["aspirin", "heparin", "warfarin", "insulin"]
    effects = ["rash", "nausea", "bleeding", "fever"]
    items = []
    for i in range(n):
        drug, effect = drugs[i % len(drugs)], effects[(i // len(drugs)) % len(effects)]
        items.append((f"{drug} caused {effect}", {"ADE": 1.0}))
        items.append((f"{effect} caused {drug}", {"ADE": 0.0}))
    return items


def _learns_the_order_and_round_trips(nlp, examples, optimizer, tmp_path):
    """40 updates halve the loss; the word order decides the label; an empty doc in a batch is
    scored; the saved pipeline gives the same scores in a fresh process."""
    losses = [nlp.update(examples, sgd=optimizer, drop=0.0, losses={})["clintiny_textcat"] for _ in range(40)]
    assert losses[-1] < losses[0] * 0.5, " ".join(f"{x:.3f}" for x in losses)
    docs = list(nlp.pipe(["heparin caused fever", "fever caused heparin", ""]))
    assert docs[0].cats["ADE"] > 0.5 > docs[1].cats["ADE"]  # the order decides
    assert set(docs[2].cats) == {"ADE"}  # an empty doc in the batch is scored, not an error
    nlp.to_disk(tmp_path / "p")
    texts = [t for t, _ in _items(4)]
    expected = [[round(doc.cats["ADE"], 5)] for doc in nlp.pipe(texts)]
    assert_allclose(numpy.array(cats_in_fresh_process(tmp_path / "p", texts)), numpy.array(expected), atol=2e-5)


@pytest.mark.parametrize("context", ["lstm", "cnn"])
def test_v4_learns_word_order_and_round_trips_in_a_fresh_process(tiny_encoder, tmp_path, context):
    fix_random_seed(0)
    nlp = textcat_pipeline(
        tiny_encoder,
        arch="v4",
        model={"folds": 2, "context": context, "context_width": 16},
        exclusive_classes=False,
    )
    examples = _examples(nlp, _items(16))
    optimizer = nlp.initialize(lambda: examples)
    optimizer.learn_rate = 0.003  # at 0.01 the CNN variant learns, then spikes near step 40
    textcat = nlp.get_pipe("clintiny_textcat")
    assert textcat.model.has_ref("tfidf")  # v3's regression is there and fitted
    _learns_the_order_and_round_trips(nlp, examples, optimizer, tmp_path)


def test_v4_on_wordpieces_learns_word_order_on_a_fixed_encoder_and_round_trips(tiny_encoder, tmp_path):
    """``WordpieceListener.v1`` hands the head one row per wordpiece of the doc ([CLS] and [SEP]
    included) instead of token means; v4 without TF-IDF learns the order task from them over a
    fixed encoder, and the pipeline loads in a fresh process with the same scores."""
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("clintiny_encoder", config={"model": {"name": str(tiny_encoder)}, "trainable": False})
    listener = {"@architectures": "spacy-clintiny.WordpieceListener.v1", "upstream": "*"}
    model = {
        "@architectures": "spacy-clintiny.TextClassifier.v4",
        "features": None,
        "context_width": 16,
        "hidden_width": None,
        "dropout": 0.0,
        "tok2vec": listener,
    }
    nlp.add_pipe("clintiny_textcat", config={"model": model, "exclusive_classes": False})
    examples = _examples(nlp, _items(16))
    optimizer = nlp.initialize(lambda: examples)
    optimizer.learn_rate = 0.003
    textcat = nlp.get_pipe("clintiny_textcat")
    assert not textcat.model.has_ref("tfidf")
    doc = nlp("heparin caused fever")
    rows = textcat.model.get_ref("tok2vec").predict([doc])[0]
    n_pieces = int(numpy.asarray(doc._.trf_data.wordpieces.attention_mask).sum())
    assert rows.shape[0] == n_pieces > len(doc)  # wordpieces, not tokens
    _learns_the_order_and_round_trips(nlp, examples, optimizer, tmp_path)


def test_bad_v4_context_is_a_clear_error():
    nlp = spacy.blank("en")
    config = {"@architectures": "spacy-clintiny.TextClassifier.v4", "context": "gru", "tok2vec": LISTENER}
    with pytest.raises(ValueError, match="gru"):
        nlp.add_pipe("clintiny_textcat", config={"model": config})


def test_wordpieces_cannot_be_pooled_over_part_of_a_doc(tiny_encoder):
    """Pair mode pools token ranges; wordpiece rows are not tokens, so it is an error, not a
    silently wrong slice."""
    from spacy.tokens import Span

    from spacy_clintiny.architectures.text_head import build_text_classifier_v4, build_wordpiece_listener

    nlp = spacy.blank("en")
    nlp.add_pipe("clintiny_encoder", config={"model": {"name": str(tiny_encoder)}, "trainable": False})
    nlp.initialize()
    doc = nlp("heparin caused a fever")
    model = build_text_classifier_v4(
        build_wordpiece_listener(), features=None, context_width=8, hidden_width=None, nO=1
    )
    width = doc._.trf_data.model_output.last_hidden_state.shape[-1]
    for node in model.walk():
        if node.name == "transformer-listener":
            node.set_dim("nO", width)  # what the encoder component sets on its listeners
    pooler = model.get_ref("pooler")
    pooler.initialize(X=([doc], [[doc[:]]]))
    assert pooler.predict(([doc], [[doc[:]]])).shape[0] == 1  # the whole doc: every wordpiece pooled
    with pytest.raises(ValueError, match="E897"):
        pooler.predict(([doc], [[Span(doc, 0, 2), Span(doc, 2, 4)]]))
