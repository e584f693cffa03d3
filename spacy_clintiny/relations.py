"""Relations between entity spans: gold annotation and predicted results.

Gold relations live in ``doc.user_data["clintiny_rels"]`` as plain data (a list of
``{"head": [start_char, end_char], "tail": [start_char, end_char], "label": str}``), so
they survive ``DocBin(store_user_data=True)``. A missing key means "relations not
annotated", an empty list means "annotated, none there".

Predicted relations are read through ``doc._.clintiny_rels`` as :class:`Relation` objects.
The extension is a getter/setter pair over plain tuples kept in
``doc.user_data["clintiny_rels_predicted"]``: a Doc holding predictions can be pickled,
sent to another process or stored in a ``DocBin(store_user_data=True)`` and read back
with its relations intact (the spans are rebuilt from token offsets). The relation extractor
also keeps, per label, the highest probability over all of a doc's candidate pairs, kept or not
(``doc.user_data["clintiny_rels_max"]``, read with :func:`get_relation_maxima`): evidence about the
doc that does not depend on the decision thresholds.
"""

from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from spacy.tokens import Doc, Span

from .errors import Errors

GOLD_KEY = "clintiny_rels"
PREDICTED_KEY = "clintiny_rels_predicted"
MAXIMA_KEY = "clintiny_rels_max"

# (start_char, end_char, start_char, end_char, label): how relations are compared in scoring.
RelationKey = Tuple[int, int, int, int, str]


@dataclass(frozen=True)
class Relation:
    """A predicted relation from ``head`` to ``tail``.

    head (Span): The head entity (e.g. the drug).
    tail (Span): The tail entity (e.g. the adverse effect).
    label (str): The relation label.
    score (float): The classifier's probability for ``label``.
    """

    head: Span
    tail: Span
    label: str
    score: float

    @property
    def key(self) -> RelationKey:
        """RETURNS (RelationKey): Character offsets of head and tail plus the label."""
        return (self.head.start_char, self.head.end_char, self.tail.start_char, self.tail.end_char, self.label)

    def __repr__(self) -> str:
        # Offsets only: the span text may be PHI and must not end up in logs.
        return (
            f"Relation(label={self.label!r}, head=({self.head.start_char}, {self.head.end_char}), "
            f"tail=({self.tail.start_char}, {self.tail.end_char}), score={self.score:.3f})"
        )


def set_gold_relations(doc: Doc, rels: Iterable[Union[Mapping[str, Any], Sequence[Any]]]) -> None:
    """Store gold relations on a reference doc (marks the doc as annotated for relations).

    doc (Doc): The reference doc.
    rels (Iterable): Dicts ``{"head": [start, end], "tail": [start, end], "label": str}``
        with character offsets, or tuples ``(head_start, head_end, tail_start, tail_end,
        label)``. An empty iterable records "annotated, no relation".
    """
    n_chars = len(doc.text)
    doc.user_data[GOLD_KEY] = [_validate_gold(n_chars, i, rel) for i, rel in enumerate(rels)]


def get_gold_relations(doc: Doc) -> Optional[List[Dict[str, Any]]]:
    """The gold relations of a reference doc.

    doc (Doc): The reference doc.
    RETURNS (Optional[List[Dict[str, Any]]]): None if the doc is not annotated for
        relations, else the list (possibly empty) of relation dicts.
    """
    rels = doc.user_data.get(GOLD_KEY)
    if rels is None:
        return None
    n_chars = len(doc.text)  # Doc.text joins every token: once per doc, not per relation
    return [_validate_gold(n_chars, i, rel) for i, rel in enumerate(rels)]


def gold_relation_keys(doc: Doc) -> Optional[List[RelationKey]]:
    """The gold relations of a doc as comparable keys.

    doc (Doc): The reference doc.
    RETURNS (Optional[List[RelationKey]]): None if not annotated for relations.
    """
    rels = get_gold_relations(doc)
    if rels is None:
        return None
    return [(r["head"][0], r["head"][1], r["tail"][0], r["tail"][1], r["label"]) for r in rels]


def _validate_gold(n_chars: int, i: int, rel: Union[Mapping[str, Any], Sequence[Any]]) -> Dict[str, Any]:
    if isinstance(rel, Mapping):
        if set(rel.keys()) != {"head", "tail", "label"}:
            raise ValueError(Errors.E304.format(i=i, problem=f"keys are {sorted(map(str, rel.keys()))}"))
        head, tail, label = rel["head"], rel["tail"], rel["label"]
    elif isinstance(rel, Sequence) and not isinstance(rel, str) and len(rel) == 5:
        head, tail, label = rel[0:2], rel[2:4], rel[4]
    else:
        raise ValueError(Errors.E304.format(i=i, problem=f"got a {type(rel).__name__}"))
    if not isinstance(label, str) or not label:
        raise ValueError(Errors.E304.format(i=i, problem=f"label {label!r} is not a non-empty string"))
    out: Dict[str, Any] = {"label": label}
    for name, offsets in (("head", head), ("tail", tail)):
        if (
            not isinstance(offsets, Sequence)
            or len(offsets) != 2
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in offsets)
        ):
            raise ValueError(Errors.E304.format(i=i, problem=f"{name} {offsets!r} is not [start_char, end_char]"))
        start, end = int(offsets[0]), int(offsets[1])
        if not 0 <= start < end <= n_chars:
            raise ValueError(Errors.E305.format(i=i, which=name, offsets=[start, end], length=n_chars))
        out[name] = [start, end]
    return {"head": out["head"], "tail": out["tail"], "label": label}


