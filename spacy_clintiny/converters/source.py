"""Format-neutral annotations, as read from a source file, before they are placed on a Doc.

Every reader turns its format into ``SourceDoc`` objects; ``placement.build_doc`` turns those
into spaCy ``Doc`` objects. Keeping the two apart means alignment, de-duplication and the
conversion report are written once for all formats.
"""

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Set


@dataclass(frozen=True)
class Location:
    """Where an annotation came from: a file and (when the format is line-based) a 1-based line.
    Used in reports and messages instead of the annotated text, which may be PHI."""

    file: str
    line: Optional[int] = None

    def __str__(self) -> str:
        return self.file if self.line is None else f"{self.file}:{self.line}"


@dataclass
class SourceSpan:
    """A character-offset span as the source file states it.

    start (int): Start character offset in ``SourceDoc.text``.
    end (int): End character offset (exclusive).
    group (str): Target span group, e.g. "phi", "concepts", "modifiers".
    label (str): Label in the shared scheme, e.g. "NAME" or "PROBLEM".
    kb_id (str): Fine or native label kept on ``span.kb_id_`` (e.g. "DOCTOR", "Chemical").
    assertion (str): Assertion kept on ``span.id_`` ("" when the corpus has none).
    key (Optional[str]): Identifier that relations use to refer to this span.
    where (Optional[Location]): Source file and line, for the report.
    expected_text (Optional[str]): The mention text the file gives, if any; checked against
        the text at the offsets.
    """

    start: int
    end: int
    group: str
    label: str
    kb_id: str = ""
    assertion: str = ""
    key: Optional[str] = None
    where: Optional[Location] = None
    expected_text: Optional[str] = None


@dataclass
class SourceRelation:
    """A directed relation between two spans, referred to by their ``key``."""

    head: str
    tail: str
    label: str
    where: Optional[Location] = None


@dataclass
class SourceDoc:
    """One document as read from the source, with everything needed to build a Doc.

    text (str): The exact document text (offsets refer to it).
    doc_id (str): Identifier of the document (file stem, PMID, note id...), never text.
    group_id (str): Splitting unit: documents sharing it always land on the same side.
    corpus (str): Short corpus/format name, stored in ``doc.user_data``.
    spans (List[SourceSpan]): Span annotations.
    groups (Set[str]): Span groups this corpus annotates for this doc (written even if empty).
    annotated_labels (Dict[str, List[str]]): Per group, the labels this corpus annotates when
        it annotates only some of the group's labels (NCBI-disease: concepts PROBLEM only).
        Written to ``doc.spans[group].attrs["annotated_labels"]``; a group not listed is
        annotated for every label.
    relations (Optional[List[SourceRelation]]): None when relations are not annotated.
    relation_labels (Optional[List[str]]): The relation labels this doc is annotated for when
        fewer than its corpus's (an ADE-NEG sentence states no DRUG_AE relation, and its doses
        were never annotated: ["DRUG_AE"] with no relation). Written to
        ``doc.user_data["clintiny_source"]["relation_labels"]``; None: the corpus's labels.
    cats (Dict[str, float]): Document labels.
    where (Optional[Location]): Where the document starts.
    """

    text: str
    doc_id: str
    group_id: str
    corpus: str
    spans: List[SourceSpan] = field(default_factory=list)
    groups: Set[str] = field(default_factory=set)
    annotated_labels: Dict[str, List[str]] = field(default_factory=dict)
    relations: Optional[List[SourceRelation]] = None
    relation_labels: Optional[List[str]] = None
    cats: Dict[str, float] = field(default_factory=dict)
    where: Optional[Location] = None
