"""``clintiny deid INPUT OUTPUT``: de-identify a text file, a folder, a JSONL or CSV file, or
stdin (see ``spacy_clintiny.deid.io`` for what is read and written, and docs/deid.md)."""

from pathlib import Path
from typing import Optional

import typer
from wasabi import Printer

from . import _options as opts
from ._app import app

_say = Printer(no_print=True)


def _echo(kind: str, text: str) -> None:
    """Messages go to stderr: stdout may be the de-identified note."""
    typer.echo(getattr(_say, kind)(text), err=True)


@app.command("deid")
def deid_cli(
    input_path: str = typer.Argument(..., metavar="INPUT", help="Text file, folder, .jsonl/.csv file, or - for stdin"),
    output_path: str = typer.Argument(
        ..., metavar="OUTPUT", help="Output file or folder (same kind as INPUT), or - for stdout"
    ),
    model: str = opts.MODEL,
    mode: str = opts.MODE,
    custom: Optional[str] = opts.CUSTOM,
    threshold: float = opts.THRESHOLD,
    outside_weight: Optional[float] = opts.OUTSIDE_WEIGHT,
    dictionary_gate: Optional[float] = opts.DICTIONARY_GATE,
    check_dates: Optional[bool] = opts.CHECK_DATES,
    rules: bool = opts.RULES,
    propagate: str = opts.PROPAGATE,
    profile: Optional[str] = opts.PROFILE,
    allow_list: Optional[Path] = opts.ALLOW_LIST,
    deny_list: Optional[Path] = opts.DENY_LIST,
    key_file: Optional[Path] = typer.Option(
        None,
        "--key-file",
        help="File with the secret for surrogates, hash codes and encryption (else $CLINTINY_DEID_KEY)",
    ),
    fmt: str = typer.Option("auto", "--format", help="auto (from INPUT), text, dir, jsonl or csv (e.g. for stdin)"),
    glob: str = typer.Option("*.txt", "--glob", help="Files of a folder INPUT, matched recursively"),
    text_col: str = typer.Option("text", "--text-col", help="JSONL/CSV field holding the note"),
    id_col: Optional[str] = typer.Option(
        None, "--id-col", help="JSONL/CSV field with the note id (default: file:line)"
    ),
    patient_col: Optional[str] = typer.Option(None, "--patient-col", help="JSONL/CSV field with the patient id"),
    patient_from: Optional[str] = typer.Option(
        None, "--patient-from", help="dir (first folder level), file (each note its own) or col"
    ),
    mapping: Optional[Path] = typer.Option(
        None, "--mapping", help="Write original->replacement per patient here (holds PHI)"
    ),
    audit: Optional[Path] = typer.Option(
        None, "--audit", help="Audit JSONL (default OUTPUT.audit.jsonl; none for stdout)"
    ),
    audit_text: bool = typer.Option(
        False, "--audit-text", help="Also put each span's original text in the audit (holds PHI)"
    ),
    review: Optional[Path] = typer.Option(
        None, "--review", help="Write a displaCy HTML page of sampled notes with PHI marked (holds PHI)"
    ),
    review_n: int = typer.Option(10, "--review-n", help="Notes on the review page"),
    batch_size: int = opts.BATCH_SIZE,
    n_process: Optional[int] = opts.N_PROCESS,
    threads: Optional[int] = opts.THREADS,
    int8: Optional[bool] = opts.INT8,
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar on stderr"),
    resume: bool = typer.Option(
        True, "--resume/--no-resume", help="Skip notes already done and continue partial outputs"
    ),
    force: bool = typer.Option(False, "--force", help="With --no-resume: overwrite existing outputs"),
) -> None:
    """De-identify clinical notes: PHI found by the pipeline's PHI head and rule patterns is
    redacted, masked, annotated or replaced by patient-consistent surrogates. Outputs are
    written atomically and a killed run resumes; notes that cannot be read are reported by
    file and line at the end, and the exit code is then 1."""
    from ..deid.engine import Deidentifier, load_deid_pipeline, resolve_int8
    from ..deid.io import plan_deid, run_deid
    from ..deid.lists import KEY_ENV, read_surrogate_key
    from ..deid.operators import mode_operator
    from ..deid.readers import Columns
    from ..deid.types import KEYED_MODES, MODES
    from ..errors import Errors

    try:
        if mode not in MODES:
            raise ValueError(Errors.E742.format(mode=mode, modes=", ".join(MODES)))
        detector = opts.detector_options(
            rules=rules,
            threshold=threshold,
            profile=profile,
            outside_weight=outside_weight,
            dictionary_gate=dictionary_gate,
            check_dates=check_dates,
            allow_list=allow_list,
            deny_list=deny_list,
        )
        key = read_surrogate_key(key_file) if mode in KEYED_MODES else None
        generator = mode_operator(mode, key, custom)
        plan = plan_deid(
            input_path,
            output_path,
            fmt=fmt,
            glob=glob,
            columns=Columns(text_col, id_col, patient_col),
            patient_from=patient_from,
            mode=mode,
            audit=audit,
            audit_text=audit_text,
            mapping=mapping,
            review=review,
            review_n=review_n,
            resume=resume,
            force=force,
        )
    except (ValueError, OSError) as err:
        _echo("fail", str(err))
        raise typer.Exit(1) from None
    if mode in KEYED_MODES and key is None:
        _echo(
            "warn",
            f"No key (--key-file or ${KEY_ENV}): {mode} output is consistent within this run only, "
            "and a resumed run will not match the part already written.",
        )
    for path, what in (
        (plan.mapping, "the mapping of originals to replacements"),
        (plan.review, "the review page"),
        (plan.audit if audit_text else None, "the audit (--audit-text)"),
    ):
        if path is not None:
            _echo("warn", f"{path} will hold PHI ({what}): protect it like the input notes.")
    try:
        nlp = load_deid_pipeline(model, detector, threads=threads, int8=int8)
        if int8 is None and resolve_int8(model, None):
            _echo("info", "Encoder in int8: the pipeline's runtime check found it within its bound on PHI (--no-int8)")
        engine = Deidentifier(
            nlp,
            mode=mode,
            generator=generator,
            batch_size=batch_size,
            n_process=opts.n_processes(n_process),
            propagate=propagate,
        )
        summary = run_deid(plan, engine, progress=not no_progress)
    except ValueError as err:
        _echo("fail", str(err))
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        _echo("warn", "Interrupted: finished notes are kept; run the same command again to resume.")
        raise typer.Exit(130) from None
    if summary.up_to_date:
        _echo(
            "info", f"{output_path} already exists from an earlier run: nothing to do (--no-resume --force redoes it)"
        )
        if summary.previous_failed:
            _echo(
                "fail",
                f"that run left {summary.previous_failed} note(s) not de-identified (listed in its audit's summary, "
                "by file and line): fix them, then rerun with --no-resume --force",
            )
            raise typer.Exit(1)
        return
    for problem in summary.problems:
        _echo("fail" if problem.failed else "warn", f"{problem.where}: {problem.message}")
    rate = summary.notes / max(summary.seconds, 1e-9)
    labels = ", ".join(f"{label} {n}" for label, n in sorted(summary.labels.items())) or "none"
    _echo(
        "info",
        f"{summary.deidentified} note(s) de-identified, {summary.failed} failed, {summary.skipped} already "
        f"done; {summary.spans} PHI span(s) ({labels}); {summary.seconds:.1f}s ({rate:.1f} notes/s)",
    )
    for path in summary.written:
        _echo("good", f"wrote {path}")
    if summary.failed:
        raise typer.Exit(1)


