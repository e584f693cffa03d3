"""The training step and loss the labelled heads share (components/_common.py)."""

import math

import numpy
import pytest
from thinc.api import NumpyOps

from spacy_clintiny.components._common import masked_cross_entropy, token_batches

OPS = NumpyOps()


def test_binary_loss_averages_over_annotated_rows_and_masks_unknown_labels():
    probs = numpy.array([[0.8, 0.4], [0.3, 0.9], [0.5, 0.5]], dtype="float32")
    truths = numpy.array([[1, 0], [0, 1], [0, 0]], dtype="float32")
    mask = numpy.array([[1, 1], [1, 0], [0, 0]], dtype="float32")  # row 2: not annotated
    loss, d = masked_cross_entropy(OPS, probs, truths, mask)
    expected = -(math.log(0.8) + math.log(0.6) + math.log(0.7)) / 2  # 2 annotated rows
    assert loss == pytest.approx(expected, rel=1e-5)
    assert d.ravel().tolist() == pytest.approx([-0.1, 0.2, 0.15, 0.0, 0.0, 0.0], abs=1e-6)


def test_exclusive_loss_and_a_row_mask():
    probs = numpy.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], dtype="float32")
    truths = numpy.array([[1, 0, 0], [0, 1, 0]], dtype="float32")
    row_mask = numpy.array([[1], [1]], dtype="float32")  # (n_rows, 1) broadcasts over labels
    loss, d = masked_cross_entropy(OPS, probs, truths, row_mask, exclusive=True)
    assert loss == pytest.approx(-(math.log(0.7) + math.log(0.1)) / 2, rel=1e-5)
    assert d.tolist()[1] == pytest.approx([0.05, -0.45, 0.4], abs=1e-6)


def test_nothing_annotated_gives_zero_loss_and_gradient():
    probs = numpy.full((2, 3), 0.5, dtype="float32")
    loss, d = masked_cross_entropy(OPS, probs, numpy.ones((2, 3), "float32"), numpy.zeros((2, 3), "float32"))
    assert loss == 0.0 and not d.any() and d.shape == (2, 3)


def test_positive_weights_scale_the_positive_term_and_the_gradient_is_exact():
    probs = numpy.array([[0.8, 0.4], [0.3, 0.9]], dtype="float32")
    truths = numpy.array([[1, 0], [0, 1]], dtype="float32")
    mask = numpy.ones((2, 2), dtype="float32")
    weights = numpy.array([4.0, 1.0], dtype="float32")
    loss, d = masked_cross_entropy(OPS, probs, truths, mask, pos_weight=weights)
    # label 0: 4 x log(0.8) for the positive, log(0.7) for the negative; label 1 unweighted
    expected = -(4 * math.log(0.8) + math.log(0.6) + math.log(0.7) + math.log(0.9)) / 2
    assert loss == pytest.approx(expected, rel=1e-5)
    # d/dz of -(w t log s(z) + (1 - t) log(1 - s(z))) is s(z)(w t + 1 - t) - w t
    assert d.ravel().tolist() == pytest.approx([(0.8 * 4 - 4) / 2, 0.4 / 2, 0.3 / 2, (0.9 - 1) / 2], abs=1e-6)
    # the same gradient by finite differences on the logits
    logits = numpy.log(probs / (1 - probs)).astype("float64")
    eps = 1e-4
    for i, j in [(0, 0), (1, 1)]:
        shifted = [logits.copy(), logits.copy()]
        shifted[0][i, j] += eps
        shifted[1][i, j] -= eps
        up, down = (
            masked_cross_entropy(OPS, 1 / (1 + numpy.exp(-z)), truths, mask, pos_weight=weights)[0] for z in shifted
        )
        assert (up - down) / (2 * eps) == pytest.approx(d[i, j], abs=1e-3)


def test_positive_weights_are_refused_with_exclusive_classes():
    probs = numpy.full((1, 2), 0.5, dtype="float32")
    with pytest.raises(ValueError, match=r"\[E889\]"):
        masked_cross_entropy(
            OPS,
            probs,
            numpy.array([[1, 0]], "float32"),
            numpy.ones((1, 2), "float32"),
            exclusive=True,
            pos_weight=numpy.ones(2, "float32"),
        )


def test_token_batches_keep_the_order_and_the_budget():
    docs = [[0] * n for n in (3, 4, 0, 9, 2, 2, 5)]  # anything with a length
    runs = token_batches(docs, budget=6)
    assert [doc for run in runs for doc in run] == docs
    assert [[len(doc) for doc in run] for run in runs] == [[3], [4, 0], [9], [2, 2], [5]]
    assert token_batches([], budget=6) == []
