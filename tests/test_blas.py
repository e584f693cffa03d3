"""OpenBLAS's core type: named from the CPU's flags before numpy loads, a user's value kept, and
a generic kernel detected where it was not named (spacy_clintiny/blas.py)."""

import json
import os
import subprocess
import sys

import pytest

from spacy_clintiny import blas

EXPECTED = blas.cpu_coretype()


def run_python(code: str, **env: str) -> dict:
    environ = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    environ.update(env)
    out = subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


PROBE = (
    "import json, os, sys; import spacy_clintiny; import numpy; from threadpoolctl import threadpool_info; "
    "from spacy_clintiny.blas import numpy_gemm_is_generic; "
    "print(json.dumps({'env': os.environ.get('OPENBLAS_CORETYPE'), 'generic': numpy_gemm_is_generic(), "
    "'cores': [p.get('architecture') for p in threadpool_info() if p.get('internal_api') == 'openblas']}))"
)


def test_cpu_flags_and_core_type(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nmodel\t\t: 207\n"
        "flags\t\t: fpu sse2 avx avx2 fma avx512f avx512cd avx512bw avx512dq avx512vl\n\n"
        "processor\t: 1\nflags\t\t: fpu\n"
    )
    flags = blas.cpu_flags(cpuinfo)
    assert {"avx2", "avx512bw"} <= flags and "fpu" in flags
    assert blas.coretype_for(flags) == "SkylakeX"
    assert blas.coretype_for(frozenset({"sse2", "avx", "avx2", "fma"})) == "Haswell"
    assert blas.coretype_for(frozenset({"sse2", "avx", "avx2"})) is None  # AVX2 without FMA: OpenBLAS decides
    assert blas.cpu_flags(tmp_path / "missing") == frozenset()


def test_set_leaves_a_users_value_and_a_loaded_numpy_alone():
    environ = {"OPENBLAS_CORETYPE": "Zen"}
    assert blas.set_openblas_coretype(environ) is None
    assert environ == {"OPENBLAS_CORETYPE": "Zen"}
    import numpy  # noqa: F401  (this process has numpy: too late to name a core)

    environ = {}
    assert blas.set_openblas_coretype(environ) is None
    assert environ == {}


@pytest.mark.skipif(EXPECTED is None, reason="a CPU without AVX2: nothing to name")
def test_import_names_the_core_before_numpy_loads():
    got = run_python(PROBE)
    assert got["env"] == EXPECTED
    assert got["generic"] is False
    assert got["cores"] and all(core.lower() in blas.FAST_CORES for core in got["cores"] if core)


@pytest.mark.skipif(EXPECTED is None, reason="a CPU without AVX2: no generic kernel to detect")
def test_a_generic_kernel_is_detected():
    got = run_python(PROBE, OPENBLAS_CORETYPE="Prescott")
    assert got["env"] == "Prescott"  # the user's value is kept
    assert got["generic"] is True


def test_the_module_prints_the_core_type_without_the_package():
    out = subprocess.run(
        [sys.executable, "-S", "-I", blas.__file__], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == (EXPECTED or "")
