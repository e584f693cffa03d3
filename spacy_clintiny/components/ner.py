"""``clintiny_ner``: token-classification NER over the shared encoder, one instance per span group.

Predictions go to ``doc.spans[spans_key]`` (with a per-span confidence in
``doc.spans[spans_key].attrs["scores"]`` and, per token of the doc, the probability that the
token is inside some span, 1 - P(O) before the ``outside_weight``, in
``attrs["token_scores"]``) and, with ``write_ents = true``, to ``doc.ents``.
Training uses partially annotated data: a doc whose reference has no ``spans_key`` group
teaches this head nothing (no loss, zero gradient), an EMPTY group is a true negative.
"""

import warnings
from itertools import islice
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

import numpy
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.scorer import Scorer
from spacy.tokens import Doc, Span, SpanGroup
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.util import filter_spans
from spacy.vocab import Vocab
from thinc.api import Config, Model, Softmax
from thinc.types import Floats2d

from ..converters.labels import ANNOTATED_LABELS
from ..errors import Errors, Warnings
from ._common import LISTENER_CONFIG_STR, LabelledHead, predict_in_runs
from ._upstream import docs_are_encoded, has_upstream, listens_to_encoder
from .tag_scheme import MISSING, SCHEMES, TagScheme

DEFAULT_CONFIG_STR = (
    """
[model]
@architectures = "spacy-clintiny.TokenClassifier.v1"
hidden_width = null
dropout = 0.1
nO = null
"""
    + LISTENER_CONFIG_STR
)
DEFAULT_MODEL = Config().from_str(DEFAULT_CONFIG_STR)["model"]


@Language.factory(
    "clintiny_ner",
    assigns=["doc.spans", "doc.ents"],
    default_config={
        "model": DEFAULT_MODEL,
        "spans_key": "sc",
        "write_ents": False,
        "overwrite_ents": False,
        "scheme": "BILUO",
        "outside_weight": 1.0,
    },
    default_score_weights={"spans_sc_f": 1.0, "spans_sc_p": 0.0, "spans_sc_r": 0.0},
)
def make_clintiny_ner(
    nlp: Language,
    name: str,
    model: Model[List[Doc], List[Floats2d]],
    spans_key: str,
    write_ents: bool,
    overwrite_ents: bool,
    scheme: str,
    outside_weight: float,
) -> "TokenClassifier":
    """Create a ``clintiny_ner`` component.

    model (Model[List[Doc], List[Floats2d]]): Tag probabilities per token, usually
        ``spacy-clintiny.TokenClassifier.v1`` over a listener to the shared encoder.
    spans_key (str): Span group read in training and written at inference (e.g. "phi").
    write_ents (bool): Also write the predictions to ``doc.ents`` (so medspaCy ConText can
        act on them).
    overwrite_ents (bool): When writing ``doc.ents``, let these predictions replace
        overlapping entities set earlier; by default earlier entities win overlaps.
    scheme (str): "BILUO" or "BIO".
    outside_weight (float): Factor on the probability of the O tag before decoding. 1.0
        decodes the most probable tags; below 1 biases toward finding entities (a
        recall-first operating point, e.g. 0.2 for de-identification), above 1 toward
        precision.
    """
    return TokenClassifier(
        nlp.vocab,
        model,
        name=name,
        spans_key=spans_key,
        write_ents=write_ents,
        overwrite_ents=overwrite_ents,
        scheme=scheme,
        outside_weight=outside_weight,
    )


