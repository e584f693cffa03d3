"""Docs and de-identification results as plain rows: the values of the Spark output columns.

Everything here is plain Python (no Spark), so the executor code and the tests share it. Span
text is only included when asked for (``with_text``): by default a row holds offsets, labels,
scores and flags, never note text.
"""

from typing import Any, Dict, List, Optional, Tuple

from spacy.tokens import Doc, Span

from ..deid.types import DeidResult

ENTS_KEY = "ents"
# medspaCy ConText's span attributes (``span_attrs = "default"``): one nullable boolean each.
CONTEXT_FLAGS = ("is_negated", "is_uncertain", "is_historical", "is_hypothetical", "is_family")
SPAN_FIELDS = ("start", "end", "label", "kb_id", "source", "score") + CONTEXT_FLAGS
RELATION_FIELDS = ("head_start", "head_end", "head_label", "tail_start", "tail_end", "tail_label", "label", "score")
PHI_FIELDS = ("start", "end", "label", "subtype", "source", "score", "operator", "out_start", "out_end")

Flags = Dict[str, Optional[bool]]
NO_FLAGS: Flags = {flag: None for flag in CONTEXT_FLAGS}


def context_flags(doc: Doc) -> Dict[Tuple[int, int, str], Flags]:
    """The ConText flags of a doc's entities, by (start_char, end_char, label).

    ConText marks ``doc.ents`` (medspaCy's ``input_span_type = "ents"``); a span of another group
    with the same offsets and label gets the same flags, any other span gets None for each.

    doc (Doc): A processed doc.
    RETURNS (Dict[Tuple[int, int, str], Flags]): Flag name -> value (None when the extension
        is not installed: no ConText in this process).
    """
    present = [flag for flag in CONTEXT_FLAGS if Span.has_extension(flag)]
    if not present:
        return {}
    flags = {}
    for ent in doc.ents:
        values = dict(NO_FLAGS)
        for flag in present:
            value = getattr(ent._, flag)
            values[flag] = None if value is None else bool(value)
        flags[(ent.start_char, ent.end_char, ent.label_)] = values
    return flags


def span_rows(doc: Doc, key: str, *, with_text: bool = False, flags: Optional[Dict] = None) -> List[Dict[str, Any]]:
    """The spans of one group (``"ents"`` for ``doc.ents``) as rows.

    doc (Doc): A processed doc.
    key (str): A span group name, or "ents".
    with_text (bool): Add each span's text (field "text").
    flags (Optional[Dict]): ``context_flags(doc)``, computed once per doc (None: computed here).
    RETURNS (List[Dict[str, Any]]): One row per span (``SPAN_FIELDS``); none if the doc lacks the group.
    """
    if key == ENTS_KEY:
        spans, scores = list(doc.ents), None
    elif key in doc.spans:
        group = doc.spans[key]
        spans, scores = list(group), group.attrs.get("scores")
    else:
        return []
    flags = context_flags(doc) if flags is None else flags
    rows = []
    for i, span in enumerate(spans):
        score = float(scores[i]) if scores is not None and i < len(scores) else None
        row: Dict[str, Any] = {
            "start": span.start_char,
            "end": span.end_char,
            "label": span.label_,
            "kb_id": span.kb_id_ or None,
            "source": span.id_ or None,
            "score": score,
            **flags.get((span.start_char, span.end_char, span.label_), NO_FLAGS),
        }
        if with_text:
            row["text"] = span.text
        rows.append(row)
    return rows


def relation_rows(doc: Doc, *, with_text: bool = False) -> Optional[List[Dict[str, Any]]]:
    """Predicted relations (``doc._.clintiny_rels``) as rows.

    doc (Doc): A processed doc.
    with_text (bool): Add "head_text" and "tail_text".
    RETURNS (Optional[List[Dict[str, Any]]]): One row per relation (``RELATION_FIELDS``); an
        empty list when no relation extractor ran.
    """
    rels = doc._.clintiny_rels if Doc.has_extension("clintiny_rels") else None
    rows = []
    for rel in rels or []:
        row: Dict[str, Any] = {
            "head_start": rel.head.start_char,
            "head_end": rel.head.end_char,
            "head_label": rel.head.label_,
            "tail_start": rel.tail.start_char,
            "tail_end": rel.tail.end_char,
            "tail_label": rel.tail.label_,
            "label": rel.label,
            "score": float(rel.score),
        }
        if with_text:
            row["head_text"], row["tail_text"] = rel.head.text, rel.tail.text
        rows.append(row)
    return rows


def doc_row(doc: Doc, span_keys: Tuple[str, ...], *, with_text: bool = False) -> Dict[str, Any]:
    """Everything ``annotate`` writes for one doc.

    doc (Doc): A processed doc.
    span_keys (Tuple[str, ...]): The span groups to write (each its own column).
    with_text (bool): Add span text.
    RETURNS (Dict[str, Any]): Span key -> span rows, "cats" -> {label: score}, "relations" -> rows.
    """
    flags = context_flags(doc)
    row: Dict[str, Any] = {key: span_rows(doc, key, with_text=with_text, flags=flags) for key in span_keys}
    row["cats"] = {label: float(score) for label, score in doc.cats.items()}
    row["relations"] = relation_rows(doc, with_text=with_text)
    return row


def phi_rows(result: DeidResult) -> List[Dict[str, Any]]:
    """What was done to each PHI span of a de-identified note (``PHI_FIELDS``; never the text).

    result (DeidResult): The engine's result for one note.
    RETURNS (List[Dict[str, Any]]): One row per replacement, by offset.
    """
    return [
        {
            "start": r.start,
            "end": r.end,
            "label": r.label,
            "subtype": r.subtype or None,
            "source": r.source,
            "score": float(r.score),
            "operator": r.operator,
            "out_start": r.out_start,
            "out_end": r.out_end,
        }
        for r in result.replacements
    ]
