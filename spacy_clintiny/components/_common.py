"""What the labelled heads (``clintiny_ner``, ``clintiny_textcat``, ``clintiny_rel``) share:
the listener part of their default model config, one training step (``update``) with small
hooks for what differs, the masked cross-entropy of the doc and pair heads, label
bookkeeping in ``cfg["labels"]`` with labels fixed once the output layer has its size, and
the per-label decision thresholds of the doc and pair heads (``clintiny calibrate`` sets them)."""

import warnings
from typing import Any, Callable, Dict, Iterable, List, Optional, Set, Tuple

import numpy
from spacy.tokens import Doc
from spacy.training import Example, validate_examples
from thinc.api import Model, Ops, Optimizer, set_dropout_rate
from thinc.types import Floats2d

from ..architectures._ops import inference
from ..errors import Errors, Warnings

# Most tokens a head's model sees in one call at inference. Prediction keeps every layer's
# activations until the model's last layer has run (about 40 kB a token for the PHI head), so
# a batch of long notes in one call grew without bound: ``clintiny deid`` took 4.7 GB for 4
# chunks of 100,000 characters and 8.4 GB for 8, so its batch of 32 would need about 30; in
# runs of this budget, 2.2 GB for 4 and 4.7 GB for 32. A longer doc is predicted in segments.
PREDICT_TOKENS = 8192
# Tokens of context on each side of a long doc's segment, whose predictions are dropped: the
# token heads' CNN sees 2 tokens each side (depth 2, window 1), so their output is unchanged.
SEGMENT_MARGIN = 64

# The ``[model.tok2vec]`` part of each head's default config: a listener to the shared encoder.
LISTENER_CONFIG_STR = """
[model.tok2vec]
@architectures = "spacy-transformers.TransformerListener.v1"
grad_factor = 1.0
upstream = "*"

[model.tok2vec.pooling]
@layers = "reduce_mean.v1"
"""


def masked_cross_entropy(
    ops: Ops,
    probs: Floats2d,
    truths: numpy.ndarray,
    mask: numpy.ndarray,
    *,
    exclusive: bool = False,
    pos_weight: Optional[numpy.ndarray] = None,
) -> Tuple[float, Floats2d]:
    """Cross-entropy of probabilities against targets where ``mask`` says the target is known,
    averaged over the annotated rows (rows with any known target).

    probs (Floats2d): ``(n_rows, n_labels)`` softmax (``exclusive``) or sigmoid probabilities.
    truths (numpy.ndarray): ``(n_rows, n_labels)`` targets in {0, 1}.
    mask (numpy.ndarray): ``(n_rows, n_labels)`` or ``(n_rows, 1)``: 1 where known.
    exclusive (bool): Softmax cross-entropy over the labels, else binary per label.
    pos_weight (Optional[numpy.ndarray]): Binary loss only: ``(n_labels,)`` factors on each
        label's positive term (``w * t * log p + (1 - t) * log(1 - p)``), so a rare label's
        few positives count as much as its many negatives (None: 1 for every label).
    RETURNS (Tuple[float, Floats2d]): The loss, and its gradient with respect to the logits
        (``(probs - truths) * mask / n_annotated`` unweighted, ``(probs * (w * t + 1 - t) -
        w * t) * mask / n_annotated`` weighted; exact for every loss).
    """
    probs = ops.to_numpy(probs).astype("float32")
    n_annotated = int((mask.reshape(len(mask), -1).sum(axis=1) > 0).sum()) if len(mask) else 0
    if not n_annotated:
        return 0.0, ops.alloc2f(*probs.shape)
    clipped = numpy.clip(probs, 1e-7, 1.0 - 1e-7)
    if exclusive:
        if pos_weight is not None:
            raise ValueError(Errors.E889)
        loss = -(mask * truths * numpy.log(clipped)).sum()
        d_logits = (probs - truths) * mask / n_annotated
    else:
        w_truths = truths if pos_weight is None else truths * numpy.asarray(pos_weight, dtype="float32")
        loss = -(mask * (w_truths * numpy.log(clipped) + (1.0 - truths) * numpy.log(1.0 - clipped))).sum()
        d_logits = (probs * (w_truths + 1.0 - truths) - w_truths) * mask / n_annotated
    return float(loss) / n_annotated, ops.asarray2f(d_logits.astype("float32"))


