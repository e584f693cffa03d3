"""BRAT standoff (``.txt`` + ``.ann``): generic, n2c2 2018 track 2, NCBI disease standoff.

Supported ``.ann`` lines: text-bound ``T`` (including discontinuous ``start end;start end``),
relations ``R`` (``Arg1:`` / ``Arg2:``), attributes ``A``/``M`` (binary or valued), and, counted
but not converted, events ``E``, normalisations ``N``, equivalences ``*`` and notes ``#``.
A ``LabelMap`` maps entity types to (span group, label), relation types to (label, reverse)
and attributes to assertions (``span.id_``). Discontinuous entities become one span from the
first fragment's start to the last fragment's end ("join", default), one span per fragment
("fragments"; relations then attach to the first fragment), or are reported unplaceable
("skip"). Offsets count characters of the ``.txt`` as stored (``\\r\\n`` counts two).
Relations are "annotated" for every document when any ``.ann`` in the input has an ``R`` line.
"""

import hashlib
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

from ..errors import Errors
from .labels import LabelMap, get_label_map
from .report import ConversionReport
from .source import Location, SourceDoc, SourceRelation, SourceSpan
from .textio import read_lines, read_text

CORPUS = "brat"
DISCONTINUOUS_MODES = ("join", "fragments", "skip")


def brat_files(path: Union[str, Path]) -> List[Path]:
    """The ``.ann`` files under a folder (recursive, sorted), or the given ``.ann`` file."""
    path = Path(path)
    return sorted(path.rglob("*.ann")) if path.is_dir() else [path]


def iter_brat(
    path: Union[str, Path, Sequence[Union[str, Path]]],
    *,
    label_map: Union[None, str, LabelMap] = None,
    discontinuous: str = "join",
    corpus: str = CORPUS,
    report: Optional[ConversionReport] = None,
) -> Iterator[SourceDoc]:
    """Read BRAT documents.

    path: A folder (searched recursively for .ann), one .ann file, or a list of .ann files.
    label_map: Preset name ("identity", "n2c2-2018", "ncbi-disease"...), JSON path or LabelMap.
    discontinuous (str): "join", "fragments" or "skip".
    corpus (str): Corpus name stored on the docs.
    report (Optional[ConversionReport]): Receives malformed lines and unplaceable spans.
    YIELDS (SourceDoc): One per .ann/.txt pair; the split unit is the file stem.
    """
    if discontinuous not in DISCONTINUOUS_MODES:
        raise ValueError(Errors.E419.format(value=discontinuous, options=", ".join(DISCONTINUOUS_MODES)))
    report = report if report is not None else ConversionReport(corpus)
    lmap = get_label_map(label_map, default="identity")
    files: List[Path] = []
    for p in [path] if isinstance(path, (str, Path)) else path:
        files.extend(brat_files(p))
    ann_lines = {f: read_lines(f, report) for f in files}
    has_relations = any(line.startswith("R") for lines in ann_lines.values() for line in lines)
    seen: Dict[str, Path] = {}
    for ann in files:
        txt = ann.with_suffix(".txt")
        if not txt.exists():
            report.add_event("skipped", "missing_text_file", Location(str(ann)))
            continue
        # brat counts a BOM as character 0 (its server reads the .txt with the plain utf8 codec)
        text = read_text(txt, report, keep_bom=True)
        # a document copied under a second name (NCBI's 8528200.ann and 8528200.1.ann) is read
        # once: twice, it would count double and could sit on both sides of a train/dev split
        digest = hashlib.sha1("\n".join([text, *ann_lines[ann]]).encode("utf8")).hexdigest()
        if digest in seen:
            report.add_event("skipped", "duplicate_document", Location(str(ann)), detail=f"same as {seen[digest].name}")
            continue
        seen[digest] = ann
        yield _parse_ann(ann, ann_lines[ann], text, lmap, discontinuous, has_relations, corpus, report)


