"""Plain records shared by the de-identification modules (detection, operators, engine, I/O).

Offsets are character offsets into the note text. None of these records is ever logged with
note text: ``Replacement.new_text`` is written only where the user asked for the mapping.
"""

from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ..converters.labels import PHI_LABELS

MODES = ("redact", "mask", "annotate", "surrogate", "hash", "encrypt", "remove", "custom")
# modes whose output depends on a secret key (their keyed objects: deid.operators.mode_operator)
KEYED_MODES = ("surrogate", "hash", "encrypt")
# what a Replacement's operator can be; every one but annotate mode's "keep" replaces the span
OPERATORS = (
    "redact",
    "mask",
    "keep",
    "surrogate",
    "date_shift",
    "age_group",
    "hash",
    "encrypt",
    "remove",
    "custom",
    "redact_fallback",
)
REPLACING_OPERATORS = tuple(op for op in OPERATORS if op != "keep")
# Operators whose output is made from the original (or is the user's own): only their output can
# show the original again. Redaction tags, masks, hash and encryption codes cannot.
CARRYING_OPERATORS = ("surrogate", "date_shift", "age_group", "custom")

# Source of a span that token alignment made of two mentions of different categories
# ("Zell,3/4/2021" is one token): no surrogate is made for it, it is redacted.
MERGED_SOURCE = "merged"
# Detector sources, most precise first: overlaps are resolved toward the longest span, and
# between spans of the same length toward the source ranked first here (see ``merge.py``).
SOURCE_RANK = ("deny_list", "rule", "model")


def source_rank(source: str) -> int:
    """Rank of a detector source (``"rule:phone"`` ranks as ``"rule"``); unknown sources last."""
    family = source.split(":", 1)[0]
    return SOURCE_RANK.index(family) if family in SOURCE_RANK else len(SOURCE_RANK)


@dataclass(frozen=True)
class PhiMention:
    """One detected PHI span.

    start (int): First character.
    end (int): One past the last character.
    label (str): PHI category, one of ``PHI_LABELS`` (NAME, PROFESSION, LOCATION, AGE, DATE,
        CONTACT, ID).
    source (str): Which detector fired: ``"model"``, ``"rule:<pattern name>"`` or ``"deny_list"``.
    score (float): Detector confidence in [0, 1] (1.0 for rules).
    subtype (str): Finer type where known (PHONE, EMAIL, URL, IPADDR, SSN, MEDICALRECORD,
        ZIP, YEAR, DOCTOR, PATIENT, ...), else "".
    """

    start: int
    end: int
    label: str
    source: str
    score: float = 1.0
    subtype: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end:
            raise ValueError(f"PhiMention offsets must satisfy 0 <= start < end, got ({self.start}, {self.end})")
        if self.label not in PHI_LABELS:
            raise ValueError(
                f"PhiMention label {self.label!r} is not a PHI category; use one of {', '.join(PHI_LABELS)}"
            )


@dataclass(frozen=True)
class Replacement:
    """What an operator did to one PHI span.

    start, end (int): Offsets in the original text.
    out_start, out_end (int): Offsets of the replacement in the output text.
    label, subtype, source, score: From the :class:`PhiMention`.
    operator (str): One of ``OPERATORS``: "redact", "mask", "keep" (annotate mode), "surrogate",
        "date_shift", "age_group", "hash", "encrypt", "remove" or "redact_fallback" (no
        surrogate, code or token could be made: redacted instead).
    new_text (str): The text put in place of the span (a tag, a mask, a surrogate or the
        original text in annotate mode). Never logged; written only when asked for.
    """

    start: int
    end: int
    out_start: int
    out_end: int
    label: str
    subtype: str
    source: str
    score: float
    operator: str
    new_text: str


