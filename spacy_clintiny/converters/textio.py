"""Reading source files whose encoding cannot be trusted.

Clinical exports are often a mix: mostly UTF-8 with a few Windows-1252/latin-1 lines pasted in.
``read_text`` decodes line by line, so one bad line does not garble the file, and reports the
lines it had to decode differently. Character offsets stay valid because both decodings give
one character per accented letter. Line endings are kept as they are (offsets count them).

Outputs are written with :mod:`spacy_clintiny.fileio`; ``atomic_write_bytes`` and
``atomic_write_text`` are its functions under their older names here.
"""

import re
from pathlib import Path
from typing import List, Optional, Union

from ..fileio import write_bytes_atomic, write_text_atomic
from .report import ConversionReport
from .source import Location

PathLike = Union[str, Path]


def read_text(path: PathLike, report: Optional[ConversionReport] = None) -> str:
    """Read a text file as UTF-8 (BOM removed), decoding undecodable lines as cp1252, or
    latin-1 for bytes cp1252 leaves undefined. Each such line is reported as an "adjusted"
    event ``encoding_fallback`` with its line number.

    path (PathLike): The file.
    report (Optional[ConversionReport]): Where to record fallbacks.
    RETURNS (str): The decoded text with its original line endings.
    """
    data = Path(path).read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        if report is not None:
            report.add_event("info", "utf8_bom_removed", Location(str(path)))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    parts: List[str] = []
    for i, line in enumerate(re.split(b"(?<=\n)", data), start=1):
        try:
            parts.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            try:
                parts.append(line.decode("cp1252"))
                encoding = "cp1252"
            except UnicodeDecodeError:
                parts.append(line.decode("latin-1"))
                encoding = "latin-1"
            if report is not None:
                report.add_event("adjusted", "encoding_fallback", Location(str(path), i), detail=encoding)
    return "".join(parts)


def read_lines(path: PathLike, report: Optional[ConversionReport] = None) -> List[str]:
    """Read a line-based file (see ``read_text``) and return its lines without line endings.
    Line ``i`` of the file is element ``i - 1``. Only "\n" (with an optional "\r" before it)
    ends a line, so form feeds or U+2028 inside a record do not shift line numbers."""
    text = read_text(path, report)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


# older names, kept for callers (converters/convert.py): one implementation, in fileio
atomic_write_bytes = write_bytes_atomic
atomic_write_text = write_text_atomic
