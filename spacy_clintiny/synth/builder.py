"""Assemble a note piece by piece, recording annotations as the text is written, so every
span's offsets are exact by construction."""

from typing import Dict, List, Optional

from ..converters.labels import CONCEPTS_KEY, MODIFIERS_KEY, PHI_KEY
from ..converters.source import SourceDoc, SourceRelation, SourceSpan

CASES = ("as_is", "upper", "lower")


class NoteBuilder:
    """Accumulate text and annotations.

    case (str): "as_is", "upper" (terse ICU nursing style) or "lower"; applied to every piece
        as it is written, before offsets are taken.
    """

    def __init__(self, *, case: str = "as_is") -> None:
        if case not in CASES:
            raise ValueError(f"case={case!r}: use one of {CASES}")
        self.case = case
        self.parts: List[str] = []
        self.length = 0
        self.spans: List[SourceSpan] = []
        self.relations: List[SourceRelation] = []
        self._n = 0

    def _fmt(self, text: str) -> str:
        if self.case == "upper":
            return text.upper()
        if self.case == "lower":
            return text.lower()
        return text

    def text(self, text: str, *, keep_case: bool = False) -> None:
        """Write plain (unannotated) text."""
        piece = text if keep_case else self._fmt(text)
        self.parts.append(piece)
        self.length += len(piece)

    def _span(self, text: str, group: str, label: str, kb_id: str, assertion: str = "", keep_case: bool = False) -> str:
        piece = text if keep_case else self._fmt(text)
        key = f"s{self._n}"
        self._n += 1
        self.spans.append(
            SourceSpan(
                self.length,
                self.length + len(piece),
                group,
                label,
                kb_id=kb_id,
                assertion=assertion,
                key=key,
                expected_text=piece,
            )
        )
        self.parts.append(piece)
        self.length += len(piece)
        return key

    def phi(self, text: str, label: str, subtype: str, *, keep_case: bool = False) -> str:
        """Write a PHI surrogate (span group "phi"). RETURNS (str): the span key."""
        return self._span(text, PHI_KEY, label, subtype, keep_case=keep_case)

    def concept(self, text: str, label: str, kb_id: str, assertion: str = "") -> str:
        """Write a medical concept (span group "concepts"). RETURNS (str): the span key."""
        return self._span(text, CONCEPTS_KEY, label, kb_id, assertion)

    def modifier(self, text: str, label: str, kb_id: str) -> str:
        """Write a drug attribute (span group "modifiers"). RETURNS (str): the span key."""
        return self._span(text, MODIFIERS_KEY, label, kb_id)

    def relation(self, head: Optional[str], tail: Optional[str], label: str) -> None:
        """Relate two written spans (ignored when either key is None)."""
        if head is not None and tail is not None:
            self.relations.append(SourceRelation(head, tail, label))

    def build(self, *, doc_id: str, corpus: str, cats: Dict[str, float]) -> SourceDoc:
        """RETURNS (SourceDoc): The note with all three span groups and its relations."""
        return SourceDoc(
            text="".join(self.parts),
            doc_id=doc_id,
            group_id=doc_id,
            corpus=corpus,
            spans=self.spans,
            groups={PHI_KEY, CONCEPTS_KEY, MODIFIERS_KEY},
            relations=self.relations,
            cats=cats,
        )
