"""The fixed encoder's output cache: the same token vectors as the uncached path, each doc
encoded once, a bounded size with least-recently-used eviction, and the training losses of
the uncached path."""

import numpy
import pytest
import spacy
from spacy_transformers.align import apply_alignment
from spacy_transformers.data_classes import TransformerData
from thinc.api import Adam, NumpyOps, reduce_mean

from helpers import add_tiny_encoder, span_examples
from spacy_clintiny.training.feature_cache import EncoderOutputCache, doc_key, encoder_fingerprint

TEXTS = [
    "John Smith was seen at Boston clinic on Monday and again on Friday for chest pain.",
    "Mary Jones reports chest pain.",
    "Dr Jones admitted the patient to Boston hospital.",
    "The patient denies fever.",
    "Plan: aspirin daily, follow up with Dr Smith in the clinic next week.",
]
PHI = [
    (TEXTS[0], [(0, 10, "NAME"), (23, 29, "LOCATION")]),
    (TEXTS[1], [(0, 10, "NAME")]),
    (TEXTS[2], [(3, 8, "NAME"), (33, 39, "LOCATION")]),
    (TEXTS[3], []),
]


def token_vectors(trf):
    """What the listener makes of a TransformerData: mean of each token's wordpieces."""
    ops = NumpyOps()
    hidden = trf.model_output.last_hidden_state
    aligned, _ = apply_alignment(ops, trf.align, ops.reshape2f(hidden, -1, hidden.shape[-1]))
    return reduce_mean()(aligned, False)[0]


def counting_encoder(enc):
    """The encoder's prediction as a cache's ``compute``, and the list of batch sizes it got."""
    calls = []

    def compute(todo):
        calls.append(len(todo))
        return enc.model.predict(todo).doc_data

    return compute, calls


@pytest.fixture(scope="module")
def encoder(tiny_encoder):
    nlp = spacy.blank("en")
    # window 8 / stride 6: several overlapping windows per doc, and the short docs are padded
    add_tiny_encoder(nlp, tiny_encoder, window=8, stride=6)
    nlp.initialize()
    return nlp, nlp.get_pipe("clintiny_encoder")


@pytest.mark.parametrize("dtype,tol", [("float32", 0.0), ("float16", 2e-3)])
def test_cached_output_equals_the_uncached_path(encoder, dtype, tol):
    nlp, enc = encoder
    docs = [nlp.make_doc(t) for t in TEXTS]
    reference = enc.model.predict(docs).doc_data
    compute, calls = counting_encoder(enc)
    cache = EncoderOutputCache(10, dtype=dtype)
    first = cache.get_or_compute(docs, compute)
    # a new batch: two cached docs, one new doc, an empty doc; only the new doc is computed
    again = [nlp.make_doc(TEXTS[4]), nlp.make_doc(""), nlp.make_doc(TEXTS[0])]
    second = cache.get_or_compute(docs[:2] + [nlp.make_doc(TEXTS[2] + " Later.")], compute)
    third = cache.get_or_compute(again, compute)
    assert calls == [5, 1]
    assert cache.hits == 4 and cache.misses == 6 and len(cache) == 6
    # the computing call hands over what later hits get (the stored copy, in the cache's dtype)
    numpy.testing.assert_array_equal(token_vectors(first[0]), token_vectors(second[0]))
    numpy.testing.assert_array_equal(token_vectors(first[4]), token_vectors(third[0]))
    for got, want in [
        *zip(first, reference),
        (second[0], reference[0]),
        (second[1], reference[1]),
        (third[0], reference[4]),
        (third[2], reference[0]),
    ]:
        expected = token_vectors(want)
        assert token_vectors(got).shape == expected.shape
        numpy.testing.assert_allclose(token_vectors(got), expected, rtol=tol, atol=tol)
        assert got.model_output.last_hidden_state.dtype == numpy.float32
    assert len(third[1].align.lengths) == 0  # the empty doc: an empty TransformerData


def test_cache_drops_padding_and_stores_half_precision(encoder):
    nlp, enc = encoder
    docs = [nlp.make_doc(TEXTS[0]), nlp.make_doc(TEXTS[3])]  # the short doc is padded to the long one's length
    outputs = enc.model.predict(docs).doc_data
    short_padded = outputs[1].model_output.last_hidden_state
    cache = EncoderOutputCache(10)
    cache.get_or_compute(docs, lambda todo: outputs)
    stored = cache._entries[doc_key(docs[1])].model_output.last_hidden_state
    assert stored.dtype == numpy.float16
    assert stored.shape[1] == max(outputs[1].wordpieces.lengths) < short_padded.shape[1]


