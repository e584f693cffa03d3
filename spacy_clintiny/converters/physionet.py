"""PhysioNet deid gold standard (Neamatullah et al. 2008): ``id.text`` + ``id-phi.phrase``.

``id.text`` holds records ``START_OF_RECORD=PID||||NOTE||||`` newline, body,
``||||END_OF_RECORD``. Offsets in ``id-phi.phrase`` (``PID NOTE START END TYPE TEXT``) count
from the first character after the header's newline. One doc per note; the split unit is
the patient id.
"""
import re
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple, Union

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
        report.add_event("skipped", "malformed_record", Location(str(text_path)), count=n_headers - n_matches,
                         detail="START_OF_RECORD without a well-formed header or END_OF_RECORD")
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
            report.add_event("unplaceable", "unmapped_label", where, detail=phi_type)
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
