"""``clintiny spark-deid INPUT OUTPUT``: de-identify a Parquet, CSV or JSON-lines table with Spark
(``spacy_clintiny.spark.run_spark_deid``). The same command runs under ``spark-submit``
through ``python -m spacy_clintiny.spark`` or ``spacy_clintiny/spark/submit.py`` (docs/spark.md)."""

import sys
from pathlib import Path
from typing import List, Optional

import typer
from wasabi import msg

from . import _options as opts
from ._app import app


@app.command("spark-deid")
def spark_deid_cli(
    input_path: str = typer.Argument(..., metavar="INPUT", help="File or folder of parquet/csv/json (any Spark path)"),
    output_path: str = typer.Argument(..., metavar="OUTPUT", help="Output folder (not the input nor inside it)"),
    text_col: str = typer.Option("text", "--text-col", help="Column holding the note"),
    patient_col: Optional[str] = typer.Option(None, "--patient-col", help="Patient column: consistent surrogates"),
    id_col: Optional[str] = typer.Option(None, "--id-col", help="Note id column (errors; patient when none given)"),
    fmt: str = typer.Option(
        "auto",
        "--format",
        help="Input format: parquet, csv (header row) or json (lines); auto: from the file names "
        "(.parquet, .csv, .json/.jsonl)",
    ),
    output_format: Optional[str] = typer.Option(None, "--output-format", help="Output format (default: --format)"),
    mode: str = opts.MODE,
    custom: Optional[str] = opts.CUSTOM,
    model: str = typer.Option(
        "en_clintiny_sm", "--model", help="Pipeline folder (shared storage) or installed package, or 'rules'"
    ),
    key_file: Optional[Path] = typer.Option(
        None, "--key-file", help="File with the secret (else $CLINTINY_DEID_KEY); surrogate, hash, encrypt modes"
    ),
    master: Optional[str] = typer.Option(
        None, "--master", help="Spark master, e.g. local[2] (default: spark-submit's)"
    ),
    conf: Optional[List[str]] = typer.Option(None, "--conf", help="Spark setting KEY=VALUE (repeatable)"),
    partitions: Optional[int] = typer.Option(None, "--partitions", help="Repartition the input first"),
    batch_size: int = opts.BATCH_SIZE,
    threads: Optional[int] = typer.Option(None, "--threads", help="Torch threads per Python worker (spark.task.cpus)"),
    int8: Optional[bool] = opts.INT8,
    rules: bool = opts.RULES,
    threshold: float = opts.THRESHOLD,
    outside_weight: Optional[float] = opts.OUTSIDE_WEIGHT,
    dictionary_gate: Optional[float] = opts.DICTIONARY_GATE,
    check_dates: Optional[bool] = opts.CHECK_DATES,
    profile: Optional[str] = opts.PROFILE,
    allow_list: Optional[Path] = opts.ALLOW_LIST,
    deny_list: Optional[Path] = opts.DENY_LIST,
    propagate: str = typer.Option(
        "patient",
        "--propagate",
        help="Names/places found once are PHI in all notes of the patient (rows grouped by --patient-col), "
        "of the note, or none",
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing OUTPUT"),
) -> None:
    """De-identify a table of clinical notes on Spark (local or a cluster): every row keeps its
    other columns; the text column is replaced by the de-identified text, and columns phi (spans,
    no text) and error (per note) are added. Exit code 1 if any note failed."""
    from ..deid.lists import read_allow_list, read_deny_list, read_surrogate_key
    from ..deid.types import KEYED_MODES
    from ..spark import get_session, run_spark_deid
    from ..spark.checks import require_pyspark

    try:
        require_pyspark()
        settings = dict(_setting(item) for item in conf or [])
        key = read_surrogate_key(key_file) if mode in KEYED_MODES else None
        allowed = read_allow_list(allow_list) if allow_list is not None else None
        denied = read_deny_list(deny_list) if deny_list is not None else None
    except (ValueError, OSError, ImportError) as err:
        msg.fail(str(err), exits=1)
    from pyspark.sql import SparkSession

    own_session = SparkSession.getActiveSession() is None
    spark = get_session(master, app_name="clintiny spark-deid", conf=settings)
    try:
        summary = run_spark_deid(
            spark,
            input_path,
            output_path,
            text_col=text_col,
            fmt=fmt,
            output_format=output_format,
            overwrite=overwrite,
            partitions=partitions,
            model=model,
            mode=mode,
            key=key,
            custom=custom,
            patient_col=patient_col,
            id_col=id_col,
            rules=rules,
            threshold=threshold,
            profile=profile,
            outside_weight=outside_weight,
            dictionary_gate=dictionary_gate,
            check_dates=check_dates,
            allow_list=allowed,
            deny_list=denied,
            batch_size=batch_size,
            threads=threads,
            propagate=propagate,
            int8=int8,
        )
    except (ValueError, ImportError) as err:
        msg.fail(str(err), exits=1)
    finally:
        if own_session:
            spark.stop()
    rate = summary.notes / max(summary.seconds, 1e-9)
    msg.info(
        f"{summary.notes} note(s), {summary.failed} failed, {summary.spans} PHI span(s); "
        f"{summary.seconds:.1f}s ({rate:.1f} notes/s)"
    )
    msg.good(f"wrote {summary.output}")
    if summary.unreadable:
        msg.fail(
            f"{summary.unreadable} input row(s) could not be parsed (invalid JSON, or a CSV field running over "
            "several lines: a stray quote?) and were left out of the output: fix them and run again"
        )
        raise typer.Exit(1)
    if summary.failed:
        msg.warn(f"{summary.failed} note(s) failed: see the 'error' column of {summary.output}")
        raise typer.Exit(1)


def _setting(item: str) -> tuple:
    """``KEY=VALUE`` -> (KEY, VALUE)."""
    name, sep, value = item.partition("=")
    if not sep or not name.strip():
        from ..errors import Errors

        raise ValueError(Errors.E807.format(name="--conf", value=item, expected="KEY=VALUE"))
    return name.strip(), value


def main(argv: Optional[List[str]] = None) -> None:
    """Run ``clintiny spark-deid`` with ``argv`` (default ``sys.argv[1:]``): the entry point of
    ``python -m spacy_clintiny.spark`` and of ``spark-submit .../spacy_clintiny/spark/submit.py``."""
    args = sys.argv[1:] if argv is None else list(argv)
    app(["spark-deid", *args], prog_name="clintiny")
