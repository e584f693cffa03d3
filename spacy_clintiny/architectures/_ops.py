"""Matrix products of the heads on numpy's BLAS, and in bf16 at inference.

thinc's ``NumpyOps.gemm`` calls the ``blis`` package, built single-threaded: on a 2-core CPU the
heads' matrix products (the PHI head's context CNN is ~40% of a de-identification run) leave a
core idle. ``BlasNumpyOps`` is ``NumpyOps`` with ``gemm`` done by ``numpy.matmul``, which runs on
numpy's own multi-threaded BLAS (OpenBLAS in the PyPI wheels), as thinc-apple-ops' ``AppleOps``
does with Accelerate. Everything else is ``NumpyOps``'s. Measured on 2 cores, a
(7000 x 768) @ (768 x 768) product: blis 0.100 s, numpy 0.048 s. Where numpy's OpenBLAS failed
to recognise the CPU and runs generic kernels (``spacy_clintiny.blas``), blis is kept.

**At inference** (inside :func:`inference`, which the token heads' ``predict`` enters):

- products run in bfloat16 through torch (oneDNN), with float32 accumulation, where the CPU
  multiplies bf16 natively (``avx512_bf16`` or ``amx_bf16``): a (7000 x 768) @ (768 x 768)
  product took 21 ms against numpy's 44 ms on this project's 2-core AMD EPYC. Each row of the
  result depends only on its own row of the input, bit for bit, whatever the number of rows (no
  per-call scale as in dynamic int8; numpy's OpenBLAS picks other kernels for a few rows), so a
  note's output does not depend on the notes batched with it. ``CLINTINY_HEAD_PRECISION``
  chooses: ``auto`` (the default), ``fp32`` or ``bf16``;
- ``maxout`` takes the maximum of the pieces with torch's vectorized ``amax`` and skips the
  argmax that only training's backward pass reads (exactly the same values; a (7000, 256, 3)
  input: 5.5 ms against thinc's 18.9 ms on one thread).

Training (``begin_update`` outside that context) runs thinc's float32 code.
"""

import contextlib
import functools
import os
import threading
from typing import Iterator, Optional

import numpy
from thinc.api import Model, NumpyOps, get_current_ops

from ..blas import cpu_flags, numpy_gemm_is_generic
from ..errors import Errors

PRECISION_ENV = "CLINTINY_HEAD_PRECISION"
PRECISIONS = ("auto", "fp32", "bf16")
BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})

_local = threading.local()


def head_precision(environ=os.environ) -> str:
    """The precision of the heads' matrix products at inference, "fp32" or "bf16", from
    ``$CLINTINY_HEAD_PRECISION`` (``auto``, the default: bf16 where the CPU has native bf16
    instructions). Raises E921 for another value."""
    value = environ.get(PRECISION_ENV, "auto").strip().lower() or "auto"
    if value not in PRECISIONS:
        raise ValueError(Errors.E921.format(env=PRECISION_ENV, value=environ.get(PRECISION_ENV)))
    if value == "auto":
        return "bf16" if native_bf16() else "fp32"
    return value


@functools.lru_cache(maxsize=None)
def native_bf16() -> bool:
    """Whether this CPU multiplies bf16 natively (``avx512_bf16`` or ``amx_bf16``; False off Linux)."""
    return bool(BF16_FLAGS & cpu_flags())


@contextlib.contextmanager
def inference() -> Iterator[str]:
    """Within this context, this thread's head products run at :func:`head_precision` and
    ``maxout`` keeps no argmax for a backward pass (other threads, and training, are not
    affected): for ``predict`` only. Yields the precision."""
    previous = getattr(_local, "inference", False), getattr(_local, "bf16", False)
    precision = head_precision()
    _local.inference, _local.bf16 = True, precision == "bf16"
    try:
        yield precision
    finally:
        _local.inference, _local.bf16 = previous


def _bf16_matmul(a: numpy.ndarray, b: numpy.ndarray, out: Optional[numpy.ndarray]) -> numpy.ndarray:
    import torch

    with torch.no_grad():
        product = torch.matmul(torch.from_numpy(a).bfloat16(), torch.from_numpy(b).bfloat16())
        result = product.float().numpy()
    if out is None:
        return result
    out[...] = result
    return out


class BlasNumpyOps(NumpyOps):
    """``NumpyOps`` whose ``gemm`` is ``numpy.matmul`` (multi-threaded BLAS; also right for
    float64, which thinc 8.2's blis path returns in a wrong shape), or bf16 inside
    :func:`inference` (and ``maxout`` without the argmax there).

    numpy_blas (bool): Whether float32 products go to numpy (False where its OpenBLAS runs
        generic kernels: thinc's blis then).
    """

    def __init__(self, *args, numpy_blas: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.numpy_blas = numpy_blas

    def gemm(self, x, y, out: Optional[numpy.ndarray] = None, trans1: bool = False, trans2: bool = False):
        if x.ndim != 2 or y.ndim != 2:
            return super().gemm(x, y, out=out, trans1=trans1, trans2=trans2)
        a = x.T if trans1 else x
        b = y.T if trans2 else y
        if getattr(_local, "bf16", False) and a.dtype == numpy.float32 and b.dtype == numpy.float32:
            return _bf16_matmul(a, b, out)
        if not self.numpy_blas and x.dtype == numpy.float32:
            return super().gemm(x, y, out=out, trans1=trans1, trans2=trans2)
        if out is None:
            return numpy.matmul(a, b)
        numpy.matmul(a, b, out=out)
        return out

    def maxout(self, X):
        if not getattr(_local, "inference", False) or X.dtype != numpy.float32:
            return super().maxout(X)
        import torch

        return torch.from_numpy(X).amax(dim=-1).numpy(), None


def with_blas_gemm(model: Model) -> Model:
    """Give every node of ``model`` :class:`BlasNumpyOps`, if the current ops are thinc's
    ``NumpyOps`` (on a GPU, or with other ops chosen, the model is left as it is). Where numpy's
    OpenBLAS runs generic kernels slower than blis, float32 products stay on blis.

    model (Model): A head's model, just built.
    RETURNS (Model): The same model.
    """
    if type(get_current_ops()) is not NumpyOps:
        return model
    ops = BlasNumpyOps(numpy_blas=not numpy_gemm_is_generic())
    for node in model.walk():
        if type(node.ops) is NumpyOps:
            node.ops = ops
    return model
