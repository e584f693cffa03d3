"""i2b2/VA 2010 concepts, assertions and relations: ``.txt`` + ``.con`` / ``.ast`` / ``.rel``.

The ``.txt`` has one sentence per line, tokens separated by whitespace. Annotations address
tokens as ``line:token`` (1-based line, 0-based token, both ends inclusive):

- ``.con``: ``c="text" 12:3 12:5||t="problem"``
- ``.ast``: ``c="text" 12:3 12:5||t="problem"||a="absent"``
- ``.rel``: ``c="text" 12:3 12:5||r="TrAP"||c="text" 14:0 14:1`` (head = first concept)

Concepts go to span group "concepts" as PROBLEM / TEST / TREATMENT (native type on kb_id_),
assertions (problems only in this corpus) on ``span.id_``; relation labels are kept native
(TrIP, TrWP, TrCP, TrAP, TrNAP, TeRP, TeCP, PIP). Annotation files are looked up beside the
``.txt`` or in the release's sibling folders (``concept/``, ``ast/``, ``rel/``). The quoted
text is compared, lower-cased, with the addressed tokens; a mismatch is reported unplaceable.
"""

import re
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple, Union

from .labels import ASSERTIONS, CONCEPTS_KEY
from .report import ConversionReport
from .source import Location, SourceDoc, SourceRelation, SourceSpan
from .textio import read_lines, read_text

CORPUS = "i2b2-2010"
TYPES = {"problem": "PROBLEM", "test": "TEST", "treatment": "TREATMENT"}
_CONCEPT = r'c="(?P<{p}text>.*?)" (?P<{p}l1>\d+):(?P<{p}t1>\d+) (?P<{p}l2>\d+):(?P<{p}t2>\d+)'
CON_LINE = re.compile("^" + _CONCEPT.format(p="") + r'\|\|t="(?P<type>[^"]*)"\s*$')
AST_LINE = re.compile("^" + _CONCEPT.format(p="") + r'\|\|t="(?P<type>[^"]*)"\|\|a="(?P<assertion>[^"]*)"\s*$')
REL_LINE = re.compile("^" + _CONCEPT.format(p="h") + r'\|\|r="(?P<label>[^"]*)"\|\|' + _CONCEPT.format(p="t") + r"\s*$")
SIBLINGS = {".con": ("concept", "concepts"), ".ast": ("ast", "assertion", "assertions"), ".rel": ("rel", "relations")}

TokenKey = Tuple[int, int, int, int]


def find_annotation_file(txt: Path, suffix: str) -> Optional[Path]:
    """``stem.suffix`` beside the ``.txt`` or in a sibling folder of the release layout."""
    candidates = [txt.with_suffix(suffix)] + [txt.parent.parent / d / (txt.stem + suffix) for d in SIBLINGS[suffix]]
    return next((c for c in candidates if c.exists()), None)


def iter_i2b2_2010(path: Union[str, Path], *, report: Optional[ConversionReport] = None) -> Iterator[SourceDoc]:
    """Read every ``.txt`` under ``path`` (or one ``.txt``) with its annotation files.

    path (Union[str, Path]): Folder (searched recursively) or a .txt file.
    report (Optional[ConversionReport]): Receives malformed lines and mismatches.
    YIELDS (SourceDoc): One per .txt; the split unit is the file stem.
    """
    report = report if report is not None else ConversionReport(CORPUS)
    path = Path(path)
    txts = sorted(path.rglob("*.txt")) if path.is_dir() else [path]
    for txt in txts:
        con, ast, rel = (find_annotation_file(txt, s) for s in (".con", ".ast", ".rel"))
        if con is None and ast is None and rel is None:
            if path.is_dir():
                report.add_event("skipped", "txt_without_annotations", Location(str(txt)))
                continue
        yield _read_document(txt, con, ast, rel, report)


def _token_offsets(text: str) -> List[List[Tuple[int, int]]]:
    lines: List[List[Tuple[int, int]]] = []
    pos = 0
    for line in text.split("\n"):
        lines.append([(pos + m.start(), pos + m.end()) for m in re.finditer(r"\S+", line)])
        pos += len(line) + 1
    return lines


