"""Writing ``clintiny deid`` outputs so that a killed run loses nothing and resumes.

* One file per note (folder input): each written atomically (``fileio.atomic_open``); a note
  whose output exists is done.
* One stream of records (JSONL, CSV, the audit, the mapping): a :class:`RecordFile`. Records
  are appended to a hidden partial file beside the output and flushed; after each one a
  progress file records its key and end offset. The partial file becomes the output (an
  atomic rename) only when the run ends. On resume the partial file is cut back to the last
  record its progress file confirms, so a record half-written at the kill is done again.
"""

import csv
import io
import json
import os
import sys
from pathlib import Path
from typing import IO, Callable, Dict, Iterable, List, Optional, Set, Tuple

from ..errors import Errors
from ..fileio import write_bytes_atomic, write_text_atomic
from .types import DeidResult

KeepFn = Callable[[str], bool]
AdoptFn = Callable[[str], Optional[str]]
HEADER_KEY = ""


def partial_paths(path: Path) -> Tuple[Path, Path]:
    """RETURNS (Tuple[Path, Path]): The hidden partial and progress files of an output."""
    return path.parent / f".{path.name}.partial", path.parent / f".{path.name}.progress"


class RecordFile:
    """An output written one record at a time (see the module docstring).

    path (Path): The final output.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.partial, self.progress = partial_paths(path)
        self._data: Optional[IO[bytes]] = None
        self._log: Optional[IO[str]] = None
        self._end = 0

    def exists(self) -> bool:
        """RETURNS (bool): Whether the output or an unfinished partial file exists."""
        return self.path.exists() or self.partial.exists()

    def start(
        self, *, resume: bool, header: str = "", keep: Optional[KeepFn] = None, adopt: Optional[AdoptFn] = None
    ) -> List[str]:
        """Open for writing.

        resume (bool): Continue an unfinished partial file (else start empty). With ``adopt``,
            a finished output is continued too (its lines become records again).
        header (str): Written first in a new file (e.g. a CSV header).
        keep (Optional[KeepFn]): On resume, the keys of the records to keep (None: all).
        adopt (Optional[AdoptFn]): The key of a line of a finished output, None to drop it.
        RETURNS (List[str]): The keys of the records kept, in order (the header excluded).
        """
        records: List[Tuple[str, bytes]] = []
        if resume and self.partial.exists() and self.progress.exists():
            records = self._read_partial()
        elif resume and adopt is not None and self.path.exists():
            for line in self.path.read_bytes().decode("utf8").splitlines(keepends=True):
                key = adopt(line)
                if key is not None:
                    records.append((key, line.encode("utf8")))
        if not records and header:
            records = [(HEADER_KEY, header.encode("utf8"))]
        if keep is not None:
            records = [(k, data) for k, data in records if k == HEADER_KEY or keep(k)]
        write_bytes_atomic(self.partial, b"".join(data for _, data in records))
        self._end = 0
        lines = []
        for key, data in records:
            self._end += len(data)
            lines.append(json.dumps([key, self._end]) + "\n")
        write_text_atomic(self.progress, "".join(lines))
        self._data = open(self.partial, "ab")
        self._log = open(self.progress, "a", encoding="utf8")
        return [key for key, _ in records if key != HEADER_KEY]

    def _read_partial(self) -> List[Tuple[str, bytes]]:
        data = self.partial.read_bytes()
        records, start = [], 0
        for i, line in enumerate(self.progress.read_text(encoding="utf8").splitlines(keepends=True), start=1):
            if not line.endswith("\n"):
                break  # killed while writing this progress line: its record is redone
            try:
                key, end = json.loads(line)
            except (ValueError, TypeError):
                key, end = None, None
            if not isinstance(end, int) or not start <= end <= len(data):
                problem = f"line {i} is not [key, offset] with an offset in {start}..{len(data)}"
                raise ValueError(Errors.E761.format(path=self.partial, progress=self.progress, problem=problem))
            records.append((str(key), data[start:end]))
            start = end
        return records

    def write(self, key: str, text: str) -> None:
        """Append one record (flushed), then confirm it in the progress file."""
        if self._data is None or self._log is None:
            raise RuntimeError("RecordFile.write before start")
        data = text.encode("utf8")
        self._data.write(data)
        self._data.flush()
        self._end += len(data)
        self._log.write(json.dumps([key, self._end]) + "\n")
        self._log.flush()

    def finish(self, trailer: str = "") -> None:
        """Append ``trailer`` (not a record), sync, rename the partial file onto the output
        and remove the progress file."""
        if self._data is None or self._log is None:
            raise RuntimeError("RecordFile.finish before start")
        self._data.write(trailer.encode("utf8"))
        self._data.flush()
        os.fsync(self._data.fileno())
        self._data.close()
        self._log.close()
        os.replace(self.partial, self.path)
        os.unlink(self.progress)
        self._data = self._log = None

    def close(self) -> None:
        """Close without finishing (the partial file stays for a resume)."""
        for handle in (self._data, self._log):
            if handle is not None:
                handle.close()
        self._data = self._log = None


class StdoutFile:
    """The :class:`RecordFile` interface over stdout (no resume: a pipe cannot be re-read)."""

    def __init__(self, stream: Optional[IO[str]] = None) -> None:
        self.stream = stream

    def start(self, *, resume: bool = False, header: str = "", **_: object) -> List[str]:
        self._out().write(header)
        return []

    def _out(self) -> IO[str]:
        return self.stream if self.stream is not None else sys.stdout

    def write(self, key: str, text: str) -> None:
        self._out().write(text)
        self._out().flush()

    def finish(self, trailer: str = "") -> None:
        self._out().write(trailer)
        self._out().flush()

    def close(self) -> None:
        """Nothing to keep."""


def csv_line(fields: Iterable[str]) -> str:
    """One CSV record (quoted where needed, CRLF-terminated as the csv module writes)."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow(list(fields))
    return buffer.getvalue()


