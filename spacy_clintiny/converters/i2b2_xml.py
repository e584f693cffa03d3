"""The i2b2 XML layout shared by the 2014 de-identification and 2012 temporal releases:
``<TEXT><![CDATA[...]]></TEXT>`` then ``<TAGS>`` holding one empty element per annotation
(``<NAME id="P0" start="16" end="26" text="..." TYPE="DOCTOR" />``).

Parsed with a small tolerant scanner instead of an XML parser: the releases contain stray
``&`` and ``<`` that strict parsers reject, the note text must be kept byte-exact (an XML
parser normalises ``\\r\\n``), and every tag keeps its line number for the report. A file with
CRLF line ends whose offsets fit the normalised text better (more tags' ``text`` attributes at
their offsets) is read normalised, as an XML parser would, and the report says so.
"""

import html
import re
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from .report import ConversionReport
from .source import Location

TEXT_CDATA = re.compile(r"<TEXT>\s*<!\[CDATA\[(.*?)\]\]>\s*</TEXT>", re.S)
TEXT_PLAIN = re.compile(r"<TEXT>(.*?)</TEXT>", re.S)
TAGS = re.compile(r"<TAGS>(.*?)</TAGS>", re.S)
ELEMENT = re.compile(r"<(\w+)\b((?:[^>\"]|\"[^\"]*\")*?)/?>", re.S)
ATTRIBUTE = re.compile(r'([\w:-]+)\s*=\s*"([^"]*)"')

Tag = Tuple[str, Dict[str, str], Location]


def parse_i2b2_xml(path: Path, raw: str, report: ConversionReport) -> Optional[Tuple[str, List[Tag]]]:
    """Split an i2b2 XML file into its note text and its annotation tags.

    path (Path): The file (for locations).
    raw (str): Its content.
    report (ConversionReport): Receives "malformed_xml" when no TEXT element is found.
    RETURNS (Optional[Tuple[str, List[Tag]]]): The text and (tag name, attributes, location)
        triples, or None when the file has no usable TEXT.
    """
    m = TEXT_CDATA.search(raw)
    if m is not None:
        text = m.group(1)
    else:
        m = TEXT_PLAIN.search(raw)
        if m is None:
            report.add_event("skipped", "malformed_xml", Location(str(path)), detail="no <TEXT> element")
            return None
        text = html.unescape(m.group(1))
        report.add_event("info", "text_without_cdata", Location(str(path)))
    tags: List[Tag] = []
    t = TAGS.search(raw, m.end())
    if t is None:
        report.add_event("info", "no_tags_element", Location(str(path)))
        return text, tags
    body_start = t.start(1)
    for el in ELEMENT.finditer(t.group(1)):
        line = raw.count("\n", 0, body_start + el.start()) + 1
        attrs = {k: html.unescape(v) for k, v in ATTRIBUTE.findall(el.group(2))}
        tags.append((el.group(1), attrs, Location(str(path), line)))
    if "\r" in text and tags:
        # A file saved with CRLF whose offsets were counted on the text an XML parser returns
        # (XML 1.0 2.11 reads CRLF and CR as LF): the tags' own text tells which text they index
        lf = text.replace("\r\n", "\n").replace("\r", "\n")
        if _fitting(lf, tags) > _fitting(text, tags):
            report.add_event("adjusted", "xml_line_ends_normalized", Location(str(path)))
            text = lf
    return text, tags


def _fitting(text: str, tags: List[Tag]) -> int:
    """How many tags' ``text`` attribute is the text at their offsets."""
    n = 0
    for _, attrs, _ in tags:
        start, end = int_attr(attrs, "start"), int_attr(attrs, "end")
        if start is not None and end is not None and "text" in attrs and text[start:end] == attrs["text"]:
            n += 1
    return n


def int_attr(attrs: Dict[str, str], name: str) -> Optional[int]:
    """An integer attribute, or None when missing or not an integer."""
    value = attrs.get(name, "").strip()
    return int(value) if value.lstrip("-").isdigit() else None
