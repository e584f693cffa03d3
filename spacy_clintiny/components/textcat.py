"""``clintiny_textcat``: document classification and sentence-pair (NLI) classification.

Predictions go to ``doc.cats`` (one probability per label; only this component's labels
are written, so several text classifiers can share ``doc.cats``). Exclusive classes use a
softmax and predict the top class. Multi-label heads use a sigmoid per label and predict a
label when its probability reaches its threshold: ``thresholds[label]`` when given (``clintiny
calibrate`` chooses them for F1 on a calibration corpus and saves them with the pipeline),
else ``threshold``; with ``always_top`` each doc's top label is predicted too.
``doc.cats`` keep the probabilities; :meth:`TextClassifier.predicted_labels` gives a doc's
decided labels and :meth:`TextClassifier.score` scores those decisions.

In ``pair`` mode a Doc carries a premise and a hypothesis as described in
:mod:`spacy_clintiny.pairs` (text ``premise + "\\n" + hypothesis``, span group
``pair_spans_key`` = [PREMISE, HYPOTHESIS]); the head pools the two spans separately and
classifies ``[p, h, |p - h|, p * h]``.

Training on partially annotated data: a doc whose reference ``cats`` holds none of this
component's labels contributes nothing; the loss is averaged over the annotated docs of
the batch, so unannotated docs change neither the loss nor any gradient.
"""

from collections import Counter
from itertools import islice
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

import numpy
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.scorer import Scorer
from spacy.tokens import Doc, Span
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.vocab import Vocab
from thinc.api import Config, Linear, Model
from thinc.types import Floats2d

from ..architectures.text_head import fit_tfidf_layer
from ..converters.splits import group_of
from ..errors import Errors
from ..evaluation.thresholds import calibrate_thresholds, decide
from ..pairs import PAIR_KEY, get_pair_spans
from ._common import LISTENER_CONFIG_STR, LabelledHead, PerLabelThresholds, is_probability, masked_cross_entropy
from ._upstream import docs_are_encoded, has_upstream

MODES = ("doc", "pair")

DEFAULT_CONFIG_STR = (
    """
[model]
@architectures = "spacy-clintiny.TextClassifier.v1"
pooling = "mean"
hidden_width = 64
dropout = 0.1
nO = null
"""
    + LISTENER_CONFIG_STR
)
DEFAULT_MODEL = Config().from_str(DEFAULT_CONFIG_STR)["model"]


@Language.factory(
    "clintiny_textcat",
    assigns=["doc.cats"],
    default_config={
        "model": DEFAULT_MODEL,
        "mode": "doc",
        "exclusive_classes": False,
        "threshold": 0.5,
        "thresholds": {},
        "always_top": False,
        "pos_weight_power": 0.0,
        "pair_spans_key": PAIR_KEY,
    },
    default_score_weights={
        "clintiny_textcat_macro_f": 1.0,
        "clintiny_textcat_micro_f": 0.0,
        "clintiny_textcat_acc": 0.0,
    },
)
def make_clintiny_textcat(
    nlp: Language,
    name: str,
    model: Model,
    mode: str,
    exclusive_classes: bool,
    threshold: float,
    thresholds: Dict[str, float],
    always_top: bool,
    pos_weight_power: float,
    pair_spans_key: str,
) -> "TextClassifier":
    """Create a ``clintiny_textcat`` component.

    model (Model): Logits per doc, usually ``spacy-clintiny.TextClassifier.v1`` over a
        listener to the shared encoder.
    mode (str): "doc" (classify the whole doc) or "pair" (premise/hypothesis pair).
    exclusive_classes (bool): One class per doc (softmax) instead of multi-label (sigmoid).
    threshold (float): Probability from which a multi-label class counts as predicted (the
        default for labels without their own threshold).
    thresholds (Dict[str, float]): Label -> its own threshold (``clintiny calibrate`` sets them).
    always_top (bool): Multi-label: also predict each doc's top label, so every doc gets one
        (ignored by a one-label head).
    pos_weight_power (float): Multi-label class weights: each label's positive examples count
        ``(negatives / positives) ** pos_weight_power`` times in the loss, counted over the
        training docs at ``initialize`` (0: unweighted; 1: "balanced", positives and negatives
        of a label weigh the same in total; 0.5: the square root, between the two).
    pair_spans_key (str): Span group holding the PREMISE and HYPOTHESIS spans.
    """
    return TextClassifier(
        nlp.vocab,
        model,
        name=name,
        mode=mode,
        exclusive_classes=exclusive_classes,
        threshold=threshold,
        thresholds=thresholds,
        always_top=always_top,
        pos_weight_power=pos_weight_power,
        pair_spans_key=pair_spans_key,
    )


