"""Planning a ``clintiny deid`` run: what is read and written, checked before any model loads.

``plan_deid`` checks that the input exists, that no output (nor its audit, mapping, review or
partial files) is the input or inside an input folder, that no input is inside the output
folder, and that existing outputs are resumed or, with ``--no-resume``, refused unless
``--force`` is given.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Union

from ..errors import Errors
from ..fileio import check_not_input, check_outputs, is_inside
from .readers import Columns
from .writers import partial_paths

STDIO = "-"
KINDS = ("text", "dir", "jsonl", "csv")
SUFFIX_KINDS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}
PATIENT_FROM = {"dir": ("dir", "file"), "text": ("file",), "jsonl": ("col", "file"), "csv": ("col", "file")}


@dataclass
class DeidPlan:
    """What ``run_deid`` reads and writes (see ``plan_deid``)."""

    kind: str
    input: Optional[Path]
    output: Optional[Path]
    audit: Optional[Path] = None
    mapping: Optional[Path] = None
    review: Optional[Path] = None
    review_n: int = 10
    columns: Columns = field(default_factory=Columns)
    glob: str = "*.txt"
    patient_from: str = "file"
    resume: bool = True
    audit_text: bool = False


def plan_deid(
    input_path: Union[str, Path],
    output_path: Union[str, Path],
    *,
    fmt: str = "auto",
    glob: str = "*.txt",
    columns: Optional[Columns] = None,
    patient_from: Optional[str] = None,
    mode: str = "redact",
    audit: Optional[Union[str, Path]] = None,
    audit_text: bool = False,
    mapping: Optional[Union[str, Path]] = None,
    review: Optional[Union[str, Path]] = None,
    review_n: int = 10,
    resume: bool = True,
    force: bool = False,
) -> DeidPlan:
    """Check the paths and options of a run before any model is loaded.

    input_path (Union[str, Path]): A text file, a folder, a .jsonl/.ndjson or .csv file, or "-".
    output_path (Union[str, Path]): Where the output goes ("-" = stdout; a folder for a folder).
    fmt (str): "auto" (from the input), "text", "dir", "jsonl" or "csv" (e.g. for stdin).
    glob (str): Files of a folder input, matched recursively.
    columns (Optional[Columns]): Text, id and patient fields of JSONL/CSV input.
    patient_from (Optional[str]): "dir", "file" or "col" (default: "col" with a patient
        column, else "file": each note its own patient).
    mode (str): The operator mode (``--mapping`` needs "surrogate").
    audit (Optional[Union[str, Path]]): The audit file (default OUTPUT.audit.jsonl beside the
        output; none when writing to stdout).
    audit_text (bool): Put the original span text in the audit.
    mapping (Optional[Union[str, Path]]): Where to write the mapping of originals to replacements (None: nowhere).
    review (Optional[Union[str, Path]]): Where to write the displaCy review page.
    review_n (int): Notes sampled for the review page.
    resume (bool): Skip what is done and continue partial outputs.
    force (bool): With ``resume=False``, overwrite existing outputs.
    RETURNS (DeidPlan): The checked plan.
    """
    columns = columns if columns is not None else Columns()
    source = None if str(input_path) == STDIO else Path(input_path)
    target = None if str(output_path) == STDIO else Path(output_path)
    if fmt != "auto" and fmt not in KINDS:
        raise ValueError(Errors.E759.format(fmt=fmt))
    if source is not None and not source.exists():
        raise ValueError(Errors.E748.format(path=source))
    kind = _kind(source, fmt)
    if kind == "dir" and source is None:
        expected = "read as text, jsonl or csv"
        raise ValueError(Errors.E757.format(path="stdin", kind="stream", expected=expected, output=fmt))
    if kind == "dir" and Path(glob).is_absolute():
        raise ValueError(Errors.E917.format(glob=glob))
    if kind == "dir" and target is None:
        raise ValueError(Errors.E757.format(path=source, kind="folder", expected="a folder", output=output_path))
    if kind == "dir" and target is not None and target.is_file():
        raise ValueError(Errors.E757.format(path=source, kind="folder", expected="a folder", output=output_path))
    if kind == "text" and target is not None and target.is_dir():
        target = target / (source.name if source is not None else "stdin.txt")
    if kind != "dir" and target is not None and target.is_dir():
        raise ValueError(Errors.E757.format(path=source, kind=f"{kind} file", expected="a file", output=output_path))
    if patient_from is None:
        patient_from = "col" if columns.patient else "file"
    if patient_from not in PATIENT_FROM[kind] or (patient_from == "col") != bool(columns.patient):
        allowed = " or ".join(PATIENT_FROM[kind]) + (
            " (col needs --patient-col, and --patient-col needs col)" if kind in ("jsonl", "csv") else ""
        )
        raise ValueError(Errors.E756.format(value=patient_from, kind=kind, allowed=allowed))
    if mapping is not None and mode != "surrogate":
        raise ValueError(Errors.E755.format(mode=mode))
    if review_n < 1:
        raise ValueError(Errors.E743.format(name="--review-n", value=review_n, limit=""))
    audit_path = Path(audit) if audit is not None else None
    if audit_path is None and target is not None:
        audit_path = target.parent / f"{target.name}.audit.jsonl"
    plan = DeidPlan(
        kind,
        source,
        target,
        audit_path,
        Path(mapping) if mapping else None,
        Path(review) if review else None,
        review_n,
        columns,
        glob,
        patient_from,
        resume,
        audit_text,
    )
    written = _written_paths(plan)
    if source is not None:
        for path in written:
            check_not_input(path, source)
        if target is not None and kind == "dir" and is_inside(source, target):
            raise ValueError(Errors.E747.format(output=target, relation="a folder containing", input=source))
    _check_side_files(plan, force=force)
    if source is None and target is not None and resume and target.exists() and not partial_exists(target, kind):
        raise ValueError(Errors.E916.format(path=target))
    if not resume:
        existing = [p for p in written if p.exists() and not (p.is_dir() and not any(p.iterdir()))]
        if existing and not force:
            raise ValueError(Errors.E749.format(path=existing[0]))
    return plan


def _check_side_files(plan: DeidPlan, *, force: bool) -> None:
    """The output, audit, mapping and review files must be different files, and not folders; an
    existing side file of a run that has not started is refused unless ``force`` (resume would
    otherwise overwrite a file that is not this run's)."""
    files = (("OUTPUT", plan.output), ("--audit", plan.audit), ("--mapping", plan.mapping), ("--review", plan.review))
    named = [(name, path) for name, path in files if path is not None]
    check_outputs(dict(named), {})
    for name, path in named[1:] if plan.output is not None else named:
        if path.is_dir():
            raise ValueError(Errors.E915.format(path=path, option=name))
    output = plan.output
    started = output is None or output.exists() or any(p.exists() for p in partial_paths(output))
    if not started and not force:
        for _name, path in named[1:]:
            if path.exists():
                raise ValueError(Errors.E749.format(path=path))


def _kind(source: Optional[Path], fmt: str) -> str:
    if source is None:
        return "text" if fmt == "auto" else fmt
    if source.is_dir():
        if fmt not in ("auto", "dir"):
            raise ValueError(Errors.E757.format(path=source, kind="folder", expected="read as a folder", output=fmt))
        return "dir"
    if fmt == "dir":
        raise ValueError(Errors.E757.format(path=source, kind="file", expected="read as a file", output=fmt))
    return fmt if fmt != "auto" else SUFFIX_KINDS.get(source.suffix.lower(), "text")


def _written_paths(plan: DeidPlan) -> List[Path]:
    paths: List[Path] = []
    for path in (plan.output, plan.audit, plan.mapping, plan.review):
        if path is None:
            continue
        paths.append(path)
        if path != plan.output or plan.kind in ("jsonl", "csv"):
            paths.extend(partial_paths(path))
    return paths


def partial_exists(output: Path, kind: str) -> bool:
    """Whether a JSONL or CSV output has the partial files of a run that was stopped."""
    return kind in ("jsonl", "csv") and any(p.exists() for p in partial_paths(output))