# Predicted relations: the ``doc._.clintiny_rels`` getter and setter.


def _span_record(span: Span) -> List[Any]:
    return [span.start, span.end, span.label_, span.kb_id_, span.id_]


def _relation_record(head: List[Any], tail: List[Any], label: str, score: float) -> Tuple[Any, ...]:
    """One stored predicted relation: head's and tail's span records, label, score."""
    return tuple(head + tail + [label, float(score)])


def _span_from_record(doc: Doc, record: Sequence[Any]) -> Span:
    start, end, label, kb_id, span_id = record
    return Span(doc, int(start), int(end), label=label, kb_id=kb_id, span_id=span_id)


def get_predicted_relations(doc: Doc) -> Optional[List[Relation]]:
    """Getter of ``doc._.clintiny_rels``.

    doc (Doc): The doc.
    RETURNS (Optional[List[Relation]]): None if no relation extractor has run on the doc,
        else a new list of the predicted relations. Assign a list to change them; mutating
        the returned list does not change the doc.
    """
    records = doc.user_data.get(PREDICTED_KEY)
    if records is None:
        return None
    return [
        Relation(
            head=_span_from_record(doc, rec[0:5]),
            tail=_span_from_record(doc, rec[5:10]),
            label=rec[10],
            score=float(rec[11]),
        )
        for rec in records
    ]


def set_predicted_pairs(doc: Doc, spans: Sequence[Span], rels: Iterable[Tuple[int, int, str, float]]) -> None:
    """Store predicted relations given as indices into ``spans``: what the setter of
    ``doc._.clintiny_rels`` stores, without a ``Relation`` per pair (the relation extractor's
    path: an untrained head may predict a relation for every one of thousands of pairs).

    doc (Doc): The doc.
    spans (Sequence[Span]): Spans of ``doc``.
    rels (Iterable[Tuple[int, int, str, float]]): (head index, tail index, label, score).
    """
    records = [_span_record(span) for span in spans]
    doc.user_data[PREDICTED_KEY] = [
        _relation_record(records[head], records[tail], label, score) for head, tail, label, score in rels
    ]


def predicted_relation_keys(doc: Doc) -> Optional[List[RelationKey]]:
    """The keys of ``doc._.clintiny_rels`` (``Relation.key``), read without making spans.

    doc (Doc): The doc.
    RETURNS (Optional[List[RelationKey]]): None if no relation extractor has run on the doc.
    """
    records = doc.user_data.get(PREDICTED_KEY)
    if records is None:
        return None
    return [(*_char_offsets(doc, rec[0], rec[1]), *_char_offsets(doc, rec[5], rec[6]), rec[10]) for rec in records]


def _char_offsets(doc: Doc, start: int, end: int) -> Tuple[int, int]:
    if end > start:
        last = doc[end - 1]
        return doc[start].idx, last.idx + len(last)
    span = Span(doc, start, end)
    return span.start_char, span.end_char


def set_predicted_relations(doc: Doc, rels: Optional[Iterable[Relation]]) -> None:
    """Setter of ``doc._.clintiny_rels``: stores plain tuples, never Span objects.

    doc (Doc): The doc.
    rels (Optional[Iterable[Relation]]): The relations; None removes them.
    """
    if rels is None:
        doc.user_data.pop(PREDICTED_KEY, None)
        return
    records = []
    for rel in rels:
        if not isinstance(rel, Relation):
            raise TypeError(Errors.E306.format(type=type(rel).__name__))
        if rel.head.doc is not doc or rel.tail.doc is not doc:
            raise ValueError(Errors.E307.format(key=rel.key[:4]))
        records.append(_relation_record(_span_record(rel.head), _span_record(rel.tail), rel.label, rel.score))
    doc.user_data[PREDICTED_KEY] = records


def drop_predicted_relations(doc: Doc, labels: Iterable[str]) -> int:
    """Remove the predicted relations (``doc._.clintiny_rels``) whose label is in ``labels``.

    doc (Doc): The doc.
    labels (Iterable[str]): Relation labels.
    RETURNS (int): How many were removed (0 if no relation extractor has run on the doc).
    """
    records = doc.user_data.get(PREDICTED_KEY)
    if not records:
        return 0
    drop = set(labels)
    kept = [rec for rec in records if rec[10] not in drop]
    doc.user_data[PREDICTED_KEY] = kept
    return len(records) - len(kept)


def set_relation_maxima(doc: Doc, maxima: Mapping[str, float]) -> None:
    """Store, per relation label, the highest probability over the doc's candidate pairs.

    doc (Doc): The doc.
    maxima (Mapping[str, float]): Label -> highest probability (0 when the doc has no pair).
    """
    doc.user_data[MAXIMA_KEY] = {str(label): float(score) for label, score in maxima.items()}


def get_relation_maxima(doc: Doc) -> Optional[Dict[str, float]]:
    """RETURNS (Optional[Dict[str, float]]): Per label, the highest probability over the doc's
    candidate pairs; None if no relation extractor has run on the doc."""
    maxima = doc.user_data.get(MAXIMA_KEY)
    return None if maxima is None else dict(maxima)