def jsonl_record(result: DeidResult, text_col: str) -> str:
    """The input object with its text field replaced, as one JSON line."""
    row = dict(result.record.meta["row"])
    row[text_col] = result.text
    return json.dumps(row, ensure_ascii=False) + "\n"


def csv_record(result: DeidResult, header: List[str], text_col: str) -> str:
    """The input row with its text column replaced (other fields untouched)."""
    fields = list(result.record.meta["fields"])
    fields[header.index(text_col)] = result.text or ""
    return csv_line(fields)


def audit_record(result: DeidResult, *, with_text: bool = False) -> Dict[str, object]:
    """The audit entry of one note: offsets, categories, detectors, scores and operators.

    result (DeidResult): The note's outcome.
    with_text (bool): Add each span's original text (``--audit-text``): the audit then
        holds PHI.
    RETURNS (Dict[str, object]): JSON-ready; no note text unless ``with_text``.
    """
    record = result.record
    entry: Dict[str, object] = {"note_id": record.note_id}
    if "line" in record.meta:
        entry["line"] = record.meta["line"]
    entry["n_chars"] = len(record.text) if isinstance(record.text, str) else None
    if result.error is not None:
        entry["error"] = result.error
        return entry
    spans = []
    for r in result.replacements:
        span: Dict[str, object] = {
            "start": r.start,
            "end": r.end,
            "label": r.label,
            "subtype": r.subtype,
            "source": r.source,
            "score": round(r.score, 4),
            "operator": r.operator,
        }
        if with_text:
            span["text"] = record.text[r.start : r.end]
        spans.append(span)
    entry["spans"] = spans
    return entry


def mapping_records(result: DeidResult, seen: Set[Tuple[str, str, str]]) -> str:
    """The new (patient, original, surrogate) lines of one note, as JSON lines; pairs already
    in ``seen`` (same patient, category and original) are not repeated.

    RETURNS (str): The lines (PHI: written only to the ``--mapping`` file).
    """
    record = result.record
    patient = record.patient_id if record.patient_id is not None else f"note:{record.note_id}"
    lines = []
    for r in result.replacements:
        original = record.text[r.start : r.end]
        if (patient, r.label, original) in seen:
            continue
        seen.add((patient, r.label, original))
        entry = {
            "patient_id": patient,
            "note_id": record.note_id,
            "label": r.label,
            "subtype": r.subtype,
            "original": original,
            "replacement": r.new_text,
            "operator": r.operator,
        }
        if "line" in record.meta:
            entry["line"] = record.meta["line"]
        lines.append(json.dumps(entry, ensure_ascii=False) + "\n")
    return "".join(lines)


def key_of_entry(line: str) -> Optional[str]:
    """The resume key of an audit or mapping line (None for the audit's summary line)."""
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    if not isinstance(entry, dict) or "note_id" not in entry:
        return None
    return str(entry["line"]) if "line" in entry else str(entry["note_id"])
