"""Place ``SourceDoc`` annotations on a spaCy ``Doc``, keeping character offsets exact.

The default alignment, "retokenize", splits tokens at every span boundary that falls inside a
token (e.g. "9/2/92." -> "9/2/92" + "."), so every span with valid offsets is placed exactly.
"expand", "contract" and "strict" keep the tokenizer's tokens and use
``Doc.char_span(..., alignment_mode=...)`` instead. Every span or relation that cannot be
placed is counted in the report with its reason and location; none is dropped silently.
"""

from bisect import bisect_left, bisect_right
from typing import Dict, List, Optional, Set, Tuple

import numpy
from spacy.attrs import IDX, LENGTH
from spacy.language import Language
from spacy.tokens import Doc, Span

from ..errors import Errors
from .labels import ANNOTATED_LABELS
from .report import ConversionReport
from .source import Location, SourceDoc, SourceSpan

ALIGNMENT_MODES = ("retokenize", "expand", "contract", "strict")
RELATIONS_KEY = "clintiny_rels"
SOURCE_KEY = "clintiny_source"


def build_doc(
    src: SourceDoc,
    nlp: Language,
    report: ConversionReport,
    *,
    alignment: str = "retokenize",
    realign_window: int = 30,
) -> Doc:
    """Build a Doc with span groups, gold relations, cats and source metadata.

    src (SourceDoc): The document as read from its source.
    nlp (Language): Pipeline whose tokenizer is used (``nlp.make_doc``).
    report (ConversionReport): Receives unplaceable spans, adjustments and the doc's counts.
    alignment (str): "retokenize" (default), "expand", "contract" or "strict".
    realign_window (int): When a span's ``expected_text`` differs from the text at its
        offsets, look for it this many characters around them (0 disables).
    RETURNS (Doc): The annotated doc; ``doc.text == src.text``.
    """
    if alignment not in ALIGNMENT_MODES:
        raise ValueError(Errors.E400.format(value=alignment, options=", ".join(ALIGNMENT_MODES)))
    text = src.text
    source_spans, ambiguous = _unique_keys(src.spans, report)
    clean: List[Tuple[SourceSpan, int, int]] = []
    for span in source_spans:
        offsets = _check_offsets(span, text, report, realign_window)
        if offsets is not None:
            clean.append((span, offsets[0], offsets[1]))
    doc = nlp.make_doc(text)
    if alignment == "retokenize":
        doc = _retokenize(doc, {b for _, s, e in clean for b in (s, e)}, src, report)
    placed = _place_spans(doc, clean, alignment, report)
    by_group: Dict[str, List[Span]] = {group: [] for group in src.groups}
    key_to_offsets: Dict[str, Tuple[int, int]] = {}
    seen: Dict[Tuple[str, int, int, str], Span] = {}
    labels_at: Dict[Tuple[str, int, int], Set[str]] = {}
    for source_span, span in placed:
        ident = (source_span.group, span.start, span.end, source_span.label)
        if ident in seen:
            report.add_event("adjusted", "duplicate_span_merged", source_span.where, offset=span.start_char)
        else:
            seen[ident] = span
            by_group.setdefault(source_span.group, []).append(span)
            at = labels_at.setdefault(ident[:3], set())
            if at:
                report.add_event("info", "same_offsets_different_labels", source_span.where, offset=span.start_char)
            at.add(source_span.label)
        if source_span.key is not None:
            key_to_offsets[source_span.key] = (span.start_char, span.end_char)
    for group, spans in by_group.items():
        spans.sort(key=lambda s: (s.start, s.end, s.label_))
        _count_overlaps(spans, group, src, report)
        doc.spans[group] = spans
        if group in src.annotated_labels:
            doc.spans[group].attrs[ANNOTATED_LABELS] = sorted(src.annotated_labels[group])
    if src.relations is not None:
        known_keys = {s.key for s in src.spans if s.key is not None}
        rels = []
        seen_rels: Set[Tuple[int, int, int, int, str]] = set()
        for rel in src.relations:
            if rel.head in ambiguous or rel.tail in ambiguous:
                report.add_event("unplaceable", "relation_endpoint_ambiguous", rel.where, detail=rel.label)
                continue
            head = key_to_offsets.get(rel.head)
            tail = key_to_offsets.get(rel.tail)
            if head is None or tail is None:
                missing = rel.head if head is None else rel.tail
                reason = "relation_endpoint_unplaced" if missing in known_keys else "relation_endpoint_unknown"
                report.add_event("unplaceable", reason, rel.where, detail=rel.label)
                continue
            ident = (*head, *tail, rel.label)
            if ident in seen_rels:
                report.add_event("adjusted", "duplicate_relation_merged", rel.where, detail=rel.label)
                continue
            seen_rels.add(ident)
            rels.append({"head": list(head), "tail": list(tail), "label": rel.label})
        set_relations(doc, rels)
    doc.cats = dict(src.cats)
    doc.user_data[SOURCE_KEY] = {"corpus": src.corpus, "doc_id": src.doc_id, "group": src.group_id}
    if src.relation_labels is not None:
        doc.user_data[SOURCE_KEY]["relation_labels"] = sorted(src.relation_labels)
    report.count_doc(doc)
    return doc