class LabelledHead:
    """Mixin for a ``TrainablePipe`` keeping its labels in ``self.cfg["labels"]`` and its
    output layer under the model ref ``"output_layer"``, with the training step the heads
    share. A head says what its model takes (``_update_inputs``) and what its loss reads
    (``_loss_scores``); ``_after_update`` may record more in ``losses``."""

    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optional[Optimizer] = None,
        losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
        """Learn from a batch. Docs without this head's annotation give no loss and a zero
        gradient; the encoder still receives the (zero) gradient so that the shared backward
        pass runs once for all heads.

        examples (Iterable[Example]): The batch.
        drop (float): Dropout rate.
        sgd (Optional[Optimizer]): Optimizer; if given, the head's weights are updated.
        losses (Optional[Dict[str, float]]): Accumulated losses by component name.
        RETURNS (Dict[str, float]): The updated losses.
        """
        if losses is None:
            losses = {}
        losses.setdefault(self.name, 0.0)
        examples = list(examples)
        validate_examples(examples, f"{type(self).__name__}.update")
        if not any(len(eg.predicted) for eg in examples):
            return losses  # the encoder skips such batches too
        set_dropout_rate(self.model, drop)
        inputs = self._update_inputs(examples)
        outputs, backprop = self.model.begin_update(inputs)
        loss, d_outputs = self.get_loss(examples, self._loss_scores(inputs, outputs))
        backprop(d_outputs)
        if sgd is not None:
            self.finish_update(sgd)
        losses[self.name] += loss
        self._after_update(examples, inputs, losses)
        return losses

    def _update_inputs(self, examples: List[Example]) -> Any:
        """RETURNS: What the model takes for this batch (default: the predicted docs)."""
        return [eg.predicted for eg in examples]

    def _loss_scores(self, inputs: Any, outputs: Any) -> Any:
        """RETURNS: What ``get_loss`` reads, from the model's outputs (default: as they are)."""
        return outputs

    def _after_update(self, examples: List[Example], inputs: Any, losses: Dict[str, float]) -> None:
        """Record more about the batch in ``losses`` (default: nothing)."""

    @property
    def labels(self) -> Tuple[str, ...]:
        """RETURNS (Tuple[str, ...]): The labels."""
        return tuple(self.cfg["labels"])

    @property
    def label_data(self) -> List[str]:
        """RETURNS (List[str]): The labels, for ``spacy init labels``."""
        return list(self.labels)

    @property
    def is_initialized(self) -> bool:
        """RETURNS (bool): Whether the output layer has its size (labels are fixed)."""
        return bool(self.model.get_ref("output_layer").has_dim("nO"))

    def _size_output_layer(self, n_out: int, make_layer: Callable[[int], Model]) -> None:
        """Give the output layer ``n_out`` outputs. Re-initializing with another label set
        replaces an already sized layer by a fresh one (``make_layer(n_out)``): thinc cannot
        resize a layer whose weights exist."""
        output_layer = self.model.get_ref("output_layer")
        if not output_layer.has_dim("nO"):
            output_layer.set_dim("nO", n_out)
        elif output_layer.get_dim("nO") != n_out:
            new_output = make_layer(n_out)
            self.model.replace_node(output_layer, new_output)
            self.model.set_ref("output_layer", new_output)

    def _append_label(self, label: str, fixed_error: str) -> int:
        """Add a label unless present. A label that is not a non-empty string raises E005;
        ``fixed_error`` (formatted with name, labels and label) is raised once the labels
        are fixed.

        RETURNS (int): 0 if the label was already present, 1 if it was added.
        """
        if not isinstance(label, str) or not label:
            raise ValueError(Errors.E005.format(name=self.name, value=label, type=type(label).__name__))
        if label in self.labels:
            return 0
        if self.is_initialized:
            raise ValueError(fixed_error.format(name=self.name, labels=list(self.labels), label=label))
        self.cfg["labels"].append(label)
        return 1

    def _resolve_labels(self, labels: Optional[Iterable[str]], data_labels: Set[str], *, n_examples: int) -> List[str]:
        """The labels ``initialize`` settles on.

        Requested labels that the examples do not show are kept, with warning W103: spaCy
        shows ``initialize`` only the first 100 examples of a streamed corpus
        (``max_epochs = -1``), so a rare label can be absent there and still be in the data.

        labels (Optional[Iterable[str]]): Labels given to ``initialize``, if any; otherwise
            those added with ``add_label`` before the first initialization, plus all labels
            in the data.
        data_labels (Set[str]): The labels found in the examples.
        n_examples (int): How many examples ``initialize`` saw (for the warning).
        RETURNS (List[str]): The final labels.
        """
        if labels is not None:
            requested = list(labels)
        else:  # labels added with add_label before the first initialization
            requested = [] if self.is_initialized else list(self.cfg["labels"])
        unseen = [label for label in requested if label not in data_labels]
        if unseen:
            warnings.warn(
                Warnings.W103.format(name=self.name, labels=unseen, n=n_examples, known=sorted(data_labels)),
                stacklevel=2,
            )
        return list(labels) if labels is not None else sorted(set(requested) | data_labels)


def token_batches(docs: List[Any], budget: Optional[int] = None) -> List[List[Any]]:
    """Cut a batch of docs, in order, into runs of at most ``budget`` tokens (a longer doc goes alone).

    docs (List[Doc]): The batch.
    budget (Optional[int]): Most tokens per run; None: ``PREDICT_TOKENS``.
    RETURNS (List[List[Doc]]): The runs, which concatenate to ``docs``.
    """
    budget = PREDICT_TOKENS if budget is None else budget
    runs: List[List[Any]] = []
    size = 0
    for doc in docs:
        if not runs or size + len(doc) > budget:
            runs.append([])
            size = 0
        runs[-1].append(doc)
        size += len(doc)
    return runs