def _parse_ann(
    ann: Path,
    lines: List[str],
    text: str,
    lmap: LabelMap,
    discontinuous: str,
    has_relations: bool,
    corpus: str,
    report: ConversionReport,
) -> SourceDoc:
    path = str(ann)
    spans: Dict[str, List[SourceSpan]] = {}
    repeated: List[SourceSpan] = []
    relations: List[SourceRelation] = []
    assertions: Dict[str, Tuple[str, Location]] = {}
    for i, line in enumerate(lines, start=1):
        where = Location(path, i)
        if not line.strip():
            continue
        kind = line[0]
        fields = line.split("\t")
        if kind == "T":
            parsed = _parse_textbound(fields, where, text, lmap, discontinuous, report)
            if parsed is not None and fields[0] in spans:
                repeated.extend(parsed)  # placement reports the repeated id (``duplicate_id``)
            elif parsed is not None:
                spans[fields[0]] = parsed
        elif kind == "R":
            rel = _parse_relation(fields, where, lmap, report)
            if rel is not None:
                relations.append(rel)
        elif kind in "AM":
            args = fields[1].split() if len(fields) >= 2 else []
            if len(args) not in (2, 3):
                report.add_event("skipped", "malformed_line", where, detail="attribute")
                continue
            value = args[2] if len(args) == 3 else None
            assertion = lmap.assertion(args[0], value)
            if assertion is None:
                report.add_event(
                    "info", "unmapped_attribute", where, detail=args[0] if value is None else f"{args[0]}={value}"
                )
                continue
            if args[1] in assertions and assertions[args[1]][0] != assertion:
                report.add_event("info", "conflicting_assertions", where, detail=f"kept {assertion}")
            assertions[args[1]] = (assertion, where)
        elif kind in "EN*#":
            report.add_event(
                "info",
                {
                    "E": "event_not_converted",
                    "N": "normalization_not_converted",
                    "*": "equivalence_not_converted",
                    "#": "note_not_converted",
                }[kind],
                where,
            )
        else:
            report.add_event("skipped", "malformed_line", where, detail="unknown annotation kind")
    for target_id, (assertion, where) in assertions.items():
        if target_id not in spans:
            report.add_event("unplaceable", "attribute_target_unknown", where)
            continue
        for span in spans[target_id]:
            span.assertion = assertion
    groups = {target[0] for target in lmap.entities.values()}
    if lmap.default_group is not None:
        groups.add(lmap.default_group)
    all_spans = [s for group in spans.values() for s in group] + repeated
    groups.update(s.group for s in all_spans)
    return SourceDoc(
        text=text,
        doc_id=ann.stem,
        group_id=ann.stem,
        corpus=corpus,
        spans=all_spans,
        groups=groups,
        annotated_labels=lmap.labels_by_group(),
        relations=relations if has_relations else None,
        where=Location(path),
    )


def _parse_textbound(fields, where, text, lmap: LabelMap, discontinuous, report) -> Optional[List[SourceSpan]]:
    if len(fields) < 2:
        report.add_event("skipped", "malformed_line", where, detail="text-bound")
        return None
    head = fields[1].split(" ", 1)
    if len(head) != 2:
        report.add_event("skipped", "malformed_line", where, detail="text-bound without offsets")
        return None
    native, offsets = head
    try:
        fragments = [tuple(int(x) for x in frag.split()) for frag in offsets.split(";")]
    except ValueError:
        report.add_event("skipped", "malformed_line", where, detail="non-numeric offset")
        return None
    if not fragments or any(len(f) != 2 for f in fragments):
        report.add_event("skipped", "malformed_line", where, detail="offset pairs")
        return None
    target = lmap.entity(native)
    if target is None:
        report.add_event("unplaceable", "unmapped_label", where, detail=native)
        return None
    group, label = target
    mention = "\t".join(fields[2:]) if len(fields) >= 3 else None  # the text is the rest of the line
    key = fields[0]
    if len(fragments) == 1:
        start, end = fragments[0]
        return [SourceSpan(start, end, group, label, kb_id=native, key=key, where=where, expected_text=mention)]
    in_range = all(0 <= s < e <= len(text) for s, e in fragments)
    if in_range and mention is not None and " ".join(text[s:e] for s, e in fragments) != mention:
        report.add_event("info", "discontinuous_text_differs", where, offset=fragments[0][0])
    if discontinuous == "skip":
        report.add_event("unplaceable", "discontinuous_span", where, offset=fragments[0][0], detail=native)
        return None
    if discontinuous == "join":
        report.add_event("adjusted", "discontinuous_joined", where, offset=fragments[0][0])
        start, end = min(s for s, _ in fragments), max(e for _, e in fragments)
        return [SourceSpan(start, end, group, label, kb_id=native, key=key, where=where)]
    report.add_event("adjusted", "discontinuous_fragments", where, offset=fragments[0][0])
    return [
        SourceSpan(s, e, group, label, kb_id=native, key=key if n == 0 else None, where=where)
        for n, (s, e) in enumerate(fragments)
    ]


def _parse_relation(fields, where, lmap: LabelMap, report) -> Optional[SourceRelation]:
    parts = fields[1].split() if len(fields) >= 2 else []
    args = dict(p.split(":", 1) for p in parts[1:] if ":" in p)
    if len(parts) != 3 or "Arg1" not in args or "Arg2" not in args:
        report.add_event("skipped", "malformed_line", where, detail="relation")
        return None
    mapped = lmap.relation(parts[0])
    if mapped is None:
        report.add_event("unplaceable", "unmapped_relation", where, detail=parts[0])
        return None
    label, reverse = mapped
    head, tail = (args["Arg2"], args["Arg1"]) if reverse else (args["Arg1"], args["Arg2"])
    return SourceRelation(head, tail, label, where=where)
