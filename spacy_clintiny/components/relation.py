"""``clintiny_rel``: relation extraction between entity spans over the shared encoder.

Entities are the union of the span groups in ``spans_keys`` ("ents" = ``doc.ents``).
Every ordered pair of distinct entities at most ``max_distance`` tokens apart (sentence
boundaries in between are allowed) is classified with one sigmoid per relation label; a
label is predicted when its probability reaches its threshold: ``thresholds[label]`` where
given (``clintiny calibrate`` chooses them for end-to-end F1 on a calibration corpus), else
``threshold``. "No relation" is simply no label reaching its threshold. Predictions are
written to ``doc._.clintiny_rels`` as :class:`spacy_clintiny.relations.Relation` objects.

Training: candidates are built from the reference's gold entity spans (aligned to the
predicted doc by character offsets), targets from ``get_gold_relations(reference)``; pairs
without a gold relation are all-zero targets. Candidate pairs are mostly negatives (about
3% of the pairs of a synthetic note are related), so with ``negative_ratio > 0`` each
training doc keeps all its related pairs and a random sample of at most
``negative_ratio`` unrelated pairs per related pair (at least ``negative_ratio``); a
sigmoid trained on every pair learns to predict "no relation" first. Sampling inflates the
odds of a relation by the inverse of the fraction of unrelated pairs kept, ``q``; the component
counts the unrelated pairs it saw and kept during training (``cfg["negatives_seen"]``,
``cfg["negatives_kept"]``, saved with it) and, with ``prior_correction = true``, ``predict``
adds ``log(q)`` to every logit, so its probabilities are those of a head trained on all pairs
(the prior correction of King & Zeng 2001 for case-control sampling). Off by default: one
``q`` for all docs assumes the head is calibrated on the sampled pairs, and on the workflow's
mixed corpora (q = 0.12, set by the many pairs of PubMed abstracts) it took end-to-end
relation F1 from 21.9 to 0.0 after 1,000 steps. A corpus may annotate only some relation
labels (ADE: drug-adverse effect and drug-dose, BC5CDR: chemical-induced disease only):
``annotated_labels`` maps a corpus name (``doc.user_data["clintiny_source"]["corpus"]``, set
by the converters) to the labels it annotates; for its docs the other labels are neither
negatives in the loss nor counted in the scores (a CID prediction on an ADE sentence is not a
false positive, and ADE sentences do not teach "drugs cause no CID"). Docs of corpora not
listed are annotated for every label. Docs without the gold relations key
contribute nothing (no loss, zero gradient); the loss is averaged over the candidate pairs
of the annotated docs. Gold relations whose head or tail is not a candidate (not in
``spans_keys`` or farther apart than ``max_distance``) cannot be learned: they are counted
in ``losses["{name}_gold_unreachable"]`` during training and in the
``{name}_rel_gold_unreachable`` score.
"""

import warnings
from itertools import islice
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple

import numpy
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.scorer import PRFScore
from spacy.tokens import Doc, Span
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.vocab import Vocab
from thinc.api import Config, Linear, Model
from thinc.types import Floats2d

from ..architectures.instances import ENTS_KEY, Candidates, get_candidates, get_entity_spans
from ..converters.placement import SOURCE_KEY
from ..errors import Errors, Warnings
from ..extensions import install_extensions
from ..relations import (
    RelationKey,
    get_gold_relations,
    gold_relation_keys,
    predicted_relation_keys,
    set_predicted_pairs,
    set_relation_maxima,
)
from ._common import (
    LISTENER_CONFIG_STR,
    LabelledHead,
    PerLabelThresholds,
    check_setting,
    is_name_list,
    is_number_at_least,
    is_probability,
    masked_cross_entropy,
)
from ._upstream import docs_are_encoded, has_upstream

DEFAULT_CONFIG_STR = (
    """
[model]
@architectures = "spacy-clintiny.RelationClassifier.v2"
hidden_width = 64
label_width = 16
geometry_width = 16
context = true
dropout = 0.1
nO = null
"""
    + LISTENER_CONFIG_STR
)
DEFAULT_MODEL = Config().from_str(DEFAULT_CONFIG_STR)["model"]

RelScores = Tuple[List[Candidates], Floats2d]
# a candidate pair by the token offsets of its head and tail (None when a span does not align)
PairKey = Tuple[Optional[Tuple[int, int]], Optional[Tuple[int, int]]]


