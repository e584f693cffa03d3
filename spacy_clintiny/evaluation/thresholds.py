"""Decision thresholds for multi-label doc classifiers: the decision rule the ``clintiny_textcat``
heads apply, and the search that chooses each label's threshold for F1 on a calibration corpus.

The rule: a label is predicted when its probability reaches its own threshold; with
``always_top`` the top-scoring label of each doc is predicted whatever its probability (the rule
of the TF-IDF baseline in :mod:`.baselines`). The search is exact: it sorts the scores and
tries every cut between two distinct ones, with the top label's forced decisions counted in.
"""

from typing import Dict, NamedTuple, Optional, Sequence, Tuple, Union

import numpy

from ..errors import Errors


class ThresholdChoice(NamedTuple):
    """The threshold chosen for one label and what it was chosen from."""

    threshold: float
    positives: int  # gold positives among the calibration docs annotated for the label
    docs: int  # calibration docs annotated for the label
    f1: float  # F1 on the calibration docs at ``threshold``
    f1_default: float  # F1 on the calibration docs at the default threshold
    fallback: bool  # True: too few positives, the default threshold was kept


def decide(probs: numpy.ndarray, thresholds: numpy.ndarray, *, always_top: bool = False) -> numpy.ndarray:
    """The multi-label decisions.

    probs (numpy.ndarray): ``(n_docs, n_labels)`` probabilities.
    thresholds (numpy.ndarray): ``(n_labels,)`` a threshold per label.
    always_top (bool): Also predict each doc's top-scoring label.
    RETURNS (numpy.ndarray): ``(n_docs, n_labels)`` booleans.
    """
    probs = numpy.asarray(probs)
    if probs.dtype.kind != "f":
        probs = probs.astype("float32")
    probs = probs.reshape(len(probs), -1)
    # compared in the probabilities' own precision (float32 heads, float64 scikit-learn baselines)
    decisions = probs >= numpy.asarray(thresholds, dtype=probs.dtype)[None, :]
    if always_top and probs.shape[0] and probs.shape[1]:
        decisions[numpy.arange(len(probs)), probs.argmax(axis=1)] = True
    return decisions


def f1_threshold(
    gold: numpy.ndarray,
    scores: numpy.ndarray,
    *,
    default: float,
    min_positives: int,
    forced: Optional[numpy.ndarray] = None,
    missed: int = 0,
    others: Tuple[float, float, float] = (0.0, 0.0, 0.0),
) -> ThresholdChoice:
    """The threshold with the highest F1 on one label's calibration scores.

    Every cut between two distinct scores is tried. The threshold returned is the midpoint
    between the lowest score kept and the next lower score (the midpoint between the highest
    score and 1 when predicting none is best), so a score that falls between two calibration
    scores is decided as its nearest neighbours would suggest. Among equally good cuts the
    threshold nearest ``default`` wins.

    gold (numpy.ndarray): ``(n,)`` 0/1 gold decisions.
    scores (numpy.ndarray): ``(n,)`` probabilities.
    default (float): The head's default threshold, kept when there are fewer than
        ``min_positives`` gold positives.
    min_positives (int): Fewest gold positives to choose a threshold from.
    forced (Optional[numpy.ndarray]): ``(n,)`` booleans: docs where the label is predicted
        whatever the threshold (it is their top label and the head predicts the top label).
    missed (int): Gold positives that no scored item stands for, so no threshold can find
        them (a gold relation whose entities the pipeline did not predict): they count as
        false negatives in every F1, not toward ``min_positives``.
    others (Tuple[float, float, float]): True positives, predictions and gold positives of
        the other labels, added to every cut's counts: the F1 is then the micro-F1 over all
        labels with this one's threshold free (see ``micro_thresholds``).
    RETURNS (ThresholdChoice): The threshold and the figures it was chosen from.
    """
    if isinstance(min_positives, bool) or not isinstance(min_positives, int) or min_positives < 1:
        raise ValueError(Errors.E888.format(value=min_positives))
    gold = numpy.asarray(gold).astype(bool).reshape(-1)
    scores = numpy.asarray(scores, dtype="float64").reshape(-1)
    forced = numpy.zeros(len(gold), dtype=bool) if forced is None else numpy.asarray(forced, dtype=bool).reshape(-1)
    if isinstance(missed, bool) or not isinstance(missed, int) or missed < 0:
        raise ValueError(Errors.E891.format(value=missed))
    n_pos = int(gold.sum())
    f1_default = f1_of(gold, (scores >= default) | forced, missed=missed, others=others)
    if n_pos < min_positives:
        return ThresholdChoice(float(default), n_pos, len(gold), f1_default, f1_default, True)
    free = ~forced
    tp_forced, pred_forced = int((gold & forced).sum()), int(forced.sum())
    # distinct scores of the free docs, highest first; cut k keeps the k highest distinct scores
    values = numpy.unique(scores[free])[::-1]
    order = numpy.searchsorted(-values, -scores[free])  # index of each free doc's score in values
    tp_at = numpy.bincount(order, weights=gold[free], minlength=len(values))
    n_at = numpy.bincount(order, minlength=len(values))
    tp = tp_forced + numpy.concatenate([[0.0], numpy.cumsum(tp_at)])  # (len(values) + 1,)
    pred = pred_forced + numpy.concatenate([[0.0], numpy.cumsum(n_at)])
    tp, pred = tp + others[0], pred + others[1]
    denominator = pred + n_pos + missed + others[2]
    f1 = numpy.where(denominator > 0, 2 * tp / numpy.maximum(denominator, 1), 0.0)
    uppers = numpy.concatenate([[1.0], values])  # lowest score kept by each cut (1.0: none)
    lowers = numpy.concatenate([values, [0.0]])  # the next lower score
    candidates = (uppers + lowers) / 2
    best = numpy.flatnonzero(numpy.isclose(f1, f1.max()))
    k = int(best[numpy.argmin(numpy.abs(candidates[best] - default))])
    return ThresholdChoice(float(candidates[k]), n_pos, len(gold), float(f1[k]), f1_default, False)


