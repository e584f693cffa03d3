"""Plain records shared by the de-identification modules (detection, operators, engine, I/O).

Offsets are character offsets into the note text. None of these records is ever logged with
note text: ``Replacement.new_text`` is written only where the user asked for the mapping.
"""

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from ..converters.labels import PHI_LABELS

MODES = ("redact", "mask", "annotate", "surrogate")

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
    operator (str): "redact", "mask", "keep" (annotate mode), "surrogate", "date_shift",
        "age_group" or "redact_fallback" (no surrogate could be made: redacted instead).
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


@dataclass
class NoteRecord:
    """One note to de-identify.

    note_id (str): Identifier for outputs and the audit (a relative path, a row id...).
    text (str): The note.
    patient_id (Optional[str]): Surrogates and date shifts are consistent per patient; None
        makes each note its own patient.
    meta (Dict[str, Any]): Anything the reader wants carried to the writer (line number,
        other CSV columns...). Never logged.
    """

    note_id: str
    text: str
    patient_id: Optional[str] = None
    meta: Dict[str, Any] = field(default_factory=dict)


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
