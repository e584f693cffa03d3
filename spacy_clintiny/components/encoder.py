"""``clintiny_encoder``: the one shared encoder pass that every clintiny head listens to."""

from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from time import perf_counter
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional

from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import minibatch
from spacy_transformers.annotation_setters import null_annotation_setter
from spacy_transformers.data_classes import FullTransformerBatch
from spacy_transformers.layers import TransformerListener
from spacy_transformers.pipeline_component import Transformer, install_extensions
from spacy_transformers.util import batch_by_length
from thinc.api import Config, Model, Optimizer

from ..architectures.encoder import check_trainable
from ..errors import Errors
from ..training.feature_cache import EncoderOutputCache, encoder_fingerprint
from ..training.optimizer import param_group

DEFAULT_CONFIG_STR = """
[model]
@architectures = "spacy-clintiny.Encoder.v1"
name = "default"
window = 128
stride = 96
"""
DEFAULT_CONFIG = Config().from_str(DEFAULT_CONFIG_STR)


@Language.factory(
    "clintiny_encoder",
    assigns=["doc._.trf_data"],
    default_config={
        "model": DEFAULT_CONFIG["model"],
        "set_extra_annotations": {"@annotation_setters": "spacy-transformers.null_annotation_setter.v1"},
        "max_batch_items": 4096,
        "trainable": True,
        "cache_size": 0,
        "cache_dir": None,
        "overlap": True,
    },
)
def make_clintiny_encoder(
    nlp: Language,
    name: str,
    model: Model[List[Doc], FullTransformerBatch],
    set_extra_annotations: Callable = null_annotation_setter,
    max_batch_items: int = 4096,
    trainable: bool = True,
    cache_size: int = 0,
    cache_dir: Optional[str] = None,
    overlap: bool = True,
) -> "Encoder":
    """Create the shared encoder component.

    model (Model[List[Doc], FullTransformerBatch]): Usually ``spacy-clintiny.Encoder.v1``.
    max_batch_items (int): Wordpiece budget per batch (padded batch size x length).
    trainable (bool): False keeps the encoder's weights fixed while the heads train on its
        output: no backward pass through it and no optimizer step, so a training step costs
        little more than inference. That is what fits a CPU budget (heads learn at a high
        learning rate that would wreck a fine-tuned encoder).
    cache_size (int): With a fixed encoder, keep the output of up to this many training docs
        (float16, least recently used evicted first) and reuse it in later epochs, so they
        cost only the heads (0: no cache). Once the component has been updated in this
        process, its predictions (the training loop's dev evaluations) use the same cache,
        so each dev doc is encoded once per run; a pipeline loaded from disk never caches
        what it predicts. See ``training/feature_cache.py`` for its memory.
    cache_dir (Optional[str]): With ``cache_size``, also keep each doc's output in this folder
        (under a sub-folder named by the encoder's weights, tokenizer and windows) and read it
        from there on a miss, so that several training runs on the same fixed encoder, one
        after another or at the same time, encode each doc once between them (None: memory
        only). The files hold wordpiece ids and vectors, no text; keep the folder with the
        build outputs.
    overlap (bool): In ``nlp.pipe``, encode the next batch in a background thread while the
        components after the encoder (heads, rules) work on this one. The encoder's runtime
        (ONNX Runtime or torch) releases the GIL while it computes, so on a CPU the Python
        work of the rest of the pipeline runs beside it; the docs and their annotations are
        the same as without it (one batch more is held in memory). The two threads share the
        cores (``split_threads``).
    """
    return Encoder(
        nlp.vocab,
        model,
        set_extra_annotations,
        max_batch_items=max_batch_items,
        name=name,
        trainable=trainable,
        cache_size=cache_size,
        cache_dir=cache_dir,
        overlap=overlap,
    )


