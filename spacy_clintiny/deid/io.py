"""``clintiny deid`` from inputs to outputs.

``plan_deid`` (``plan.py``) checks the paths before a model is loaded; ``run_deid`` streams
the notes through a :class:`Deidentifier` and writes:

* the output in the input's kind (folder -> folder with relative paths kept, text -> text,
  JSONL -> JSONL and CSV -> CSV with only the text field replaced), see ``writers.py`` for
  how each is written atomically and resumed;
* the audit (JSONL: one line per note, then a summary line; no note text unless asked);
* the mapping (``--mapping``: original -> replacement per patient; PHI) and the review page
  (``--review``: displaCy spans over a sample of notes; PHI), only when asked for.

Notes are skipped on resume when done: a folder note whose output file exists, a JSONL/CSV
record confirmed in the partial output's progress file, a text file whose output exists.
"""

import json
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Dict, Iterator, List, Optional, Set, Tuple, Union

from ..errors import Errors
from ..fileio import TMP_SUFFIX, is_inside, temporary_target, write_text_atomic
from .engine import Deidentifier
from .plan import DeidPlan, plan_deid
from .readers import CsvSource, Problem, iter_directory, iter_jsonl, iter_text_file, list_directory, read_note_bytes
from .types import DeidResult, NoteRecord
from .writers import (
    RecordFile,
    StdoutFile,
    audit_record,
    csv_line,
    csv_record,
    jsonl_record,
    key_of_entry,
    mapping_records,
)

__all__ = ["DeidPlan", "DeidSummary", "plan_deid", "run_deid"]


@dataclass
class DeidSummary:
    """The outcome of a run (no note text)."""

    notes: int = 0
    deidentified: int = 0
    skipped: int = 0
    up_to_date: bool = False
    spans: int = 0
    labels: Counter = field(default_factory=Counter)
    operators: Counter = field(default_factory=Counter)
    problems: List[Problem] = field(default_factory=list)
    written: List[Path] = field(default_factory=list)
    seconds: float = 0.0
    # With up_to_date: the notes the earlier run could not de-identify (from its audit summary).
    previous_failed: int = 0

    @property
    def failed(self) -> int:
        """RETURNS (int): Notes or files not de-identified (engine failures and unreadable input)."""
        return sum(1 for p in self.problems if p.failed)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "notes": self.notes,
            "deidentified": self.deidentified,
            "failed": self.failed,
            "skipped_done": self.skipped,
            "spans": self.spans,
            "labels": dict(sorted(self.labels.items())),
            "operators": dict(sorted(self.operators.items())),
            "seconds": round(self.seconds, 3),
            "problems": [f"{p.where}: {p.message}" for p in self.problems],
        }


def run_deid(
    plan: DeidPlan,
    deidentifier: Deidentifier,
    *,
    progress: bool = True,
    stdin: Optional[IO[bytes]] = None,
    stdout: Optional[IO[str]] = None,
) -> DeidSummary:
    """De-identify what ``plan`` names.

    plan (DeidPlan): From ``plan_deid``.
    deidentifier (Deidentifier): The engine (pipeline, mode, surrogate generator).
    progress (bool): Show a tqdm progress bar on stderr.
    stdin (Optional[IO[bytes]]): Binary stdin (default ``sys.stdin.buffer``).
    stdout (Optional[IO[str]]): Text stdout (default ``sys.stdout``).
    RETURNS (DeidSummary): Counts, problems (by file and line) and the files written.
    """
    return _Run(plan, deidentifier, progress=progress, stdin=stdin, stdout=stdout).run()