def calibrate_thresholds(
    probs: numpy.ndarray,
    gold: numpy.ndarray,
    mask: numpy.ndarray,
    labels: Sequence[str],
    *,
    default: Union[float, Sequence[float]],
    min_positives: int,
    always_top: bool = False,
) -> Dict[str, ThresholdChoice]:
    """Choose every label's threshold for F1 on a calibration corpus.

    probs (numpy.ndarray): ``(n_docs, n_labels)`` the head's probabilities.
    gold (numpy.ndarray): ``(n_docs, n_labels)`` 0/1 gold.
    mask (numpy.ndarray): ``(n_docs, n_labels)`` 1 where the doc is annotated for the label.
    labels (Sequence[str]): The labels, in column order.
    default (Union[float, Sequence[float]]): The threshold kept for a label with too few
        positives (and preferred among equally good cuts): one for all labels, or one per label
        (the head's current thresholds).
    min_positives (int): Fewest calibration positives to choose a label's threshold from.
    always_top (bool): The head also predicts each doc's top label (counted in the F1).
    RETURNS (Dict[str, ThresholdChoice]): label -> its threshold and figures.
    """
    probs = numpy.asarray(probs).reshape(len(probs), len(labels))
    forced = numpy.zeros(probs.shape, dtype=bool)
    if always_top and probs.size:
        forced[numpy.arange(len(probs)), probs.argmax(axis=1)] = True
    defaults = numpy.broadcast_to(numpy.asarray(default, dtype="float64"), (len(labels),))
    out = {}
    for j, label in enumerate(labels):
        rows = numpy.asarray(mask)[:, j] > 0
        out[label] = f1_threshold(
            numpy.asarray(gold)[rows, j],
            probs[rows, j],
            default=float(defaults[j]),
            min_positives=min_positives,
            forced=forced[rows, j],
        )
    return out


