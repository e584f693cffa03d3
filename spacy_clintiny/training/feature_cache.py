"""A bounded per-doc cache of a FIXED encoder's output, so that epochs over the same training
docs cost only the heads.

A fixed (``trainable = false``) encoder gives the same output for the same tokens at every
step, so ``clintiny_encoder`` can keep each training doc's ``TransformerData`` after the first
time it encodes it and hand the stored copy to its listeners afterwards. Entries are keyed by
the doc's text and token boundaries (a retokenized doc is a different entry), trimmed to the
doc's own wordpiece length (a short doc batched with long ones does not keep the batch's
padding) and stored as float16 by default. The cache holds at most ``max_docs`` docs and
evicts the least recently used one first.

With a ``directory``, each entry is also written there (one file per doc, atomically) and read
back on a miss, so the runs of a workflow that train different heads on one fixed encoder
encode each doc once between them, in any order and even at the same time: the multi-task,
concept and ADE runs of the teacher read the same training docs. The run that encodes a doc
hands its heads the stored copy too (float16, not the encoder's float32), so every run sees a
doc at the stored precision, whichever run sharing the folder encoded it first. (The stored values
themselves can still differ in their last bits with the batch a doc was encoded in: runs sharing a
folder are not bit-for-bit reproducible.) The encoder component puts
the files under a folder named by ``encoder_fingerprint`` (its weights, tokenizer and windows),
so a retrained encoder never reads another's output. Entries keep the wordpiece ids and the
vectors but not the wordpiece strings (no head reads them), so the files hold no text;
the ids can still be decoded with the encoder's vocabulary, so the folder is as sensitive as
the corpus it came from and belongs with the build outputs.

Memory per doc is ``n_windows x wordpieces_per_window x width x 2`` bytes in float16: a
180-token PhysioNet note (2 windows of about 170 wordpieces at width 384) takes about 260 KB;
2,600 training docs about 0.7 GB.
"""

import hashlib
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

import numpy
from spacy.tokens import Doc
from spacy_transformers.data_classes import TransformerData, WordpieceBatch
from thinc.api import get_array_module
from thinc.types import Ragged
from transformers.file_utils import ModelOutput

from ..errors import Errors
from ..fileio import write_bytes_atomic

DTYPES = ("float16", "float32")
# No head reads the encoder's pooled output, and transformers gives a checkpoint without a pooler
# (ours) a randomly initialised one, different from run to run: it is neither cached nor part of
# the encoder's fingerprint, so every run on the same weights shares one cache folder.
POOLER_OUTPUT = "pooler_output"


def doc_key(doc: Doc) -> bytes:
    """The cache key of a doc: a digest of its text and its tokens' character offsets.

    doc (Doc): The doc.
    RETURNS (bytes): 20-byte SHA-1 digest.
    """
    digest = hashlib.sha1(doc.text.encode("utf8"))
    offsets = numpy.asarray([(t.idx, len(t)) for t in doc], dtype="int64")
    digest.update(offsets.tobytes())
    return digest.digest()


