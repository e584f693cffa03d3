"""Re-identification for the key holder: the originals back in place of ``encrypt`` mode's tokens,
in a text, JSONL or CSV output of ``clintiny deid`` (``clintiny deid-decrypt``).

Only the tokens are touched; every other character, field and row is copied as it is. A token
the key cannot open (changed, cut, or another key's) stays in place and is reported by line and
offsets, never by content.
"""

import csv
import io
import json
from dataclasses import dataclass, field
from typing import List, Tuple

from ..errors import Errors
from .pseudonym import Pseudonymizer, decrypt_text

FORMATS = ("text", "jsonl", "csv")


@dataclass
class DecryptReport:
    """What a decryption did.

    decrypted (int): Tokens replaced by their originals.
    failed (List[Tuple[int, int, int]]): (line, start, end) of each token left in place: the
        1-based line (text: the line the token starts on; JSONL: the record's line; CSV: the
        line the record ends on), and the offsets within the whole text (text) or within the
        record's text field (JSONL, CSV).
    bad_lines (List[int]): JSONL lines that are not a JSON object with the text field (copied
        unchanged).
    """

    decrypted: int = 0
    failed: List[Tuple[int, int, int]] = field(default_factory=list)
    bad_lines: List[int] = field(default_factory=list)


def decrypt_document(
    data: str, pseudonymizer: Pseudonymizer, *, fmt: str, text_col: str = "text"
) -> Tuple[str, DecryptReport]:
    """Decrypt every token of one output file's content.

    data (str): The whole file.
    pseudonymizer (Pseudonymizer): Made with the key that encrypted it.
    fmt (str): "text", "jsonl" (each line an object; ``text_col`` decrypted) or "csv" (a header
        row, ``text_col`` decrypted).
    text_col (str): The field holding the note (JSONL, CSV).
    RETURNS (Tuple[str, DecryptReport]): The new content and what was done.
    """
    if fmt not in FORMATS:
        raise ValueError(Errors.E735.format(value=fmt, options=", ".join(FORMATS)))
    report = DecryptReport()
    if fmt == "text":
        text, done, failed = decrypt_text(data, pseudonymizer)
        report.decrypted = done
        report.failed = [(data.count("\n", 0, start) + 1, start, end) for start, end in failed]
        return text, report
    if fmt == "jsonl":
        lines = data.splitlines(keepends=True)
        out = []
        for number, line in enumerate(lines, 1):
            out.append(_jsonl_line(line, number, pseudonymizer, text_col, report))
        return "".join(out), report
    return _csv(data, pseudonymizer, text_col, report), report


def _jsonl_line(line: str, number: int, pseudonymizer: Pseudonymizer, text_col: str, report: DecryptReport) -> str:
    if not line.strip():
        return line
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        record = None
    if not isinstance(record, dict) or not isinstance(record.get(text_col), str):
        report.bad_lines.append(number)
        return line
    record[text_col] = _field(record[text_col], number, pseudonymizer, report)
    ending = line[len(line.rstrip("\r\n")) :] or "\n"
    return json.dumps(record, ensure_ascii=False) + ending


def _csv(data: str, pseudonymizer: Pseudonymizer, text_col: str, report: DecryptReport) -> str:
    reader = csv.reader(io.StringIO(data, newline=""))
    header = next(reader, None)
    if header is None:
        return data
    if text_col not in header:
        raise ValueError(Errors.E736.format(col=text_col, cols=", ".join(header)))
    column = header.index(text_col)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in reader:
        if column < len(row):
            row[column] = _field(row[column], reader.line_num, pseudonymizer, report)
        writer.writerow(row)
    return buffer.getvalue()


def _field(text: str, line: int, pseudonymizer: Pseudonymizer, report: DecryptReport) -> str:
    text, done, failed = decrypt_text(text, pseudonymizer)
    report.decrypted += done
    report.failed.extend((line, start, end) for start, end in failed)
    return text