class TokenClassifier(LabelledHead, TrainablePipe):
    """Tag tokens with BILUO/BIO tags and decode valid entity spans."""

    def __init__(
        self,
        vocab: Vocab,
        model: Model[List[Doc], List[Floats2d]],
        name: str = "clintiny_ner",
        *,
        spans_key: str = "sc",
        write_ents: bool = False,
        overwrite_ents: bool = False,
        scheme: str = "BILUO",
        outside_weight: float = 1.0,
    ) -> None:
        if scheme not in SCHEMES:
            raise ValueError(Errors.E100.format(name=name, scheme=scheme))
        if not is_outside_weight(outside_weight):
            raise ValueError(Errors.E110.format(name=name, value=outside_weight))
        self.vocab = vocab
        self.model = model
        self.name = name
        self.cfg: Dict[str, Any] = {
            "labels": [],
            "spans_key": spans_key,
            "write_ents": write_ents,
            "overwrite_ents": overwrite_ents,
            "scheme": scheme,
            "outside_weight": outside_weight,
        }
        self.n_overlaps_dropped = 0
        self._scheme: Optional[TagScheme] = None

    @property
    def spans_key(self) -> str:
        """RETURNS (str): The span group this component reads and writes."""
        return self.cfg["spans_key"]

    @property
    def tag_scheme(self) -> TagScheme:
        """RETURNS (TagScheme): Tags and decoding for the current labels."""
        if self._scheme is None or self._scheme.labels != list(self.labels):
            self._scheme = TagScheme(self.labels, self.cfg["scheme"])
        return self._scheme

    def add_label(self, label: str) -> int:
        """Add a label before initialization. Labels are fixed once the model is
        initialized, because a label the head was never trained on cannot be predicted.

        label (str): The label.
        RETURNS (int): 0 if the label was already present, 1 if it was added.
        """
        return self._append_label(label, Errors.E104)

    # ------------------------------------------------------------------ prediction

    def predict(self, docs: Iterable[Doc]) -> List[Floats2d]:
        """Tag probabilities for each doc.

        docs (Iterable[Doc]): The documents; the encoder must have run on them.
        RETURNS (List[Floats2d]): One ``(n_tokens, n_tags)`` array per doc.
        """
        docs = list(docs)
        self._check_encoder_output(docs)
        return predict_in_runs(self.model, docs, len(self.tag_scheme))

    def set_annotations(self, docs: Iterable[Doc], scores: List[Floats2d]) -> None:
        """Decode valid tag sequences and write spans (and optionally ``doc.ents``).

        docs (Iterable[Doc]): The documents.
        scores (List[Floats2d]): The output of ``predict``.
        """
        scheme = self.tag_scheme
        key = self.spans_key
        for doc, probs in zip(docs, scores):
            probs = self.model.ops.to_numpy(probs)
            is_space = numpy.asarray([token.is_space for token in doc], dtype=bool)
            weighted = probs
            if self.cfg.get("outside_weight", 1.0) != 1.0:
                weighted = probs.copy()
                weighted[:, scheme.index["O"]] *= self.cfg["outside_weight"]
            path = scheme.decode(weighted, inner_only=is_space)
            spans, confidences = [], []
            for start, end, label in scheme.to_spans(path):
                start, end = _strip_space(is_space, start, end)
                if start >= end:
                    continue
                spans.append(Span(doc, start, end, label=label))
                rows = numpy.arange(start, end)
                confidences.append(float(probs[rows, path[start:end]].mean()))
            inside = (1.0 - probs[:, scheme.index["O"]]).round(4).tolist()
            attrs = {"scores": confidences, "token_scores": inside}
            doc.spans[key] = SpanGroup(doc, name=key, spans=spans, attrs=attrs)
            if self.cfg["write_ents"]:
                self._write_ents(doc, spans)

    def _write_ents(self, doc: Doc, spans: List[Span]) -> None:
        existing = list(doc.ents)
        if self.cfg["overwrite_ents"]:
            ours = filter_spans(spans)
            taken = _occupied(ours)
            kept = [e for e in existing if not any(i in taken for i in range(e.start, e.end))]
            doc.ents = sorted(ours + kept, key=lambda s: s.start)
        else:
            taken = _occupied(existing)
            new = [s for s in filter_spans(spans) if not any(i in taken for i in range(s.start, s.end))]
            doc.ents = sorted(existing + new, key=lambda s: s.start)

    def _check_encoder_output(self, docs: List[Doc]) -> None:
        """Raise E004 if the model listens to an encoder that did not run on ``docs``
        (the listener would otherwise silently feed zeros). Unlike ``docs_are_encoded``
        alone, this also raises when no encoder ever ran in this process (no ``trf_data``
        extension), even for empty docs."""
        never_encoded = listens_to_encoder(self) and not Doc.has_extension("trf_data")
        if never_encoded or not docs_are_encoded(self, docs):
            raise ValueError(Errors.E004.format(name=self.name))

    # ------------------------------------------------------------------ training

    def get_loss(self, examples: Iterable[Example], scores: List[Floats2d]) -> Tuple[float, List[Floats2d]]:
        """Token cross-entropy, averaged over the annotated tokens of the batch.

        Tokens of docs without ``spans_key`` and tokens whose gold tag is unknown
        (misaligned span boundaries) are ignored; normalising by the number of annotated
        tokens makes loss and gradient independent of unannotated docs in the batch.

        Partial annotation by label: when the doc's span group lists the labels its corpus
        annotates (``attrs["annotated_labels"]``, e.g. NCBI-disease: PROBLEM only), a token
        outside the gold spans is a negative for those labels only: its target is the set
        {O} + every tag of the other labels, and the loss is ``-log`` of the probability of
        that set (its gradient w.r.t. the logits: ``p - p * in_set / p(set)``). With every
        label annotated this is the usual one-hot cross-entropy.

        examples (Iterable[Example]): The batch.
        scores (List[Floats2d]): Tag probabilities from the model.
        RETURNS (Tuple[float, List[Floats2d]]): The loss and the gradient w.r.t. the logits.
        """
        ops = self.model.ops
        examples = list(examples)
        golds = [self._gold_tag_ids(eg)[0] for eg in examples]
        n_annotated = sum(int((g != MISSING).sum()) for g in golds)
        outside = self.tag_scheme.index["O"]
        total = 0.0
        d_scores = []
        for eg, probs, gold in zip(examples, scores, golds):
            p = ops.to_numpy(probs).astype("float32", copy=True)  # (n_tokens, n_tags)
            d = numpy.zeros_like(p)
            rows = numpy.nonzero(gold != MISSING)[0]
            if n_annotated and len(rows):
                target = numpy.zeros((len(rows), p.shape[1]), dtype="float32")
                target[numpy.arange(len(rows)), gold[rows]] = 1.0
                open_tags = self._unannotated_tags(eg)
                if len(open_tags):
                    target[numpy.ix_(numpy.nonzero(gold[rows] == outside)[0], open_tags)] = 1.0
                mass = numpy.maximum((p[rows] * target).sum(axis=1), 1e-12)
                total -= float(numpy.log(mass).sum())
                d[rows] = (p[rows] - p[rows] * target / mass[:, None]) / n_annotated
            d_scores.append(ops.asarray2f(d))
        loss = total / n_annotated if n_annotated else 0.0
        return loss, d_scores

    def _unannotated_tags(self, example: Example) -> numpy.ndarray:
        """Tags of the labels the doc's corpus does not annotate (its span group's
        ``attrs["annotated_labels"]``); empty when it annotates all of this head's labels."""
        annotated = annotated_labels(example, self.spans_key)
        if annotated is None:
            return numpy.zeros((0,), dtype="int64")
        return self.tag_scheme.tags_of(label for label in self.labels if label not in set(annotated))

    def _gold_tag_ids(self, example: Example) -> Tuple[numpy.ndarray, int]:
        """Gold tag ids on ``example.predicted`` tokens, MISSING where unknown.

        RETURNS (Tuple[numpy.ndarray, int]): ``(n_tokens,)`` tag ids, and the number of
            overlapping gold spans that were dropped.
        """
        pred = example.predicted
        ref = example.reference
        gold = numpy.full((len(pred),), MISSING, dtype="int32")
        if self.spans_key not in ref.spans:
            return gold, 0
        labels = set(self.labels)
        group = [span for span in ref.spans[self.spans_key] if span.label_ in labels]
        kept = filter_spans(group)
        is_space = [token.is_space for token in pred]
        aligned, misaligned = [], []
        for span in kept:
            x_span = pred.char_span(span.start_char, span.end_char)
            if x_span is None:
                misaligned.append((span.start_char, span.end_char))
            else:
                start, end = _strip_space(is_space, x_span.start, x_span.end)
                aligned.append((start, end, span.label_))
        gold = self.tag_scheme.gold_tags(len(pred), aligned)
        if misaligned and len(pred):
            starts = numpy.asarray([t.idx for t in pred])
            ends = starts + numpy.asarray([len(t) for t in pred])
            for start_char, end_char in misaligned:
                gold[(starts < end_char) & (ends > start_char)] = MISSING
        return gold, len(group) - len(kept)

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[List[str]] = None,
    ) -> None:
        """Infer labels from the training examples that carry ``spans_key`` and size the model.

        get_examples (Callable[[], Iterable[Example]]): Returns the training examples.
        nlp (Optional[Language]): The pipeline, used to check that an encoder feeds this head.
        labels (Optional[List[str]]): Labels to use instead of all labels in the examples
            (e.g. from ``clintiny labels``); spans with other labels are tagged O.
        """
        validate_get_examples(get_examples, "TokenClassifier.initialize")
        if nlp is not None and not has_upstream(self, nlp):
            raise ValueError(Errors.E004.format(name=self.name))
        key = self.spans_key
        n_examples, n_with_key, n_overlaps, n_overlap_docs = 0, 0, 0, 0
        keys_seen, data_labels = set(), set()
        for eg in get_examples():
            n_examples += 1
            keys_seen.update(eg.reference.spans.keys())
            if key not in eg.reference.spans:
                continue
            n_with_key += 1
            group = list(eg.reference.spans[key])
            data_labels.update(span.label_ for span in group)
            dropped = len(group) - len(filter_spans(group))
            n_overlaps += dropped
            n_overlap_docs += bool(dropped)
        if not n_with_key:
            raise ValueError(Errors.E101.format(name=self.name, key=key, n=n_examples, keys=sorted(keys_seen)))
        if not data_labels:
            raise ValueError(Errors.E102.format(name=self.name, key=key, n=n_with_key))
        final = self._resolve_labels(labels, data_labels, n_examples=n_examples)
        self.cfg["labels"] = final
        self.n_overlaps_dropped = n_overlaps
        if n_overlaps:
            warnings.warn(
                Warnings.W100.format(name=self.name, n=n_overlaps, key=key, n_docs=n_overlap_docs), stacklevel=2
            )
        self._size_output_layer(len(self.tag_scheme), lambda n: Softmax(nO=n))
        doc_sample = list(islice((eg.predicted for eg in get_examples() if len(eg.predicted)), 10))
        self.model.initialize(X=doc_sample)

    # ------------------------------------------------------------------ scoring

    def score(self, examples: Iterable[Example], **kwargs: Any) -> Dict[str, Any]:
        """Entity-level P/R/F (overall and per label) over the examples whose reference
        carries ``spans_key`` (:func:`score_span_group`: a corpus that annotates only some
        labels is scored on those).

        examples (Iterable[Example]): Examples with predictions.
        RETURNS (Dict[str, Any]): ``spans_{key}_p/_r/_f/_per_type``; None when no example
            carries the key (with warning W101). A head that writes ``doc.ents`` also reports
            the same figures as ``ents_p/_r/_f/_per_type``, the keys ``spacy evaluate`` prints
            as NER P/R/F.
        """
        examples = list(examples)
        validate_examples(examples, "TokenClassifier.score")
        key = self.spans_key
        if examples and not any(key in eg.reference.spans for eg in examples):
            keys = sorted({k for eg in examples for k in eg.reference.spans.keys()})
            warnings.warn(Warnings.W101.format(name=self.name, n=len(examples), key=key, keys=keys), stacklevel=2)
        scores = score_span_group(examples, key, self.labels, **kwargs)
        if self.cfg["write_ents"]:
            scores.update({f"ents_{k}": scores[f"spans_{key}_{k}"] for k in ("p", "r", "f", "per_type")})
        return scores