class EncoderOutputCache:
    """A least-recently-used map from docs to the fixed encoder's ``TransformerData``."""

    def __init__(self, max_docs: int, *, dtype: str = "float16", directory: Optional[Union[str, Path]] = None) -> None:
        """Create an empty cache.

        max_docs (int): Most docs kept in memory (the least recently used is evicted first); at
            least 1.
        dtype (str): Storage type of the encoder's tensors, "float16" (half the memory) or
            "float32" (outputs identical to the uncached path).
        directory (Optional[Union[str, Path]]): Where entries are also written and looked up
            (one file per doc); None keeps them in memory only. It must belong to one encoder:
            see ``encoder_fingerprint``.
        """
        if max_docs < 1:
            raise ValueError(Errors.E873.format(value=max_docs))
        if dtype not in DTYPES:
            raise ValueError(Errors.E874.format(value=dtype, allowed=list(DTYPES)))
        self.max_docs = max_docs
        self.dtype = dtype
        self._entries: "OrderedDict[bytes, TransformerData]" = OrderedDict()
        self.directory = Path(directory) if directory is not None else None
        self.hits = 0
        self.misses = 0
        self.disk_hits = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def nbytes(self) -> int:
        """RETURNS (int): Bytes held by the cached tensors and alignments."""
        total = 0
        for trf in self._entries.values():
            total += sum(_array_nbytes(value) for value in trf.model_output.values())
            total += trf.align.data.nbytes + trf.align.lengths.nbytes
            total += trf.wordpieces.input_ids.nbytes + trf.wordpieces.attention_mask.nbytes
        return total

    def get_or_compute(
        self, docs: Sequence[Doc], compute: Callable[[List[Doc]], List[TransformerData]]
    ) -> List[TransformerData]:
        """The encoder output of each doc: cached entries where present, ``compute`` (the
        encoder's prediction, one ``TransformerData`` per doc) for the rest, which are
        then stored. Empty docs are never computed nor stored.

        docs (Sequence[Doc]): The batch.
        compute (Callable[[List[Doc]], List[TransformerData]]): Encodes docs.
        RETURNS (List[TransformerData]): One per doc, in order.
        """
        out: List[Optional[TransformerData]] = [None] * len(docs)
        keys = [doc_key(doc) if len(doc) else None for doc in docs]
        todo: List[int] = []
        for i, key in enumerate(keys):
            if key is None:
                out[i] = TransformerData.empty()
            elif key in self._entries:
                self._entries.move_to_end(key)
                out[i] = self._restore(self._entries[key])
                self.hits += 1
            else:
                stored = self._read(key)
                if stored is None:
                    todo.append(i)
                    continue
                self._remember(key, stored)
                out[i] = self._restore(stored)
                self.disk_hits += 1
        if todo:
            self.misses += len(todo)
            computed = compute([docs[i] for i in todo])
            if len(computed) != len(todo):
                raise ValueError(Errors.E875.format(n=len(computed), expected=len(todo)))
            for i, trf in zip(todo, computed):
                # what a later hit, or another run reading the folder, will get: the same precision
                # whichever run encoded a doc first (lanes share the folder)
                out[i] = self._restore(self._store(keys[i], trf))
        return out  # type: ignore[return-value]

    def _store(self, key: bytes, trf: TransformerData) -> TransformerData:
        """Keep ``trf`` (compacted, in ``dtype``) and write it to the folder; return the kept entry."""
        if key in self._entries:
            return self._entries[key]
        compact = _compact(trf, self.dtype)
        self._remember(key, compact)
        if self.directory is not None:
            # atomic (a reader sees a whole file or none); no fsync: _read checks every file
            write_bytes_atomic(self._path(key), compact.to_bytes(), sync=False)
        return compact

    def _remember(self, key: bytes, compact: TransformerData) -> None:
        self._entries[key] = compact
        while len(self._entries) > self.max_docs:
            self._entries.popitem(last=False)

    def _path(self, key: bytes) -> Path:
        assert self.directory is not None
        name = key.hex()
        return self.directory / name[:2] / f"{name}.msgpack"

    def _read(self, key: bytes) -> Optional[TransformerData]:
        """The entry written for ``key`` (by this or another process), or None. A file that
        cannot be read (another writer's is complete or absent, never partial: writes are
        atomic) is treated as absent and rewritten."""
        if self.directory is None:
            return None
        path = self._path(key)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            trf = TransformerData.empty().from_bytes(data)
        except Exception:  # noqa: BLE001 - a damaged entry is recomputed, never trusted
            return None
        # msgpack hands back read-only views of its buffer: give the heads arrays of their own
        model_output = ModelOutput()
        for name, value in trf.model_output.items():
            model_output[name] = _cast(value, self.dtype)
        wp = trf.wordpieces
        wordpieces = WordpieceBatch(
            strings=wp.strings,
            input_ids=numpy.array(wp.input_ids),
            attention_mask=numpy.array(wp.attention_mask),
            lengths=list(wp.lengths),
            token_type_ids=numpy.array(wp.token_type_ids) if wp.token_type_ids is not None else None,
        )
        align = Ragged(numpy.array(trf.align.dataXd), numpy.array(trf.align.lengths))
        return TransformerData(wordpieces=wordpieces, model_output=model_output, align=align)

    def _restore(self, trf: TransformerData) -> TransformerData:
        if self.dtype == "float32":
            return trf
        model_output = ModelOutput()
        for key, value in trf.model_output.items():
            model_output[key] = _cast(value, "float32")
        return TransformerData(wordpieces=trf.wordpieces, model_output=model_output, align=trf.align)