@Language.factory(
    "clintiny_rel",
    assigns=["doc._.clintiny_rels"],
    default_config={
        "model": DEFAULT_MODEL,
        "spans_keys": [ENTS_KEY],
        "max_distance": 50,
        "threshold": 0.5,
        "thresholds": {},
        "annotated_labels": {},
        "negative_ratio": 0.0,
        "prior_correction": False,
        "negatives_from": [],
    },
    default_score_weights={
        "clintiny_rel_rel_f": 1.0,
        "clintiny_rel_rel_p": 0.0,
        "clintiny_rel_rel_r": 0.0,
    },
)
def make_clintiny_rel(
    nlp: Language,
    name: str,
    model: Model,
    spans_keys: List[str],
    max_distance: int,
    threshold: float,
    thresholds: Dict[str, float],
    annotated_labels: Dict[str, List[str]],
    negative_ratio: float,
    prior_correction: bool,
    negatives_from: List[str],
) -> "RelationExtractor":
    """Create a ``clintiny_rel`` component.

    model (Model): Logits per candidate pair, usually ``spacy-clintiny.RelationClassifier.v1``
        over a listener to the shared encoder.
    spans_keys (List[str]): Span groups holding the entities ("ents" = ``doc.ents``).
    max_distance (int): Largest number of tokens between the two entities of a pair.
    threshold (float): Probability from which a relation label is predicted.
    thresholds (Dict[str, float]): Label -> its own threshold (``clintiny calibrate`` sets them).
    annotated_labels (Dict[str, List[str]]): Corpus name -> the relation labels its docs are
        annotated for (docs of corpora not listed: every label).
    negative_ratio (float): In training, unrelated candidate pairs kept per related pair of
        a doc (a random sample); 0 keeps every pair.
    prior_correction (bool): Add ``log(q)`` (q: the fraction of unrelated pairs kept in
        training) to the logits at prediction, undoing the sampling's inflated odds.
    negatives_from (List[str]): Span groups of the *predicted* training docs (set by an
        annotating component upstream, e.g. the concept head) whose spans that overlap no gold
        entity join the training candidates, so their pairs are negatives: the head learns to
        reject the entities it will meet at prediction that the gold never shows it (a disease
        that is not the drug's adverse effect). Empty: gold entities only.
    """
    install_extensions()
    return RelationExtractor(
        nlp.vocab,
        model,
        name=name,
        spans_keys=spans_keys,
        max_distance=max_distance,
        threshold=threshold,
        thresholds=thresholds,
        annotated_labels=annotated_labels,
        negative_ratio=negative_ratio,
        prior_correction=prior_correction,
        negatives_from=negatives_from,
    )