def score_span_group(
    examples: Iterable[Example], spans_key: str, labels: Iterable[str], **kwargs: Any
) -> Dict[str, Any]:
    """Strict entity-level P/R/F (overall and per label) of the ``labels`` spans of the span
    group ``spans_key``, over the examples whose reference carries the group, via spaCy's
    ``Scorer.score_spans``: what every ``clintiny_ner`` head reports, and what the report's
    baselines are scored with.

    A doc whose corpus annotates only some labels (``attrs["annotated_labels"]`` of its
    reference group, e.g. NCBI-disease: PROBLEM) is scored on those labels only: a TREATMENT
    predicted in an NCBI abstract is neither right nor wrong there.

    examples (Iterable[Example]): Examples with predictions in ``predicted.spans[spans_key]``.
    spans_key (str): The span group.
    labels (Iterable[str]): The labels scored; other labels' spans are ignored on both sides.
    RETURNS (Dict[str, Any]): ``spans_{key}_p/_r/_f/_per_type`` (None without a scored example).
    """
    keep = set(labels)

    def getter(doc: Doc, attr: str) -> List[Span]:
        return [span for span in doc.spans.get(spans_key, []) if span.label_ in keep]

    return Scorer.score_spans(
        [_scorable(eg, spans_key) for eg in examples],
        f"spans_{spans_key}",
        getter=getter,
        has_annotation=lambda doc: spans_key in doc.spans,
        allow_overlap=True,
        **kwargs,
    )


