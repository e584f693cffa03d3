"""The heads' matrix products on numpy's BLAS give thinc's results (and stay on blis where
numpy's OpenBLAS runs generic kernels: test_blas.py checks that detection); at inference they
run in bf16 where chosen, and maxout skips its argmax, with the same results per row whatever
the batch."""

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
    assert {type(node.ops) for node in model.walk()} == {BlasNumpyOps}
    blis_calls = []
    blis_gemm = NumpyOps.gemm

    def spy(self, *args, **kwargs):
        blis_calls.append(args[0].dtype)
        return blis_gemm(self, *args, **kwargs)

    monkeypatch.setattr(NumpyOps, "gemm", spy)
    x = numpy.ones((3, 4), dtype="f")
    model.ops.gemm(x, x, trans2=True)
    assert blis_calls == [numpy.float32]  # float32 on blis; float64 stays on numpy (blis gets its shape wrong)


@pytest.mark.parametrize(
    "value,flags,expected",
    [
        (None, {"avx512f", "avx512_bf16"}, "bf16"),
        ("auto", {"avx512f", "amx_bf16"}, "bf16"),
        ("", {"avx2", "fma"}, "fp32"),
        ("AUTO", set(), "fp32"),
        ("fp32", {"avx512_bf16"}, "fp32"),
        (" bf16 ", set(), "bf16"),
    ],
)
def test_head_precision_from_the_environment_and_the_cpu(monkeypatch, value, flags, expected):
    monkeypatch.setattr(_ops, "native_bf16", lambda: bool(_ops.BF16_FLAGS & flags))
    environ = {} if value is None else {_ops.PRECISION_ENV: value}
    assert _ops.head_precision(environ) == expected


def test_an_unknown_head_precision_is_refused_by_name():
    with pytest.raises(ValueError, match=r"E921.*CLINTINY_HEAD_PRECISION='fp16'.*auto.*fp32 or bf16"):
        _ops.head_precision({_ops.PRECISION_ENV: "fp16"})


def test_products_run_in_bf16_only_inside_inference_and_alike_for_any_rows(monkeypatch):
    monkeypatch.setenv(_ops.PRECISION_ENV, "bf16")
    rng = numpy.random.default_rng(0)
    x = rng.normal(size=(300, 96)).astype("f")
    w = rng.normal(size=(40, 96)).astype("f")
    ops = BlasNumpyOps()
    exact = ops.gemm(x, w, trans2=True)
    with _ops.inference() as precision:
        assert precision == "bf16"
        whole = ops.gemm(x, w, trans2=True)
        rows = [ops.gemm(x[i : i + 1], w, trans2=True)[0] for i in (0, 7, 299)]
        out = numpy.zeros_like(whole)
        assert ops.gemm(x, w, out=out, trans2=True) is out
    assert not numpy.array_equal(whole, exact)  # bf16 inputs change the product a little
    numpy.testing.assert_allclose(whole, exact, rtol=0.05, atol=0.3)
    for i, row in zip((0, 7, 299), rows):
        numpy.testing.assert_array_equal(row, whole[i])  # a row's result does not depend on the batch
    numpy.testing.assert_array_equal(out, whole)
    numpy.testing.assert_array_equal(ops.gemm(x, w, trans2=True), exact)  # fp32 again outside
    monkeypatch.setenv(_ops.PRECISION_ENV, "fp32")
    with _ops.inference() as precision:
        assert precision == "fp32"
        numpy.testing.assert_array_equal(ops.gemm(x, w, trans2=True), exact)


def test_maxout_at_inference_has_thincs_values_and_no_argmax():
    rng = numpy.random.default_rng(1)
    x = rng.normal(size=(50, 8, 3)).astype("f")
    best, which = BlasNumpyOps().maxout(x)
    with _ops.inference():
        fast, none = BlasNumpyOps().maxout(x)
    numpy.testing.assert_array_equal(fast, best)
    assert which is not None and none is None
    numpy.testing.assert_array_equal(BlasNumpyOps().maxout(x)[1], which)  # training's path again


def test_the_inference_setting_belongs_to_one_thread(monkeypatch):
    import threading

    monkeypatch.setenv(_ops.PRECISION_ENV, "bf16")
    seen = []
    with _ops.inference():
        worker = threading.Thread(target=lambda: seen.append(getattr(_ops._local, "bf16", False)))
        worker.start()
        worker.join()
        seen.append(_ops._local.bf16)
    assert seen == [False, True] and _ops._local.bf16 is False
