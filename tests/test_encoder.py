import pytest
import spacy

from spacy_clintiny.models import resolve_model_source


def test_encoder_covers_every_token_of_a_long_note(nlp, tiny_encoder):
    nlp.add_pipe("clintiny_encoder", config={"model": {"name": str(tiny_encoder), "window": 16, "stride": 12}})
    nlp.initialize()
    words = ["pain"] * 5000
    doc = nlp(" ".join(words))
    trf = doc._.trf_data
    # every spaCy token is aligned to at least one wordpiece
    lengths = trf.align.lengths
    assert len(lengths) == len(doc)
    assert min(lengths) >= 1


def test_missing_local_path_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="E001"):
        resolve_model_source(str(tmp_path / "no_such_model"))


def test_hub_id_passes_through_unchanged():
    assert resolve_model_source("emilyalsentzer/Bio_ClinicalBERT") == "emilyalsentzer/Bio_ClinicalBERT"


def test_saved_pipeline_loads_when_the_encoder_folder_is_gone(tmp_path):
    """The config names the encoder folder, but a saved pipeline carries the weights: moving or
    deleting the training-time folder must not break spacy.load."""
    import shutil

    from spacy_clintiny.testing import make_tiny_bert

    src = make_tiny_bert(tmp_path / "enc")
    nlp = spacy.blank("en")
    nlp.add_pipe("clintiny_encoder", config={"model": {"name": str(src)}})
    nlp.initialize()
    nlp.to_disk(tmp_path / "pipe")
    shutil.rmtree(src)
    doc = spacy.load(tmp_path / "pipe")("no chest pain")
    assert len(doc._.trf_data.align.lengths) == 3


def test_missing_encoder_folder_fails_at_initialize_with_a_clear_error(tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("clintiny_encoder", config={"model": {"name": str(tmp_path / "gone")}})
    with pytest.raises(ValueError, match="E001"):
        nlp.initialize()


def test_fixed_encoder_feeds_heads_but_never_changes(tiny_encoder):
    """trainable = false: the heads learn from the encoder's output, the encoder's weights stay
    exactly as loaded, and the head still finds its upstream (no E004)."""
    import torch
    from spacy.training import Example
    from thinc.api import Adam

    nlp = spacy.blank("en")
    nlp.add_pipe("clintiny_encoder", config={"model": {"name": str(tiny_encoder)}, "trainable": False})
    nlp.add_pipe("clintiny_ner", config={"spans_key": "phi"})
    texts = ["John Smith was seen today.", "Mary Jones reports pain."]
    examples = []
    for text in texts:
        ref = nlp.make_doc(text)
        ref.spans["phi"] = [ref[0:2]]
        ref.spans["phi"][0].label_ = "NAME"
        examples.append(Example(nlp.make_doc(text), ref))
    nlp.initialize(lambda: examples)
    encoder = nlp.get_pipe("clintiny_encoder").model.transformer
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    optimizer = Adam(1e-2)
    first = last = None
    for _ in range(15):
        losses = {}
        nlp.update(examples, sgd=optimizer, losses=losses)
        first = losses["clintiny_ner"] if first is None else first
        last = losses["clintiny_ner"]
    assert last < first * 0.5
    for key, value in encoder.state_dict().items():
        torch.testing.assert_close(value, before[key], rtol=0, atol=0)


def test_overlapped_pipe_gives_the_same_docs_in_order(tiny_encoder):
    """``overlap`` encodes the next batch in a thread: the docs come out in input order with
    the same encoder output as the plain pipe, and an error in the thread reaches the caller."""
    import numpy

    texts = [f"patient {i} has {'chest pain and ' * (i % 7)}fever" for i in range(23)]
    outputs = {}
    for overlap in (False, True):
        nlp = spacy.blank("en")
        nlp.add_pipe("clintiny_encoder", config={"model": {"name": str(tiny_encoder)}, "overlap": overlap})
        nlp.initialize()
        docs = list(nlp.pipe(texts, batch_size=4))
        assert [doc.text for doc in docs] == texts
        outputs[overlap] = [doc._.trf_data.model_output.last_hidden_state for doc in docs]
    for plain, overlapped in zip(outputs[False], outputs[True]):
        numpy.testing.assert_allclose(overlapped, plain, rtol=1e-5, atol=1e-6)

    encoder = nlp.get_pipe("clintiny_encoder")

    def fail(docs):
        raise RuntimeError("encoder failed on purpose")

    encoder.predict = fail
    with pytest.raises(RuntimeError, match="on purpose"):
        list(nlp.pipe(texts, batch_size=4))


def test_overlapped_pipe_splits_the_threads_and_restores_them(tiny_encoder, monkeypatch):
    """While ``overlap`` runs the encoder beside the rest of the pipeline, torch (which the
    encoder's runtime follows) and numpy's BLAS (the heads) get half the threads each; the
    counts come back when the stream ends, and after an error in the stream too."""
    import torch
    from threadpoolctl import threadpool_info, threadpool_limits

    from spacy_clintiny.components import encoder as encoder_module

    # a tiny encoder and no consumer: the clock would soon call the stream encoder-bound
    monkeypatch.setattr(encoder_module.OverlapClock, "encoder_bound", False)

    def blas_threads():
        return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}

    nlp = spacy.blank("en")
    nlp.add_pipe("clintiny_encoder", config={"model": {"name": str(tiny_encoder)}, "overlap": True})
    nlp.initialize()
    texts = [f"patient {i} has fever" for i in range(9)]
    before = torch.get_num_threads()
    torch.set_num_threads(4)
    try:
        with threadpool_limits(limits=4, user_api="blas"):
            assert blas_threads() == {4}  # numpy's OpenBLAS is found, so the checks below can fail
            seen = []
            for _doc in nlp.pipe(texts, batch_size=2):
                seen.append((torch.get_num_threads(), blas_threads()))
            assert len(seen) == len(texts)
            assert set(n for n, _ in seen) == {2}
            assert all(pools <= {2} for _, pools in seen)
            assert torch.get_num_threads() == 4 and blas_threads() <= {4}

            stream = nlp.pipe(texts, batch_size=2)
            next(stream)
            assert torch.get_num_threads() == 2
            stream.close()  # a consumer that stops early
            assert torch.get_num_threads() == 4 and blas_threads() <= {4}
    finally:
        torch.set_num_threads(before)


