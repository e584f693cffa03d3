"""Reading notes for ``clintiny deid``: text files, folders, JSONL, CSV and stdin.

Decoding policy (one for every input kind): bytes are decoded as UTF-8 (a UTF-8 BOM is
dropped; a UTF-16 BOM selects UTF-16). A line that is not valid UTF-8 is decoded as cp1252
(latin-1 for the five bytes cp1252 leaves undefined) and reported as an adjustment by file
and line: the note is still de-identified, because a clinical export with one pasted
Windows-1252 line is common and skipping it would leave its PHI to a manual process. A file
holding NUL bytes is not text: it is reported and skipped (the run's exit code is 1).

Problems are :class:`Problem` records naming the file and line, never the content. Every
reader takes ``skip(key)``: notes already done (resume) are not even decoded.
"""

import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple

from ..errors import Errors
from .types import NoteRecord

UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
UTF8_BOM = b"\xef\xbb\xbf"
CSV_FIELD_LIMIT = 2**31 - 1

SkipFn = Callable[[str], bool]


@dataclass(frozen=True)
class Problem:
    """Something wrong with the input, for the end-of-run summary.

    where (str): File, and line where it applies ("notes.jsonl:12").
    message (str): The coded error or note (never note text).
    failed (bool): True when a note (or a whole file) was not de-identified; False for an
        adjustment such as an encoding fallback.
    """

    where: str
    message: str
    failed: bool = True


def _never(key: str) -> bool:
    return False


def decode_text(data: bytes) -> Tuple[str, List[int]]:
    """Decode bytes with the module's policy (NUL bytes are the caller's check).

    data (bytes): The raw file.
    RETURNS (Tuple[str, List[int]]): The text (line endings as they were) and the 1-based
        numbers of the lines decoded as cp1252/latin-1.
    """
    if data.startswith(UTF16_BOMS):
        return data.decode("utf-16"), []  # UnicodeDecodeError (odd length, lone surrogate): the caller reports it
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :]
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError:
        pass
    parts: List[str] = []
    fallback: List[int] = []
    for i, line in enumerate(re.split(b"(?<=\n)", data), start=1):
        try:
            parts.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            parts.append(_decode_legacy(line))
            fallback.append(i)
    return "".join(parts), fallback


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_surrogates(text: str, where: str, problems: List[Problem]) -> str:
    """Replace lone UTF-16 surrogates (a JSON escape such as "\\ud83d" of a cut-off emoji, or a
    UTF-16 file's broken pair) by U+FFFD, which keeps every offset, and report the adjustment:
    such text cannot be written as UTF-8.

    text (str): Decoded text.
    where (str): File (and line) for the problem.
    problems (List[Problem]): Receives the adjustment.
    RETURNS (str): The text, cleaned.
    """
    cleaned, n = _LONE_SURROGATE.subn("\ufffd", text)
    if n:
        problems.append(Problem(where, f"{n} lone surrogate(s) replaced by U+FFFD and de-identified", failed=False))
    return cleaned


def _decode_legacy(line: bytes) -> str:
    try:
        return line.decode("cp1252")
    except UnicodeDecodeError:
        return line.decode("latin-1")


def _fallback_problems(where: str, lines: List[int]) -> List[Problem]:
    if not lines:
        return []
    shown = ", ".join(map(str, lines[:10])) + (f" (+{len(lines) - 10} more)" if len(lines) > 10 else "")
    return [Problem(where, f"not UTF-8 on line(s) {shown}: decoded as cp1252 and de-identified", failed=False)]


def read_note_bytes(data: bytes, where: str, problems: List[Problem]) -> Optional[str]:
    """Decode one note's bytes; None (and a problem) when it is not text."""
    nul = data.find(b"\x00") if not data.startswith(UTF16_BOMS) else -1
    if nul >= 0:
        problems.append(Problem(where, Errors.E750.format(path=where, offset=nul)))
        return None
    try:
        text, fallback = decode_text(data)
    except UnicodeDecodeError as err:  # only UTF-16 (with its BOM) can fail: UTF-8 falls back to cp1252
        problems.append(Problem(where, Errors.E910.format(path=where, offset=err.start)))
        return None
    problems.extend(_fallback_problems(where, fallback))
    return clean_surrogates(text, where, problems)


def iter_text_file(
    path: Path,
    problems: List[Problem],
    *,
    note_id: Optional[str] = None,
    data: Optional[bytes] = None,
    patient_id: Optional[str] = None,
) -> Iterator[NoteRecord]:
    """One note from a text file (or from ``data``, e.g. stdin).

    path (Path): The file (named in problems; read unless ``data`` is given).
    problems (List[Problem]): Receives decoding problems.
    note_id (Optional[str]): Id of the note (default: the file name).
    data (Optional[bytes]): The bytes, when already read.
    patient_id (Optional[str]): The note's patient (None: its own).
    YIELDS (NoteRecord): The note, unless it is not text.
    """
    raw = path.read_bytes() if data is None else data
    text = read_note_bytes(raw, str(path), problems)
    if text is not None:
        yield NoteRecord(note_id or path.name, text, patient_id, {"key": note_id or path.name})