def annotated_labels(example: Example, spans_key: str) -> Optional[List[str]]:
    """The labels the reference's corpus declares it annotates in the span group ``spans_key``
    (``attrs["annotated_labels"]``); None when it declares none (all are annotated)."""
    group = example.reference.spans.get(spans_key)
    return group.attrs.get(ANNOTATED_LABELS) if group is not None else None


def _scorable(example: Example, spans_key: str) -> Example:
    """The example with its predictions restricted to the labels its reference's corpus
    annotates (the example itself when it annotates all of them)."""
    annotated = annotated_labels(example, spans_key)
    if annotated is None:
        return example
    keep = set(annotated)
    source = example.predicted  # rebuilt, not Doc.copy(): user_data may hold Spans (medspaCy)
    pred = Doc(source.vocab, words=[t.text for t in source], spaces=[bool(t.whitespace_) for t in source])
    pred.spans[spans_key] = [
        Span(pred, s.start, s.end, label=s.label_, kb_id=s.kb_id_, span_id=s.id_)
        for s in source.spans.get(spans_key, [])
        if s.label_ in keep
    ]
    return Example(pred, example.reference)


def is_outside_weight(value: Any) -> bool:
    """A valid ``outside_weight``: a finite number > 0 (not a bool)."""
    return not isinstance(value, bool) and isinstance(value, (int, float)) and 0 < value < float("inf")


def _occupied(spans: Iterable[Span]) -> set:
    return {i for span in spans for i in range(span.start, span.end)}


def _strip_space(is_space: Any, start: int, end: int) -> Tuple[int, int]:
    """Token offsets of a span without leading/trailing whitespace tokens."""
    while start < end and is_space[start]:
        start += 1
    while end > start and is_space[end - 1]:
        end -= 1
    return start, end