@app.command("deid-decrypt")
def deid_decrypt_cli(
    input_path: str = typer.Argument(
        ..., metavar="INPUT", help="Output of `clintiny deid --mode encrypt` (text, .jsonl, .csv), or - for stdin"
    ),
    output_path: str = typer.Argument(..., metavar="OUTPUT", help="Re-identified file, or - for stdout (holds PHI)"),
    key_file: Optional[Path] = typer.Option(
        None, "--key-file", help="File with the secret that encrypted INPUT (else $CLINTINY_DEID_KEY)"
    ),
    fmt: str = typer.Option("auto", "--format", help="auto (from INPUT's suffix), text, jsonl or csv"),
    text_col: str = typer.Option("text", "--text-col", help="JSONL/CSV field holding the note"),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing OUTPUT"),
) -> None:
    """Put the originals back in place of the tokens of `clintiny deid --mode encrypt`, for
    whoever holds its key (an honest broker). Everything else is copied unchanged. Tokens the key
    cannot open stay in place and are reported by line and offsets; the exit code is then 1."""
    import sys

    from ..deid.decrypt import FORMATS, decrypt_document
    from ..deid.lists import KEY_ENV, read_surrogate_key
    from ..deid.pseudonym import Pseudonymizer
    from ..errors import Errors
    from ..fileio import check_not_input, write_text_atomic

    try:
        kind = fmt if fmt != "auto" else {".jsonl": "jsonl", ".csv": "csv"}.get(Path(input_path).suffix.lower(), "text")
        if kind not in FORMATS:
            raise ValueError(Errors.E735.format(value=fmt, options=", ".join(("auto",) + FORMATS)))
        if input_path != "-" and not Path(input_path).is_file():
            raise ValueError(Errors.E748.format(path=input_path))
        if output_path != "-":
            if input_path != "-":
                check_not_input(Path(output_path), Path(input_path))
            if Path(output_path).exists() and not force:
                raise ValueError(Errors.E737.format(path=output_path))
        key = read_surrogate_key(key_file)
        if key is None:
            raise ValueError(Errors.E732.format(env=KEY_ENV))
        pseudonymizer = Pseudonymizer(key)
        pseudonymizer.check_encryption()
        if input_path == "-":
            data = sys.stdin.read()
        else:
            data = Path(input_path).read_text(encoding="utf8")
        text, report = decrypt_document(data, pseudonymizer, fmt=kind, text_col=text_col)
        if output_path == "-":
            sys.stdout.write(text)
        else:
            write_text_atomic(output_path, text)
    except (ValueError, OSError) as err:
        _echo("fail", str(err))
        raise typer.Exit(1) from None
    for line, start, end in report.failed:
        _echo("warn", f"line {line}, offsets {start}-{end}: a token this key cannot decrypt, left in place")
    for line in report.bad_lines:
        _echo("warn", f"line {line}: not a JSON object with a '{text_col}' text field, copied unchanged")
    _echo("info", f"{report.decrypted} span(s) decrypted, {len(report.failed)} left encrypted")
    if output_path != "-":
        _echo("warn", f"{output_path} holds PHI: protect it like the original notes.")
    if report.failed or report.bad_lines:
        raise typer.Exit(1)