def predict_in_runs(model: Model, docs: List[Doc], n_out: int) -> List[Floats2d]:
    """``model.predict`` of a token head over ``docs`` in runs of at most ``PREDICT_TOKENS``
    tokens (``token_batches``), a longer doc in overlapping segments, so that memory stays
    bounded whatever the batch and the notes' length. The products run at the inference
    precision (``architectures._ops.inference``: bf16 where the CPU has it natively).

    model (Model): The head's model (docs in, one ``(n_tokens, n_out)`` array per doc out).
    docs (List[Doc]): The batch, encoded.
    n_out (int): Columns of the output, for empty docs.
    RETURNS (List[Floats2d]): One array per doc, as ``model.predict(docs)`` gives.
    """
    budget = PREDICT_TOKENS
    scores: List[Floats2d] = []
    with inference():
        for run in token_batches(docs, budget):
            if len(run) == 1 and len(run[0]) > budget:
                scores.append(_predict_segments(model, run[0], budget, min(SEGMENT_MARGIN, budget // 4)))
            elif any(len(doc) for doc in run):
                scores.extend(model.predict(run))
            else:
                scores.extend(model.ops.alloc2f(0, n_out) for _ in run)
    return scores


def _predict_segments(model: Model, doc: Doc, budget: int, margin: int) -> Floats2d:
    """One long doc's predictions, segment by segment: each segment is a copy of its tokens
    with ``margin`` tokens of context either side (``Span.as_doc``) and the doc's encoder output
    for them (``trf_data`` with its alignment sliced; the encoder saw the whole doc)."""
    step = budget - 2 * margin
    encoded = Doc.has_extension("trf_data") and doc._.trf_data is not None
    parts = []
    for start in range(0, len(doc), step):
        low, high = max(0, start - margin), min(len(doc), start + step + margin)
        segment = doc[low:high].as_doc()
        if encoded:
            trf = doc._.trf_data
            segment._.trf_data = type(trf)(
                wordpieces=trf.wordpieces, model_output=trf.model_output, align=trf.align[low:high]
            )
        probs = model.predict([segment])[0]
        parts.append(probs[start - low : start - low + min(step, len(doc) - start)])
    return model.ops.xp.concatenate(parts)


def is_probability(value: Any) -> bool:
    """RETURNS (bool): Whether ``value`` is a number (not a bool) in [0, 1]."""
    return not isinstance(value, bool) and isinstance(value, (int, float)) and 0.0 <= value <= 1.0


def check_setting(ok: bool, name: str, setting: str, value: Any, expected: str) -> None:
    """Raise E300, naming the component, the setting, its value and what is expected, unless ``ok``."""
    if not ok:
        raise ValueError(Errors.E300.format(name=name, setting=setting, value=value, expected=expected))


def is_number_at_least(value: Any, low: float, *, integer: bool = False) -> bool:
    """RETURNS (bool): Whether ``value`` is a number (an int with ``integer``; not a bool) >= ``low``."""
    kinds = (int,) if integer else (int, float)
    return not isinstance(value, bool) and isinstance(value, kinds) and value >= low


def is_name_list(value: Any) -> bool:
    """RETURNS (bool): Whether ``value`` is a non-empty list or tuple of non-empty strings (a
    string alone is not: it would iterate as letters)."""
    return isinstance(value, (list, tuple)) and bool(value) and all(isinstance(v, str) and v for v in value)


class PerLabelThresholds:
    """Mixin for a head with sigmoid outputs deciding each label at its own threshold:
    ``cfg["thresholds"]`` (label -> threshold) where given, else ``cfg["threshold"]``."""

    def set_thresholds(self, thresholds: Dict[str, float], *, check_labels: bool = True) -> None:
        """Replace the per-label thresholds (labels without one use ``threshold``).

        thresholds (Dict[str, float]): Label -> threshold in [0, 1].
        check_labels (bool): Raise E881 for labels the component does not have.
        """
        for label, value in thresholds.items():
            if not is_probability(value):
                raise ValueError(Errors.E880.format(name=self.name, label=label, value=value))
        if check_labels:
            self._check_threshold_labels(thresholds)
        self.cfg["thresholds"] = {str(label): float(value) for label, value in thresholds.items()}

    def _check_threshold_labels(self, thresholds: Dict[str, float]) -> None:
        unknown = sorted(label for label in thresholds if label not in self.labels)
        if unknown:
            raise ValueError(Errors.E881.format(name=self.name, unknown=unknown, labels=list(self.labels)))

    @property
    def label_thresholds(self) -> numpy.ndarray:
        """RETURNS (numpy.ndarray): ``(n_labels,)`` each label's decision threshold."""
        own = self.cfg.get("thresholds") or {}
        default = self.cfg["threshold"]
        return numpy.asarray([own.get(label, default) for label in self.labels], dtype="float32")
