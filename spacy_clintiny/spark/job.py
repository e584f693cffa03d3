"""The ``clintiny spark-deid`` job: read a table through Spark, de-identify it, write it back.

Spark writes the output folder through its output committer (part files appear only when the
job succeeds; a failed job leaves no ``_SUCCESS`` marker) and refuses an existing output unless
``overwrite`` is set. The output is never the input nor inside it. CSV cannot hold arrays, so
there the PHI spans are a JSON string.
"""

import dataclasses
import functools
import time
from pathlib import Path
from typing import Any, List, Optional, Tuple, Union

from ..errors import Errors
from .api import deidentify
from .checks import check_positive, quoted, require_pyspark

FORMATS = ("parquet", "csv", "json")
AUTO = "auto"
SUFFIX_FORMATS = {".parquet": "parquet", ".csv": "csv", ".json": "json", ".jsonl": "json", ".ndjson": "json"}
# Notes hold line breaks and quotes: read and write CSV fields quoted, with "" for a quote
# (what Python's csv module and `clintiny deid` write).
CSV_READ = {"header": "true", "multiLine": "true", "escape": '"', "mode": "PERMISSIVE"}
# Spark's CSV writer trims every field unless told not to: a note's leading or trailing spaces
# would be lost and the spans' output offsets would no longer point at their text.
CSV_WRITE = {"header": "true", "escape": '"', "ignoreLeadingWhiteSpace": "false", "ignoreTrailingWhiteSpace": "false"}
CORRUPT = "_corrupt_record"
PathLike = Union[str, Path]


@dataclasses.dataclass
class SparkDeidSummary:
    """What a ``spark-deid`` run did (counted from the written output).

    notes (int): Rows written.
    failed (int): Rows with an error.
    spans (int): PHI spans found.
    seconds (float): Wall time of the job (read, de-identify, write).
    output (str): Where the output is.
    unreadable (int): Input rows left out because they could not be parsed (see ``drop_unreadable``).
    """

    notes: int
    failed: int
    spans: int
    seconds: float
    output: str
    unreadable: int = 0


def run_spark_deid(
    spark: Any,
    input_path: PathLike,
    output_path: PathLike,
    *,
    text_col: str = "text",
    fmt: str = "parquet",
    output_format: Optional[str] = None,
    overwrite: bool = False,
    partitions: Optional[int] = None,
    **deid_options: Any,
) -> SparkDeidSummary:
    """De-identify a table of notes with Spark.

    spark (SparkSession): The session.
    input_path (PathLike): A file or folder of ``fmt`` data (any path Spark reads: hdfs://, s3a://...).
    output_path (PathLike): The output folder; never the input or inside it.
    text_col (str): The note column.
    fmt (str): Input format: parquet, csv (with a header row) or json (JSON lines); "auto": from
        the file names (``infer_format``).
    output_format (Optional[str]): Output format (None: as the input).
    overwrite (bool): Replace an existing output (else the job refuses it).
    partitions (Optional[int]): Repartition the input into this many partitions first (None: as read).
    **deid_options: ``spark.deidentify`` options (model, mode, key, patient_col, id_col...).
    RETURNS (SparkDeidSummary): Counts read back from the written output.
    """
    require_pyspark()
    for value in (fmt, output_format):
        if value is not None and value not in (*FORMATS, AUTO):
            raise ValueError(Errors.E812.format(fmt=value, formats=", ".join((*FORMATS, AUTO))))
    check_positive("partitions", partitions, optional=True)
    check_paths(str(input_path), str(output_path), overwrite=overwrite, fmt=fmt)
    files = _local_data_files(str(input_path))  # one walk of a local folder, for both checks
    fmt = infer_format(str(input_path), files) if fmt == AUTO else fmt
    output_format = fmt if output_format in (None, AUTO) else output_format
    check_format(fmt, files)
    start = time.perf_counter()
    df, unreadable = drop_unreadable(read_table(spark, str(input_path), fmt), fmt, text_col)
    if partitions is not None:
        df = df.repartition(partitions)
    out = deidentify(df, text_col, **deid_options)
    write_table(out, str(output_path), output_format, overwrite=overwrite)
    seconds = time.perf_counter() - start
    phi_col = deid_options.get("phi_col", "phi")
    error_col = deid_options.get("error_col", "error")
    notes, failed, spans = count_output(spark, str(output_path), output_format, phi_col=phi_col, error_col=error_col)
    return SparkDeidSummary(notes, failed, spans, seconds, str(output_path), unreadable)