def set_relations(doc: Doc, rels: List[Dict]) -> None:
    """Store gold relations on ``doc.user_data["clintiny_rels"]`` (the data contract, the
    structure ``spacy_clintiny.relations.set_gold_relations`` writes). Written directly: the
    offsets were just taken from placed spans, and re-validating each relation against
    ``doc.text`` costs O(len(text)) per relation on large corpora (BC5CDR: 14k relations)."""
    doc.user_data[RELATIONS_KEY] = rels


def _unique_keys(spans: List[SourceSpan], report: ConversionReport) -> Tuple[List[SourceSpan], Set[str]]:
    """Spans whose id (brat "T2", an XML tag's id) was already given on another line of the file
    are left out and reported (``duplicate_id``): ids are unique per document in these formats,
    and a relation naming a repeated id cannot say which span it meant (those relations are
    reported by the caller as ``relation_endpoint_ambiguous``). Fragments of one discontinuous
    annotation share their id and their line, and are kept."""
    first_line: Dict[str, Optional[Location]] = {}
    kept: List[SourceSpan] = []
    ambiguous: Set[str] = set()
    for span in spans:
        if span.key is not None:
            if span.key not in first_line:
                first_line[span.key] = span.where
            elif span.where != first_line[span.key]:
                ambiguous.add(span.key)
                report.add_event("unplaceable", "duplicate_id", span.where, offset=span.start, detail=span.label)
                continue
        kept.append(span)
    return kept, ambiguous


def _check_offsets(span: SourceSpan, text: str, report: ConversionReport, window: int) -> Optional[Tuple[int, int]]:
    start, end = span.start, span.end
    if not (0 <= start <= len(text) and 0 <= end <= len(text)) or start > end:
        report.add_event("unplaceable", "offset_out_of_range", span.where, offset=start, detail=span.label)
        return None
    if start == end:
        report.add_event("unplaceable", "empty_span", span.where, offset=start, detail=span.label)
        return None
    expected = span.expected_text
    if expected is not None and text[start:end] != expected:
        if " ".join(text[start:end].split()) == " ".join(expected.split()):
            report.add_event("adjusted", "mention_whitespace_differs", span.where, offset=start)
            expected = None
    if expected is not None and text[start:end] != expected:
        expected = expected.strip()
        found = _realign(text, expected, start, window)
        if found is None:
            report.add_event("unplaceable", "text_mismatch", span.where, offset=start, detail=span.label)
            return None
        shift = f"shift {found - start}" + (
            f", length {end - start} -> {len(expected)}" if len(expected) != end - start else ""
        )
        report.add_event("adjusted", "offsets_realigned", span.where, offset=start, detail=shift)
        start, end = found, found + len(expected)
    trimmed_start, trimmed_end = start, end
    while trimmed_start < trimmed_end and text[trimmed_start].isspace():
        trimmed_start += 1
    while trimmed_end > trimmed_start and text[trimmed_end - 1].isspace():
        trimmed_end -= 1
    if trimmed_start == trimmed_end:
        report.add_event("unplaceable", "whitespace_only", span.where, offset=start, detail=span.label)
        return None
    if (trimmed_start, trimmed_end) != (start, end):
        report.add_event("adjusted", "whitespace_trimmed", span.where, offset=start)
    return trimmed_start, trimmed_end


