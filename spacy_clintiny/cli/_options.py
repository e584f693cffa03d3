"""Options that ``clintiny deid``, ``deid-eval`` and ``spark-deid`` share: defined once here so
that the three commands spell, default and explain them the same way, and turned into one
``DetectorOptions`` by :func:`detector_options`. typer copies an option's definition for each
command that uses it, so one definition can serve several commands."""

from pathlib import Path
from typing import Optional

import typer

from ..deid.types import DetectorOptions

MODEL = typer.Option(
    "en_clintiny_sm", "--model", help="Pipeline folder or package with a PHI head, or 'rules' for rules only"
)
MODE = typer.Option(
    "redact",
    "--mode",
    help="redact ([DATE]), mask (same length), annotate (spans only), surrogate (fake values), hash (keyed "
    "codes), encrypt (keyed, reversible with clintiny deid-decrypt), remove (deleted) or custom (--custom)",
)
CUSTOM = typer.Option(
    None,
    "--custom",
    help="With --mode custom: your replacement function, package.module:function or path/to/file.py:function, "
    "called as f(text, label=..., subtype=..., patient_id=...)",
)
RULES = typer.Option(True, "--rules/--no-rules", help="Run the rule patterns for structured identifiers")
THRESHOLD = typer.Option(0.0, "--threshold", help="Minimum confidence of a model PHI span (0 = recall first)")
OUTSIDE_WEIGHT = typer.Option(
    None, "--outside-weight", help="PHI head's factor on the O tag (lower = more recall); default: the model's"
)
DICTIONARY_GATE = typer.Option(
    None,
    "--dictionary-gate",
    help="PHI head's least token probability for a rule's cue-less dictionary name or town (0 keeps all); "
    "default: the model's",
)
PROFILE = typer.Option(
    None,
    "--profile",
    help="Rule profile: recall (dictionary names and places) or precision (cued rules only); default: the model's",
)
ALLOW_LIST = typer.Option(None, "--allow-list", help="File of terms never redacted, one a line")
DENY_LIST = typer.Option(None, "--deny-list", help="File of LABEL<TAB>term lines always redacted")
PROPAGATE = typer.Option(
    "run",
    "--propagate",
    help="Redact a name or place found once wherever it recurs: run (in the patient's consecutive notes; places "
    "and staff names also in every later note), patient (in the patient's consecutive notes), note or none",
)
BATCH_SIZE = typer.Option(32, "--batch-size", help="Docs per nlp.pipe batch")
N_PROCESS = typer.Option(
    None,
    "--n-process",
    help="Processes for nlp.pipe, one thread each (default: one per core, at most 4, each holding the pipeline)",
    show_default=False,
)
THREADS = typer.Option(None, "--threads", help="Torch threads per process")
CHECK_DATES = typer.Option(
    None,
    "--check-dates/--no-check-dates",
    help="Drop the PHI head's dates that are clinical numbers by the rules' test (PSV 12/10, pain 3/10): more "
    "precision, may cost recall (docs/deid.md); default: the model's (off)",
    show_default=False,
)
INT8 = typer.Option(
    None,
    "--int8/--no-int8",
    help="Run the encoder in int8 (quantized in memory at load) or not; default: int8 when the pipeline's "
    "own runtime check (the optimize step) found it within its bound on every PHI figure (docs/deid.md)",
    show_default=False,
)


def detector_options(
    *,
    rules: bool = True,
    threshold: float = 0.0,
    profile: Optional[str] = None,
    outside_weight: Optional[float] = None,
    dictionary_gate: Optional[float] = None,
    check_dates: Optional[bool] = None,
    allow_list: Optional[Path] = None,
    deny_list: Optional[Path] = None,
) -> DetectorOptions:
    """The detector settings of a command line, the list files read (ValueError or OSError
    naming the file and line on a bad one, or on a bad setting)."""
    from ..deid.lists import read_allow_list, read_deny_list

    return DetectorOptions.make(
        rules=rules,
        threshold=threshold,
        profile=profile,
        outside_weight=outside_weight,
        dictionary_gate=dictionary_gate,
        check_dates=check_dates,
        allow_list=read_allow_list(allow_list) if allow_list is not None else None,
        deny_list=read_deny_list(deny_list) if deny_list is not None else None,
    )


def n_processes(n_process: Optional[int]) -> int:
    """``--n-process`` resolved (``deid.engine.resolve_n_process``); with more than one, the
    workers die with this process (``multiprocess.watch_parent``)."""
    from ..deid.engine import resolve_n_process
    from ..multiprocess import watch_parent

    n = resolve_n_process(n_process)
    if n > 1:
        watch_parent()
    return n
