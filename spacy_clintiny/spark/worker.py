"""The executor side: what ``mapInPandas`` runs on each partition (and ``applyInPandas`` on each
patient's notes).

A pipeline is loaded once per executor Python process: ``cached`` keeps it in a module-level
dict keyed by the model path and the options that change the pipeline, and Spark reuses its
Python workers between tasks (``spark.python.worker.reuse``, on by default). The notes of each
Arrow batch go through ``nlp.pipe`` in batches of ``batch_size``. A note that fails gets an
error message in the error column (code, note id, exception type: never note text) and the
other notes go on; a batch in which one note fails is re-run one note at a time so that only
that note is lost.

Nothing here imports pyspark: the functions take and return pandas DataFrames, so they are
tested and benchmarked without a cluster.
"""

import dataclasses
import hashlib
import math
from typing import Any, Callable, Dict, Hashable, Iterator, List, Optional, Sequence, Tuple, Union

from spacy.language import Language
from spacy.tokens import Doc

from ..deid.types import DeidResult, DetectorOptions, NoteRecord
from ..errors import Errors
from .records import doc_row, phi_rows

# Helper columns the driver adds (id and patient cast to string by Spark) and the worker drops.
ID_HELPER = "__clintiny_id"
PATIENT_HELPER = "__clintiny_patient"

_CACHE: Dict[Hashable, Any] = {}
_LOADS: Dict[str, int] = {}


@dataclasses.dataclass(frozen=True)
class AnnotateOptions:
    """What an annotate task needs (picklable, hashable; see ``api.annotate``)."""

    model: str
    text_col: str
    span_keys: Tuple[str, ...]
    span_cols: Tuple[str, ...]
    cats_col: str
    relations_col: str
    error_col: str
    has_id: bool = False
    with_text: bool = False
    batch_size: int = 32
    threads: Optional[int] = 1
    exclude: Tuple[str, ...] = ()

    def pipeline_key(self) -> Tuple:
        return ("annotate", self.model, self.exclude, self.threads)


@dataclasses.dataclass(frozen=True)
class DeidOptions:
    """What a de-identification task needs (picklable, hashable; see ``api.deidentify``). The
    key is left out of ``repr`` so that it never reaches a log or a traceback."""

    model: str
    text_col: str
    output_col: str
    phi_col: str
    error_col: str
    mode: str = "redact"
    key: Optional[str] = dataclasses.field(default=None, repr=False)
    custom: Optional[Any] = None  # custom mode: "module:function" or a picklable function
    has_id: bool = False
    has_patient: bool = False
    detector: DetectorOptions = DetectorOptions()
    batch_size: int = 32
    threads: Optional[int] = 1
    propagate: str = "note"
    int8: Optional[bool] = None  # None: as the pipeline's runtime check allows (load_deid_pipeline)

    def pipeline_key(self) -> Tuple:
        return ("deid", self.model, self.detector, self.int8)


def cached(key: Tuple, load: Callable[[], Any]) -> Any:
    """The object cached under ``key`` in this process, loaded with ``load()`` the first time.

    key (Tuple): (kind, model, ...): what the object depends on.
    load (Callable[[], Any]): Makes the object.
    RETURNS (Any): The cached object.
    """
    if key not in _CACHE:
        _CACHE[key] = load()
        name = f"{key[0]}:{key[1]}"
        _LOADS[name] = _LOADS.get(name, 0) + 1
    return _CACHE[key]


def load_counts() -> Dict[str, int]:
    """How many times this process loaded each kind of object for each model (tests, bench).

    RETURNS (Dict[str, int]): "annotate:<model>", "deid:<model>" or "engine:<model>" -> loads.
    """
    return dict(_LOADS)


def set_threads(threads: Optional[int]) -> None:
    """Torch threads for this process (None leaves torch's default)."""
    if threads is not None:
        import torch

        torch.set_num_threads(max(1, int(threads)))


def load_annotator(options: AnnotateOptions) -> Language:
    """The whole pipeline (minus ``options.exclude``), loaded once per process."""

    def load() -> Language:
        import os

        import spacy

        from ..deid.engine import go_offline

        go_offline()
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        set_threads(options.threads)
        return spacy.load(options.model, exclude=list(options.exclude))

    return cached(options.pipeline_key(), load)