def _array_nbytes(value) -> int:
    if isinstance(value, list):
        return sum(v.nbytes for v in value)
    return getattr(value, "nbytes", 0)


def _cast(value, dtype: str):
    if isinstance(value, list):
        return [v.astype(dtype) for v in value]
    if hasattr(value, "astype"):
        return value.astype(dtype)
    return value


def _compact(trf: TransformerData, dtype: str) -> TransformerData:
    """A copy of one doc's encoder output without the batch's padding, in ``dtype``."""
    n_windows, padded = trf.wordpieces.input_ids.shape
    used = int(max(trf.wordpieces.lengths)) if len(trf.wordpieces.lengths) else padded
    model_output = ModelOutput()
    for key, value in trf.model_output.items():
        if key != POOLER_OUTPUT:
            model_output[key] = _cast(_trim(value, padded, used), dtype)
    xp = get_array_module(trf.align.data)
    # alignment rows index the flattened (window, position) grid: re-index it for the new width
    data = trf.align.dataXd  # (n_alignments,)
    data = (data // padded) * used + (data % padded)
    align = Ragged(xp.ascontiguousarray(data), trf.align.lengths.copy())
    wp = trf.wordpieces
    wordpieces = WordpieceBatch(
        strings=[[] for _ in range(n_windows)],  # no head reads them: keep no text
        input_ids=wp.input_ids[:, :used].copy(),
        attention_mask=wp.attention_mask[:, :used].copy(),
        lengths=list(wp.lengths),
        token_type_ids=wp.token_type_ids[:, :used].copy() if wp.token_type_ids is not None else None,
    )
    return TransformerData(wordpieces=wordpieces, model_output=model_output, align=align)


def _trim(value, padded: int, used: int):
    """Cut a (n_windows, padded, ...) tensor to (n_windows, used, ...); others pass as they are."""
    if isinstance(value, list):
        return [_trim(v, padded, used) for v in value]
    shape: Tuple[int, ...] = getattr(value, "shape", ())
    if len(shape) >= 2 and shape[1] == padded:
        return value[:, :used].copy()
    return value.copy() if hasattr(value, "copy") else value


def encoder_fingerprint(model: Any, probe: Doc) -> str:
    """A digest that names one fixed encoder's output: its weights (but the pooler's), and the
    windows and wordpiece ids it makes of ``probe`` (so the tokenizer, window and stride count too).

    model (Model): The encoder model (spacy-transformers' ``TransformerModel`` or ours).
    probe (Doc): A doc long enough to span several windows.
    RETURNS (str): 16 hex digits.
    """
    digest = hashlib.sha1()
    n_weights = 0
    for node in model.walk():
        for shim in node.shims:
            hf_model = getattr(shim, "_model", None)
            if hf_model is None or not hasattr(hf_model, "state_dict"):
                continue
            for name, tensor in sorted(hf_model.state_dict().items()):
                if name.split(".")[0] == "pooler":  # see POOLER_OUTPUT
                    continue
                digest.update(name.encode("utf8"))
                digest.update(tensor.detach().cpu().float().contiguous().numpy().tobytes())
                n_weights += 1
    if not n_weights:
        raise ValueError(Errors.E877.format(model=model.name))
    (trf,) = model.predict([probe]).doc_data
    digest.update(numpy.asarray(trf.wordpieces.input_ids, dtype="int64").tobytes())
    digest.update(repr(tuple(trf.wordpieces.input_ids.shape)).encode("utf8"))
    digest.update(numpy.asarray(trf.align.lengths, dtype="int64").tobytes())
    return digest.hexdigest()[:16]
