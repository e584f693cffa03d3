"""``clintiny_relation_evidence``: a doc label decided from the doc head's probability and the
relation extractor's scores together.

Some doc labels are defined by a relation: the ADE corpus labels a sentence ADE exactly when it
states that a drug caused an adverse effect (a DRUG_AE relation). The doc head pools one vector
over the sentence; the relation extractor scores each drug-effect pair with both mentions in
view. This component runs after both and replaces ``doc.cats[label]`` by a logistic regression
over two features of the doc:

- the doc head's logit for ``label`` (what ``doc.cats[label]`` holds when the component runs),
- the highest probability the relation head gives any of the doc's candidate pairs for a label
  in ``relations`` (0 if the doc has no pair), kept or not: it does not depend on the relation
  head's thresholds, which calibration sets for the relations' own F1.

The regression is fitted by ``clintiny calibrate`` on the calibration corpus (never the split
figures are reported on), end to end as the pipeline predicts, and the decision threshold of
the doc head that owns ``label`` is then chosen on the combined probability, since that head's
``decide`` and ``score`` read the final ``doc.cats``. Until it is fitted the component leaves
``doc.cats`` as it is. Disabling the relation extractor while this component runs is an error
(E900): the owner's threshold belongs to the combined probability.

With ``gate`` (the default), a doc whose combined probability falls below the owner's threshold
(stored at calibration as ``cfg["threshold"]``) loses its predicted relations of the labels in
``relations``: a sentence the pipeline decides states no adverse effect states no
drug-adverse-effect relation either. The relation head's thresholds for those labels are then
chosen by calibration on the gated output (``clintiny calibrate``), as it is scored.
"""

from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Union

import numpy
import srsly
from spacy.language import Language
from spacy.pipeline import Pipe
from spacy.tokens import Doc
from spacy.util import SimpleFrozenList, ensure_path

from ..errors import Errors
from ..extensions import install_extensions
from ..models import reading
from ..relations import drop_predicted_relations, get_relation_maxima
from ._common import check_setting, is_name_list

N_FEATURES = 2
# what calibration writes; the settings (label, relations, gate) come from the config
FITTED = ("weights", "bias", "owner", "threshold")
_EPS = 1e-6


@Language.factory(
    "clintiny_relation_evidence",
    assigns=["doc.cats"],
    requires=["doc._.clintiny_rels"],
    default_config={"label": "ADE", "relations": ["DRUG_AE"], "gate": True},
)
def make_clintiny_relation_evidence(
    nlp: Language, name: str, label: str, relations: List[str], gate: bool
) -> "RelationEvidence":
    """Create a ``clintiny_relation_evidence`` component (unfitted: ``clintiny calibrate`` fits it).

    label (str): The doc label (``doc.cats`` key) whose probability is combined.
    relations (List[str]): Relation labels whose scores are evidence for ``label``.
    gate (bool): Remove the predicted relations of those labels from docs decided negative
        for ``label`` (once calibrated).
    """
    return RelationEvidence(name, label=label, relations=relations, gate=gate)