def load_deidentifier(options: DeidOptions) -> Any:
    """A ``Deidentifier`` over the PHI-only pipeline, both loaded once per process."""
    from ..deid.engine import Deidentifier, load_deid_pipeline

    def load_pipeline() -> Language:
        return load_deid_pipeline(options.model, options.detector, threads=options.threads, int8=options.int8)

    def load_engine() -> Deidentifier:
        nlp = cached(options.pipeline_key(), load_pipeline)
        from ..deid.operators import mode_operator

        generator = mode_operator(options.mode, options.key, options.custom)
        # "patient" is only asked for on frames that hold all the notes of one patient
        # (``deidentify_patient``): a row's output never depends on how the rows were partitioned
        return Deidentifier(
            nlp, mode=options.mode, generator=generator, batch_size=options.batch_size, propagate=options.propagate
        )

    set_threads(options.threads)
    return cached(("engine", options.model, options), load_engine)


# ---------------------------------------------------------------------- partitions


def annotate_partition(batches: Iterator[Any], options: AnnotateOptions) -> Iterator[Any]:
    """``mapInPandas`` body of ``annotate``: the pipeline loads at the first batch (an empty
    partition loads nothing).

    batches (Iterator[pandas.DataFrame]): The partition's Arrow batches.
    options (AnnotateOptions): What to run and where to write it.
    YIELDS (pandas.DataFrame): Each batch with the output columns added.
    """
    for frame in batches:
        yield annotate_frame(frame, load_annotator(options), options)


def deidentify_partition(batches: Iterator[Any], options: DeidOptions) -> Iterator[Any]:
    """``mapInPandas`` body of ``deidentify`` (see ``annotate_partition``)."""
    for frame in batches:
        yield deidentify_frame(frame, load_deidentifier(options), options)


def deidentify_patient(frame: Any, options: DeidOptions) -> Any:
    """``applyInPandas`` body of ``deidentify`` with ``propagate = "patient"``: ``frame`` holds
    every note of one patient, so a name found in one of them is looked up in all of them. The
    notes are taken in the order of their names (id, else text digest; ties by text digest), so
    that a patient with more notes than the engine holds at once (``MAX_HELD_NOTES``) is cut the
    same way in every run.

    frame (pandas.DataFrame): The rows of one patient (with the helper columns).
    options (DeidOptions): Columns and settings (``propagate = "patient"``).
    RETURNS (pandas.DataFrame): The rows de-identified, as ``deidentify_frame`` returns them.
    """
    texts = frame[options.text_col].tolist()
    names = _note_names(frame, texts, has_id=options.has_id)
    # ties (duplicate ids) broken by the text, so the order never depends on how rows arrived
    keys = [(name, note_digest(text) if isinstance(text, str) else "") for name, text in zip(names, texts)]
    order = sorted(range(len(names)), key=keys.__getitem__)
    return deidentify_frame(frame.iloc[order], load_deidentifier(options), options)


def annotate_frame(frame: Any, nlp: Language, options: AnnotateOptions) -> Any:
    """Annotate the notes of one pandas batch.

    frame (pandas.DataFrame): Input rows.
    nlp (Language): The pipeline.
    options (AnnotateOptions): Columns and settings.
    RETURNS (pandas.DataFrame): The rows with one column per span group, cats, relations and
        error added (all null for a null text).
    """
    texts = frame[options.text_col].tolist()
    names = _note_names(frame, texts, has_id=options.has_id)
    n = len(texts)
    columns: Dict[str, List[Any]] = {col: [None] * n for col in (*options.span_cols, options.cats_col)}
    columns[options.relations_col] = [None] * n
    errors: List[Optional[str]] = [None] * n
    todo: List[Tuple[str, int]] = []
    for i, text in enumerate(texts):
        if _is_null(text):
            continue
        if not isinstance(text, str):
            errors[i] = Errors.E808.format(note=names[i], col=options.text_col, type=type(text).__name__)
        elif len(text) > nlp.max_length:
            errors[i] = Errors.E809.format(note=names[i], n=len(text), max_length=nlp.max_length)
        else:
            todo.append((text, i))
    for i, outcome in pipe_isolated(nlp, todo, batch_size=options.batch_size).items():
        if isinstance(outcome, Doc):
            row = doc_row(outcome, options.span_keys, with_text=options.with_text)
            for key, col in zip(options.span_keys, options.span_cols):
                columns[col][i] = row[key]
            columns[options.cats_col][i] = row["cats"]
            columns[options.relations_col][i] = row["relations"]
        else:
            component, detail = outcome
            errors[i] = Errors.E810.format(note=names[i], component=component, detail=detail)
    columns[options.error_col] = errors
    return _assign(frame, columns)


