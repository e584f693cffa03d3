"""ADE corpus v2 (Gurulingappa et al. 2012): ``DRUG-AE.rel``, ``DRUG-DOSE.rel``, ``ADE-NEG.txt``.

One doc per distinct (PMID, sentence). Rows give mention offsets at DOCUMENT level, but only
the sentence is distributed, so each mention is located inside its sentence: the sentence's
document offset is estimated as the one most mentions agree on (``doc_start - position`` over
all occurrences), and every mention is placed at the occurrence that offset predicts, or else
at its nearest occurrence (reported as "adjusted"). A mention absent from its sentence is
reported as unplaceable.

Positive sentences: drug -> concepts TREATMENT (kb "DRUG"), adverse effect -> concepts PROBLEM
(kb "ADVERSE_EFFECT"), dose -> modifiers DOSE; relations DRUG_AE and DRUG_DOSE (head = drug);
``cats = {"ADE": 1.0}``. ADE-NEG sentences: ``cats = {"ADE": 0.0}``, no span group (their drugs
are not annotated) and an empty relation list annotated for DRUG_AE only: by the corpus's
definition they state no drug-adverse-effect relation, so a DRUG_AE predicted there is a false
positive in scores and calibration, while their doses were never annotated. The split unit is
the PMID.
"""

from collections import Counter
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple, Union

from .labels import CONCEPTS_KEY, MODIFIERS_KEY
from .report import ConversionReport
from .source import Location, SourceDoc, SourceRelation, SourceSpan
from .textio import read_lines

CORPUS = "ade"
FILES = ("DRUG-AE.rel", "DRUG-DOSE.rel", "ADE-NEG.txt")
# Which column pair is what, per file: (group, label, kb_id) for column 3 and column 6.
ROLES = {
    "DRUG-AE.rel": ((CONCEPTS_KEY, "PROBLEM", "ADVERSE_EFFECT"), "DRUG_AE"),
    "DRUG-DOSE.rel": ((MODIFIERS_KEY, "DOSE", "DOSE"), "DRUG_DOSE"),
}
DRUG = (CONCEPTS_KEY, "TREATMENT", "DRUG")
# The labels the corpus annotates: drugs and adverse effects, doses; no tests, no other modifiers
ANNOTATED = {CONCEPTS_KEY: ["PROBLEM", "TREATMENT"], MODIFIERS_KEY: ["DOSE"]}

Mention = Tuple[str, int, int, Tuple[str, str, str], Location]  # text, doc start, doc end, role


def iter_ade(folder: Union[str, Path], *, report: Optional[ConversionReport] = None) -> Iterator[SourceDoc]:
    """Read the three ADE files from ``folder`` (missing files are reported and skipped).

    folder (Union[str, Path]): Folder with DRUG-AE.rel, DRUG-DOSE.rel and ADE-NEG.txt.
    report (Optional[ConversionReport]): Receives malformed rows and unplaceable mentions.
    YIELDS (SourceDoc): Positive sentences first (file order), then negative ones.
    """
    report = report if report is not None else ConversionReport(CORPUS)
    folder = Path(folder)
    positives: Dict[Tuple[str, str], List[Tuple[Mention, Mention, str]]] = {}
    first_line: Dict[Tuple[str, str], Location] = {}
    for name, (role, rel_label) in ROLES.items():
        path = folder / name
        if not path.exists():
            report.add_event("skipped", "missing_file", Location(str(path)))
            continue
        for i, line in enumerate(read_lines(path, report), start=1):
            where = Location(str(path), i)
            if not line.strip():
                continue
            row = _parse_rel_row(line, where, report)
            if row is None:
                continue
            pmid, sentence, arg, a_start, a_end, drug, d_start, d_end = row
            key = (pmid, sentence)
            first_line.setdefault(key, where)
            positives.setdefault(key, []).append(
                ((drug, d_start, d_end, DRUG, where), (arg, a_start, a_end, role, where), rel_label)
            )
    for (pmid, sentence), pairs in positives.items():
        yield _positive_doc(pmid, sentence, pairs, first_line[(pmid, sentence)], report)
    neg_path = folder / "ADE-NEG.txt"
    if not neg_path.exists():
        report.add_event("skipped", "missing_file", Location(str(neg_path)))
        return
    seen = set()
    for i, line in enumerate(read_lines(neg_path, report), start=1):
        where = Location(str(neg_path), i)
        if not line.strip():
            continue
        parts = line.split(" ", 2)
        if len(parts) != 3 or parts[1] != "NEG" or not parts[0].isdigit() or not parts[2].strip():
            report.add_event("skipped", "malformed_line", where, detail=f"{len(parts)} fields")
            continue
        pmid, _, sentence = parts
        if (pmid, sentence) in seen:
            report.add_event("skipped", "duplicate_sentence", where)
            continue
        if (pmid, sentence) in positives:
            report.add_event("skipped", "negative_sentence_also_positive", where)
            continue
        seen.add((pmid, sentence))
        yield SourceDoc(
            text=sentence,
            doc_id=f"{pmid}-neg-{i}",
            group_id=pmid,
            corpus=CORPUS,
            cats={"ADE": 0.0},
            relations=[],
            relation_labels=["DRUG_AE"],
            where=where,
        )


