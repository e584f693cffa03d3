"""``annotate`` and ``deidentify``: any clintiny pipeline over a Spark DataFrame of notes.

Both check on the driver that the model exists and the columns are right (so a mistake fails
before any task starts), then return ``df.mapInPandas(...)`` (``deidentify`` with a patient
column: ``groupBy(patient).applyInPandas(...)``): lazy, like every transformation.
Each executor Python process loads the pipeline once (``worker.cached``) and runs the notes of
each Arrow batch through ``nlp.pipe``. The input rows come back unchanged with the output
columns added; a note that fails has a message in the error column and null outputs.
"""

import functools
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..deid.propagate import SCOPES
from ..errors import Errors
from .checks import (
    RULES_ONLY,
    check_columns,
    check_positive,
    pipeline_config,
    quoted,
    require_pyspark,
    resolve_model,
    span_keys_of,
)
from .records import PHI_FIELDS, RELATION_FIELDS, SPAN_FIELDS
from .worker import (
    ID_HELPER,
    PATIENT_HELPER,
    AnnotateOptions,
    DeidOptions,
    annotate_partition,
    deidentify_partition,
    deidentify_patient,
)

# "run" (places remembered across the whole run) needs one ordered stream: not across executors
SPARK_SCOPES = tuple(scope for scope in SCOPES if scope != "run")


def annotate(
    df: Any,
    text_col: str,
    *,
    model: str,
    id_col: Optional[str] = None,
    span_keys: Optional[Sequence[str]] = None,
    with_text: bool = False,
    prefix: str = "",
    batch_size: int = 32,
    threads: Optional[int] = None,
    exclude: Optional[Sequence[str]] = None,
) -> Any:
    """Annotate the notes of a DataFrame with a spaCy pipeline.

    df (DataFrame): The notes, one a row; every column is kept.
    text_col (str): The string column holding the note text.
    model (str): A pipeline folder every executor can read (local mode: any folder) or the name of
        a pipeline package installed on every executor ("en_clintiny_sm").
    id_col (Optional[str]): Column naming each note in error messages (else ``sha1:`` and the
        start of the SHA-1 of its text).
    span_keys (Optional[Sequence[str]]): Span groups to write, "ents" for ``doc.ents``; None:
        every group the pipeline config names (``spans_key`` / ``output_key`` settings).
    with_text (bool): Add each span's text (and relation head/tail text). Off by default: the
        output then holds offsets and labels, no note text.
    prefix (str): Put before every output column name (to avoid clashes with input columns).
    batch_size (int): Docs per ``nlp.pipe`` batch.
    threads (Optional[int]): Torch threads per executor Python worker; None: ``spark.task.cpus``.
    exclude (Optional[Sequence[str]]): Pipeline components not to load.
    RETURNS (DataFrame): ``df`` plus one column per span group (``array<struct<start, end, label,
        kb_id, source, score, is_negated, is_uncertain, is_historical, is_hypothetical,
        is_family[, text]>>``), ``cats`` (``map<string, double>``), ``relations``
        (``array<struct<head_start, head_end, head_label, tail_start, tail_end, tail_label, label,
        score>>``) and ``error`` (string), each name with ``prefix``. A null text gives null
        outputs and no error; an empty text gives empty outputs.
    """
    require_pyspark()
    from pyspark.sql.types import StructField

    from .schema import cats_type, rows_type, with_columns

    model = resolve_model(model)
    check_positive("batch_size", batch_size)
    check_positive("threads", threads, optional=True)
    keys = tuple(span_keys) if span_keys is not None else tuple(span_keys_of(pipeline_config(model)))
    span_cols = tuple(f"{prefix}{key}" for key in keys)
    cats_col, relations_col, error_col = f"{prefix}cats", f"{prefix}relations", f"{prefix}error"
    outputs = (*span_cols, cats_col, relations_col, error_col)
    check_columns(df, inputs={"text": text_col, "id": id_col}, outputs=outputs)
    df, safe = _dot_safe(df)
    span_cols = tuple(safe(col) for col in span_cols)
    cats_col, relations_col, error_col = safe(cats_col), safe(relations_col), safe(error_col)
    options = AnnotateOptions(
        model=model,
        text_col=safe(text_col),
        span_keys=keys,
        span_cols=span_cols,
        cats_col=cats_col,
        relations_col=relations_col,
        error_col=error_col,
        has_id=id_col is not None,
        with_text=with_text,
        batch_size=batch_size,
        threads=_threads(df, threads),
        exclude=tuple(exclude or ()),
    )
    text_fields = ("text",) if with_text else ()
    rel_text = ("head_text", "tail_text") if with_text else ()
    fields = [StructField(col, rows_type(SPAN_FIELDS + text_fields)) for col in span_cols]
    fields += [
        StructField(cats_col, cats_type()),
        StructField(relations_col, rows_type(RELATION_FIELDS + rel_text)),
        StructField(error_col, _string()),
    ]
    source = _with_helpers(df, id_col=safe(id_col), patient_col=None)
    schema = with_columns(df.schema, fields)
    return safe.restore(source.mapInPandas(functools.partial(annotate_partition, options=options), schema))