def drop_unreadable(df: Any, fmt: str, text_col: str) -> Tuple[Any, int]:
    """Leave out the input rows that could not be parsed, which would otherwise be copied out
    as they are: JSON lines Spark keeps raw in its ``_corrupt_record`` column, and CSV rows where
    a column other than the text holds a line break or a double quote (a stray quote takes the
    note, or the next rows, into that field), as ``clintiny deid`` refuses them.

    df (DataFrame): The table as read.
    fmt (str): Its format.
    text_col (str): The note column.
    RETURNS (Tuple[DataFrame, int]): The readable rows, and how many were left out.
    """
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType

    if fmt == "json" and CORRUPT in df.columns:
        df = df.cache()  # Spark refuses a query on the corrupt column alone of an uncached file
        bad = F.col(CORRUPT).isNotNull()
    elif fmt == "csv":
        others = [f.name for f in df.schema.fields if isinstance(f.dataType, StringType) and f.name != text_col]
        if not others:
            return df, 0
        bad = functools.reduce(
            lambda a, b: a | b,
            [F.coalesce(F.col(quoted(c)).rlike('[\\r\\n"]'), F.lit(False)) for c in others],
        )
    else:
        return df, 0
    df = df.withColumn("__clintiny_unreadable", bad).cache()
    unreadable = df.filter(F.col("__clintiny_unreadable")).count()
    keep = df.filter(~F.col("__clintiny_unreadable")).drop("__clintiny_unreadable")
    return (keep.drop(CORRUPT) if CORRUPT in keep.columns else keep), unreadable


def check_paths(input_path: str, output_path: str, *, overwrite: bool, fmt: str) -> None:
    """Refuse an output that is the input or inside it, a missing local input, and an existing
    local output without ``overwrite`` (remote paths: Spark itself refuses an existing output)."""
    src, dst = _local(input_path), _local(output_path)
    if src is not None and dst is not None:
        inside = dst == src or src in dst.parents
        holds_input = dst in src.parents  # --overwrite would delete the input first
    else:
        a, b = input_path.rstrip("/"), output_path.rstrip("/")
        inside = b == a or b.startswith(a + "/")
        holds_input = a.startswith(b + "/")
    if inside or holds_input:
        raise ValueError(Errors.E811.format(output=output_path, input=input_path))
    if src is not None and not src.exists():
        raise ValueError(Errors.E814.format(path=input_path, fmt=fmt if fmt != AUTO else "parquet, CSV or JSON-lines"))
    if dst is not None and dst.exists() and not overwrite:
        raise ValueError(Errors.E813.format(output=output_path))


def _data_files(path: Path) -> List[Path]:
    """The files Spark reads under a local ``path`` (it skips names starting with "_" or ".")."""
    if path.is_file():
        return [path]
    return sorted(
        p for p in path.rglob("*") if p.is_file() and not any(part[:1] in "_." for part in p.relative_to(path).parts)
    )


def _local_data_files(input_path: str) -> Optional[List[Path]]:
    """``_data_files`` of a local input, or None for a remote or missing one."""
    local = _local(input_path)
    return _data_files(local) if local is not None and local.exists() else None


def infer_format(input_path: str, files: Optional[List[Path]]) -> str:
    """The format of ``input_path`` from its suffix, or from its data files' (a local folder).

    files (Optional[List[Path]]): Its local data files (``_local_data_files``), None if remote.
    RAISES ValueError: E815 when the names do not tell one format.
    """
    suffix = Path(input_path.rstrip("/")).suffix.lower()
    if suffix in SUFFIX_FORMATS:
        return SUFFIX_FORMATS[suffix]
    suffixes = {p.suffix.lower() for p in files or ()}
    kinds = {SUFFIX_FORMATS.get(s) for s in suffixes} - {None}
    if len(kinds) == 1 and len(suffixes) == 1:
        return kinds.pop()
    found = ", ".join(sorted(s or "no suffix" for s in suffixes)) or "no local files"
    raise ValueError(Errors.E815.format(path=input_path, found=found))