def _parse_rel_row(line: str, where: Location, report: ConversionReport):
    parts = line.split("|")
    if len(parts) > 8:
        # A "|" inside the sentence: the last six fields are fixed, the sentence takes the rest.
        parts = [parts[0], "|".join(parts[1:-6])] + parts[-6:]
        report.add_event("info", "pipe_in_sentence", where)
    if len(parts) != 8:
        report.add_event("skipped", "malformed_line", where, detail=f"{len(parts)} fields, expected 8")
        return None
    pmid, sentence, arg, a_start, a_end, drug, d_start, d_end = parts
    if not all(x.strip().lstrip("-").isdigit() for x in (a_start, a_end, d_start, d_end)):
        report.add_event("skipped", "malformed_line", where, detail="non-numeric offset")
        return None
    return pmid, sentence, arg, int(a_start), int(a_end), drug, int(d_start), int(d_end)


def _occurrences(sentence: str, mention: str) -> List[int]:
    found = []
    pos = sentence.find(mention)
    while pos != -1 and mention:
        found.append(pos)
        pos = sentence.find(mention, pos + 1)
    return found


def _positive_doc(pmid: str, sentence: str, pairs, where: Location, report: ConversionReport) -> SourceDoc:
    mentions: List[Mention] = [m for head, tail, _ in pairs for m in (head, tail)]
    occ = {(m[0], m[1]): _occurrences(sentence, m[0]) for m in mentions}
    votes: Counter = Counter()
    for text, start, _, _, _ in mentions:
        for pos in set(occ[(text, start)]):
            votes[start - pos] += 1
    offset = max(votes, key=lambda o: (votes[o], -abs(o))) if votes else 0
    spans: List[SourceSpan] = []
    keys: Dict[Tuple[str, int, Tuple[str, str, str]], Optional[str]] = {}

    def place(m: Mention) -> Optional[str]:
        text, start, end, role, loc = m
        ident = (text, start, role)
        if ident in keys:
            return keys[ident]
        positions = occ[(text, start)]
        key: Optional[str] = None
        if not positions:
            report.add_event("unplaceable", "not_found_in_sentence", loc, offset=start, detail=role[1])
        else:
            if end - start != len(text):
                report.add_event("info", "offset_length_differs_from_text", loc, offset=start, detail=role[1])
            predicted = start - offset
            local = predicted if predicted in positions else min(positions, key=lambda p: abs(p - predicted))
            if local != predicted:
                report.add_event("adjusted", "located_by_nearest_occurrence", loc, offset=start, detail=role[1])
            key = f"{role[1]}:{local}:{local + len(text)}"
            group, label, kb = role
            spans.append(SourceSpan(local, local + len(text), group, label, kb_id=kb, key=key, where=loc))
        keys[ident] = key
        return key

    relations = []
    for head, tail, label in pairs:
        head_key, tail_key = place(head), place(tail)
        if head_key is None or tail_key is None:
            report.add_event("unplaceable", "relation_endpoint_unplaced", head[4], detail=label)
            continue
        relations.append(SourceRelation(head_key, tail_key, label, where=head[4]))
    return SourceDoc(
        text=sentence,
        doc_id=f"{pmid}-{where.line}",
        group_id=pmid,
        corpus=CORPUS,
        spans=spans,
        groups={CONCEPTS_KEY, MODIFIERS_KEY},
        annotated_labels=ANNOTATED,
        relations=relations,
        cats={"ADE": 1.0},
        where=where,
    )
