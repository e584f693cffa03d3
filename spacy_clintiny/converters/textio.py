"""Reading source files whose encoding cannot be trusted.

Clinical exports are often a mix: mostly UTF-8 with a few Windows-1252/latin-1 bytes pasted in.
``read_text`` decodes UTF-8 and turns only the bytes that are not valid UTF-8 into their
cp1252 (else latin-1) character, one character per byte, so a line that holds both "ë" in
UTF-8 and a stray 0xB0 keeps its "ë" and its offsets; it reports the lines it had to mend.
Line endings are kept as they are (offsets count them).

Outputs are written with :mod:`spacy_clintiny.fileio`; ``atomic_write_bytes`` and
``atomic_write_text`` are its functions under their older names here.
"""

import codecs
import re
from pathlib import Path
from typing import List, Optional, Tuple, Union

from ..fileio import write_bytes_atomic, write_text_atomic
from .report import ConversionReport
from .source import Location

PathLike = Union[str, Path]
FALLBACK = "clintiny-cp1252-bytes"


def _byte_char(byte: int) -> str:
    try:
        return bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:  # the five bytes cp1252 leaves undefined
        return chr(byte)


def _one_char_per_bad_byte(err: UnicodeError) -> Tuple[str, int]:
    if not isinstance(err, UnicodeDecodeError):
        raise err
    return "".join(_byte_char(b) for b in err.object[err.start : err.end]), err.end


codecs.register_error(FALLBACK, _one_char_per_bad_byte)


def read_text(path: PathLike, report: Optional[ConversionReport] = None, *, keep_bom: bool = False) -> str:
    """Read a text file as UTF-8, each byte that is not valid UTF-8 decoded alone as its cp1252
    character (latin-1 for the bytes cp1252 leaves undefined). Each line that needed it is
    reported as an "adjusted" event ``encoding_fallback`` with its line number.

    path (PathLike): The file.
    report (Optional[ConversionReport]): Where to record fallbacks.
    keep_bom (bool): Keep a UTF-8 BOM as the text's first character (U+FEFF), for formats whose
        offsets count it (brat); by default it is removed.
    RETURNS (str): The decoded text with its original line endings.
    """
    data = Path(path).read_bytes()
    if data.startswith(b"\xef\xbb\xbf") and not keep_bom:
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
            parts.append(line.decode("utf-8", errors=FALLBACK))
            if report is not None:
                report.add_event("adjusted", "encoding_fallback", Location(str(path), i), detail="cp1252 bytes")
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