def deidentify(
    df: Any,
    text_col: str,
    *,
    model: str,
    patient_col: Optional[str] = None,
    id_col: Optional[str] = None,
    mode: str = "redact",
    key: Optional[str] = None,
    custom: Optional[Any] = None,
    output_col: Optional[str] = None,
    phi_col: str = "phi",
    error_col: str = "error",
    rules: bool = True,
    threshold: float = 0.0,
    allow_list: Optional[Sequence[str]] = None,
    deny_list: Optional[Dict[str, Sequence[str]]] = None,
    profile: Optional[str] = None,
    outside_weight: Optional[float] = None,
    dictionary_gate: Optional[float] = None,
    check_dates: Optional[bool] = None,
    batch_size: int = 32,
    threads: Optional[int] = None,
    propagate: str = "patient",
    int8: Optional[bool] = None,
) -> Any:
    """De-identify the notes of a DataFrame, exactly as ``clintiny deid`` does note by note.

    df (DataFrame): The notes, one a row; every other column is kept as it is.
    text_col (str): The string column holding the note text.
    model (str): A pipeline folder every executor can read, an installed package name
        ("en_clintiny_sm") or "rules" for the rule patterns alone.
    patient_col (Optional[str]): Surrogates and date shifts are the same for every note of a
        patient, on any executor and in any partition; None: each note its own patient.
    id_col (Optional[str]): Note id (error messages; the patient when ``patient_col`` is None),
        as ``clintiny deid --id-col``; without it a note is named ``sha1:`` + the start of the
        SHA-1 of its text.
    mode (str): "redact", "mask", "annotate", "surrogate", "hash", "encrypt", "remove" or "custom".
    key (Optional[str]): Secret behind surrogates and date shifts, hash codes and encryption
        (the keyed modes), at least 16 characters; None: ``$CLINTINY_DEID_KEY`` on the driver.
        Required in those modes: a random key per executor would give one patient different
        surrogates (or one name different codes). It travels to the
        executors inside the task, never in a log or the Spark configuration.
    custom (Optional[Any]): Custom mode's replacement function (``deid.custom``): a name,
        "package.module:function" or "path/to/file.py:function", that every executor can import
        (checked here, on the driver), or a function Spark can pickle.
    output_col (Optional[str]): Column for the de-identified text; None replaces ``text_col``
        (the output then holds no original note text).
    phi_col (str): Column for the PHI spans (``array<struct<start, end, label, subtype, source,
        score, operator, out_start, out_end>>``; no text).
    error_col (str): Column for per-note errors.
    rules, threshold, allow_list, deny_list, profile, outside_weight, dictionary_gate, check_dates: How PHI is
        found, as ``deid.types.DetectorOptions`` (checked here, on the driver).
    batch_size (int): Docs per ``nlp.pipe`` batch.
    threads (Optional[int]): Torch threads per executor Python worker; None: ``spark.task.cpus``.
    propagate (str): "patient": a name or place found in one note of a patient is PHI in all
        of that patient's notes; the rows are grouped by ``patient_col`` (a shuffle; each
        patient's notes are processed together, in the order of their ids, wherever they sat),
        so the output equals ``clintiny deid --propagate patient``'s on the notes sorted by
        patient. Rows without a patient (null, empty or blank), or all rows when ``patient_col``
        is None, are each their own patient.
        "note": within each note only (no shuffle); "none": off. "run" (``clintiny deid``'s
        default) is refused: executors share no memory of places.
    int8 (Optional[bool]): Each executor quantizes the pipeline's encoder to int8 in memory at
        load, as ``clintiny deid --int8`` (``deid.engine.load_deid_pipeline``); not with "rules".
        None (default): as ``clintiny deid`` decides by default, when the pipeline's own runtime
        check found int8 within its bound on every PHI figure (``deid.engine.resolve_int8``).
    RETURNS (DataFrame): ``df`` with the de-identified text, ``phi_col`` and ``error_col``. A
        null text gives null outputs and no error.
    """
    require_pyspark()
    from pyspark.sql.types import StructField

    from ..deid.engine import phi_components
    from ..deid.lists import MIN_KEY_CHARS, read_surrogate_key
    from ..deid.types import KEYED_MODES, MODES, DetectorOptions
    from .schema import rows_type, with_columns

    if mode not in MODES:
        raise ValueError(Errors.E742.format(mode=mode, modes=", ".join(MODES)))
    detector = DetectorOptions.make(
        rules=rules,
        threshold=float(threshold),
        allow_list=allow_list,
        deny_list=deny_list,
        profile=profile,
        outside_weight=outside_weight,
        dictionary_gate=dictionary_gate,
        check_dates=check_dates,
    )
    if propagate not in SPARK_SCOPES:
        raise ValueError(Errors.E797.format(value=propagate, options=", ".join(SPARK_SCOPES)))
    model = resolve_model(model, rules_ok=True)
    heads: List[str] = []
    if model != RULES_ONLY:
        keep = phi_components(pipeline_config(model))
        heads = keep["heads"]
        if not heads and not rules and not deny_list:
            raise ValueError(Errors.E741.format(model=model, key="phi", names=", ".join(keep["all"]) or "none"))
    elif not rules and not deny_list:
        raise ValueError(Errors.E741.format(model=model, key="phi", names="none"))
    if outside_weight is not None and not heads:
        raise ValueError(Errors.E763.format(model=model))
    if int8 and model == RULES_ONLY:
        raise ValueError(Errors.E896.format(model=model, found="no encoder"))
    check_positive("batch_size", batch_size)
    check_positive("threads", threads, optional=True)
    keyed = mode in KEYED_MODES
    if keyed:
        key = key if key is not None else read_surrogate_key()
        if key is None:
            raise ValueError(Errors.E806.format(mode=mode))
        if isinstance(key, bytes):  # a key read from a binary file: the same secret as its UTF-8 text
            try:
                key = key.decode("utf-8")
            except UnicodeDecodeError:
                raise ValueError(
                    Errors.E807.format(name="key", value="(hidden)", expected="text (UTF-8), or a str")
                ) from None
        if not isinstance(key, str) or len(key.strip()) < MIN_KEY_CHARS:
            raise ValueError(
                Errors.E807.format(name="key", value="(hidden)", expected=f"a str of >= {MIN_KEY_CHARS} characters")
            )
    if mode == "custom" or custom is not None:
        from ..deid.operators import mode_operator

        mode_operator(mode, None, custom)  # loads here: a wrong name fails before any task runs
    output_col = text_col if output_col is None else output_col
    check_columns(
        df,
        inputs={"text": text_col, "id": id_col, "patient": patient_col},
        outputs=(output_col, phi_col, error_col),
        replaced=text_col,
    )
    df, safe = _dot_safe(df)
    options = DeidOptions(
        model=model,
        text_col=safe(text_col),
        output_col=safe(output_col),
        phi_col=safe(phi_col),
        error_col=safe(error_col),
        mode=mode,
        key=key.strip() if keyed and key is not None else None,
        custom=custom,
        has_id=id_col is not None,
        has_patient=patient_col is not None,
        detector=detector,
        batch_size=batch_size,
        threads=_threads(df, threads),
        propagate=propagate,
        int8=int8,
    )
    fields = [
        StructField(options.output_col, _string()),
        StructField(options.phi_col, rows_type(PHI_FIELDS)),
        StructField(options.error_col, _string()),
    ]
    schema = with_columns(df.schema, fields)
    source = _with_helpers(df, id_col=safe(id_col), patient_col=safe(patient_col))
    per_partition = functools.partial(deidentify_partition, options=options)
    if propagate != "patient" or patient_col is None:
        return safe.restore(source.mapInPandas(per_partition, schema))
    from pyspark.sql import functions as F

    def one_patient(frame: Any) -> Any:
        # a plain function: pyspark reads applyInPandas' kind from type hints and warns on a partial
        return deidentify_patient(frame, options)

    # an empty patient is no patient, as in ``clintiny deid`` (Spark's CSV reader makes it null anyway)
    known = F.col(PATIENT_HELPER).isNotNull() & (F.trim(F.col(PATIENT_HELPER)) != "")
    by_patient = source.where(known).groupBy(PATIENT_HELPER).applyInPandas(one_patient, schema)
    alone = source.where(~known).mapInPandas(per_partition, schema)
    return safe.restore(by_patient.unionByName(alone))