def test_overlap_clock_calls_a_stream_encoder_bound_only_when_it_mostly_waits():
    """``OverlapClock``: the first batch's wait is not counted; the stream is encoder-bound
    once, over at least ``min_batches`` batches, the pipeline's thread waited more than
    ``ratio`` times as long as it worked."""
    from concurrent.futures import Future

    from spacy_clintiny.components.encoder import OverlapClock

    def run(wait: float, work: float, n: int) -> OverlapClock:
        now = [0.0]
        clock = OverlapClock(ratio=1.5, min_batches=3, clock=lambda: now[0])

        class Slow(Future):
            def result(self, timeout=None):
                now[0] += wait
                return ["doc"]

        for _ in range(n):
            assert clock.result(Slow()) == ["doc"]
            now[0] += work  # the rest of the pipeline on this batch
        return clock

    waiting = run(wait=2.0, work=1.0, n=4)
    assert (waiting.batches, waiting.waiting, waiting.working) == (3, 6.0, 3.0) and waiting.encoder_bound
    assert not run(wait=2.0, work=1.0, n=3).encoder_bound  # two batches timed: too few
    assert not run(wait=1.4, work=1.0, n=8).encoder_bound  # overlap still pays
    assert not run(wait=0.0, work=1.0, n=8).encoder_bound  # the rest of the pipeline is the bottleneck


def test_encoder_bound_stream_finishes_in_the_calling_thread_with_all_threads(tiny_encoder, monkeypatch):
    """When the clock calls the stream encoder-bound, the batches left are encoded in the
    calling thread with the full thread count: the docs come out in order with the encoder
    output of the plain pipe, and ``last_overlap`` says it switched."""
    import numpy
    import torch

    from spacy_clintiny.components import encoder as encoder_module

    texts = [f"patient {i} has {'chest pain and ' * (i % 5)}fever" for i in range(19)]
    plain = spacy.blank("en")
    plain.add_pipe("clintiny_encoder", config={"model": {"name": str(tiny_encoder)}, "overlap": False})
    plain.initialize()
    expected = [doc._.trf_data.model_output.last_hidden_state for doc in plain.pipe(texts, batch_size=4)]

    monkeypatch.setattr(encoder_module.OverlapClock, "encoder_bound", property(lambda self: self.batches >= 1))
    nlp = spacy.blank("en")
    nlp.add_pipe("clintiny_encoder", config={"model": {"name": str(tiny_encoder)}, "overlap": True})
    nlp.initialize()
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        threads, docs = [], []
        for doc in nlp.pipe(texts, batch_size=4):
            threads.append(torch.get_num_threads())
            docs.append(doc)
    finally:
        torch.set_num_threads(before)
    assert [doc.text for doc in docs] == texts
    for doc, want in zip(docs, expected):
        numpy.testing.assert_allclose(doc._.trf_data.model_output.last_hidden_state, want, rtol=1e-5, atol=1e-6)
    assert nlp.get_pipe("clintiny_encoder").last_overlap["switched"] is True
    # the clock decides at the second batch's result (the first is not timed), when the third
    # is already in the thread: three batches on one thread each, the last two on both
    assert threads[:12] == [1] * 12 and threads[12:] == [2] * 7