def list_directory(root: Path, glob: str, problems: Optional[List[Problem]] = None) -> List[str]:
    """Relative paths (POSIX style, sorted) of the files under ``root`` matching ``glob``
    recursively; hidden files and folders (a part starting with ".") are left out.

    root (Path): The input folder.
    glob (str): The pattern, relative (``Path.rglob``).
    problems (Optional[List[Problem]]): Receives the files whose name is not valid UTF-8 (named
        with escapes; they are skipped: their output name could not be written), the linked
        folders that are not followed, and a pattern that matches nothing.
    RETURNS (List[str]): The relative paths.
    """
    problems = problems if problems is not None else []
    found = []
    for path in root.rglob(glob):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        name = rel.as_posix()
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            shown = name.encode("utf-8", "surrogateescape").decode("ascii", "backslashreplace")
            problems.append(Problem(shown, Errors.E911.format(path=shown)))
            continue
        found.append(name)
    for path in root.rglob("*"):
        if path.is_symlink() and path.is_dir() and not any(p.startswith(".") for p in path.relative_to(root).parts):
            where = path.relative_to(root).as_posix()
            problems.append(Problem(where, "a link to a folder, not followed: its files are not read", failed=False))
    if not found:
        problems.append(Problem(str(root), f"no file matches --glob '{glob}'", failed=False))
    return sorted(found)


def iter_directory(
    root: Path, relpaths: List[str], problems: List[Problem], *, patient_from: str = "file", skip: SkipFn = _never
) -> Iterator[NoteRecord]:
    """One note per file.

    root (Path): The input folder.
    relpaths (List[str]): Files to read (see ``list_directory``); the note id and resume key.
    problems (List[Problem]): Receives decoding and read problems.
    patient_from (str): "dir" (the first folder level names the patient; files directly in
        ``root`` are their own patient) or "file" (each file its own patient).
    skip (SkipFn): Relative paths already done.
    YIELDS (NoteRecord): The notes, in ``relpaths`` order.
    """
    for rel in relpaths:
        if skip(rel):
            continue
        parts = rel.split("/")
        patient = parts[0] if patient_from == "dir" and len(parts) > 1 else None
        try:
            raw = (root / rel).read_bytes()
        except OSError as err:
            problems.append(Problem(rel, f"cannot be read ({type(err).__name__}), skipped"))
            continue
        text = read_note_bytes(raw, rel, problems)
        if text is not None:
            yield NoteRecord(rel, text, patient, {"key": rel})


@dataclass
class Columns:
    """Which fields of a JSONL object or CSV row hold what."""

    text: str = "text"
    id: Optional[str] = None
    patient: Optional[str] = None


def iter_jsonl(
    lines: Iterator[bytes], name: str, problems: List[Problem], *, columns: Columns, skip: SkipFn = _never
) -> Iterator[NoteRecord]:
    """One note per JSON object line; blank lines are ignored.

    lines (Iterator[bytes]): The raw lines (a binary file or ``data.splitlines(True)``).
    name (str): The file name for problems and note ids.
    problems (List[Problem]): Receives bad lines (by line number).
    columns (Columns): The text, id and patient fields.
    skip (SkipFn): Line numbers (as str) already done.
    YIELDS (NoteRecord): Notes with ``meta["row"]`` (the object) and ``meta["line"]``.
    """
    for n, raw in enumerate(lines, start=1):
        key = str(n)
        if not raw.strip() or skip(key):
            continue
        where = f"{name}:{n}"
        if n == 1 and raw.startswith(UTF16_BOMS):
            problems.append(Problem(name, Errors.E912.format(path=name)))
            return
        if n == 1 and raw.startswith(UTF8_BOM):
            raw = raw[len(UTF8_BOM) :]
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            line = _decode_legacy(raw)
            problems.extend(_fallback_problems(where, [1]))
        try:
            row = json.loads(line)
        except ValueError as err:
            problem = f"invalid JSON at column {getattr(err, 'colno', '?')}"
            problems.append(Problem(where, Errors.E751.format(path=name, line=n, problem=problem)))
            continue
        if not isinstance(row, dict):
            problem = f"a JSON {type(row).__name__}"
            problems.append(Problem(where, Errors.E751.format(path=name, line=n, problem=problem)))
            continue
        if "\\u" in line.lower():  # an escape can decode to a lone surrogate
            row = _clean_row(row, where, problems)
        record = _row_record(row, list(row), name, n, f"line {n}", problems, columns)
        if record is not None:
            yield record