@contextmanager
def split_threads() -> Iterator[bool]:
    """Give the encoder's thread and the pipeline's thread half the cores each, while they run
    side by side: torch's intra-op threads (which the ONNX Runtime sessions follow) and numpy's
    BLAS threads (the heads' matrix products, ``architectures/_ops.py``) are set to half of
    torch's count, and restored afterwards. With both at the full count, four busy threads
    share two cores and each stage waits on the other's: on 2 cores, the de-identification
    pipeline (int8 encoder, PHI head, rules) ran 14% faster with one thread each (1,600 PhysioNet
    notes, seven pairs of runs alternated: 44.1 → 50.2 notes/s on average). On the whole
    pipeline (``bench/pipeline_speed.py``, 100 MTSamples notes) the difference was within the
    run-to-run noise of ±10%. Yields whether the threads were split (not with one thread).
    """
    import torch
    from threadpoolctl import threadpool_limits  # scikit-learn's dependency

    total = torch.get_num_threads()
    share = max(1, total // 2)
    if share == total:  # one thread already (an n_process worker): nothing to split
        yield False
        return
    with threadpool_limits(limits=share, user_api="blas"):
        torch.set_num_threads(share)
        try:
            yield True
        finally:
            torch.set_num_threads(total)


class OverlapClock:
    """How long the pipeline's thread waits for the encoder's thread, and how long it works
    between two batches (the components after the encoder, the consumer, reading the stream).

    The overlap pays when the two are of a size. When the thread mostly waits, the encoder is
    the bottleneck and runs on half the cores: ``clintiny calibrate`` on the teacher pipeline
    (torch fp32 encoder, one light head at a time) used 108% CPU of 200% and took 284 s, against
    178 s encoding in the calling thread on both cores. Waiting ``w`` and working ``k`` per
    batch cost ``w + k`` overlapped (the encoder's time on half the cores) against
    ``(w + k) / s + k`` in one thread, ``s`` being the encoder's speed-up from the second
    half: one thread is faster once ``w > k / (s - 1)``, that is ``w > k`` for ``s = 2`` and
    ``w > 1.67 k`` for the 1.6 measured in that run; ``ratio`` 1.5 lies between. The first
    batch's wait is not counted (nothing was there to overlap it with).
    """

    def __init__(self, *, ratio: float = 1.5, min_batches: int = 3, clock: Callable[[], float] = perf_counter) -> None:
        self.ratio = ratio
        self.min_batches = min_batches
        self.clock = clock
        self.waiting = 0.0
        self.working = 0.0
        self.batches = 0
        self._resumed: Optional[float] = None

    def result(self, future: Future) -> List[Doc]:
        """The batch of a finished encoder call, timed."""
        start = self.clock()
        docs = future.result()
        if self._resumed is not None:  # not the first batch
            self.working += start - self._resumed
            self.waiting += self.clock() - start
            self.batches += 1
        self._resumed = self.clock()
        return docs

    @property
    def encoder_bound(self) -> bool:
        """Whether the rest of the stream is faster encoded in the calling thread."""
        return self.batches >= self.min_batches and self.waiting > self.ratio * self.working


class Encoder(Transformer):
    """spacy-transformers' Transformer component under our name. Listeners (the
    ``TransformerListener`` layers inside ``clintiny_ner``, ``clintiny_textcat`` and
    ``clintiny_rel``) receive its output, so the encoder runs once per doc for all heads,
    in training and at inference."""

    def __init__(
        self,
        *args: Any,
        trainable: bool = True,
        cache_size: int = 0,
        cache_dir: Optional[str] = None,
        overlap: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.trainable = trainable
        self.overlap = overlap
        if cache_size and trainable:
            raise ValueError(Errors.E876.format(name=self.name, value=cache_size))
        self.output_cache = EncoderOutputCache(cache_size) if cache_size else None
        # the folder is named by the weights, known only once they are loaded: see _cached_output
        self.cache_dir = Path(cache_dir) if cache_dir and cache_size else None
        # what the last overlapped pipe() did: batches timed, seconds waiting and working, switched
        self.last_overlap: Dict[str, Any] = {}
        # set by the first fixed-encoder update: from then on predict() reads the cache too
        self._training = False

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterator[Doc]:
        """Encode a stream of docs in batches of ``batch_size``, in order. With ``overlap``,
        batch k+1 is encoded in a background thread while batch k goes through the rest of
        the pipeline; an error in the thread is raised here, at the batch it belongs to. When
        the pipeline's thread mostly waits for the encoder (``OverlapClock``), the rest of the
        stream is encoded in the calling thread on all the cores; ``last_overlap`` tells what
        the last stream did."""
        if not self.overlap:
            yield from super().pipe(stream, batch_size=batch_size)
            return
        install_extensions()
        batches = minibatch(stream, batch_size)
        clock = OverlapClock()
        self.last_overlap = {"batches": 0, "waiting": 0.0, "working": 0.0, "switched": False}
        with split_threads() as split, ThreadPoolExecutor(max_workers=1, thread_name_prefix=self.name) as worker:
            pending: Optional[Future] = None
            for batch in batches:
                running = worker.submit(self._annotate, list(batch))
                if pending is not None:
                    yield from clock.result(pending)
                pending = running
                if split and clock.encoder_bound:
                    self.last_overlap["switched"] = True
                    break
            if pending is not None:
                yield from clock.result(pending)
        self.last_overlap.update(batches=clock.batches, waiting=clock.waiting, working=clock.working)
        for batch in batches:  # left when the encoder was the bottleneck: all cores, this thread
            yield from self._annotate(list(batch))

    def _annotate(self, docs: List[Doc]) -> List[Doc]:
        """spacy-transformers' pipe for one batch: predict and set the annotations, in
        length-sorted sub-batches of at most ``max_batch_items`` wordpieces."""
        for indices in batch_by_length(docs, self.cfg["max_batch_items"]):
            subbatch = [docs[i] for i in indices]
            self.set_annotations(subbatch, self.predict(subbatch))
        return docs

    def predict(self, docs: Iterable[Doc]) -> FullTransformerBatch:
        """The encoder's output for a batch. While a fixed encoder with a cache is being
        trained in this process, the training loop's evaluations read and fill the cache
        (the same docs are scored at every evaluation); otherwise spacy-transformers'
        prediction."""
        docs = list(docs)
        if self.output_cache is None or not self._training or not any(len(doc) for doc in docs):
            return super().predict(docs)
        batch = FullTransformerBatch.empty(len(docs))
        batch.cached_doc_data = self._cached_output(docs)
        return batch

    def _cached_output(self, docs: List[Doc]) -> List[Any]:
        """The fixed encoder's output for ``docs`` through the cache, whose folder on disk (with
        ``cache_dir``) is chosen at the first call, when the weights are those being trained on."""
        assert self.output_cache is not None
        if self.cache_dir is not None and self.output_cache.directory is None:
            probe = Doc(self.vocab, words=[f"w{i % 50}" for i in range(300)])
            fingerprint = encoder_fingerprint(self.model, probe)
            self.output_cache.directory = self.cache_dir / f"{fingerprint}-{self.output_cache.dtype}"
        return self.output_cache.get_or_compute(docs, self._encode)

    def _encode(self, docs: List[Doc]) -> List[Any]:
        return self.model.predict(docs).doc_data

    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optional[Optimizer] = None,
        losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
        """Run the encoder once for the batch and hand its output to every listening head.
        A trainable encoder then learns from the heads' gradients (spacy-transformers'
        update); a fixed one runs without gradients and ignores them. An int8 or ONNX
        encoder (``Encoder.v2``) is an inference path: updating it raises E823."""
        check_trainable(self.model, self.name)
        if self.trainable:
            return super().update(examples, drop=drop, sgd=param_group(sgd, "encoder"), losses=losses)
        if losses is None:
            losses = {}
        losses.setdefault(self.name, 0.0)
        docs = [eg.predicted for eg in examples]
        if not any(len(doc) for doc in docs):
            return losses
        if self.output_cache is not None:
            self._training = True
            doc_data = self._cached_output(docs)
        else:
            doc_data = self._encode(docs)
        batch_id = TransformerListener.get_batch_id(docs)
        for listener in self.listeners:
            listener.receive(batch_id, doc_data, _ignore_gradient)
        return losses

    def finish_update(self, sgd: Optimizer) -> None:
        """Step a trainable encoder's weights, at the optimizer's ``encoder`` group rate
        when it has one (``spacy-clintiny.Adam.v1``'s ``encoder_learn_rate``)."""
        if self.trainable:
            super().finish_update(param_group(sgd, "encoder"))


def _ignore_gradient(d_trf_datas: List[Any]) -> List[Any]:
    return []
