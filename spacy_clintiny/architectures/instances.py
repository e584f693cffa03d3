"""Candidate entity pairs for relation extraction.

The entities of a doc are the union of its span groups named in ``spans_keys`` (the
special name ``"ents"`` means ``doc.ents``); spans with the same token offsets count once
(the first key in ``spans_keys`` wins). Every ordered pair of distinct entities whose
token distance is at most ``max_distance`` is a candidate, whether or not a sentence
boundary lies between them.

The token distance of two spans is the number of tokens strictly between them
(0 for adjacent or overlapping spans).
"""

from typing import Iterable, List, NamedTuple, Optional, Sequence, Tuple

from spacy.tokens import Doc, Span

ENTS_KEY = "ents"


class Candidates(NamedTuple):
    """The relation instances of one doc.

    spans (List[Span]): The entities, sorted by (start, end), unique token offsets.
    pairs (List[Tuple[int, int]]): Ordered (head, tail) indices into ``spans``.
    """

    spans: List[Span]
    pairs: List[Tuple[int, int]]


def token_distance(a: Span, b: Span) -> int:
    """Number of tokens strictly between two spans (0 if adjacent or overlapping).

    a (Span): One span.
    b (Span): The other span.
    RETURNS (int): The distance.
    """
    first, second = (a, b) if a.start <= b.start else (b, a)
    return max(0, second.start - first.end)


def get_entity_spans(doc: Doc, spans_keys: Sequence[str]) -> List[Span]:
    """The union of the doc's span groups in ``spans_keys`` (missing groups are skipped).

    doc (Doc): The doc.
    spans_keys (Sequence[str]): Span group names; "ents" means ``doc.ents``.
    RETURNS (List[Span]): Sorted spans with unique token offsets.
    """
    seen = set()
    spans: List[Span] = []
    for key in spans_keys:
        if key == ENTS_KEY:
            group: Iterable[Span] = doc.ents
        elif key in doc.spans:
            group = doc.spans[key]
        else:
            continue
        for span in group:
            if (span.start, span.end) not in seen and span.end > span.start:
                seen.add((span.start, span.end))
                spans.append(span)
    spans.sort(key=lambda s: (s.start, s.end))
    return spans


def get_candidate_pairs(spans: Sequence[Span], max_distance: int) -> List[Tuple[int, int]]:
    """All ordered pairs of distinct spans within ``max_distance`` tokens of each other.

    spans (Sequence[Span]): Spans sorted by start.
    max_distance (int): Largest allowed number of tokens between the two spans.
    RETURNS (List[Tuple[int, int]]): (head, tail) index pairs, both directions.
    """
    pairs: List[Tuple[int, int]] = []
    for i, first in enumerate(spans):
        for j in range(i + 1, len(spans)):
            second = spans[j]
            # Starts are sorted, so once a span starts too far after `first` ends,
            # every later span does too.
            if second.start - first.end > max_distance:
                break
            pairs.append((i, j))
            pairs.append((j, i))
    return pairs


def get_candidates(
    doc: Doc,
    spans_keys: Sequence[str],
    max_distance: int,
    *,
    spans: Optional[List[Span]] = None,
) -> Candidates:
    """The relation instances of a doc.

    doc (Doc): The doc.
    spans_keys (Sequence[str]): Span groups to take entities from.
    max_distance (int): Largest allowed token distance within a pair.
    spans (Optional[List[Span]]): Entities to use instead of the doc's span groups
        (e.g. gold entities aligned to this doc); sorted here.
    RETURNS (Candidates): Entities and candidate pairs.
    """
    if spans is None:
        spans = get_entity_spans(doc, spans_keys)
    else:
        spans = sorted(spans, key=lambda s: (s.start, s.end))
    return Candidates(spans=spans, pairs=get_candidate_pairs(spans, max_distance))
