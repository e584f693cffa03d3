"""Pool token vectors over token ranges (spans), with a backward pass back to the tokens.

Shared by the text head (whole doc, or premise and hypothesis) and the relation head
(entity spans). Ranges may overlap and may be empty (an empty range pools to zeros).
"""

from typing import Callable, List, Sequence, Tuple

import numpy
from thinc.api import Ops
from thinc.types import Floats2d

POOLINGS = ("mean", "mean_max")

# (doc index in the batch, start token, end token)
TokenRange = Tuple[int, int, int]


def pooled_width(width: int, pooling: str) -> int:
    """Width of a pooled vector: ``width`` for mean, ``2 * width`` for mean+max."""
    return width * (2 if pooling == "mean_max" else 1)


def pool_ranges(
    ops: Ops,
    Xs: List[Floats2d],
    ranges: Sequence[TokenRange],
    *,
    pooling: str,
    width: int,
) -> Tuple[Floats2d, Callable[[Floats2d], List[Floats2d]]]:
    """Pool token vectors over token ranges.

    ops (Ops): The ops of the calling model.
    Xs (List[Floats2d]): Token vectors per doc, ``(n_tokens, width)``; empty docs may come
        as ``(0, 0)`` arrays (spacy-transformers does that).
    ranges (Sequence[TokenRange]): (doc index, start, end) for each output row.
    pooling (str): "mean" or "mean_max" (mean concatenated with the max).
    width (int): Token vector width.
    RETURNS (Tuple[Floats2d, Callable]): ``(n_ranges, pooled_width)`` and the backward
        pass, which returns gradients shaped like ``Xs``.
    """
    xp = ops.xp
    n_rows = [int(X.shape[0]) for X in Xs]
    offsets = numpy.concatenate([[0], numpy.cumsum(n_rows)]).astype("int64")
    non_empty = [X for X in Xs if X.shape[0]]
    X_flat = xp.concatenate(non_empty, axis=0) if non_empty else ops.alloc2f(0, width)  # (n_total_tokens, width)
    n_total, n = int(offsets[-1]), len(ranges)
    starts_np = numpy.asarray([offsets[d] + s for d, s, _ in ranges], dtype="int64").reshape((n,))
    ends_np = numpy.asarray([offsets[d] + e for d, _, e in ranges], dtype="int64").reshape((n,))
    lengths_np = (ends_np - starts_np).astype("int32")
    # Means from prefix sums (float64): O(tokens + ranges) whatever the ranges' lengths, so that
    # the relation head's between-entity context costs the same for 50-token gaps as for 1-token
    # ones. An empty range pools to zeros.
    starts, ends = xp.asarray(starts_np), xp.asarray(ends_np)
    inv_lengths = xp.asarray(1.0 / numpy.maximum(lengths_np, 1))[:, None]  # (n, 1)
    prefix = xp.zeros((n_total + 1, width), dtype="float64")
    if n_total:
        xp.cumsum(X_flat, axis=0, dtype="float64", out=prefix[1:])
    mean = ((prefix[ends] - prefix[starts]) * inv_lengths).astype(X_flat.dtype)  # (n, width)
    which = None
    if pooling == "mean_max":
        nz_np = numpy.nonzero(lengths_np)[0]
        maxes = xp.zeros((n, width), dtype=X_flat.dtype)
        if len(nz_np):
            index_np = numpy.concatenate([numpy.arange(starts_np[i], ends_np[i], dtype="int64") for i in nz_np])
            index = ops.asarray1i(index_np)
            lengths_nz = ops.asarray1i(lengths_np[nz_np])
            maxes_nz, which = ops.reduce_max(X_flat[index], lengths_nz)
            maxes[xp.asarray(nz_np)] = maxes_nz
        output = xp.hstack([mean, maxes])
    else:
        output = mean

    def backprop(d_output: Floats2d) -> List[Floats2d]:
        # d mean / d X: each range adds its gradient / length to its tokens, as a difference
        # array (plus at the start, minus at the end) summed up the tokens.
        d_range = xp.asarray(d_output[:, :width], dtype="float64") * inv_lengths
        diff = xp.zeros((n_total + 1, width), dtype="float64")
        xp.add.at(diff, starts, d_range)
        xp.add.at(diff, ends, -d_range)
        d_flat = xp.cumsum(diff[:n_total], axis=0).astype("float32")
        if which is not None:
            d_max = ops.as_contig(d_output[xp.asarray(nz_np), width:])
            ops.scatter_add(d_flat, index, ops.backprop_reduce_max(d_max, which, lengths_nz))
        return [d_flat[offsets[i] : offsets[i + 1]] if n_rows[i] else ops.alloc2f(*X.shape) for i, X in enumerate(Xs)]

    return output, backprop
