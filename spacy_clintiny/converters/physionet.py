"""PhysioNet deid gold standard (Neamatullah et al. 2008): ``id.text`` + ``id-phi.phrase``.

``id.text`` holds records ``START_OF_RECORD=PID||||NOTE||||`` newline, body,
``||||END_OF_RECORD``. Offsets in ``id-phi.phrase`` (``PID NOTE START END TYPE TEXT``) count
from the first character after the header's newline. One doc per note; the split unit is
the patient id.
"""

import re
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple, Union

from ..errors import Errors
from .labels import PHI_KEY, PHYSIONET_PHI
from .report import ConversionReport
from .source import Location, SourceDoc, SourceSpan
from .textio import read_lines, read_text

CORPUS = "physionet"
RECORD = re.compile(r"START_OF_RECORD=(\d+)\|\|\|\|(\d+)\|\|\|\|\r?\n(.*?)\|\|\|\|END_OF_RECORD", re.S)


def iter_physionet(
    text_path: Union[str, Path],
    phrase_path: Union[str, Path],
    *,
    report: Optional[ConversionReport] = None,
) -> Iterator[SourceDoc]:
    """Read the notes and their PHI spans.

    text_path (Union[str, Path]): ``id.text``.
    phrase_path (Union[str, Path]): ``id-phi.phrase``.
    report (Optional[ConversionReport]): Receives skipped lines and unknown types.
    YIELDS (SourceDoc): One per note, PHI in span group "phi".
    """
    report = report if report is not None else ConversionReport(CORPUS)
    text = read_text(text_path, report)
    notes: Dict[Tuple[str, str], Tuple[str, int]] = {}
    n_matches = 0
    for match in RECORD.finditer(text):
        n_matches += 1
        key = (match.group(1), match.group(2))
        line = text.count("\n", 0, match.start()) + 1
        if key in notes:
            report.add_event("skipped", "duplicate_record", Location(str(text_path), line), detail="-".join(key))
            continue
        notes[key] = (match.group(3), line)
    n_headers = text.count("START_OF_RECORD=")
    if n_headers > n_matches:
        report.add_event(
            "skipped",
            "malformed_record",
            Location(str(text_path)),
            count=n_headers - n_matches,
            detail="START_OF_RECORD without a well-formed header or END_OF_RECORD",
        )
    spans: Dict[Tuple[str, str], List[SourceSpan]] = {key: [] for key in notes}
    for i, line in enumerate(read_lines(phrase_path, report), start=1):
        where = Location(str(phrase_path), i)
        if not line.strip():
            continue
        parts = line.split(" ", 5)
        if len(parts) < 5 or not all(p.isdigit() for p in parts[:4]):
            report.add_event("skipped", "malformed_line", where, detail=f"{len(parts)} fields")
            continue
        pid, note, start, end, phi_type = parts[:5]
        if (pid, note) not in notes:
            report.add_event("unplaceable", "unknown_record", where, detail=f"{pid}-{note}")
            continue
        if phi_type not in PHYSIONET_PHI:
            # a line without its TYPE column has the PHI text in this field: never shown
            report.add_event("unplaceable", "unmapped_label", where, detail=f"not a PHI type ({len(phi_type)} chars)")
            continue
        label, subtype = PHYSIONET_PHI[phi_type]
        expected = parts[5] if len(parts) == 6 else None
        spans[(pid, note)].append(
            SourceSpan(int(start), int(end), PHI_KEY, label, kb_id=subtype, where=where, expected_text=expected)
        )
    for (pid, note), (body, line) in notes.items():
        yield SourceDoc(
            text=body,
            doc_id=f"{pid}-{note}",
            group_id=pid,
            corpus=CORPUS,
            spans=spans[(pid, note)],
            groups={PHI_KEY},
            where=Location(str(text_path), line),
        )


def resolve_physionet_paths(path: Union[str, Path]) -> Tuple[Path, Path]:
    """Accept a folder holding ``id.text`` and ``id-phi.phrase``, or the ``.text`` file (the
    phrase file is ``<stem>-phi.phrase`` beside it)."""
    path = Path(path)
    if path.is_dir():
        texts = sorted(path.glob("*.text"))
        path = texts[0] if len(texts) == 1 else path / "id.text"
    return path, path.with_name(f"{path.stem}-phi.phrase")


DEID_PL_HEADER = re.compile(r"^Patient\s+(\d+)\s+Note\s+(\d+)\s*$")


def read_deid_pl_output(path: Union[str, Path]) -> Dict[Tuple[str, str], List[Tuple[int, int]]]:
    """Read the PHI that PhysioNet's ``deid.pl`` found (its ``.phi`` output file).

    The file holds one block per note: a header ``Patient P<TAB>Note N``, then one line
    ``id<TAB>start<TAB>end`` per detected PHI, with character offsets in the record body (the
    offsets of ``id-phi.phrase``). deid.pl does not say which category it found.

    path (Union[str, Path]): The ``.phi`` file.
    RETURNS (Dict[Tuple[str, str], List[Tuple[int, int]]]): (patient id, note id) -> the
        detected (start, end) offsets in file order; every note of the file is a key, also
        when nothing was detected in it.
    """
    out: Dict[Tuple[str, str], List[Tuple[int, int]]] = {}
    current: Optional[List[Tuple[int, int]]] = None
    for i, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            continue
        header = DEID_PL_HEADER.match(line)
        if header is not None:
            current = out.setdefault((header.group(1), header.group(2)), [])
            continue
        parts = line.split()
        if current is None:
            raise ValueError(Errors.E770.format(path=path, line=i, problem="a detection before any header"))
        if len(parts) != 3 or not all(p.isdigit() for p in parts):
            raise ValueError(Errors.E770.format(path=path, line=i, problem=f"{len(parts)} field(s), not 3 integers"))
        start, end = int(parts[1]), int(parts[2])
        if start >= end:
            raise ValueError(Errors.E770.format(path=path, line=i, problem=f"empty span ({start}, {end})"))
        current.append((start, end))
    return out