def test_cache_is_bounded_and_evicts_the_least_recently_used(encoder):
    nlp, enc = encoder
    docs = [nlp.make_doc(t) for t in TEXTS]
    cache = EncoderOutputCache(2)
    compute = lambda todo: enc.model.predict(todo).doc_data  # noqa: E731
    cache.get_or_compute(docs[:2], compute)
    cache.get_or_compute(docs[:1], compute)  # doc 0 is now the most recent
    for doc in docs[2:]:
        cache.get_or_compute([doc], compute)
        assert len(cache) <= 2
    assert set(cache._entries) == {doc_key(docs[3]), doc_key(docs[4])}
    cache.get_or_compute(docs[:1], compute)
    assert set(cache._entries) == {doc_key(docs[4]), doc_key(docs[0])}
    assert cache.nbytes > 0


def test_key_depends_on_text_and_tokens(nlp):
    a = nlp.make_doc("Seen on 3/4.")
    b = spacy.tokens.Doc(nlp.vocab, words=["Seen", "on", "3/4", "."], spaces=[True, True, False, False])
    assert a.text == b.text and doc_key(a) == doc_key(nlp.make_doc("Seen on 3/4."))
    assert doc_key(a) != doc_key(b) or [t.idx for t in a] == [t.idx for t in b]
    assert doc_key(a) != doc_key(nlp.make_doc("Seen on 3/5."))


def test_bad_settings_name_the_value():
    with pytest.raises(ValueError, match="E873"):
        EncoderOutputCache(0)
    with pytest.raises(ValueError, match="E874"):
        EncoderOutputCache(5, dtype="int8")


def test_cache_needs_a_fixed_encoder(tiny_encoder):
    nlp = spacy.blank("en")
    with pytest.raises(ValueError, match="E876"):
        nlp.add_pipe("clintiny_encoder", config={"model": {"name": str(tiny_encoder)}, "cache_size": 10})


def fixed_encoder_pipeline(encoder_path, cache_size, cache_dir=None):
    """The encoder (fixed, window 8 / stride 6, the given cache) and a PHI head."""
    nlp = spacy.blank("en")
    nlp.add_pipe(
        "clintiny_encoder",
        config={
            "model": {"name": str(encoder_path), "window": 8, "stride": 6},
            "trainable": False,
            "cache_size": cache_size,
            "cache_dir": str(cache_dir) if cache_dir else None,
        },
    )
    nlp.add_pipe("clintiny_ner", name="ner_phi", config={"spans_key": "phi"})
    return nlp


def train_losses(tiny_encoder, cache_size, n_updates=4):
    spacy.util.fix_random_seed(0)
    nlp = fixed_encoder_pipeline(tiny_encoder, cache_size)
    examples = span_examples(nlp, PHI, "phi")
    optimizer = nlp.initialize(lambda: examples, sgd=Adam(0.01))
    losses = [nlp.update(examples, sgd=optimizer)["ner_phi"] for _ in range(n_updates)]
    return losses, nlp.get_pipe("clintiny_encoder").output_cache


def test_training_with_the_cache_gives_the_uncached_losses(tiny_encoder):
    uncached, none = train_losses(tiny_encoder, 0)
    cached, cache = train_losses(tiny_encoder, 100)
    assert none is None
    assert cache.misses == len(PHI) and cache.hits == 3 * len(PHI)  # each doc encoded once
    numpy.testing.assert_allclose(cached, uncached, rtol=5e-3)  # float16 features from the first step
    assert cached[-1] < cached[0]


def test_evaluations_during_training_encode_each_dev_doc_once(tiny_encoder, tmp_path):
    spacy.util.fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe(
        "clintiny_encoder",
        config={"model": {"name": str(tiny_encoder), "window": 8, "stride": 6}, "trainable": False, "cache_size": 100},
    )
    nlp.add_pipe("clintiny_ner", name="ner_phi", config={"spans_key": "phi"})
    examples = span_examples(nlp, PHI, "phi")
    optimizer = nlp.initialize(lambda: examples, sgd=Adam(0.01))
    cache_owner = nlp.get_pipe("clintiny_encoder")
    dev = [nlp.make_doc(text) for text in TEXTS[4:]]
    before = list(nlp.pipe(dev))  # not trained in this process yet: nothing is cached
    assert (cache_owner.output_cache.hits, cache_owner.output_cache.misses, len(cache_owner.output_cache)) == (0, 0, 0)
    nlp.update(examples, sgd=optimizer)
    misses = cache_owner.output_cache.misses
    first = [doc.spans["phi"] for doc in nlp.pipe([nlp.make_doc(t) for t in TEXTS[4:]])]
    assert cache_owner.output_cache.misses == misses + len(dev)
    second = [doc.spans["phi"] for doc in nlp.pipe([nlp.make_doc(t) for t in TEXTS[4:]])]
    assert cache_owner.output_cache.misses == misses + len(dev)  # the second evaluation is all hits
    assert cache_owner.output_cache.hits >= len(dev)
    assert [[(s.start, s.end, s.label_) for s in g] for g in first] == [
        [(s.start, s.end, s.label_) for s in g] for g in second
    ]
    assert len(before) == len(dev)
    # a pipeline loaded from disk predicts without caching
    nlp.to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model")
    list(loaded.pipe([loaded.make_doc(t) for t in TEXTS]))
    assert len(loaded.get_pipe("clintiny_encoder").output_cache) == 0


