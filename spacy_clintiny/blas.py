"""OpenBLAS's CPU detection, and what to do when it picks a generic kernel.

numpy's PyPI wheels carry OpenBLAS built for every x86-64 core type, and OpenBLAS chooses the
kernels at load time from the CPU's model number. A CPU newer than its tables gets the oldest
generic kernels: numpy 1.26's OpenBLAS 0.3.23 takes an Emerald Rapids Xeon (family 6, model
207, AVX-512) for a **Prescott** (SSE3), and a float32 matrix product runs 30-40 GFLOP/s on two
cores instead of 230-260 with the SkylakeX kernels, slower than thinc's single-threaded blis
(75). The heads' matrix products go through numpy (``architectures/_ops.py``), so on such a
machine every head trains and predicts several times slower, and which machine a shared CPU
lands on changes from day to day.

The cure is ``OPENBLAS_CORETYPE``, read once when OpenBLAS loads (with numpy), so it has to be
in the environment before numpy is imported:

- ``import spacy_clintiny`` sets it (when unset, and numpy not yet loaded) from the CPU's flags:
  ``clintiny`` commands, and any program that imports this package first, load numpy with it;
- the Makefile exports it for the workflow (``python -m spacy train`` imports numpy before any
  plug-in) from ``python spacy_clintiny/blas.py``, which prints the core type (stdlib only, so
  it runs before the package is installed);
- a process that loaded numpy before either keeps thinc's blis for the heads
  (:func:`numpy_gemm_is_generic`, used by ``_ops.with_blas_gemm``), so it is never slower than
  thinc's default.

A value you set yourself is never changed. Off Linux, or on a CPU without AVX2, nothing is set.
"""

import functools
import os
import sys
from pathlib import Path
from typing import FrozenSet, Optional

# OpenBLAS x86-64 core types whose single-precision kernels use AVX2/FMA or AVX-512
FAST_CORES = frozenset({"haswell", "zen", "skylakex", "cooperlake", "sapphirerapids"})
AVX512 = frozenset({"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"})
AVX2 = frozenset({"avx2", "fma"})


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> FrozenSet[str]:
    """The instruction-set flags of the first CPU in ``cpuinfo`` (empty off Linux or on error)."""
    try:
        with cpuinfo.open(encoding="utf8", errors="replace") as lines:
            for line in lines:
                if line.startswith("flags"):
                    return frozenset(line.partition(":")[2].split())
    except OSError:
        pass
    return frozenset()


def coretype_for(flags: FrozenSet[str]) -> Optional[str]:
    """The OpenBLAS core type whose kernels these flags run: ``SkylakeX`` with AVX-512,
    ``Haswell`` with AVX2 and FMA, None otherwise (leave it to OpenBLAS)."""
    if AVX512 <= flags:
        return "SkylakeX"
    if AVX2 <= flags:
        return "Haswell"
    return None


def cpu_coretype() -> Optional[str]:
    """The core type to name for this machine's CPU (:func:`coretype_for` its flags)."""
    return coretype_for(cpu_flags())


def set_openblas_coretype(environ=os.environ) -> Optional[str]:
    """Put ``OPENBLAS_CORETYPE`` in ``environ`` from the CPU's flags, if it is not set and numpy
    is not loaded yet (afterwards it would change nothing in this process, and child processes
    should then see what this one runs). RETURNS the value set, or None."""
    if environ.get("OPENBLAS_CORETYPE") or "numpy" in sys.modules:
        return None
    core = cpu_coretype()
    if core is not None:
        environ["OPENBLAS_CORETYPE"] = core
    return core


@functools.lru_cache(maxsize=None)
def numpy_gemm_is_generic() -> bool:
    """Whether numpy's loaded OpenBLAS runs kernels older than this CPU's AVX2/AVX-512 (its CPU
    detection failed and nobody set ``OPENBLAS_CORETYPE``). False when it cannot be told: no
    OpenBLAS (another BLAS), no threadpoolctl, or a CPU without AVX2."""
    if cpu_coretype() is None:
        return False
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover - scikit-learn brings it
        return False
    import numpy  # noqa: F401  (loads the BLAS threadpoolctl inspects)

    cores = [
        str(pool.get("architecture", "")).lower()
        for pool in threadpool_info()
        if pool.get("internal_api") == "openblas" and "numpy" in str(pool.get("filepath", ""))
    ]
    return bool(cores) and all(core not in FAST_CORES for core in cores)


if __name__ == "__main__":  # `python spacy_clintiny/blas.py`: the core type to export, or nothing
    print(cpu_coretype() or "")