class TextClassifier(PerLabelThresholds, LabelledHead, TrainablePipe):
    """Classify docs, or premise/hypothesis pairs, into ``doc.cats``."""

    def __init__(
        self,
        vocab: Vocab,
        model: Model,
        name: str = "clintiny_textcat",
        *,
        mode: str = "doc",
        exclusive_classes: bool = False,
        threshold: float = 0.5,
        thresholds: Optional[Dict[str, float]] = None,
        always_top: bool = False,
        pos_weight_power: float = 0.0,
        pair_spans_key: str = PAIR_KEY,
    ) -> None:
        if mode not in MODES:
            raise ValueError(Errors.E200.format(name=name, mode=mode))
        if not is_probability(threshold):
            raise ValueError(Errors.E209.format(name=name, threshold=threshold))
        if (
            isinstance(pos_weight_power, bool)
            or not isinstance(pos_weight_power, (int, float))
            or not (0 <= pos_weight_power < float("inf"))
        ):
            raise ValueError(Errors.E890.format(name=name, value=pos_weight_power))
        if pos_weight_power and exclusive_classes:
            raise ValueError(Errors.E889)
        self.vocab = vocab
        self.model = model
        self.name = name
        self.cfg: Dict[str, Any] = {
            "labels": [],
            "mode": mode,
            "exclusive_classes": bool(exclusive_classes),
            "threshold": float(threshold),
            "thresholds": {},
            "always_top": bool(always_top),
            "pos_weight_power": float(pos_weight_power),
            # label -> factor on its positives in the loss, set by initialize
            "pos_weights": {},
            "pair_spans_key": pair_spans_key,
        }
        self.set_thresholds(thresholds or {}, check_labels=False)

    def add_label(self, label: str) -> int:
        """Add a label before initialization.

        label (str): The label.
        RETURNS (int): 0 if the label was already present, 1 if it was added.
        """
        return self._append_label(label, Errors.E210)

    # ------------------------------------------------------------------ decisions

    @property
    def adds_top_label(self) -> bool:
        """RETURNS (bool): Whether a multi-label decision also predicts each doc's top label:
        ``always_top``, except for a one-label (yes/no) head, which has no top label to add
        (always_top would say yes to every doc)."""
        return bool(self.cfg.get("always_top", False)) and len(self.labels) > 1

    def decide(self, scores: Floats2d) -> numpy.ndarray:
        """The decisions for probabilities: the top class (exclusive classes), or every label
        reaching its threshold, plus the top label with ``always_top`` (multi-label).

        scores (Floats2d): ``(n_docs, n_labels)`` probabilities, as ``predict`` returns them.
        RETURNS (numpy.ndarray): ``(n_docs, n_labels)`` booleans.
        """
        probs = self.model.ops.to_numpy(scores).reshape(len(scores), len(self.labels))
        if self.cfg["exclusive_classes"]:
            return decide(probs, numpy.full(len(self.labels), numpy.inf), always_top=True)
        return decide(probs, self.label_thresholds, always_top=self.adds_top_label)

    def predicted_labels(self, doc: Doc) -> List[str]:
        """The labels this component predicts for a doc it has annotated.

        doc (Doc): A doc with this component's probabilities in ``doc.cats``.
        RETURNS (List[str]): The decided labels, in label order.
        """
        if not all(label in doc.cats for label in self.labels):
            return []
        row = numpy.asarray([[doc.cats[label] for label in self.labels]], dtype="float32")
        return [label for label, flag in zip(self.labels, self.decide(row)[0]) if flag]

    # ------------------------------------------------------------------ prediction

    def _segments(self, docs: List[Doc]) -> List[List[Span]]:
        """The token ranges the head pools: the whole doc, or premise and hypothesis."""
        if self.cfg["mode"] == "doc":
            return [[doc[:]] for doc in docs]
        key = self.cfg["pair_spans_key"]
        segments = []
        for i, doc in enumerate(docs):
            pair = get_pair_spans(doc, key)
            if pair is None:
                if key not in doc.spans:
                    raise ValueError(Errors.E202.format(name=self.name, i=i, n=len(docs), key=key))
                group = doc.spans[key]
                raise ValueError(
                    Errors.E203.format(
                        name=self.name, i=i, n=len(docs), key=key, n_spans=len(group), labels=[s.label_ for s in group]
                    )
                )
            segments.append(list(pair))
        return segments

    def _activate(self, logits: Floats2d) -> Floats2d:
        if self.cfg["exclusive_classes"]:
            return self.model.ops.softmax(logits, axis=-1)
        return self.model.ops.sigmoid(logits)

    def predict(self, docs: Iterable[Doc]) -> Floats2d:
        """Class probabilities for each doc.

        docs (Iterable[Doc]): The documents; the encoder must have run on them.
        RETURNS (Floats2d): ``(n_docs, n_labels)`` probabilities.
        """
        docs = list(docs)
        if not docs:
            return self.model.ops.alloc2f(0, len(self.labels))
        if not docs_are_encoded(self, docs):
            raise ValueError(Errors.E004.format(name=self.name))
        logits = self.model.predict((docs, self._segments(docs)))
        return self._activate(logits)

    def set_annotations(self, docs: Iterable[Doc], scores: Floats2d) -> None:
        """Write this component's label probabilities to ``doc.cats``.

        docs (Iterable[Doc]): The documents.
        scores (Floats2d): The output of ``predict``.
        """
        probs = self.model.ops.to_numpy(scores)
        for doc, row in zip(docs, probs):
            for label, prob in zip(self.labels, row):
                doc.cats[label] = float(prob)

    # ------------------------------------------------------------------ training

    def _update_inputs(self, examples: List[Example]) -> Tuple[List[Doc], List[List[Span]]]:
        docs = [eg.predicted for eg in examples]
        return docs, self._segments(docs)

    def _loss_scores(self, inputs: Any, logits: Floats2d) -> Floats2d:
        return self._activate(logits)

    def get_loss(self, examples: Iterable[Example], scores: Floats2d) -> Tuple[float, Floats2d]:
        """Cross-entropy (exclusive classes) or binary cross-entropy (multi-label), summed
        over labels and averaged over the annotated docs of the batch.

        examples (Iterable[Example]): The batch.
        scores (Floats2d): Probabilities (softmax or sigmoid of the logits).
        RETURNS (Tuple[float, Floats2d]): The loss, and its gradient with respect to the
            logits (``(probs - truth) * mask / n_annotated``, exact for both losses).
        """
        truths, mask = self._gold(list(examples))
        weights = self.cfg.get("pos_weights") or {}
        pos_weight = numpy.asarray([weights.get(label, 1.0) for label in self.labels], "float32") if weights else None
        return masked_cross_entropy(
            self.model.ops, scores, truths, mask, exclusive=self.cfg["exclusive_classes"], pos_weight=pos_weight
        )

    def _gold(self, examples: List[Example]) -> Tuple[numpy.ndarray, numpy.ndarray]:
        """Targets and mask, both ``(n_docs, n_labels)``; mask 0 where the label is unknown.

        Exclusive classes: a doc is annotated when exactly one of the labels is positive
        (> 0) in its cats; the others are then known negatives. Multi-label: each label in
        the doc's cats is known, the others are masked.
        """
        labels = self.labels
        truths = numpy.zeros((len(examples), len(labels)), dtype="float32")
        mask = numpy.zeros((len(examples), len(labels)), dtype="float32")
        for i, eg in enumerate(examples):
            cats = eg.reference.cats
            present = [j for j, label in enumerate(labels) if label in cats]
            if not present:
                continue
            if self.cfg["exclusive_classes"]:
                positives = [j for j in present if cats[labels[j]] > 0]
                if len(positives) > 1:
                    raise ValueError(
                        Errors.E207.format(
                            name=self.name, i=i, n_pos=len(positives), labels=[labels[j] for j in positives]
                        )
                    )
                if positives:
                    truths[i, positives[0]] = 1.0
                    mask[i] = 1.0
            else:
                for j in present:
                    truths[i, j] = float(cats[labels[j]])
                    mask[i, j] = 1.0
        return truths, mask

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[List[str]] = None,
        corpus: Optional[Callable[[Language], Iterable[Example]]] = None,
    ) -> None:
        """Gather labels from the training docs' ``cats``, count each label's positives (class
        weights), size the model and, for a ``TextClassifier.v3`` model, fit its regression.

        In pair mode only docs carrying the pair span group are read; in doc mode those
        docs are skipped (their NLI labels belong to a pair-mode head). When several doc-mode
        heads share a corpus, give each its labels explicitly.

        get_examples (Callable[[], Iterable[Example]]): Returns the training examples.
        nlp (Optional[Language]): The pipeline, used to check that an encoder feeds this head.
        labels (Optional[List[str]]): Labels to use instead of all labels in the examples
            (e.g. from ``clintiny labels``).
        corpus (Optional[Callable[[Language], Iterable[Example]]]): A reader of ALL this
            head's training docs (``[initialize.components.<name>] corpus``, e.g.
            ``spacy.Corpus.v1``), read instead of ``get_examples``. With a streamed training
            corpus (``max_epochs = -1``) spaCy's initialize sees only the first 100 examples,
            too few to count class weights or fit a regression on.
        """
        validate_get_examples(get_examples, "TextClassifier.initialize")
        if nlp is not None and not has_upstream(self, nlp):
            raise ValueError(Errors.E004.format(name=self.name))
        if corpus is not None:
            if nlp is None:
                raise ValueError(Errors.E217.format(name=self.name))
            reader = corpus
            get_examples = lambda: reader(nlp)  # noqa: E731
        # thresholds an earlier initialize derived from the regression are derived again
        derived = set((self.cfg.get("tfidf") or {}).get("oof_thresholds") or [])
        own = self.cfg.get("thresholds") or {}
        self.cfg["thresholds"] = {label: value for label, value in own.items() if label not in derived}
        key = self.cfg["pair_spans_key"]
        pair_mode = self.cfg["mode"] == "pair"
        n_examples, n_pairs = 0, 0
        keys_seen = set()
        n_known: Counter = Counter()  # label -> docs that annotate it
        n_positive: Counter = Counter()
        read = list(get_examples())
        for eg in read:
            n_examples += 1
            ref = eg.reference
            keys_seen.update(ref.spans.keys())
            is_pair = key in ref.spans
            n_pairs += is_pair
            if is_pair == pair_mode:
                n_known.update(ref.cats.keys())
                n_positive.update(label for label, value in ref.cats.items() if value > 0)
        if pair_mode and not n_pairs:
            raise ValueError(Errors.E208.format(name=self.name, key=key, n=n_examples, keys=sorted(keys_seen)))
        final = self._resolve_labels(labels, set(n_known), n_examples=n_examples)
        if not final:
            where = (
                f" among docs with span group '{key}'"
                if pair_mode
                else f" (docs with span group '{key}' are left to pair-mode heads)"
            )
            raise ValueError(Errors.E204.format(name=self.name, n=n_examples, where=where))
        if self.cfg["exclusive_classes"] and len(final) == 1:
            raise ValueError(Errors.E206.format(name=self.name, labels=final))
        self.cfg["labels"] = final
        self.cfg["pos_weights"] = _pos_weights(final, n_known, n_positive, self.cfg["pos_weight_power"])
        self._check_threshold_labels(self.cfg.get("thresholds") or {})
        self._size_output_layer(len(final), lambda n: Linear(nO=n))
        examples = [eg for eg in read if (key in eg.reference.spans) == pair_mode]
        docs = list(islice((eg.reference for eg in examples if len(eg.reference)), 10))
        self.model.initialize(X=(docs, self._segments(docs)))
        if self.model.has_ref("tfidf") and not pair_mode:
            self._fit_tfidf(examples)

    def tfidf_inputs(self, examples: List[Example]) -> Tuple[List[str], numpy.ndarray, numpy.ndarray, List[str]]:
        """What a ``TextClassifier.v3`` regression is fitted on: the texts, targets, mask and
        fold groups of the training docs annotated for this head (each label on the docs that
        annotate it).

        RETURNS (Tuple[List[str], numpy.ndarray, numpy.ndarray, List[str]]): Texts,
            ``(n_docs, n_labels)`` targets and mask, and each doc's group.
        """
        truths, mask = self._gold(examples)
        annotated = numpy.flatnonzero(mask.any(axis=1))
        texts = [examples[i].reference.text for i in annotated]
        groups = [group_of(examples[i].reference) or f"doc {i}" for i in annotated]
        return texts, truths[annotated], mask[annotated], groups

    def _fit_tfidf(self, examples: List[Example]) -> None:
        """Fit the bag-of-words regression of a ``TextClassifier.v3`` model on the training
        docs annotated for this head (:meth:`tfidf_inputs`)."""
        texts, truths, mask, groups = self.tfidf_inputs(examples)
        info, oof = fit_tfidf_layer(self.model.get_ref("tfidf"), texts, truths, mask, groups)
        if not self.cfg["exclusive_classes"]:
            info["oof_thresholds"] = self._oof_thresholds(oof, truths, mask)
        self.cfg["tfidf"] = info

    def _oof_thresholds(self, logits: numpy.ndarray, truths: numpy.ndarray, mask: numpy.ndarray) -> List[str]:
        """Start each label's threshold where the regression's out-of-fold predictions on the
        training docs reach their best F1 (the TF-IDF baseline's decision rule, counting
        ``always_top``); thresholds given in the config are kept, and ``clintiny calibrate``
        replaces those of the labels with enough calibration positives. A label without a
        training positive keeps ``threshold``.

        RETURNS (List[str]): The labels given a threshold here (recorded in ``cfg["tfidf"]``).
        """
        probs = 1.0 / (1.0 + numpy.exp(-numpy.asarray(logits, dtype="float64")))
        choices = calibrate_thresholds(
            probs,
            truths,
            mask,
            self.labels,
            default=self.cfg["threshold"],
            min_positives=1,
            always_top=self.adds_top_label,
        )
        given = self.cfg.get("thresholds") or {}
        chosen = {label: round(c.threshold, 6) for label, c in choices.items() if not c.fallback and label not in given}
        self.set_thresholds({**chosen, **given})
        return sorted(chosen)

    # ------------------------------------------------------------------ scoring

    def score(self, examples: Iterable[Example], **kwargs: Any) -> Dict[str, Any]:
        """Score the examples annotated for this component (reference cats holding at
        least one of its labels).

        ``{name}_macro_f`` / ``_micro_f`` (and ``_p``/``_r``, ``_macro_auc``) come from
        spaCy's ``Scorer.score_cats``: for a multi-label head P/R/F score the component's
        decisions (:meth:`decide`: per-label thresholds, ``always_top``) and the AUC its
        probabilities. ``{name}_acc`` is top-1 accuracy: correct when the top-scoring label is
        among the gold positives (for a multi-label doc without gold positives: when no label
        is predicted); ``{name}_per_label`` holds P/R/F per label. When some examples are
        annotated for this component, spaCy's own keys are set too, so ``spacy evaluate``
        prints a TEXTCAT line and per-label tables: ``cats_score`` (as spaCy's own textcat:
        macro AUC for a multi-label head, macro F for an exclusive one), ``cats_score_desc``,
        ``cats_f_per_type`` and ``cats_auc_per_type``. A pipeline with two doc heads reports
        these for the one its evaluation data annotates (for data that annotates both, the
        later head's).

        examples (Iterable[Example]): Examples with predictions.
        RETURNS (Dict[str, Any]): The scores; None values when nothing is annotated.
        """
        examples = list(examples)
        validate_examples(examples, "TextClassifier.score")
        name, labels = self.name, self.labels
        annotated = [eg for eg in examples if any(label in eg.reference.cats for label in labels)]
        keys = ("micro_p", "micro_r", "micro_f", "macro_p", "macro_r", "macro_f", "macro_auc", "acc", "per_label")
        if not annotated or not labels:
            return {f"{name}_{k}": None for k in keys}
        multi_label = not self.cfg["exclusive_classes"]
        threshold = self.cfg["threshold"]
        res = Scorer.score_cats(annotated, "cats", labels=labels, multi_label=multi_label, threshold=threshold)
        probs = numpy.asarray([[eg.predicted.cats.get(label, 0.0) for label in labels] for eg in annotated])
        decisions = self.decide(probs.astype("float32"))
        if multi_label:
            decided = _score_decisions(annotated, labels, decisions)
            for key in ("micro_p", "micro_r", "micro_f", "macro_p", "macro_r", "macro_f", "f_per_type"):
                res[f"cats_{key}"] = decided[f"cats_{key}"]
        scores = {f"{name}_{k}": res[f"cats_{k}"] for k in keys[:7]}
        scores[f"{name}_per_label"] = res["cats_f_per_type"]
        scores[f"{name}_acc"] = _top1_accuracy(annotated, labels, multi_label=multi_label, decisions=decisions)
        for key in ("cats_score", "cats_score_desc", "cats_f_per_type", "cats_auc_per_type"):
            scores[key] = res[key]
        return scores


