"""MedNLI / SNLI JSONL: one pair per line with ``sentence1`` (premise), ``sentence2``
(hypothesis) and ``gold_label`` (MedNLI has the SNLI schema).

Per the data contract: ``doc.text = premise + "\\n" + hypothesis``, span group "nli_pair" with
exactly a PREMISE then a HYPOTHESIS span, and ``doc.cats`` one-hot over entailment / neutral
/ contradiction. Pairs without a gold label (SNLI "-") are reported and skipped. Pairs sharing
a premise share a split unit, so a premise never lands on both sides of a split.
"""

import hashlib
import json
from pathlib import Path
from typing import Iterator, Optional, Union

from .labels import NLI_KEY, NLI_LABELS
from .report import ConversionReport
from .source import Location, SourceDoc, SourceSpan
from .textio import read_lines

CORPUS = "mednli"


def iter_mednli(path: Union[str, Path], *, report: Optional[ConversionReport] = None) -> Iterator[SourceDoc]:
    """Read a MedNLI/SNLI JSONL file.

    path (Union[str, Path]): A .jsonl file, or a folder of them (sorted by name).
    report (Optional[ConversionReport]): Receives malformed lines and unlabelled pairs.
    YIELDS (SourceDoc): One per labelled pair.
    """
    report = report if report is not None else ConversionReport(CORPUS)
    path = Path(path)
    for file in sorted(path.glob("*.jsonl")) if path.is_dir() else [path]:
        yield from _read_file(file, report)


def _read_file(path: Path, report: ConversionReport) -> Iterator[SourceDoc]:
    for i, line in enumerate(read_lines(path, report), start=1):
        where = Location(str(path), i)
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            report.add_event("skipped", "malformed_json", where)
            continue
        premise = row.get("sentence1") if isinstance(row, dict) else None
        hypothesis = row.get("sentence2") if isinstance(row, dict) else None
        if (
            not isinstance(premise, str)
            or not isinstance(hypothesis, str)
            or not premise.strip()
            or not hypothesis.strip()
        ):
            report.add_event("skipped", "missing_sentence", where)
            continue
        label = row.get("gold_label")
        if label not in NLI_LABELS:
            report.add_event("skipped", "no_gold_label", where, detail=str(label)[:20])
            continue
        if "\n" in premise or "\n" in hypothesis:
            report.add_event("adjusted", "newline_in_sentence_replaced", where)
            premise, hypothesis = premise.replace("\n", " "), hypothesis.replace("\n", " ")
        text = f"{premise}\n{hypothesis}"
        h_start = len(premise) + 1
        spans = [
            SourceSpan(0, len(premise), NLI_KEY, "PREMISE", where=where),
            SourceSpan(h_start, h_start + len(hypothesis), NLI_KEY, "HYPOTHESIS", where=where),
        ]
        pair_id = str(row.get("pairID") or f"line-{i}")
        group = hashlib.sha1(premise.encode("utf8")).hexdigest()[:12]
        yield SourceDoc(
            text=text,
            doc_id=pair_id,
            group_id=group,
            corpus=CORPUS,
            spans=spans,
            groups={NLI_KEY},
            cats={lab: float(lab == label) for lab in NLI_LABELS},
            where=where,
        )
