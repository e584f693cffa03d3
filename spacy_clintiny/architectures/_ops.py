"""Matrix products of the heads on numpy's BLAS.

thinc's ``NumpyOps.gemm`` calls the ``blis`` package, built single-threaded: on a 2-core CPU the
heads' matrix products (the PHI head's context CNN is ~40% of a de-identification run) leave a
core idle. ``BlasNumpyOps`` is ``NumpyOps`` with ``gemm`` done by ``numpy.matmul``, which runs on
numpy's own multi-threaded BLAS (OpenBLAS in the PyPI wheels), as thinc-apple-ops' ``AppleOps``
does with Accelerate. Everything else is ``NumpyOps``'s. Measured on 2 cores, a
(7000 x 768) @ (768 x 768) product: blis 0.100 s, numpy 0.048 s. Where numpy's OpenBLAS failed
to recognise the CPU and runs generic kernels (``spacy_clintiny.blas``), blis is kept.
"""

from typing import Optional

import numpy
from thinc.api import Model, NumpyOps, get_current_ops

from ..blas import numpy_gemm_is_generic


class BlasNumpyOps(NumpyOps):
    """``NumpyOps`` whose ``gemm`` is ``numpy.matmul`` (multi-threaded BLAS; also right for
    float64, which thinc 8.2's blis path returns in a wrong shape)."""

    def gemm(self, x, y, out: Optional[numpy.ndarray] = None, trans1: bool = False, trans2: bool = False):
        if x.ndim != 2 or y.ndim != 2:
            return super().gemm(x, y, out=out, trans1=trans1, trans2=trans2)
        a = x.T if trans1 else x
        b = y.T if trans2 else y
        if out is None:
            return numpy.matmul(a, b)
        numpy.matmul(a, b, out=out)
        return out


def with_blas_gemm(model: Model) -> Model:
    """Give every node of ``model`` :class:`BlasNumpyOps`, if the current ops are thinc's
    ``NumpyOps`` (on a GPU, with other ops chosen, or where numpy's OpenBLAS runs generic kernels
    slower than blis, the model is left as it is).

    model (Model): A head's model, just built.
    RETURNS (Model): The same model.
    """
    if type(get_current_ops()) is not NumpyOps or numpy_gemm_is_generic():
        return model
    ops = BlasNumpyOps()
    for node in model.walk():
        if type(node.ops) is NumpyOps:
            node.ops = ops
    return model