def _pos_weights(labels: List[str], n_known: Counter, n_positive: Counter, power: float) -> Dict[str, float]:
    """Label -> ``(negatives / positives) ** power`` over the docs that annotate it ({} for
    power 0; a label without positives or negatives gets 1)."""
    if not power:
        return {}
    weights = {}
    for label in labels:
        pos, neg = n_positive[label], n_known[label] - n_positive[label]
        weights[label] = float((neg / pos) ** power) if pos and neg else 1.0
    return weights


def _score_decisions(examples: List[Example], labels: Tuple[str, ...], decisions: numpy.ndarray) -> Dict[str, Any]:
    """spaCy's multi-label ``Scorer.score_cats`` of 0/1 decisions (the predicted docs' cats are
    swapped for copies holding the decisions while scoring, then put back)."""
    saved = [eg.predicted.cats for eg in examples]
    try:
        for eg, cats, row in zip(examples, saved, decisions):
            eg.predicted.cats = {**cats, **{label: float(flag) for label, flag in zip(labels, row)}}
        return Scorer.score_cats(examples, "cats", labels=labels, multi_label=True, threshold=0.5)
    finally:
        for eg, cats in zip(examples, saved):
            eg.predicted.cats = cats


def _top1_accuracy(
    examples: List[Example], labels: Tuple[str, ...], *, multi_label: bool, decisions: numpy.ndarray
) -> Optional[float]:
    n, correct = 0, 0
    for eg, row in zip(examples, decisions):
        gold = eg.reference.cats
        positives = {label for label in labels if gold.get(label, 0.0) > 0}
        if not positives and not multi_label:
            continue  # no class given: not annotated for an exclusive classifier
        # multi-label docs may be annotated for some labels only: rank those
        known = [label for label in labels if label in gold] if multi_label else labels
        pred = {label: eg.predicted.cats[label] for label in known if label in eg.predicted.cats}
        n += 1
        if not pred:
            continue
        top = max(pred.items(), key=lambda item: item[1])[0]
        decided = {label for label, flag in zip(labels, row) if flag}
        correct += (top in positives) if positives else not (decided & set(pred))
    return correct / n if n else None