class RelationExtractor(PerLabelThresholds, LabelledHead, TrainablePipe):
    """Predict relations between pairs of entity spans into ``doc._.clintiny_rels``."""

    def __init__(
        self,
        vocab: Vocab,
        model: Model,
        name: str = "clintiny_rel",
        *,
        spans_keys: Sequence[str] = (ENTS_KEY,),
        max_distance: int = 50,
        threshold: float = 0.5,
        thresholds: Optional[Dict[str, float]] = None,
        annotated_labels: Optional[Dict[str, List[str]]] = None,
        negative_ratio: float = 0.0,
        prior_correction: bool = False,
        negatives_from: Sequence[str] = (),
    ) -> None:
        check_setting(is_name_list(spans_keys), name, "spans_keys", spans_keys, "a non-empty list of span group names")
        check_setting(
            is_number_at_least(max_distance, 0, integer=True), name, "max_distance", max_distance, "an integer >= 0"
        )
        check_setting(is_probability(threshold), name, "threshold", threshold, "a number between 0 and 1")
        check_setting(
            is_number_at_least(negative_ratio, 0),
            name,
            "negative_ratio",
            negative_ratio,
            "a number >= 0 (0 keeps all pairs)",
        )
        check_setting(
            isinstance(negatives_from, (list, tuple)) and (not negatives_from or is_name_list(negatives_from)),
            name,
            "negatives_from",
            negatives_from,
            "a list of span group names (empty: gold entities only)",
        )
        annotated_labels = dict(annotated_labels or {})
        check_setting(
            all(
                isinstance(corpus, str)
                and isinstance(labels, (list, tuple))
                and all(isinstance(label, str) and label for label in labels)
                for corpus, labels in annotated_labels.items()
            ),
            name,
            "annotated_labels",
            annotated_labels,
            "a table of corpus name -> list of relation labels",
        )
        install_extensions()
        self.vocab = vocab
        self.model = model
        self.name = name
        self.cfg: Dict[str, Any] = {
            "labels": [],
            "spans_keys": list(spans_keys),
            "max_distance": int(max_distance),
            "threshold": float(threshold),
            "thresholds": {},
            "annotated_labels": {corpus: list(labels) for corpus, labels in annotated_labels.items()},
            "negative_ratio": float(negative_ratio),
            "prior_correction": bool(prior_correction),
            "negatives_from": list(negatives_from),
            # unrelated candidate pairs seen / kept by the training-time sampling
            "negatives_seen": 0,
            "negatives_kept": 0,
        }
        self.set_thresholds(thresholds or {}, check_labels=False)

    def add_label(self, label: str) -> int:
        """Add a relation label before initialization.

        label (str): The label.
        RETURNS (int): 0 if the label was already present, 1 if it was added.
        """
        return self._append_label(label, Errors.E308)

    def candidates(self, doc: Doc, *, spans: Optional[List[Span]] = None) -> Candidates:
        """The relation instances of a doc under this component's settings.

        doc (Doc): The doc.
        spans (Optional[List[Span]]): Entities to use instead of the doc's span groups.
        RETURNS (Candidates): Entities and candidate pairs.
        """
        return get_candidates(doc, self.cfg["spans_keys"], self.cfg["max_distance"], spans=spans)

    def annotated_labels_of(self, doc: Doc) -> Set[str]:
        """The labels a reference doc is annotated for: those ``annotated_labels`` lists for
        its corpus (``doc.user_data["clintiny_source"]["corpus"]``), else all of them, and of
        those only the doc's own ``relation_labels`` when its converter wrote them (an ADE-NEG
        sentence: DRUG_AE only).

        doc (Doc): A reference doc.
        RETURNS (Set[str]): Labels of this component.
        """
        source = doc.user_data.get(SOURCE_KEY) if doc.user_data else None
        source = source if isinstance(source, dict) else {}
        corpus = source.get("corpus")
        declared = (self.cfg.get("annotated_labels") or {}).get(corpus) if corpus is not None else None
        labels = set(self.labels)
        if declared is not None:
            labels &= set(declared)
        if source.get("relation_labels") is not None:
            labels &= set(source["relation_labels"])
        return labels

    def annotated_mask(self, doc: Doc) -> numpy.ndarray:
        """RETURNS (numpy.ndarray): ``(n_labels,)`` 1.0 for the labels ``doc`` is annotated for."""
        annotated = self.annotated_labels_of(doc)
        return numpy.asarray([label in annotated for label in self.labels], dtype="float32")

    # ------------------------------------------------------------------ prediction

    def predict(self, docs: Iterable[Doc]) -> RelScores:
        """Relation probabilities for every candidate pair.

        docs (Iterable[Doc]): The documents; the encoder must have run on them.
        RETURNS (RelScores): The candidates per doc, and ``(n_pairs, n_labels)``
            probabilities with rows in candidate order.
        """
        docs = list(docs)
        candidates = [self.candidates(doc) for doc in docs]
        if not any(c.pairs for c in candidates):
            return candidates, self.model.ops.alloc2f(0, len(self.labels))
        if not docs_are_encoded(self, docs):
            raise ValueError(Errors.E004.format(name=self.name))
        logits = self.model.predict((docs, candidates))
        return candidates, self.model.ops.sigmoid(logits + self.prior_offset)

    @property
    def prior_offset(self) -> float:
        """RETURNS (float): With ``prior_correction``, ``log`` of the fraction of unrelated pairs
        kept in training (0 without sampling or without the correction), added to the logits
        at prediction (see the module docstring)."""
        seen, kept = self.cfg.get("negatives_seen", 0), self.cfg.get("negatives_kept", 0)
        if not self.cfg.get("prior_correction") or not 0 < kept < seen:
            return 0.0
        return float(numpy.log(kept / seen))

    def set_annotations(self, docs: Iterable[Doc], scores: RelScores) -> None:
        """Write the relations whose probability reaches their label's threshold to
        ``doc._.clintiny_rels``, and each label's highest probability over the doc's candidate
        pairs to ``doc.user_data["clintiny_rels_max"]`` (``relations.get_relation_maxima``).

        docs (Iterable[Doc]): The documents.
        scores (RelScores): The output of ``predict``.
        """
        candidates, probs = scores
        probs = self.model.ops.to_numpy(probs)
        thresholds = self.label_thresholds
        labels, row = self.labels, 0
        for doc, cands in zip(docs, candidates):
            block = probs[row : row + len(cands.pairs)]
            row += len(cands.pairs)
            rows, cols = numpy.nonzero(block >= thresholds)  # pair by pair, labels in order
            rels = [(*cands.pairs[r], labels[c], block[r, c]) for r, c in zip(rows.tolist(), cols.tolist())]
            set_predicted_pairs(doc, cands.spans, rels)
            highest = block.max(axis=0) if len(block) else numpy.zeros(len(labels))
            set_relation_maxima(doc, dict(zip(labels, highest.tolist())))

    # ------------------------------------------------------------------ training

    def _update_inputs(self, examples: List[Example]) -> Tuple[List[Doc], List[Candidates]]:
        docs = [eg.predicted for eg in examples]
        return docs, [self._sample_negatives(eg, self._gold_candidates(eg)) for eg in examples]

    def _loss_scores(self, inputs: Tuple[List[Doc], List[Candidates]], logits: Floats2d) -> RelScores:
        return inputs[1], self.model.ops.sigmoid(logits)

    def _after_update(
        self, examples: List[Example], inputs: Tuple[List[Doc], List[Candidates]], losses: Dict[str, float]
    ) -> None:
        """Count gold relations no candidate pair can learn (sampling keeps every related pair,
        so the sampled candidates give the same count as all of them)."""
        key = f"{self.name}_gold_unreachable"
        losses[key] = losses.get(key, 0.0) + sum(self._n_unreachable(eg, c) for eg, c in zip(examples, inputs[1]))

    def _sample_negatives(self, example: Example, cands: Candidates) -> Candidates:
        """Keep every related pair and at most ``negative_ratio`` unrelated pairs per related
        pair (at least ``negative_ratio``), drawn with numpy's global RNG (seeded by
        ``spacy train``). The entities stay: only pairs are dropped."""
        ratio = self.cfg.get("negative_ratio", 0.0)
        if not ratio or not cands.pairs:
            return cands
        related = {key for key, _ in self._gold_pairs(example) or []}
        rows = self._pair_rows(cands)
        positive = sorted(rows[key] for key in related if key in rows)
        negative = sorted(set(range(len(cands.pairs))) - set(positive))
        n_keep = int(round(ratio * max(1, len(positive))))
        self.cfg["negatives_seen"] = self.cfg.get("negatives_seen", 0) + len(negative)
        if len(negative) > n_keep:
            negative = sorted(numpy.random.choice(negative, size=n_keep, replace=False).tolist())
        self.cfg["negatives_kept"] = self.cfg.get("negatives_kept", 0) + len(negative)
        keep = sorted(positive + negative)
        return Candidates(spans=cands.spans, pairs=[cands.pairs[k] for k in keep])

    def _gold_candidates(self, example: Example) -> Candidates:
        """Candidates from the reference's entities aligned to the predicted doc, plus the
        predicted doc's own spans of ``negatives_from`` that overlap none of them; no
        candidates for a doc without gold relations (it teaches this head nothing)."""
        ref, pred = example.reference, example.predicted
        if get_gold_relations(ref) is None:
            return Candidates(spans=[], pairs=[])
        aligned, seen = [], set()
        for span in get_entity_spans(ref, self.cfg["spans_keys"]):
            x_span = _align(pred, span.start_char, span.end_char, label=span.label_)
            if x_span is not None and (x_span.start, x_span.end) not in seen:
                seen.add((x_span.start, x_span.end))
                aligned.append(x_span)
        if self.cfg.get("negatives_from"):
            taken = {i for span in aligned for i in range(span.start, span.end)}
            for span in get_entity_spans(pred, self.cfg["negatives_from"]):
                if taken.isdisjoint(range(span.start, span.end)):
                    taken.update(range(span.start, span.end))
                    aligned.append(span)
        return self.candidates(pred, spans=aligned)

    def get_loss(self, examples: Iterable[Example], scores: RelScores) -> Tuple[float, Floats2d]:
        """Binary cross-entropy per label, summed over labels and averaged over the
        candidate pairs of the docs that carry gold relations.

        examples (Iterable[Example]): The batch.
        scores (RelScores): Candidates per doc and sigmoid probabilities.
        RETURNS (Tuple[float, Floats2d]): The loss and its gradient with respect to the
            logits (``(probs - truth) * mask / n_annotated_pairs``).
        """
        candidates, probs = scores
        truths, mask = self._gold(list(examples), candidates)
        return masked_cross_entropy(self.model.ops, probs, truths, mask)

    def _gold(self, examples: List[Example], candidates: List[Candidates]) -> Tuple[numpy.ndarray, numpy.ndarray]:
        """Targets and a mask, both ``(n_pairs, n_labels)``: 1 for the labels annotated by the
        corpus of a doc with gold relations (``annotated_mask``). Gold relations with labels
        this component does not predict are ignored."""
        n_pairs = sum(len(c.pairs) for c in candidates)
        label_index = {label: j for j, label in enumerate(self.labels)}
        truths = numpy.zeros((n_pairs, len(self.labels)), dtype="float32")
        mask = numpy.zeros((n_pairs, len(self.labels)), dtype="float32")
        row = 0
        for eg, cands in zip(examples, candidates):
            gold = self._gold_pairs(eg)
            n = len(cands.pairs)
            if gold is not None and n:
                mask[row : row + n] = self.annotated_mask(eg.reference)
                pair_rows = self._pair_rows(cands)
                for key, label in gold:
                    if key in pair_rows:
                        truths[row + pair_rows[key], label_index[label]] = 1.0
            row += n
        return truths, mask

    def _gold_pairs(self, example: Example) -> Optional[List[Tuple[PairKey, str]]]:
        """The reference's gold relations with this component's labels, as (token offsets
        of head and tail in the predicted doc, label); None when the doc is not annotated."""
        gold = gold_relation_keys(example.reference)
        if gold is None:
            return None
        labels, pred = set(self.labels), example.predicted
        return [
            ((_token_offsets(pred, hs, he), _token_offsets(pred, ts, te)), label)
            for hs, he, ts, te, label in gold
            if label in labels
        ]

    @staticmethod
    def _pair_rows(cands: Candidates) -> Dict[PairKey, int]:
        return {
            ((cands.spans[h].start, cands.spans[h].end), (cands.spans[t].start, cands.spans[t].end)): k
            for k, (h, t) in enumerate(cands.pairs)
        }

    def _n_unreachable(self, example: Example, cands: Candidates) -> int:
        """Gold relations (of this component's labels) with no matching candidate pair."""
        gold = self._gold_pairs(example)
        if not gold:
            return 0
        pair_rows = self._pair_rows(cands)
        return sum(1 for key, _ in gold if key not in pair_rows)

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[List[str]] = None,
    ) -> None:
        """Gather relation labels from the training docs' gold relations and size the model.

        get_examples (Callable[[], Iterable[Example]]): Returns the training examples.
        nlp (Optional[Language]): The pipeline, used to check that an encoder feeds this head.
        labels (Optional[List[str]]): Labels to use instead of all labels in the examples
            (e.g. from ``clintiny labels``).
        """
        validate_get_examples(get_examples, "RelationExtractor.initialize")
        if nlp is not None and not has_upstream(self, nlp):
            raise ValueError(Errors.E004.format(name=self.name))
        keys = self.cfg["spans_keys"]
        n_examples, n_rels = 0, 0
        keys_seen: Set[str] = set()
        data_labels: Set[str] = set()
        for eg in get_examples():
            n_examples += 1
            ref = eg.reference
            keys_seen.update(ref.spans.keys())
            if ref.has_annotation("ENT_IOB"):
                keys_seen.add(ENTS_KEY)
            gold = get_gold_relations(ref)
            if gold is not None:
                n_rels += 1
                data_labels.update(rel["label"] for rel in gold)
        missing = [key for key in keys if key not in keys_seen]
        if missing:
            raise ValueError(
                Errors.E301.format(name=self.name, missing=missing, keys=keys, n=n_examples, seen=sorted(keys_seen))
            )
        final = self._resolve_labels(labels, data_labels, n_examples=n_examples)
        if not final:
            raise ValueError(Errors.E302.format(name=self.name, n=n_examples, n_rels=n_rels))
        self.cfg["labels"] = final
        self._check_threshold_labels(self.cfg.get("thresholds") or {})
        for corpus, declared in (self.cfg.get("annotated_labels") or {}).items():
            unknown = sorted(set(declared) - set(final))
            if unknown:
                message = Warnings.W104.format(name=self.name, corpus=corpus, unknown=unknown, labels=final)
                warnings.warn(message, stacklevel=2)
        self.cfg["negatives_seen"], self.cfg["negatives_kept"] = 0, 0  # a fresh head
        self._size_output_layer(len(final), lambda n: Linear(nO=n))
        sample = [eg for eg in get_examples() if len(eg.reference) and get_gold_relations(eg.reference) is not None]
        sample = list(islice(sample, 10))
        docs = [eg.reference for eg in sample]
        self.model.initialize(X=(docs, [self.candidates(doc) for doc in docs]))

    def pair_truths(self, reference: Doc, cands: Candidates) -> Tuple[numpy.ndarray, numpy.ndarray]:
        """Which candidate pairs of a predicted doc hold a gold relation, as the scorer
        matches them (character offsets of head and tail, and the label; labels the doc's
        corpus does not annotate are left out).

        reference (Doc): The gold doc (its relations are read).
        cands (Candidates): Candidates of the predicted doc (``self.candidates(doc)``).
        RETURNS (Tuple[numpy.ndarray, numpy.ndarray]): ``(n_pairs, n_labels)`` 0/1 gold per
            candidate pair and label, and ``(n_labels,)`` the gold relations of each label
            that no candidate pair stands for (end to end, misses whatever the threshold).
        """
        annotated = self.annotated_labels_of(reference)
        labels = {label: j for j, label in enumerate(self.labels) if label in annotated}
        truths = numpy.zeros((len(cands.pairs), len(self.labels)), dtype="float32")
        missed = numpy.zeros(len(self.labels), dtype="int64")
        rows = {
            (cands.spans[h].start_char, cands.spans[h].end_char, cands.spans[t].start_char, cands.spans[t].end_char): k
            for k, (h, t) in enumerate(cands.pairs)
        }
        for key in set(gold_relation_keys(reference) or []):
            j = labels.get(key[4])
            if j is None:
                continue
            row = rows.get(key[:4])
            if row is None:
                missed[j] += 1
            else:
                truths[row, j] = 1.0
        return truths, missed

    # ------------------------------------------------------------------ scoring

    def score(self, examples: Iterable[Example], **kwargs: Any) -> Dict[str, Any]:
        """Micro P/R/F over (head offsets, tail offsets, label), overall and per label, on
        the examples whose reference carries gold relations, each counting only the labels
        its corpus annotates (``annotated_labels``).

        examples (Iterable[Example]): Examples with predictions.
        RETURNS (Dict[str, Any]): ``{name}_rel_p/_r/_f/_per_type`` and
            ``{name}_rel_gold_unreachable`` (gold relations that were no candidate pair of
            the predicted doc); None values when no example carries gold relations.
        """
        examples = list(examples)
        validate_examples(examples, "RelationExtractor.score")
        prefix = f"{self.name}_rel"
        total = PRFScore()
        per_type = {label: PRFScore() for label in self.labels}
        n_annotated, n_unreachable = 0, 0
        for eg in examples:
            gold_keys = gold_relation_keys(eg.reference)
            if gold_keys is None:
                continue
            n_annotated += 1
            doc_labels = self.annotated_labels_of(eg.reference)
            gold: Set[RelationKey] = {k for k in gold_keys if k[4] in doc_labels}
            pred: Set[RelationKey] = {
                key for key in (predicted_relation_keys(eg.predicted) or []) if key[4] in doc_labels
            }
            for label, prf in per_type.items():
                if label not in doc_labels:
                    continue
                prf.score_set({k for k in pred if k[4] == label}, {k for k in gold if k[4] == label})
            total.score_set(pred, gold)
            cands = self.candidates(eg.predicted)
            reachable = {
                (cands.spans[h].start_char, cands.spans[h].end_char, cands.spans[t].start_char, cands.spans[t].end_char)
                for h, t in cands.pairs
            }
            n_unreachable += sum(1 for k in gold if k[:4] not in reachable)
        if not n_annotated:
            return {f"{prefix}_{k}": None for k in ("p", "r", "f", "per_type", "gold_unreachable")}
        return {
            f"{prefix}_p": total.precision,
            f"{prefix}_r": total.recall,
            f"{prefix}_f": total.fscore,
            f"{prefix}_per_type": {label: prf.to_dict() for label, prf in per_type.items()},
            f"{prefix}_gold_unreachable": float(n_unreachable),
        }


def _align(doc: Doc, start_char: int, end_char: int, *, label: str = "") -> Optional[Span]:
    return doc.char_span(start_char, end_char, label=label, alignment_mode="expand")


def _token_offsets(doc: Doc, start_char: int, end_char: int) -> Optional[Tuple[int, int]]:
    span = _align(doc, start_char, end_char)
    return None if span is None else (span.start, span.end)
