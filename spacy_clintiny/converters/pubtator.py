"""PubTator (BC5CDR, NCBI disease ``original-data``): ``PMID|t|title``, ``PMID|a|abstract``,
then tab-separated mentions ``PMID start end text type ids [names]`` and relations
``PMID CID chemical_id disease_id``; documents are separated by blank lines.

The doc text is ``title + " " + abstract`` (the offsets' convention). Mentions go through a
``LabelMap`` (default "biomedical": Chemical -> TREATMENT, every disease type -> PROBLEM, the
native type kept on ``kb_id_``). CID relations are given between concept ids, not mentions, so
each is expanded to every (chemical mention, disease mention) pair carrying those ids; the
report also counts the concept-level pairs (``cid_concept_pairs``) and those with no mention
on one side (unplaceable ``no_mention_for_concept_id``). A file with no relation line at all
is treated as not annotating relations. The split unit is the PMID.
"""

import re
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple, Union

from .labels import LabelMap, get_label_map
from .report import ConversionReport
from .source import Location, SourceDoc, SourceRelation, SourceSpan
from .textio import read_lines

CORPUS = "pubtator"


def iter_pubtator(
    path: Union[str, Path],
    *,
    label_map: Union[None, str, LabelMap] = None,
    report: Optional[ConversionReport] = None,
) -> Iterator[SourceDoc]:
    """Read one PubTator file.

    path (Union[str, Path]): The PubTator file.
    label_map: Preset name, JSON path or LabelMap (default "biomedical").
    report (Optional[ConversionReport]): Receives malformed lines and unplaceable mentions.
    YIELDS (SourceDoc): One per PMID (a repeated PMID is reported and skipped).
    """
    report = report if report is not None else ConversionReport(CORPUS)
    lmap = get_label_map(label_map, default="biomedical")
    lines = read_lines(path, report)
    has_relations = any(len(line.split("\t")) == 4 for line in lines)
    seen = set()
    for block in _blocks(lines):
        doc = _parse_block(block, str(path), lmap, has_relations, report)
        if doc is None:
            continue
        if doc.doc_id in seen:
            report.add_event("skipped", "duplicate_document", doc.where, detail=doc.doc_id)
            continue
        seen.add(doc.doc_id)
        yield doc


_TITLE_LINE = re.compile(r"^[^|\t]+\|t\|")


def _blocks(lines: List[str]) -> Iterator[List[Tuple[int, str]]]:
    """The documents' lines (with 1-based line numbers): split at blank lines, and also where a
    title line ("PMID|t|...") follows a document without one (files joined with ``cat``)."""
    block: List[Tuple[int, str]] = []
    for i, line in enumerate(lines, start=1):
        if not line.strip() or (block and _TITLE_LINE.match(line)):
            if block:
                yield block
            block = []
        if line.strip():
            block.append((i, line))
    if block:
        yield block


def _parse_block(block, path: str, lmap: LabelMap, has_relations: bool, report: ConversionReport):
    title = abstract = None
    pmid = None
    mentions: List[Tuple[int, List[str]]] = []
    cids: List[Tuple[int, List[str]]] = []
    for i, line in block:
        where = Location(path, i)
        if "|t|" in line[:40] and "\t" not in line.split("|t|", 1)[0]:
            pmid, title = line.split("|t|", 1)
        elif "|a|" in line[:40] and "\t" not in line.split("|a|", 1)[0]:
            pmid_a, abstract = line.split("|a|", 1)
            if pmid is not None and pmid_a != pmid:
                report.add_event("skipped", "malformed_line", where, detail="abstract PMID differs from title")
        else:
            fields = line.split("\t")
            if len(fields) in (6, 7):
                mentions.append((i, fields))
            elif len(fields) == 4:
                cids.append((i, fields))
            else:
                report.add_event("skipped", "malformed_line", where, detail=f"{len(fields)} tab fields")
    if pmid is None or title is None:
        report.add_event("skipped", "document_without_title", Location(path, block[0][0]))
        return None
    text = title if abstract is None else f"{title} {abstract}"
    spans: List[SourceSpan] = []
    ids_by_type: Dict[str, Dict[str, List[str]]] = {}
    groups = set()
    for n, (i, fields) in enumerate(mentions):
        where = Location(path, i)
        if fields[0] != pmid:
            report.add_event("skipped", "malformed_line", where, detail="mention PMID differs from its document")
            continue
        try:
            start, end = int(fields[1]), int(fields[2])
        except ValueError:
            report.add_event("skipped", "malformed_line", where, detail="non-numeric offset")
            continue
        native = fields[4]
        target = lmap.entity(native)
        if target is None:
            report.add_event("unplaceable", "unmapped_label", where, detail=native)
            continue
        group, label = target
        groups.add(group)
        key = f"m{n}"
        spans.append(SourceSpan(start, end, group, label, kb_id=native, key=key, where=where, expected_text=fields[3]))
        for concept_id in fields[5].split("|"):
            ids_by_type.setdefault(native, {}).setdefault(concept_id, []).append(key)
    for target in lmap.entities.values():
        groups.add(target[0])
    relations: Optional[List[SourceRelation]] = [] if has_relations else None
    for i, fields in cids:
        where = Location(path, i)
        native = fields[1]
        mapped = lmap.relation(native)
        if mapped is None:
            report.add_event("unplaceable", "unmapped_relation", where, detail=native)
            continue
        label, reverse = mapped
        report.add_event("info", f"{native.lower()}_concept_pairs", where)
        heads = ids_by_type.get("Chemical", {}).get(fields[2], [])
        tails = ids_by_type.get("Disease", {}).get(fields[3], [])
        if not heads or not tails:
            report.add_event("unplaceable", "no_mention_for_concept_id", where, detail=label)
            continue
        for head in heads:
            for tail in tails:
                h, t = (tail, head) if reverse else (head, tail)
                relations.append(SourceRelation(h, t, label, where=where))  # type: ignore[union-attr]
    return SourceDoc(
        text=text,
        doc_id=pmid,
        group_id=pmid,
        corpus=CORPUS,
        spans=spans,
        groups=groups & {t[0] for t in lmap.entities.values()} or groups,
        annotated_labels=lmap.labels_by_group(),
        relations=relations,
        where=Location(path, block[0][0]),
    )