class _SafeNames:
    """Plain names for the columns whose name holds a dot, and the way back (see ``_dot_safe``)."""

    def __init__(self, renamed: Dict[str, str]) -> None:
        self.renamed = renamed
        self.original = {safe: name for name, safe in renamed.items()}

    def __call__(self, name: Optional[str]) -> Optional[str]:
        return None if name is None else self.renamed.get(name, name)

    def restore(self, df: Any) -> Any:
        if not self.renamed:
            return df
        return df.toDF(*[self.original.get(name, name) for name in df.columns])


def _dot_safe(df: Any) -> Tuple[Any, _SafeNames]:
    """``df`` with its dotted column names ("note.text") replaced by plain ones: pandas UDFs
    (``mapInPandas``, ``applyInPandas``) look their input columns up by name, where Spark reads a
    dot as a struct field and fails. ``restore`` puts the names back on the output."""
    dotted = [name for name in df.columns if "." in name]
    taken = set(df.columns)
    renamed: Dict[str, str] = {}
    for i, name in enumerate(dotted):
        safe = f"__clintiny_col{i}"
        while safe in taken:
            safe += "_"
        taken.add(safe)
        renamed[name] = safe
    if renamed:
        df = df.toDF(*[renamed.get(name, name) for name in df.columns])
    return df, _SafeNames(renamed)


def _string() -> Any:
    from pyspark.sql.types import StringType

    return StringType()


def _threads(df: Any, threads: Optional[int]) -> int:
    """Torch threads per Python worker: as given, else ``spark.task.cpus`` (cores per task)."""
    if threads is not None:
        return threads
    value = df.sparkSession.conf.get("spark.task.cpus", "1")
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return 1


def _with_helpers(df: Any, *, id_col: Optional[str], patient_col: Optional[str]) -> Any:
    """``df`` plus the id and patient as strings (Spark's cast: 12 -> "12", as a CSV holds it)."""
    from pyspark.sql import functions as F

    for helper, col in ((ID_HELPER, id_col), (PATIENT_HELPER, patient_col)):
        if col is not None:
            df = df.withColumn(helper, F.col(quoted(col)).cast("string"))
    return df