def label_thresholds(
    items: Sequence[Tuple[numpy.ndarray, numpy.ndarray, int]],
    labels: Sequence[str],
    *,
    default: Sequence[float],
    min_positives: int,
) -> Dict[str, ThresholdChoice]:
    """Choose every label's threshold for its own F1 (:func:`f1_threshold` with its misses).

    The aim when each label is a task of its own, judged on its own corpus (a relation head
    trained on several corpora: DRUG_AE on ADE sentences, CID on BC5CDR abstracts): with
    :func:`micro_thresholds` the labels of the other corpora would set how many false positives
    one label may make.

    items (Sequence[Tuple[numpy.ndarray, numpy.ndarray, int]]): Per label (in ``labels``
        order): 0/1 gold and probabilities of the items annotated for it, and its gold
        positives no item stands for.
    labels (Sequence[str]): The labels.
    default (Sequence[float]): Each label's current threshold (kept below the floor).
    min_positives (int): Fewest positives to choose a label's threshold from.
    RETURNS (Dict[str, ThresholdChoice]): label -> its threshold and its own F1.
    """
    return {
        label: f1_threshold(gold, scores, default=float(d), min_positives=min_positives, missed=int(missed))
        for (gold, scores, missed), label, d in zip(items, labels, default)
    }


def micro_thresholds(
    items: Sequence[Tuple[numpy.ndarray, numpy.ndarray, int]],
    labels: Sequence[str],
    *,
    default: Sequence[float],
    min_positives: int,
    rounds: int = 3,
) -> Dict[str, ThresholdChoice]:
    """Choose every label's threshold for the micro-F1 over all labels (coordinate ascent: each
    label's exact best cut with the others' thresholds fixed, repeated until nothing changes).

    Per-label F1 is the wrong aim when a head is judged by its micro-F1: a rare label whose best
    own F1 is 5% would be predicted at a threshold that adds more false positives than the
    micro-F1 can bear. A label with fewer than ``min_positives`` positives keeps its default.

    items (Sequence[Tuple[numpy.ndarray, numpy.ndarray, int]]): Per label (in ``labels``
        order): 0/1 gold and probabilities of the items annotated for it, and its gold
        positives no item stands for.
    labels (Sequence[str]): The labels.
    default (Sequence[float]): Each label's current threshold (kept below the floor, and the
        starting point).
    min_positives (int): Fewest positives to choose a label's threshold from.
    rounds (int): Most passes over the labels.
    RETURNS (Dict[str, ThresholdChoice]): label -> its threshold; ``f1`` is the micro-F1 at the
        final thresholds and ``f1_default`` the micro-F1 at the defaults.
    """
    golds = [numpy.asarray(g).astype(bool).reshape(-1) for g, _, _ in items]
    scores = [numpy.asarray(p, dtype="float64").reshape(-1) for _, p, _ in items]
    missed = [int(m) for _, _, m in items]
    thresholds = [float(t) for t in default]

    def counts(j: int, threshold: float) -> Tuple[float, float, float]:
        guess = scores[j] >= threshold
        return float((golds[j] & guess).sum()), float(guess.sum()), float(golds[j].sum() + missed[j])

    def micro(values: Sequence[float]) -> float:
        tp, pred, n_gold = (sum(c) for c in zip(*(counts(j, t) for j, t in enumerate(values))))
        return 2 * tp / (pred + n_gold) if pred + n_gold else 0.0

    fallback = [int(g.sum()) < min_positives for g in golds]
    for _ in range(rounds):
        changed = False
        for j in range(len(labels)):
            if fallback[j]:
                continue
            rest = [counts(k, t) for k, t in enumerate(thresholds) if k != j]
            others = tuple(float(sum(c)) for c in zip(*rest)) if rest else (0.0, 0.0, 0.0)
            choice = f1_threshold(
                golds[j], scores[j], default=thresholds[j], min_positives=1, missed=missed[j], others=others
            )
            if not numpy.isclose(choice.threshold, thresholds[j]):
                thresholds[j], changed = choice.threshold, True
        if not changed:
            break
    f1, f1_default = micro(thresholds), micro([float(t) for t in default])
    return {
        label: ThresholdChoice(thresholds[j], int(golds[j].sum()), len(golds[j]), f1, f1_default, fallback[j])
        for j, label in enumerate(labels)
    }


def f1_of(
    gold: numpy.ndarray, guess: numpy.ndarray, *, missed: int = 0, others: Tuple[float, float, float] = (0, 0, 0)
) -> float:
    """RETURNS (float): F1 of boolean decisions ``guess`` against boolean ``gold`` (with
    ``missed`` gold positives no decision stands for, and ``others``' counts added as in
    :func:`f1_threshold`)."""
    denominator = int(guess.sum()) + int(gold.sum()) + missed + others[1] + others[2]
    return 2 * (int((gold & guess).sum()) + others[0]) / denominator if denominator else 0.0