def deidentify_frame(frame: Any, engine: Any, options: DeidOptions) -> Any:
    """De-identify the notes of one pandas batch with the serial engine (``deid.engine``), so
    the output is the same as ``clintiny deid``'s for the same note ids, patients and key.

    frame (pandas.DataFrame): Input rows (with the helper id / patient columns).
    engine (Deidentifier): The engine.
    options (DeidOptions): Columns and settings.
    RETURNS (pandas.DataFrame): The rows with the de-identified text, PHI spans and error.
    """
    texts = frame[options.text_col].tolist()
    names = _note_names(frame, texts, has_id=options.has_id)
    patients = frame[PATIENT_HELPER].tolist() if options.has_patient else [None] * len(texts)
    n = len(texts)
    out_text: List[Optional[str]] = [None] * n
    phi: List[Optional[List[Dict[str, Any]]]] = [None] * n
    errors: List[Optional[str]] = [None] * n
    records: List[Tuple[int, NoteRecord]] = []
    for i, text in enumerate(texts):
        if _is_null(text):
            continue
        if not isinstance(text, str):
            errors[i] = Errors.E808.format(note=names[i], col=options.text_col, type=type(text).__name__)
            continue
        patient = None if _is_null(patients[i]) or not str(patients[i]).strip() else str(patients[i])
        records.append((i, NoteRecord(names[i], text, patient)))
    for (i, _record), result in zip(records, _run_isolated(engine, [r for _, r in records])):
        if result.error is not None:
            errors[i] = result.error
        else:
            out_text[i] = result.text
            phi[i] = phi_rows(result)
    columns = {options.output_col: out_text, options.phi_col: phi, options.error_col: errors}
    return _assign(frame, columns)


# ---------------------------------------------------------------------- failures


class _FailureLog:
    """spaCy error handler that remembers which component failed and how (never the text)."""

    def __init__(self) -> None:
        self.last: Tuple[str, str] = ("?", "unknown error")

    def __call__(self, proc_name: str, proc: Any, docs: Optional[List[Doc]], err: Exception) -> None:
        from ..deid.engine import safe_detail

        self.last = (str(proc_name), safe_detail(err))


def pipe_isolated(
    nlp: Language, items: Sequence[Tuple[str, int]], *, batch_size: int
) -> Dict[int, Union[Doc, Tuple[str, str]]]:
    """Run texts through ``nlp.pipe``; a batch that fails is re-run one text at a time.

    nlp (Language): The pipeline (its error handler is replaced).
    items (Sequence[Tuple[str, int]]): (text, index) pairs.
    batch_size (int): Docs per ``nlp.pipe`` batch.
    RETURNS (Dict[int, Union[Doc, Tuple[str, str]]]): Index -> the doc, or (component,
        exception type) for a text that failed alone.
    """
    from ..deid.engine import safe_detail

    log = _FailureLog()
    nlp.set_error_handler(log)
    results: Dict[int, Union[Doc, Tuple[str, str]]] = {}
    try:
        for doc, i in nlp.pipe(((nlp.make_doc(t), i) for t, i in items), as_tuples=True, batch_size=batch_size):
            results[i] = doc
    except Exception as err:  # noqa: BLE001 - a crash outside the error handler: retry one by one
        log.last = ("tokenizer or pipe", safe_detail(err))
    missing = [item for item in items if item[1] not in results]
    if len(items) == 1:
        for _, i in missing:
            results[i] = log.last
    else:
        for item in missing:
            results.update(pipe_isolated(nlp, [item], batch_size=1))
    return results


def _run_isolated(engine: Any, records: List[NoteRecord]) -> List[DeidResult]:
    """The engine's results; notes dropped with their batch (E745) are re-run alone."""
    results = list(engine.run(records))
    if len(records) > 1:
        for j, result in enumerate(results):
            if result.error is not None and "[E745]" in result.error:
                results[j] = next(iter(engine.run([records[j]])))
    return results


# ---------------------------------------------------------------------- helpers


def _is_null(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def note_digest(text: str) -> str:
    """The name of a note without an id: ``sha1:`` and the first 12 hex digits of the SHA-1 of
    its UTF-8 text (find it with ``F.sha1(text_col).startswith(...)``)."""
    return "sha1:" + hashlib.sha1(text.encode("utf8")).hexdigest()[:12]


def _note_names(frame: Any, texts: List[Any], *, has_id: bool) -> List[str]:
    ids = frame[ID_HELPER].tolist() if has_id else [None] * len(texts)
    names = []
    for note_id, text in zip(ids, texts):
        if not _is_null(note_id):
            names.append(str(note_id))
        elif isinstance(text, str):
            names.append(note_digest(text))
        else:
            names.append("(no id)")
    return names


def _assign(frame: Any, columns: Dict[str, List[Any]]) -> Any:
    """The frame without the helper columns and with ``columns`` set (replaced in place when
    the name exists, else appended in order)."""
    import pandas

    out = frame.drop(columns=[c for c in (ID_HELPER, PATIENT_HELPER) if c in frame.columns])
    for name, values in columns.items():
        out[name] = pandas.Series(values, index=out.index, dtype=object)
    return out