def _clean_row(row: Dict, where: str, problems: List[Problem]) -> Dict:
    """A JSON object with the lone surrogates of its strings replaced (see ``clean_surrogates``)."""
    found: List[Problem] = []

    def clean(value: object) -> object:
        if isinstance(value, str):
            return clean_surrogates(value, where, found)
        if isinstance(value, list):
            return [clean(v) for v in value]
        if isinstance(value, dict):
            return {clean(k): clean(v) for k, v in value.items()}
        return value

    cleaned = clean(row)
    if found:
        problems.append(Problem(where, "lone surrogate(s) replaced by U+FFFD and de-identified", failed=False))
    return cleaned  # type: ignore[return-value]


class CsvSource:
    """The rows of a CSV file (comma-separated, double-quoted, embedded newlines allowed).

    text (str): The decoded file.
    name (str): The file name for problems and note ids.
    problems (List[Problem]): Receives bad rows (by starting line) and parse errors.
    columns (Columns): The text, id and patient columns (matched against the header).
    skip (SkipFn): Starting line numbers (as str) already done.

    ``header`` is the header row (None for an empty file); ``failed`` says that the header could
    not be used (nothing of the file may be written). Iterating yields notes with
    ``meta["row"]`` (the row as a list of fields) and ``meta["line"]``.
    """

    def __init__(
        self, text: str, name: str, problems: List[Problem], *, columns: Columns, skip: SkipFn = _never
    ) -> None:
        if csv.field_size_limit() < CSV_FIELD_LIMIT:
            csv.field_size_limit(CSV_FIELD_LIMIT)  # the default (131,072) is shorter than many notes
        self.name = name
        self.problems = problems
        self.columns = columns
        self.skip = skip
        self._reader = csv.reader(io.StringIO(text, newline=""))
        self.header: Optional[List[str]] = None
        self._failed = False
        try:
            self.header = next(self._reader, None)
        except csv.Error as err:
            self._fail(1, err)
        if self.header is not None and columns.text not in self.header:
            # The header's fields are not shown: without a header row they are a note's text.
            found = f"the first row has {len(self.header)} field(s); is it a header row?"
            problems.append(
                Problem(name, Errors.E752.format(path=name, where="header", column=columns.text, columns=found))
            )
            self._failed = True
        # The file cannot be read at all (no text column in the header, or a parse error in it):
        # then nothing of it may be written, not even the header.
        self.failed = self._failed

    def _fail(self, line: int, err: csv.Error) -> None:
        message = Errors.E760.format(path=self.name, line=line, problem=type(err).__name__)
        self.problems.append(Problem(f"{self.name}:{line}", message))
        self._failed = True

    def __iter__(self) -> Iterator[NoteRecord]:
        if self.header is None or self._failed:
            return
        start = self._reader.line_num + 1
        while True:
            try:
                fields = next(self._reader)
            except StopIteration:
                return
            except csv.Error as err:
                self._fail(start, err)
                return
            line, start = start, self._reader.line_num + 1
            if not fields or self.skip(str(line)):
                continue
            spanning = [
                column
                for column, value in zip(self.header, fields)
                if column != self.columns.text and ("\n" in value or "\r" in value)
            ]
            if spanning:
                # A stray quote makes the reader take the next rows into one field, which would be
                # copied out as it is: the row is refused, with the lines it took.
                message = Errors.E913.format(path=self.name, line=line, last=start - 1, column=spanning[0])
                self.problems.append(Problem(f"{self.name}:{line}", message))
                continue
            row: Dict[str, str] = {}
            for column, value in zip(self.header, fields):
                row.setdefault(column, value)  # a repeated column name: the first one counts
            record = _row_record(row, self.header, self.name, line, f"row at line {line}", self.problems, self.columns)
            if record is not None:
                record.meta["fields"] = fields
                yield record


def _row_record(
    row: Dict, names: List[str], name: str, line: int, where: str, problems: List[Problem], columns: Columns
) -> Optional[NoteRecord]:
    values: Dict[str, Optional[str]] = {}
    for role, column in (("text", columns.text), ("id", columns.id), ("patient", columns.patient)):
        if column is None:
            values[role] = None
            continue
        if column not in row:
            problems.append(
                Problem(
                    f"{name}:{line}",
                    Errors.E752.format(path=name, where=where, column=column, columns=", ".join(map(str, names))),
                )
            )
            return None
        value = row[column]
        if role == "text" and not isinstance(value, str):
            problems.append(
                Problem(
                    f"{name}:{line}",
                    Errors.E753.format(path=name, where=where, column=column, type=type(value).__name__),
                )
            )
            return None
        values[role] = None if value is None else str(value)
    note_id = values["id"] if values["id"] is not None else f"{name}:{line}"
    return NoteRecord(note_id, values["text"] or "", values["patient"], {"key": str(line), "line": line, "row": row})