def test_a_cache_folder_is_shared_between_caches_and_holds_no_text(encoder, tmp_path):
    nlp, enc = encoder
    docs = [nlp.make_doc(t) for t in TEXTS]
    compute, calls = counting_encoder(enc)
    first = EncoderOutputCache(10, directory=tmp_path)
    reference = first.get_or_compute(docs, compute)
    files = sorted(tmp_path.glob("*/*.msgpack"))
    assert len(files) == len(TEXTS) and calls == [5]
    assert not any(b"Smith" in path.read_bytes() or b"chest" in path.read_bytes() for path in files)
    # another process (a later run on the same encoder) encodes nothing
    second = EncoderOutputCache(10, directory=tmp_path)
    again = second.get_or_compute(docs[::-1], compute)
    assert calls == [5] and second.disk_hits == len(TEXTS) and second.misses == 0
    for got, want in zip(again[::-1], reference):
        # exactly what the encoding run handed its heads: runs sharing the folder (the workflow's
        # lanes) see the same values whichever of them encoded a doc first
        numpy.testing.assert_array_equal(token_vectors(got), token_vectors(want))
        assert got.model_output.last_hidden_state.dtype == numpy.float32
    # a damaged entry is recomputed and rewritten, never trusted
    files[0].write_bytes(b"\x00broken")
    third = EncoderOutputCache(10, directory=tmp_path)
    third.get_or_compute(docs, compute)
    assert calls == [5, 1] and third.disk_hits == len(TEXTS) - 1
    assert TransformerData.empty().from_bytes(files[0].read_bytes()).model_output.last_hidden_state.size


def test_runs_on_one_encoder_share_its_cache_folder_and_no_other(tiny_encoder, tmp_path):
    from spacy_clintiny.testing import make_tiny_bert

    losses = []
    folders = []
    for encoder_path in (tiny_encoder, tiny_encoder, make_tiny_bert(tmp_path / "other", seed=1)):
        spacy.util.fix_random_seed(0)
        nlp = fixed_encoder_pipeline(encoder_path, 100, tmp_path / "cache")
        examples = span_examples(nlp, PHI, "phi")
        optimizer = nlp.initialize(lambda examples=examples: examples, sgd=Adam(0.01))
        losses.append([nlp.update(examples, sgd=optimizer)["ner_phi"] for _ in range(3)])
        cache = nlp.get_pipe("clintiny_encoder").output_cache
        folders.append(cache.directory)
        assert cache.hits == 2 * len(PHI)
        assert (cache.misses, cache.disk_hits) == ((len(PHI), 0) if len(folders) != 2 else (0, len(PHI)))
    assert folders[0] == folders[1] != folders[2] and folders[0].parent == tmp_path / "cache"
    assert len(list(folders[0].glob("*/*.msgpack"))) == len(PHI)
    # the second run read float16 entries where the first had its own float32 output once
    numpy.testing.assert_allclose(losses[1], losses[0], rtol=5e-3)
    assert losses[2] != losses[0]


def test_the_fingerprint_follows_the_weights_that_make_the_output(encoder):
    import torch

    nlp, enc = encoder
    probe = spacy.tokens.Doc(nlp.vocab, words=[f"w{i % 50}" for i in range(60)])
    (hf_model,) = [shim._model for node in enc.model.walk() for shim in node.shims]
    before = encoder_fingerprint(enc.model, probe)
    pooler, layer = hf_model.pooler.dense.weight, hf_model.encoder.layer[0].output.dense.weight
    saved = (pooler.detach().clone(), layer.detach().clone())
    with torch.no_grad():
        pooler.add_(1.0)  # transformers initialises a missing pooler at random: not part of the output
        assert encoder_fingerprint(enc.model, probe) == before
        layer.add_(1.0)
        changed = encoder_fingerprint(enc.model, probe)
        pooler.copy_(saved[0])
        layer.copy_(saved[1])
    assert changed != before and encoder_fingerprint(enc.model, probe) == before
    assert "pooler_output" in enc.model.predict([probe]).doc_data[0].model_output
    cache = EncoderOutputCache(5)
    (entry,) = cache.get_or_compute([probe], lambda todo: enc.model.predict(todo).doc_data)
    assert "pooler_output" not in cache._entries[doc_key(probe)].model_output
