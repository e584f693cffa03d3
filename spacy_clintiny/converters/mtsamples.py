"""MTSamples JSONL (``note_id, description, medical_specialty, sample_name, transcription,
keywords``; ``"<NA>"`` where missing).

The same transcription is listed under several specialties, so there is one doc per DISTINCT
transcription (exact string), with EVERY specialty label in ``doc.cats``: 1.0 for each
specialty it is listed under, 0.0 for the others, so negatives are known. The split unit is
the distinct text (its doc id is the smallest note_id carrying it), never the row.
"""

import json
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple, Union

from .report import ConversionReport
from .source import Location, SourceDoc
from .textio import read_lines

CORPUS = "mtsamples"
MISSING = ("", "<NA>", "NA", None)


def mtsamples_files(path: Union[str, Path]) -> List[Path]:
    """A .jsonl file, or every ``*.jsonl`` in a folder (sorted by name)."""
    path = Path(path)
    return sorted(path.glob("*.jsonl")) if path.is_dir() else [path]


def iter_mtsamples(
    paths: Union[str, Path, Sequence[Union[str, Path]]],
    *,
    labels: Optional[Iterable[str]] = None,
    report: Optional[ConversionReport] = None,
) -> Iterator[SourceDoc]:
    """Read MTSamples rows and merge them by distinct transcription.

    paths: A .jsonl file, a folder of .jsonl parts, or a list of files.
    labels (Optional[Iterable[str]]): The specialty label set (default: every specialty seen).
        Rows with a specialty outside a given set are reported ("unknown_specialty").
    report (Optional[ConversionReport]): Receives malformed and incomplete rows.
    YIELDS (SourceDoc): One per distinct transcription, in order of first appearance.
    """
    report = report if report is not None else ConversionReport(CORPUS)
    files: List[Path] = []
    for p in [paths] if isinstance(paths, (str, Path)) else paths:
        files.extend(mtsamples_files(p))
    texts: Dict[str, Tuple[Set[str], List[int], Location]] = {}
    n_rows = 0
    for path in files:
        for i, line in enumerate(read_lines(path, report), start=1):
            where = Location(str(path), i)
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                report.add_event("skipped", "malformed_json", where)
                continue
            if not isinstance(row, dict):
                report.add_event("skipped", "malformed_json", where, detail="not an object")
                continue
            n_rows += 1
            text = row.get("transcription")
            specialty = row.get("medical_specialty")
            if text in MISSING or not str(text).strip():
                report.add_event("skipped", "missing_transcription", where)
                continue
            if specialty in MISSING:
                report.add_event("skipped", "missing_specialty", where)
                continue
            specialty = str(specialty).strip()
            note_id = row.get("note_id")
            entry = texts.setdefault(str(text), (set(), [], where))
            entry[0].add(specialty)
            if isinstance(note_id, int):
                entry[1].append(note_id)
    label_set = sorted(set(labels) if labels is not None else {s for e in texts.values() for s in e[0]})
    report.extra["rows"] = n_rows
    report.extra["distinct_texts"] = len(texts)
    known = set(label_set)
    for n, (text, (specialties, note_ids, where)) in enumerate(texts.items()):
        for unknown in sorted(specialties - known):
            report.add_event("skipped", "unknown_specialty", where, detail=unknown)
        doc_id = f"note-{min(note_ids)}" if note_ids else f"text-{n}"
        yield SourceDoc(
            text=text,
            doc_id=doc_id,
            group_id=doc_id,
            corpus=CORPUS,
            cats={label: 1.0 if label in specialties else 0.0 for label in label_set},
            where=where,
        )