class _Run:
    def __init__(
        self,
        plan: DeidPlan,
        deidentifier: Deidentifier,
        *,
        progress: bool,
        stdin: Optional[IO[bytes]],
        stdout: Optional[IO[str]],
    ) -> None:
        self.plan = plan
        self.engine = deidentifier
        self.progress = progress
        self.stdin = stdin
        self.stdout = stdout
        self.summary = DeidSummary()
        self.files: List[Any] = []
        self.review: List[Tuple[int, DeidResult]] = []
        self.rng = random.Random(0)
        self.seen_pairs: Set[Tuple[str, str, str]] = set()
        self.start = time.perf_counter()

    def run(self) -> DeidSummary:
        plan = self.plan
        try:
            if plan.kind == "dir":
                self._run_dir()
            elif plan.kind == "text":
                self._run_text()
            else:
                self._run_records()
        finally:
            for handle in self.files:
                handle.close()
        if not self.summary.seconds:  # _finish sets it for the audit file
            self.summary.seconds = time.perf_counter() - self.start
        return self.summary

    def _up_to_date(self) -> None:
        """The output is finished: nothing to do, but failures of the run that wrote it still count."""
        self.summary.up_to_date = True
        self.summary.previous_failed = previous_failures(self.plan.audit)

    # ------------------------------------------------------------------ per input kind

    def _run_dir(self) -> None:
        plan = self.plan
        assert plan.input is not None and plan.output is not None
        relpaths = list_directory(plan.input, plan.glob, self.summary.problems)
        output = plan.output
        output.mkdir(parents=True, exist_ok=True)
        # An output path that resolves into the input (a link inside the output folder pointing
        # into it) would overwrite a note, or pass the raw note off as done: refused file by file.
        escaping = {rel for rel in relpaths if is_inside(output / rel, plan.input)}
        for rel in sorted(escaping):
            message = Errors.E747.format(output=output / rel, relation="(through a link) inside", input=plan.input)
            self.summary.problems.append(Problem(rel, message))
        relpaths = [rel for rel in relpaths if rel not in escaping]
        remove_stale_temporaries(output, relpaths)
        done = {rel for rel in relpaths if plan.resume and (output / rel).exists()}
        self.summary.skipped = len(done)
        audit, mapping = self._side_files(lambda key: (output / key).exists())
        records = iter_directory(
            plan.input, relpaths, self.summary.problems, patient_from=plan.patient_from, skip=done.__contains__
        )
        for result in self._results(records, total=len(relpaths), initial=len(done)):
            if self._record(result, audit, mapping):
                path = output / result.record.note_id
                write_text_atomic(path, result.text or "")
        self._finish(audit, mapping)
        self.summary.written.insert(0, output)

    def _run_text(self) -> None:
        plan = self.plan
        if plan.output is not None and plan.resume and plan.output.exists():
            self._up_to_date()
            return
        audit, mapping = self._side_files(lambda key: False)
        if plan.input is None:
            stdin = self.stdin if self.stdin is not None else sys.stdin.buffer
            records = iter_text_file(Path("<stdin>"), self.summary.problems, note_id="stdin", data=stdin.read())
        else:
            records = iter_text_file(plan.input, self.summary.problems)
        text: Optional[str] = None
        for result in self._results(records, total=1):
            if self._record(result, audit, mapping):
                text = result.text
        self._finish(audit, mapping)
        if text is None:
            return
        if plan.output is None:
            out = self.stdout if self.stdout is not None else sys.stdout
            out.write(text)
            out.flush()
        else:
            write_text_atomic(plan.output, text)
            self.summary.written.insert(0, plan.output)

    def _run_records(self) -> None:
        plan = self.plan
        finished = plan.output is not None and plan.output.exists() and not RecordFile(plan.output).partial.exists()
        if plan.resume and finished:
            self._up_to_date()
            return
        name = plan.input.name if plan.input is not None else "<stdin>"
        out: Union[RecordFile, StdoutFile] = StdoutFile(self.stdout) if plan.output is None else RecordFile(plan.output)
        if plan.kind == "csv":
            text = read_note_bytes(self._read_all(), name, self.summary.problems)
            done: Set[str] = set()
            source = CsvSource(
                text or "", name, self.summary.problems, columns=plan.columns, skip=lambda key: key in done
            )
            if text is None or source.failed:
                return  # nothing is written: without a header row, the first row is a note
            header = csv_line(source.header) if source.header is not None else ""
            done.update(out.start(resume=plan.resume, header=header))
            records: Iterator[NoteRecord] = iter(source)
        else:
            done = set(out.start(resume=plan.resume))
            lines = self._lines()
            records = iter_jsonl(lines, name, self.summary.problems, columns=plan.columns, skip=done.__contains__)
        self.files.append(out)
        self.summary.skipped = len(done)
        audit, mapping = self._side_files(done.__contains__)
        for result in self._results(records, total=None, initial=len(done)):
            if self._record(result, audit, mapping):
                if plan.kind == "csv":
                    out.write(result.record.meta["key"], csv_record(result, source.header or [], plan.columns.text))
                else:
                    out.write(result.record.meta["key"], jsonl_record(result, plan.columns.text))
        self._finish(audit, mapping)
        out.finish()
        if plan.output is not None:
            self.summary.written.insert(0, plan.output)

    def _read_all(self) -> bytes:
        if self.plan.input is not None:
            return self.plan.input.read_bytes()
        return (self.stdin if self.stdin is not None else sys.stdin.buffer).read()

    def _lines(self) -> Iterator[bytes]:
        if self.plan.input is None:
            yield from (self.stdin if self.stdin is not None else sys.stdin.buffer)
            return
        with self.plan.input.open("rb") as handle:
            yield from handle

    # ------------------------------------------------------------------ shared

    def _side_files(self, keep: Any) -> Tuple[Optional[RecordFile], Optional[RecordFile]]:
        opened = []
        for path in (self.plan.audit, self.plan.mapping):
            if path is None:
                opened.append(None)
                continue
            handle = RecordFile(path)
            handle.start(resume=self.plan.resume, keep=keep, adopt=key_of_entry)
            self.files.append(handle)
            opened.append(handle)
        if opened[1] is not None:
            for line in opened[1].partial.read_text(encoding="utf8").splitlines():
                entry = json.loads(line)
                self.seen_pairs.add((entry["patient_id"], entry["label"], entry["original"]))
        return opened[0], opened[1]

    def _results(
        self, records: Iterator[NoteRecord], *, total: Optional[int], initial: int = 0
    ) -> Iterator[DeidResult]:
        from tqdm import tqdm

        bar = tqdm(
            total=total,
            initial=initial,
            unit="note",
            file=sys.stderr,
            disable=not self.progress,
            dynamic_ncols=True,
            leave=False,
        )
        try:
            for result in self.engine.run(records):
                bar.update(1)
                yield result
        finally:
            bar.close()

    def _record(self, result: DeidResult, audit: Optional[RecordFile], mapping: Optional[RecordFile]) -> bool:
        """Audit and map one result (before its output is written). RETURNS (bool): whether
        it succeeded, i.e. its output should be written."""
        summary = self.summary
        summary.notes += 1
        key = result.record.meta.get("key", result.record.note_id)
        if audit is not None:
            entry = audit_record(result, with_text=self.plan.audit_text)
            audit.write(key, json.dumps(entry, ensure_ascii=False) + "\n")
        if result.error is not None or result.text is None:
            summary.problems.append(Problem(self._where(result.record), result.error or "no output"))
            return False
        if mapping is not None:
            mapping.write(key, mapping_records(result, self.seen_pairs))
        summary.deidentified += 1
        summary.spans += len(result.replacements)
        summary.labels.update(r.label for r in result.replacements)
        summary.operators.update(r.operator for r in result.replacements)
        self._sample(result)
        return True

    def _where(self, record: NoteRecord) -> str:
        """The file (and line) of a note, for the summary."""
        if self.plan.kind == "dir":
            return record.note_id
        name = self.plan.input.name if self.plan.input is not None else "<stdin>"
        return f"{name}:{record.meta['line']}" if "line" in record.meta else name

    def _sample(self, result: DeidResult) -> None:
        if self.plan.review is None:
            return
        n = self.summary.deidentified
        if len(self.review) < self.plan.review_n:
            self.review.append((n, result))
        else:
            slot = self.rng.randrange(n)
            if slot < self.plan.review_n:
                self.review[slot] = (n, result)

    def _finish(self, audit: Optional[RecordFile], mapping: Optional[RecordFile]) -> None:
        plan = self.plan
        if mapping is not None and plan.mapping is not None:
            mapping.finish()
            self.summary.written.append(plan.mapping)
        if plan.review is not None:
            from .review import render_review

            notes = [result for _, result in sorted(self.review, key=lambda item: item[0])]
            write_text_atomic(plan.review, render_review(notes))
            self.summary.written.append(plan.review)
        self.summary.seconds = time.perf_counter() - self.start
        if audit is not None and plan.audit is not None:
            audit.finish(json.dumps({"summary": {"mode": self.engine.mode, **self.summary.to_dict()}}) + "\n")
            self.summary.written.append(plan.audit)