@dataclass(frozen=True)
class DetectorOptions:
    """How PHI is found: every setting ``deid.engine.load_deid_pipeline`` puts on the pipeline it
    loads, besides the model itself. One value travels from ``clintiny deid``, ``deid-eval`` and
    ``spark-deid`` to the engine, the evaluator and the Spark executors (where it is part of the
    key of the cached pipeline, hence frozen, hashable and with lists as tuples). Bad values are
    refused when the options are made, before any note is read.

    rules (bool): Run the rule patterns for structured identifiers.
    threshold (float): Minimum confidence of a model span (0 = recall first).
    allow_list (Optional[Tuple[str, ...]]): Terms never redacted (None = the shipped list).
    deny_list (Optional[Tuple[Tuple[str, Tuple[str, ...]], ...]]): (PHI category, terms) pairs
        always redacted, sorted by category (see :meth:`make`).
    profile (Optional[str]): Rule profile, "recall" (dictionary names and places) or "precision"
        (cued rules only); None keeps the saved component's (or the factory default).
    outside_weight (Optional[float]): The PHI head's factor on the O tag's probability at
        decoding (lower finds more PHI and redacts more non-PHI text); None keeps the saved
        pipeline's.
    dictionary_gate (Optional[float]): The PHI head's least token probability for keeping a
        cue-less dictionary name or town of the rules (0 keeps them all); None keeps the saved
        component's (or the factory default).
    check_dates (Optional[bool]): Drop the PHI head's DATE spans of digits and separators that
        cannot be, or by the rules' test are not, a date ("PSV 12/10", "pain 3/10"); None keeps
        the saved component's (or the factory default, off).
    """

    rules: bool = True
    threshold: float = 0.0
    allow_list: Optional[Tuple[str, ...]] = None
    deny_list: Optional[Tuple[Tuple[str, Tuple[str, ...]], ...]] = None
    profile: Optional[str] = None
    outside_weight: Optional[float] = None
    dictionary_gate: Optional[float] = None
    check_dates: Optional[bool] = None

    def __post_init__(self) -> None:
        from ..components.deid import checked_gate
        from ..components.ner import is_outside_weight
        from ..errors import Errors
        from .dictionary import PROFILES

        if self.profile is not None and self.profile not in PROFILES:
            raise ValueError(Errors.E713.format(profile=self.profile, profiles=", ".join(PROFILES)))
        if self.outside_weight is not None and not is_outside_weight(self.outside_weight):
            raise ValueError(Errors.E762.format(value=self.outside_weight))
        if self.dictionary_gate is not None:
            object.__setattr__(self, "dictionary_gate", checked_gate(self.dictionary_gate))
        object.__setattr__(self, "threshold", float(self.threshold))

    @classmethod
    def make(
        cls,
        *,
        allow_list: Optional[Iterable[str]] = None,
        deny_list: Optional[Mapping[str, Sequence[str]]] = None,
        **settings: Any,
    ) -> "DetectorOptions":
        """The options from plain values: ``allow_list`` any iterable of terms, ``deny_list`` a
        mapping of PHI category -> terms (as ``deid.lists.read_deny_list`` returns); the other
        fields as keywords."""
        return cls(
            allow_list=None if allow_list is None else tuple(allow_list),
            deny_list=None if deny_list is None else tuple((k, tuple(v)) for k, v in sorted(deny_list.items())),
            **settings,
        )

    def deny_dict(self) -> Optional[Dict[str, List[str]]]:
        """RETURNS (Optional[Dict[str, List[str]]]): The deny list as a config value, or None."""
        return None if self.deny_list is None else {label: list(terms) for label, terms in self.deny_list}

    def report(self) -> Dict[str, Any]:
        """RETURNS (Dict[str, Any]): The settings for a results file: the lists only as their
        sizes (a deny list holds names)."""
        return {
            "rules": self.rules,
            "threshold": self.threshold,
            "profile": self.profile,
            "outside_weight": self.outside_weight,
            "dictionary_gate": self.dictionary_gate,
            "check_dates": self.check_dates,
            "allow_list_terms": None if self.allow_list is None else len(self.allow_list),
            "deny_list_terms": None if self.deny_list is None else sum(len(t) for _, t in self.deny_list),
        }


@dataclass
class NoteRecord:
    """One note to de-identify.

    note_id (str): Identifier for outputs and the audit (a relative path, a row id...).
    text (str): The note.
    patient_id (Optional[str]): Surrogates and date shifts are consistent per patient; None
        (or an empty or blank id) makes each note its own patient.
    meta (Dict[str, Any]): Anything the reader wants carried to the writer (line number,
        other CSV columns...). Never logged.
    """

    note_id: str
    text: str
    patient_id: Optional[str] = None
    meta: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.patient_id is not None and not str(self.patient_id).strip():
            self.patient_id = None  # an empty or blank id is no patient (every reader, as in spark-deid)


@dataclass
class DeidResult:
    """The outcome for one note.

    record (NoteRecord): The input record.
    text (Optional[str]): The de-identified text (the input text in annotate mode); None when
        the note failed.
    mentions (List[PhiMention]): The merged PHI mentions found in the input text.
    replacements (List[Replacement]): What was done to each mention.
    error (Optional[str]): Why the note failed (an error code and message, never note text).
    """

    record: NoteRecord
    text: Optional[str]
    mentions: List[PhiMention] = field(default_factory=list)
    replacements: List[Replacement] = field(default_factory=list)
    error: Optional[str] = None