def _looks_like(head: bytes) -> str:
    if head.startswith(b"PAR1"):
        return "parquet"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith((b"{", b"[")):
        return "json"
    return "text"


def check_format(fmt: str, files: Optional[List[Path]]) -> None:
    """Refuse a local input whose first data file is plainly not ``fmt`` (parquet without its
    magic bytes, JSON lines that do not start with an object, parquet read as text), before
    Spark runs and answers with a page of Java stack trace. Remote inputs are not looked at.

    files (Optional[List[Path]]): The input's local data files (``_local_data_files``), None if remote.
    RAISES ValueError: E816 naming the file and what it looks like.
    """
    files = [p for p in files or () if p.stat().st_size > 0]
    if not files:
        return
    with files[0].open("rb") as fileh:
        head = fileh.read(64)
    looks = _looks_like(head)
    if (
        (fmt == "parquet" and looks != "parquet")
        or (fmt == "json" and looks != "json")
        or (fmt == "csv" and looks == "parquet")
    ):
        raise ValueError(Errors.E816.format(path=files[0], fmt=fmt, looks=looks))


def _local(path: str) -> Optional[Path]:
    """The resolved local path, or None for a remote URI (hdfs://, s3a://...)."""
    if path.startswith("file:"):
        path = path[len("file:") :].lstrip("/")
        path = "/" + path
    elif "://" in path:
        return None
    return Path(path).expanduser().resolve()


def read_table(spark: Any, path: str, fmt: str) -> Any:
    """RETURNS (DataFrame): ``path`` read as ``fmt`` (CSV: header row, quoted multi-line fields)."""
    reader = spark.read.format(fmt)
    if fmt == "csv":
        reader = reader.options(**CSV_READ)
    return reader.load(path)


def write_table(df: Any, path: str, fmt: str, *, overwrite: bool) -> None:
    """Write ``df`` to the folder ``path`` as ``fmt`` (CSV: arrays and maps as JSON strings)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import ArrayType, MapType, StructType

    if fmt == "csv":
        nested = (ArrayType, MapType, StructType)
        df = df.select(
            [
                F.to_json(F.col(quoted(f.name))).alias(f.name)
                if isinstance(f.dataType, nested)
                else F.col(quoted(f.name))
                for f in df.schema.fields
            ]
        )
    writer = df.write.format(fmt).mode("overwrite" if overwrite else "errorifexists")
    if fmt == "csv":
        writer = writer.options(**CSV_WRITE)
    elif fmt == "json":
        writer = writer.option("ignoreNullFields", False)  # every line has every column, nulls included
    writer.save(path)


def count_output(spark: Any, path: str, fmt: str, *, phi_col: str, error_col: str) -> tuple:
    """RETURNS (tuple): (rows, rows with an error, PHI spans) of a written output."""
    from pyspark.sql import functions as F

    from .records import PHI_FIELDS
    from .schema import rows_type

    out = read_table(spark, path, fmt)
    # a column that is null on every row may be missing from what a reader infers (JSON written
    # by other tools): no failed note, no span
    phi = F.col(quoted(phi_col)) if phi_col in out.columns else F.lit(None).cast(rows_type(PHI_FIELDS))
    if fmt == "csv" and phi_col in out.columns:
        phi = F.from_json(phi, rows_type(PHI_FIELDS))
    error = F.col(quoted(error_col)) if error_col in out.columns else F.lit(None)
    row = out.agg(
        F.count(F.lit(1)).alias("n"),
        F.sum(F.when(error.isNotNull(), 1).otherwise(0)).alias("failed"),
        F.sum(F.when(phi.isNotNull(), F.size(phi)).otherwise(0)).alias("spans"),
    ).first()
    return int(row["n"]), int(row["failed"] or 0), int(row["spans"] or 0)
