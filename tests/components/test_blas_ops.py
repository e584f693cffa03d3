"""The heads' matrix products on numpy's BLAS give thinc's results (and stay on blis where
numpy's OpenBLAS runs generic kernels: test_blas.py checks that detection)."""

import numpy
import pytest
from thinc.api import NumpyOps, use_ops

from spacy_clintiny.architectures import _ops
from spacy_clintiny.architectures._ops import BlasNumpyOps, with_blas_gemm
from spacy_clintiny.registry import registry


@pytest.fixture
def fast_openblas(monkeypatch):
    """numpy's OpenBLAS taken as running this CPU's kernels (what `make test` arranges)."""
    monkeypatch.setattr(_ops, "numpy_gemm_is_generic", lambda: False)


@pytest.mark.parametrize("trans1,trans2", [(False, False), (True, False), (False, True), (True, True)])
def test_gemm_matches_numpy_ops(trans1, trans2):
    rng = numpy.random.default_rng(0)
    x = rng.normal(size=(7, 5) if not trans1 else (5, 7)).astype("f")
    y = rng.normal(size=(5, 3) if not trans2 else (3, 5)).astype("f")
    expected = NumpyOps().gemm(x, y, trans1=trans1, trans2=trans2)
    got = BlasNumpyOps().gemm(x, y, trans1=trans1, trans2=trans2)
    assert got.shape == (7, 3)
    numpy.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    out = numpy.zeros((7, 3), dtype="f")
    assert BlasNumpyOps().gemm(x, y, out=out, trans1=trans1, trans2=trans2) is out
    numpy.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_float64_product():
    x = numpy.arange(6, dtype="float64").reshape(2, 3)
    got = BlasNumpyOps().gemm(x, x, trans2=True)
    assert got.dtype == numpy.float64
    numpy.testing.assert_allclose(got, [[5.0, 14.0], [14.0, 50.0]])


@pytest.mark.parametrize(
    "name",
    [
        "spacy-clintiny.TokenClassifier.v1",
        "spacy-clintiny.TokenClassifier.v2",
        "spacy-clintiny.TextClassifier.v1",
        "spacy-clintiny.TextClassifier.v2",
        "spacy-clintiny.RelationClassifier.v1",
    ],
)
def test_heads_are_built_with_blas_ops(name, fast_openblas):
    from thinc.api import Linear

    model = registry.architectures.get(name)(Linear(nO=4, nI=4), nO=3)
    assert {type(node.ops) for node in model.walk()} == {BlasNumpyOps}


def test_other_ops_are_left_alone(fast_openblas):
    from thinc.api import Linear

    class OtherOps(NumpyOps):
        name = "other"

    with use_ops("numpy"):
        model = with_blas_gemm(Linear(nO=2, nI=2))
    assert isinstance(model.ops, BlasNumpyOps)
    other = OtherOps()
    with use_ops("numpy"):
        layer = Linear(nO=2, nI=2)
        layer.ops = other
        assert with_blas_gemm(layer).ops is other


def test_generic_openblas_keeps_blis(monkeypatch):
    from thinc.api import Linear

    monkeypatch.setattr(_ops, "numpy_gemm_is_generic", lambda: True)
    with use_ops("numpy"):
        model = registry.architectures.get("spacy-clintiny.TokenClassifier.v2")(Linear(nO=4, nI=4), nO=3)
    assert {type(node.ops) for node in model.walk()} == {NumpyOps}
