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
    n_rows = [int(X.shape[0]) for X in Xs]
    offsets = numpy.concatenate([[0], numpy.cumsum(n_rows)]).astype("int64")
    non_empty = [X for X in Xs if X.shape[0]]
    X_flat = ops.xp.concatenate(non_empty, axis=0) if non_empty else ops.alloc2f(0, width)  # (n_total_tokens, width)
    lengths_np = numpy.asarray([end - start for _, start, end in ranges], dtype="int32")
    if len(ranges):
        index_np = numpy.concatenate(
            [numpy.arange(offsets[d] + s, offsets[d] + e, dtype="int64") for d, s, e in ranges]
        )
    else:
        index_np = numpy.zeros((0,), dtype="int64")
    index = ops.asarray1i(index_np)
    lengths = ops.asarray1i(lengths_np)
    data = X_flat[index]  # (sum(lengths), width)
    n = len(ranges)
    # reduce_mean cannot read an empty buffer: ranges that are all empty pool to zeros.
    has_rows = bool(len(index_np))
    mean = ops.reduce_mean(data, lengths) if has_rows else ops.alloc2f(n, width)  # (n, width)
    if pooling == "mean_max":
        nz_np = numpy.nonzero(lengths_np)[0]
        nz = ops.asarray1i(nz_np)
        maxes = ops.alloc2f(n, width)
        which = None
        if len(nz_np):
            lengths_nz = ops.asarray1i(lengths_np[nz_np])
            maxes_nz, which = ops.reduce_max(data, lengths_nz)
            maxes[nz] = maxes_nz
        output = ops.xp.hstack([mean, maxes])
    else:
        output = mean

    def backprop(d_output: Floats2d) -> List[Floats2d]:
        d_data = ops.backprop_reduce_mean(ops.as_contig(d_output[:, :width]), lengths) if has_rows else data * 0
        if pooling == "mean_max" and which is not None:
            d_max = ops.as_contig(d_output[nz, width:])
            d_data += ops.backprop_reduce_max(d_max, which, lengths_nz)
        d_flat = ops.alloc2f(int(offsets[-1]), width)
        if len(index_np):
            ops.scatter_add(d_flat, index, d_data)
        return [d_flat[offsets[i] : offsets[i + 1]] if n_rows[i] else ops.alloc2f(*X.shape) for i, X in enumerate(Xs)]

    return output, backprop