class RelationEvidence(Pipe):
    """Combine a doc label's probability with the relation head's scores of the doc's candidate
    pairs (see the module docstring)."""

    def __init__(
        self,
        name: str = "clintiny_relation_evidence",
        *,
        label: str = "ADE",
        relations: Sequence[str] = ("DRUG_AE",),
        gate: bool = True,
    ) -> None:
        check_setting(isinstance(label, str) and bool(label), name, "label", label, "a doc label")
        check_setting(is_name_list(relations), name, "relations", relations, "a non-empty list of relation labels")
        check_setting(isinstance(gate, bool), name, "gate", gate, "true or false")
        install_extensions()
        self.name = name
        self.cfg: Dict[str, Any] = {
            "label": label,
            "relations": list(relations),
            "gate": gate,
            # fitted by clintiny calibrate: None until then (the component changes nothing)
            "weights": None,
            "bias": 0.0,
            # the doc head whose threshold for `label` was chosen on the combined probability,
            # and that threshold (the gate's)
            "owner": None,
            "threshold": None,
        }

    @property
    def label(self) -> str:
        return self.cfg["label"]

    @property
    def is_fitted(self) -> bool:
        return self.cfg["weights"] is not None

    # ------------------------------------------------------------------ prediction

    def features(self, docs: Iterable[Doc]) -> numpy.ndarray:
        """``(n_docs, 2)``: the doc head's logit for the label, and the highest probability of
        the evidence relation labels over the doc's candidate pairs (0 if it has none).

        docs (Iterable[Doc]): Docs the doc head and the relation extractor have annotated.
        RETURNS (numpy.ndarray): The features, float64.
        """
        label, wanted = self.label, self.cfg["relations"]
        rows = []
        for i, doc in enumerate(docs):
            if label not in doc.cats:
                raise ValueError(Errors.E901.format(name=self.name, i=i, label=label, cats=sorted(doc.cats)))
            maxima = get_relation_maxima(doc)
            if maxima is None:
                raise ValueError(Errors.E900.format(name=self.name, i=i))
            prob = min(max(float(doc.cats[label]), _EPS), 1.0 - _EPS)
            rows.append((numpy.log(prob / (1.0 - prob)), max(maxima.get(r, 0.0) for r in wanted)))
        return numpy.asarray(rows, dtype="float64").reshape(-1, N_FEATURES)

    def probabilities(self, features: numpy.ndarray) -> numpy.ndarray:
        """The fitted regression's probabilities for rows of :meth:`features`."""
        z = features @ numpy.asarray(self.cfg["weights"], dtype="float64") + float(self.cfg["bias"])
        return 1.0 / (1.0 + numpy.exp(-z))

    @property
    def gates(self) -> bool:
        """Whether the component removes relations from docs decided negative: ``gate`` on and
        calibrated (its owner's threshold known)."""
        return bool(self.cfg["gate"]) and self.is_fitted and self.cfg.get("threshold") is not None

    def __call__(self, doc: Doc) -> Doc:
        if self.is_fitted and self.label in doc.cats:
            doc.cats[self.label] = float(self.probabilities(self.features([doc]))[0])
            if self.gates and doc.cats[self.label] < self.cfg["threshold"]:
                drop_predicted_relations(doc, self.cfg["relations"])
        return doc

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterator[Doc]:
        for doc in stream:
            yield self(doc)

    # ------------------------------------------------------------------ fitting

    def fit(self, features: numpy.ndarray, gold: numpy.ndarray, *, owner: Optional[str] = None) -> None:
        """Fit the regression (scikit-learn's ``LogisticRegression``, L2, C = 1). The gate's
        threshold is unset until calibration stores the owner's (``cfg["threshold"]``).

        features (numpy.ndarray): ``(n_docs, 2)`` rows of :meth:`features`.
        gold (numpy.ndarray): ``(n_docs,)`` gold decisions for the label, both classes present.
        owner (Optional[str]): The doc head whose threshold is chosen on the result.
        """
        from sklearn.linear_model import LogisticRegression

        gold = numpy.asarray(gold).astype(bool)
        if gold.all() or not gold.any():
            raise ValueError(Errors.E902.format(name=self.name, n=len(gold), label=self.label))
        model = LogisticRegression(C=1.0).fit(numpy.asarray(features, dtype="float64"), gold)
        self.cfg["weights"] = [float(w) for w in model.coef_[0]]
        self.cfg["bias"] = float(model.intercept_[0])
        self.cfg["owner"] = owner
        self.cfg["threshold"] = None

    # ------------------------------------------------------------------ serialization

    def to_bytes(self, *, exclude: Iterable[str] = SimpleFrozenList()) -> bytes:
        return srsly.json_dumps(self.cfg).encode("utf8")

    def from_bytes(self, data: bytes, *, exclude: Iterable[str] = SimpleFrozenList()) -> "RelationEvidence":
        with reading(self.name, "<bytes>"):
            self._load_fit(srsly.json_loads(data.decode("utf8")))
        return self

    def to_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = SimpleFrozenList()) -> None:
        path = ensure_path(path)
        path.mkdir(parents=True, exist_ok=True)
        srsly.write_json(path / "cfg", self.cfg)

    def from_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = SimpleFrozenList()) -> "RelationEvidence":
        path = ensure_path(path) / "cfg"
        with reading(self.name, path):
            self._load_fit(srsly.read_json(path))
        return self

    def _load_fit(self, cfg: Dict[str, Any]) -> None:
        """Take the fitted values of a saved ``cfg``; the settings stay the config's (a pipeline
        loaded with ``gate = false`` does not gate)."""
        self.cfg.update({key: cfg[key] for key in FITTED if key in cfg})