def _char_span(tokens, key: TokenKey) -> Optional[Tuple[int, int]]:
    l1, t1, l2, t2 = key
    if not (1 <= l1 <= len(tokens) and 1 <= l2 <= len(tokens)):
        return None
    first, last = tokens[l1 - 1], tokens[l2 - 1]
    if not (0 <= t1 < len(first) and 0 <= t2 < len(last)) or (l1, t1) > (l2, t2):
        return None
    return first[t1][0], last[t2][1]


def _key(m, p: str = "") -> TokenKey:
    return (int(m.group(p + "l1")), int(m.group(p + "t1")), int(m.group(p + "l2")), int(m.group(p + "t2")))


def _read_document(txt: Path, con, ast, rel, report: ConversionReport) -> SourceDoc:
    text = read_text(txt, report)
    tokens = _token_offsets(text)
    concepts: Dict[TokenKey, SourceSpan] = {}

    def add_concept(m, where: Location, assertion: str = "") -> Optional[SourceSpan]:
        key = _key(m)
        native = m.group("type")
        if native not in TYPES:
            report.add_event("unplaceable", "unmapped_label", where, detail=native[:20])
            return None
        offsets = _char_span(tokens, key)
        if offsets is None:
            report.add_event("unplaceable", "offset_out_of_range", where, detail=f"{key[0]}:{key[1]} {key[2]}:{key[3]}")
            return None
        start, end = offsets
        if " ".join(text[start:end].split()).lower() != " ".join(m.group("text").split()).lower():
            report.add_event("unplaceable", "text_mismatch", where, offset=start, detail=TYPES[native])
            return None
        span = SourceSpan(
            start,
            end,
            CONCEPTS_KEY,
            TYPES[native],
            kb_id=native,
            assertion=assertion,
            key="%d:%d-%d:%d" % key,
            where=where,
        )
        if key in concepts:
            if concepts[key].label != span.label:
                # one concept per token range: a relation or assertion line names the range only
                report.add_event("unplaceable", "same_tokens_other_type", where, offset=start, detail=span.label)
                return None
            report.add_event("adjusted", "duplicate_span_merged", where, offset=start)
        concepts[key] = span
        return span

    for i, line in enumerate(read_lines(con, report) if con else [], start=1):
        if line.strip():
            m = CON_LINE.match(line)
            if m is None:
                report.add_event("skipped", "malformed_line", Location(str(con), i))
            else:
                add_concept(m, Location(str(con), i))
    for i, line in enumerate(read_lines(ast, report) if ast else [], start=1):
        where = Location(str(ast), i)
        if not line.strip():
            continue
        m = AST_LINE.match(line)
        if m is None:
            report.add_event("skipped", "malformed_line", where)
            continue
        assertion = m.group("assertion").strip().lower().replace(" ", "_")
        if assertion not in ASSERTIONS:
            report.add_event("skipped", "unknown_assertion", where, detail=assertion[:30])
            continue
        key = _key(m)
        if key in concepts:
            concepts[key].assertion = assertion
        else:
            report.add_event("adjusted", "concept_added_from_assertion_file", where)
            add_concept(m, where, assertion)
    relations: Optional[List[SourceRelation]] = [] if rel else None
    for i, line in enumerate(read_lines(rel, report) if rel else [], start=1):
        where = Location(str(rel), i)
        if not line.strip():
            continue
        m = REL_LINE.match(line)
        if m is None:
            report.add_event("skipped", "malformed_line", where)
            continue
        head, tail = "%d:%d-%d:%d" % _key(m, "h"), "%d:%d-%d:%d" % _key(m, "t")
        relations.append(SourceRelation(head, tail, m.group("label"), where=where))  # type: ignore[union-attr]
    groups = {CONCEPTS_KEY} if (con or ast) else set()
    return SourceDoc(
        text=text,
        doc_id=txt.stem,
        group_id=txt.stem,
        corpus=CORPUS,
        spans=list(concepts.values()),
        groups=groups,
        relations=relations,
        where=Location(str(txt)),
    )