def _realign(text: str, expected: str, start: int, window: int) -> Optional[int]:
    if window <= 0 or not expected:
        return None
    lo = max(0, start - window)
    hi = min(len(text), start + len(expected) + window)
    best: Optional[int] = None
    pos = text.find(expected, lo, hi)
    while pos != -1:
        if best is None or abs(pos - start) < abs(best - start):
            best = pos
        pos = text.find(expected, pos + 1, hi)
    return best


def _retokenize(doc: Doc, boundaries: Set[int], src: SourceDoc, report: ConversionReport) -> Doc:
    """Split tokens at span boundaries that fall strictly inside them."""
    if not boundaries or not len(doc):
        return doc
    starts = doc.to_array(IDX).astype("int64")
    ends = starts + doc.to_array(LENGTH).astype("int64")
    ordered_arr = numpy.asarray(sorted(boundaries), dtype="int64")
    # a boundary is fine when it is a token start or end, or lies in whitespace between tokens
    pos = numpy.searchsorted(starts, ordered_arr, side="right") - 1
    inside = (pos >= 0) & (ordered_arr > starts[numpy.maximum(pos, 0)]) & (ordered_arr < ends[numpy.maximum(pos, 0)])
    if not inside.any():
        return doc
    words: List[str] = []
    spaces: List[bool] = []
    n_split = 0
    ordered = sorted(boundaries)
    for token in doc:
        start = token.idx
        lo = bisect_right(ordered, start)
        hi = bisect_left(ordered, start + len(token.text), lo)
        cuts = [b - start for b in ordered[lo:hi]]
        if not cuts:
            words.append(token.text)
            spaces.append(bool(token.whitespace_))
            continue
        n_split += 1
        report.add_event("adjusted", "token_split", src.where, offset=start, detail=src.doc_id)
        prev = 0
        for cut in cuts:
            words.append(token.text[prev:cut])
            spaces.append(False)
            prev = cut
        words.append(token.text[prev:])
        spaces.append(bool(token.whitespace_))
    if not n_split:
        return doc
    new_doc = Doc(doc.vocab, words=words, spaces=spaces)
    if new_doc.text != doc.text:
        raise ValueError(Errors.E401.format(doc_id=src.doc_id))
    return new_doc


def _place_spans(
    doc: Doc, clean: List[Tuple[SourceSpan, int, int]], alignment: str, report: ConversionReport
) -> List[Tuple[SourceSpan, Span]]:
    mode = "strict" if alignment == "retokenize" else alignment
    placed = []
    for source_span, start, end in clean:
        char_span = doc.char_span(start, end, alignment_mode=mode)
        if char_span is None:
            report.add_event(
                "unplaceable", "token_misaligned", source_span.where, offset=start, detail=source_span.label
            )
            continue
        if (char_span.start_char, char_span.end_char) != (start, end):
            report.add_event("adjusted", f"alignment_{mode}", source_span.where, offset=start)
        span = Span(
            doc,
            char_span.start,
            char_span.end,
            label=source_span.label,
            kb_id=source_span.kb_id,
            span_id=source_span.assertion,
        )
        placed.append((source_span, span))
    return placed


def _count_overlaps(spans: List[Span], group: str, src: SourceDoc, report: ConversionReport) -> None:
    max_end = -1
    for span in spans:
        if span.start < max_end:
            report.add_event("info", f"overlapping_spans[{group}]", src.where, offset=span.start_char)
        max_end = max(max_end, span.end)
