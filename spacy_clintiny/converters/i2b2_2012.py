"""i2b2 2012 temporal relations XML (``<ClinicalNarrativeTemporalAnnotation>``).

- ``EVENT`` of type PROBLEM / TEST / TREATMENT -> span group "concepts" with that label; the
  assertion comes from ``polarity`` (NEG -> absent) then ``modality`` (FACTUAL -> present,
  POSSIBLE -> possible, CONDITIONAL -> conditional, PROPOSED -> hypothetical). Other event
  types (OCCURRENCE, EVIDENTIAL, CLINICAL_DEPT) -> span group "events", label = type.
- ``TIMEX3`` -> span group "timex" (DATE, TIME, DURATION, FREQUENCY); ``SECTIME`` (the
  admission/discharge date) -> "timex" DATE with kb_id ``SECTIME_<type>``.
- ``TLINK`` -> relation ``TLINK_<TYPE>`` (BEFORE, AFTER, OVERLAP...) from ``fromID`` to ``toID``.
One doc per file; the split unit is the file stem.
"""

from pathlib import Path
from typing import Iterator, Optional, Union

from .i2b2_2014 import xml_files
from .i2b2_xml import int_attr, parse_i2b2_xml
from .labels import CONCEPT_LABELS, CONCEPTS_KEY, I2B2_2012_MODALITY
from .report import ConversionReport
from .source import Location, SourceDoc, SourceRelation, SourceSpan
from .textio import read_text

CORPUS = "i2b2-2012"
EVENTS_KEY = "events"
TIMEX_KEY = "timex"


def iter_i2b2_2012(path: Union[str, Path], *, report: Optional[ConversionReport] = None) -> Iterator[SourceDoc]:
    """Read i2b2 2012 temporal XML files.

    path (Union[str, Path]): Folder (searched recursively for .xml) or one .xml file.
    report (Optional[ConversionReport]): Receives malformed tags and unknown values.
    YIELDS (SourceDoc): One per file with concepts, events, timex spans and TLINK relations.
    """
    report = report if report is not None else ConversionReport(CORPUS)
    for file in xml_files(path):
        parsed = parse_i2b2_xml(file, read_text(file, report), report)
        if parsed is None:
            continue
        text, tags = parsed
        spans = []
        relations = []
        for name, attrs, where in tags:
            if name == "TLINK":
                head, tail, kind = attrs.get("fromID"), attrs.get("toID"), attrs.get("type", "").strip().upper()
                if not head or not tail or not kind:
                    report.add_event("skipped", "malformed_tag", where, detail="TLINK")
                    continue
                relations.append(SourceRelation(head, tail, f"TLINK_{kind}", where=where))
                continue
            start, end = int_attr(attrs, "start"), int_attr(attrs, "end")
            if name not in ("EVENT", "TIMEX3", "SECTIME"):
                report.add_event("info", "unknown_tag_not_converted", where, detail=name)
                continue
            if start is None or end is None:
                report.add_event("skipped", "malformed_tag", where, detail=f"{name} start/end")
                continue
            kind = attrs.get("type", "").strip().upper()
            assertion = ""
            if name == "EVENT":
                group, label = (CONCEPTS_KEY, kind) if kind in CONCEPT_LABELS else (EVENTS_KEY, kind or "EVENT")
                if group == CONCEPTS_KEY:
                    assertion = _assertion(attrs, where, report)
                kb_id = kind
            elif name == "TIMEX3":
                group, label, kb_id = TIMEX_KEY, kind or "TIMEX", kind
            else:
                group, label, kb_id = TIMEX_KEY, "DATE", f"SECTIME_{kind}"
            spans.append(
                SourceSpan(
                    start,
                    end,
                    group,
                    label,
                    kb_id=kb_id,
                    assertion=assertion,
                    key=attrs.get("id"),
                    where=where,
                    expected_text=attrs.get("text"),
                )
            )
        yield SourceDoc(
            text=text,
            doc_id=file.stem,
            group_id=file.stem,
            corpus=CORPUS,
            spans=spans,
            groups={CONCEPTS_KEY, EVENTS_KEY, TIMEX_KEY},
            relations=relations,
            where=Location(str(file)),
        )


def _assertion(attrs, where: Location, report: ConversionReport) -> str:
    polarity = attrs.get("polarity", "POS").strip().upper()
    modality = attrs.get("modality", "FACTUAL").strip().upper()
    if polarity == "NEG":
        return "absent"
    if modality not in I2B2_2012_MODALITY:
        report.add_event("info", "unknown_modality", where, detail=modality[:20])
        return ""
    return I2B2_2012_MODALITY[modality]
