"""i2b2/UTHealth 2014 de-identification XML (``<deIdi2b2>``).

Each tag under ``<TAGS>`` is a PHI span: the tag name is the category (NAME, PROFESSION,
LOCATION, AGE, DATE, CONTACT, ID) and ``TYPE`` the subtype (PATIENT, DOCTOR, HOSPITAL, PHONE,
MEDICALRECORD...), kept on ``kb_id_``. Offsets index the CDATA text; the ``text`` attribute is
checked against them (and realigned within a few characters if it moved). One doc per file;
the split unit is the patient (the ``PPP`` of file names ``PPP-NN.xml``).
"""

import re
from pathlib import Path
from typing import Iterator, Optional, Union

from .i2b2_xml import int_attr, parse_i2b2_xml
from .labels import I2B2_2014_SUBTYPES, PHI_KEY, PHI_LABELS
from .report import ConversionReport
from .source import Location, SourceDoc, SourceSpan
from .textio import read_text

CORPUS = "i2b2-2014"
PATIENT_FILE = re.compile(r"^(\d+)-\d+$")


def xml_files(path: Union[str, Path]):
    path = Path(path)
    return sorted(path.rglob("*.xml")) if path.is_dir() else [path]


def iter_i2b2_2014(path: Union[str, Path], *, report: Optional[ConversionReport] = None) -> Iterator[SourceDoc]:
    """Read i2b2 2014 de-id XML files.

    path (Union[str, Path]): Folder (searched recursively for .xml) or one .xml file.
    report (Optional[ConversionReport]): Receives malformed tags and unmapped types.
    YIELDS (SourceDoc): One per file, PHI in span group "phi".
    """
    report = report if report is not None else ConversionReport(CORPUS)
    for file in xml_files(path):
        parsed = parse_i2b2_xml(file, read_text(file, report), report)
        if parsed is None:
            continue
        text, tags = parsed
        spans = []
        for name, attrs, where in tags:
            subtype = attrs.get("TYPE", "").strip().upper()
            label = name.upper() if name.upper() in PHI_LABELS else I2B2_2014_SUBTYPES.get(subtype)
            if label is None:
                report.add_event("unplaceable", "unmapped_label", where, detail=f"{name}/{subtype}")
                continue
            start, end = int_attr(attrs, "start"), int_attr(attrs, "end")
            if start is None or end is None:
                report.add_event("skipped", "malformed_tag", where, detail="start/end")
                continue
            spans.append(
                SourceSpan(
                    start,
                    end,
                    PHI_KEY,
                    label,
                    kb_id=subtype or label,
                    key=attrs.get("id"),
                    where=where,
                    expected_text=attrs.get("text"),
                )
            )
        m = PATIENT_FILE.match(file.stem)
        yield SourceDoc(
            text=text,
            doc_id=file.stem,
            group_id=m.group(1) if m else file.stem,
            corpus=CORPUS,
            spans=spans,
            groups={PHI_KEY},
            where=Location(str(file)),
        )
