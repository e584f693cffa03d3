"""medspaCy's ConText graph without its all-pairs loops, with identical results.

``ConTextGraph.update_scopes`` compares every modifier with every other one and
``apply_modifiers`` every modifier with every target: quadratic in a note's length, minutes
on a long note. Both comparisons begin with an overlap test of token ranges
(``medspacy.util.tuple_overlaps``) that returns False without changing anything when the
ranges are apart. ``ScopedContextGraph`` makes the same calls in the same order, leaving
out only pairs whose ranges can never pass that test, found with sorted positions:

* a modifier's scope only shrinks: its start rises to the end of a modifier that starts
  before it, its end falls to the start of one that starts after it. Two modifiers whose
  ranges of possible scope values are apart never overlap, so their ``limit_scope`` calls
  are all no-ops;
* a modifier modifies a target only if ``tuple_overlaps(scope, target)``, tested before
  the rule's ``on_modifies`` callback: targets are looked up by position instead;
* pruning modifiers that overlap a target tests token coverage.
"""

import bisect
from typing import Any, Dict, List, Sequence, Tuple

from medspacy.context import ConTextGraph

Range = Tuple[int, int]


class ScopedContextGraph(ConTextGraph):
    """``ConTextGraph`` whose ``update_scopes`` and ``apply_modifiers`` only compare
    modifiers and targets whose token ranges can overlap (same results, linear cost on
    notes split into sentences)."""

    def update_scopes(self) -> None:
        """``ConTextGraph.update_scopes``: the same ``limit_scope`` calls in the same
        order, without the pairs whose scopes can never overlap."""
        modifiers = self.modifiers
        for i, partners in enumerate(_overlapping_pairs(_scope_extents(modifiers))):
            modifier1 = modifiers[i]
            for j in partners:
                modifier2 = modifiers[j]
                modifier1.limit_scope(modifier2)
                modifier2.limit_scope(modifier1)

    def apply_modifiers(self) -> None:
        """``ConTextGraph.apply_modifiers``: the same ``modifies`` calls in the same
        order, without the target/modifier pairs whose ranges do not overlap."""
        targets = list(self.targets)
        if self.prune_on_modifier_overlap:
            covered = _coverage([(t.start, t.end) for t in targets])
            self.modifiers = [m for m in self.modifiers if not _covers(covered, m.modifier_span)]
        by_target: Dict[int, List[Any]] = {}
        starts = sorted((t.start, i) for i, t in enumerate(targets))
        ends = sorted((t.end, i) for i, t in enumerate(targets))
        for modifier in self.modifiers:
            for i in sorted(_targets_in_scope(modifier.scope_span, starts, ends)):
                by_target.setdefault(i, []).append(modifier)
        for i, target in enumerate(targets):
            for modifier in by_target.get(i, ()):
                if modifier.modifies(target):
                    modifier.modify(target)
        edges = []
        for modifier in self.modifiers:
            modifier.reduce_targets()
            for target in modifier._targets:
                edges.append((target, modifier))
        self.edges = edges


def _scope_extents(modifiers: Sequence[Any]) -> List[Range]:
    """Per modifier, the closed range of every value its scope's start and end can take
    during ``update_scopes`` (see the module docstring)."""
    order = sorted(range(len(modifiers)), key=lambda i: modifiers[i].modifier_span[0])
    starts = [modifiers[i].modifier_span[0] for i in order]
    # max end among modifiers starting strictly before, min start among those strictly after
    max_end_before: Dict[int, float] = {}
    best, k = float("-inf"), 0
    for i in order:
        start = modifiers[i].modifier_span[0]
        while starts[k] < start:
            best = max(best, modifiers[order[k]].modifier_span[1])
            k += 1
        max_end_before[i] = best
    extents = []
    for i, modifier in enumerate(modifiers):
        start = modifier.modifier_span[0]
        after = bisect.bisect_right(starts, start)
        min_start_after = starts[after] if after < len(starts) else float("inf")
        scope_start, scope_end = modifier.scope_span
        low = min(scope_start, scope_end, min_start_after)
        high = max(scope_start, scope_end, max_end_before[i])
        extents.append((low, high))
    return extents


def _overlapping_pairs(extents: Sequence[Range]) -> List[List[int]]:
    """For each index i, the sorted indices j > i whose closed ranges intersect i's."""
    partners: List[List[int]] = [[] for _ in extents]
    order = sorted(range(len(extents)), key=lambda i: extents[i][0])
    active: List[int] = []
    for i in order:
        low = extents[i][0]
        active = [j for j in active if extents[j][1] >= low]
        for j in active:
            partners[min(i, j)].append(max(i, j))
        active.append(i)
    for p in partners:
        p.sort()
    return partners


def _targets_in_scope(scope: Range, starts: List[Tuple[int, int]], ends: List[Tuple[int, int]]) -> set:
    """Indices of the targets for which ``tuple_overlaps(scope, target)`` holds: the target
    starts in ``[scope_start, scope_end)`` or ends in ``(scope_start, scope_end]``."""
    low, high = scope
    if not low < high:
        return set()
    found = {i for _, i in starts[bisect.bisect_left(starts, (low, -1)) : bisect.bisect_left(starts, (high, -1))]}
    found.update(
        i for _, i in ends[bisect.bisect_right(ends, (low, len(ends))) : bisect.bisect_right(ends, (high, len(ends)))]
    )
    return found


def _coverage(ranges: Sequence[Range]) -> set:
    """Token positions p with ``start <= p < end`` for some range."""
    return {p for start, end in ranges for p in range(start, end)}


def _covers(covered: set, span: Range) -> bool:
    """``tuple_overlaps(target, span)`` for some target: ``span``'s start lies in a target,
    or its end in ``(target_start, target_end]``."""
    return span[0] in covered or (span[1] - 1) in covered