def previous_failures(audit: Optional[Path]) -> int:
    """Notes the run that wrote ``audit`` did not de-identify, from its last line (the summary).

    audit (Optional[Path]): The audit file of a finished run.
    RETURNS (int): The count (0 without a readable summary).
    """
    if audit is None or not audit.is_file():
        return 0
    with audit.open("rb") as handle:
        handle.seek(max(0, audit.stat().st_size - 65536))
        tail = handle.read().splitlines()
    try:
        return int(json.loads(tail[-1])["summary"]["failed"]) if tail else 0
    except (ValueError, KeyError, TypeError):
        return 0


def remove_stale_temporaries(output: Path, relpaths: List[str]) -> int:
    """Remove the temporary siblings (``.<name>.<random>.tmp``, see ``fileio``) that a run killed
    while writing an output file left in the output folder; they hold de-identified text only.

    output (Path): The output folder.
    relpaths (List[str]): The outputs this run writes (relative paths).
    RETURNS (int): Files removed.
    """
    expected = set(relpaths)
    removed = 0
    for tmp in output.rglob(f".*{TMP_SUFFIX}"):
        target = temporary_target(tmp)
        if target is None or not tmp.is_file() or tmp.is_symlink():
            continue
        if target.relative_to(output).as_posix() in expected:
            tmp.unlink()
            removed += 1
    return removed
