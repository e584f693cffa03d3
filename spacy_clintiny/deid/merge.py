"""Overlap resolution between PHI detectors, one documented way.

Detectors disagree on extents ("DR. SMITH" from a rule, "SMITH" from the model). Dropping
one of two partly overlapping spans would leak the characters only the dropped one covers,
so overlapping spans are MERGED into one span covering their union. Its label, subtype,
source and score come from the LONGEST member; between members of the same length, from the
higher-precision source (``types.SOURCE_RANK``: deny list, then rules, then the model), then
the higher score. Spans that only touch (one ends where the next starts) stay separate.
"""

from typing import Iterable, List

from .types import PhiMention, source_rank


def _preference(mention: PhiMention) -> tuple:
    return (-(mention.end - mention.start), source_rank(mention.source), -mention.score)


def merge_mentions(mentions: Iterable[PhiMention]) -> List[PhiMention]:
    """Merge overlapping mentions into their union.

    mentions (Iterable[PhiMention]): Mentions from any detectors, in any order.
    RETURNS (List[PhiMention]): Non-overlapping mentions sorted by start.
    """
    ordered = sorted(mentions, key=lambda m: (m.start, m.end))
    merged: List[PhiMention] = []
    cluster: List[PhiMention] = []
    cluster_end = -1
    for mention in ordered:
        if cluster and mention.start < cluster_end:
            cluster.append(mention)
            cluster_end = max(cluster_end, mention.end)
            continue
        if cluster:
            merged.append(_resolve(cluster, cluster_end))
        cluster, cluster_end = [mention], mention.end
    if cluster:
        merged.append(_resolve(cluster, cluster_end))
    return merged


def _resolve(cluster: List[PhiMention], end: int) -> PhiMention:
    best = min(cluster, key=_preference)
    start = cluster[0].start
    if len(cluster) == 1:
        return best
    return PhiMention(start, end, best.label, best.source, best.score, best.subtype)
