"""The conversion report: what came out, and everything that could not be placed or was skipped.

Nothing is dropped silently: every span, relation or input record that does not make it into
the output is counted here with a reason and a location (file, line, character offset). The
report never contains document text, so it can be shared even when the corpus holds PHI.
"""

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from spacy.tokens import Doc
from wasabi import msg

from ..fileio import write_json_atomic
from .source import Location

# Kinds of events. "unplaceable": an annotation that is NOT in the output. "skipped": an input
# record (line, row, file) not converted. "adjusted": converted, but changed to fit (e.g.
# realigned offsets, trimmed whitespace, merged duplicates). "info": worth knowing, nothing lost.
KINDS = ("unplaceable", "skipped", "adjusted", "info")
MAX_EXAMPLES = 50


class ConversionReport:
    """Counts of one conversion: docs, spans per group and label, relations per label, and
    events (unplaceable spans, skipped records, adjustments) by reason with locations.

    corpus (str): Name of the corpus or format, for display.
    max_examples (int): How many located examples to keep per (kind, reason).
    """

    def __init__(self, corpus: str, *, max_examples: int = MAX_EXAMPLES) -> None:
        self.corpus = corpus
        self.max_examples = max_examples
        self.docs = 0
        self.spans: Dict[str, Counter] = defaultdict(Counter)
        self.relations: Counter = Counter()
        self.cats: Counter = Counter()
        self.events: Dict[str, Counter] = {kind: Counter() for kind in KINDS}
        self.examples: Dict[str, List[Dict[str, Any]]] = defaultdict(list)
        self.extra: Dict[str, Any] = {}

    def add_event(
        self,
        kind: str,
        reason: str,
        where: Optional[Location] = None,
        *,
        offset: Optional[int] = None,
        detail: Optional[str] = None,
        count: int = 1,
    ) -> None:
        """Count an event. ``detail`` must never contain document text.

        kind (str): One of "unplaceable", "skipped", "adjusted", "info".
        reason (str): Short snake_case reason, e.g. "offset_out_of_range".
        where (Optional[Location]): File and line of the offending record.
        offset (Optional[int]): Character offset in the document, when relevant.
        detail (Optional[str]): Extra non-text detail (a label, a field count...).
        count (int): How many events this call stands for.
        """
        if kind not in KINDS:
            raise ValueError(f"Unknown report event kind {kind!r}; use one of {KINDS}.")
        self.events[kind][reason] += count
        examples = self.examples[f"{kind}:{reason}"]
        if len(examples) < self.max_examples:
            example: Dict[str, Any] = {}
            if where is not None:
                example["file"] = where.file
                if where.line is not None:
                    example["line"] = where.line
            if offset is not None:
                example["offset"] = offset
            if detail:
                example["detail"] = detail
            examples.append(example)

    def count_doc(self, doc: Doc) -> None:
        """Add an output doc's spans, relations and cats to the counts."""
        self.docs += 1
        for key, group in doc.spans.items():
            counter = self.spans[key]
            counter.update(span.label_ for span in group)
        for rel in doc.user_data.get("clintiny_rels", None) or []:
            self.relations[rel["label"]] += 1
        for label, value in doc.cats.items():
            if value >= 0.5:
                self.cats[label] += 1

    @property
    def n_unplaceable(self) -> int:
        return sum(self.events["unplaceable"].values())

    def to_dict(self) -> Dict[str, Any]:
        """RETURNS (Dict[str, Any]): JSON-serialisable summary."""
        return {
            "corpus": self.corpus,
            "docs": self.docs,
            "spans": {k: dict(sorted(v.items())) for k, v in sorted(self.spans.items())},
            "span_totals": {k: sum(v.values()) for k, v in sorted(self.spans.items())},
            "relations": dict(sorted(self.relations.items())),
            "relation_total": sum(self.relations.values()),
            "cats_positive": dict(sorted(self.cats.items())),
            "unplaceable": dict(sorted(self.events["unplaceable"].items())),
            "skipped": dict(sorted(self.events["skipped"].items())),
            "adjusted": dict(sorted(self.events["adjusted"].items())),
            "info": dict(sorted(self.events["info"].items())),
            "examples": {k: v for k, v in sorted(self.examples.items())},
            **self.extra,
        }

    def to_json(self, path: Union[str, Path]) -> None:
        """Write the report as JSON, atomically.

        path (Union[str, Path]): The output file (its folder is created if needed).
        """
        write_json_atomic(path, self.to_dict())

    def print(self, *, max_lines: int = 5) -> None:
        """Print the report with wasabi: totals, then events with a few located examples."""
        msg.divider(f"Conversion report: {self.corpus}")
        msg.info(f"{self.docs} docs")
        for key, counter in sorted(self.spans.items()):
            parts = ", ".join(f"{label} {n}" for label, n in sorted(counter.items()))
            msg.text(f"spans[{key!r}]: {sum(counter.values())} ({parts or 'none'})")
        if self.relations:
            parts = ", ".join(f"{label} {n}" for label, n in sorted(self.relations.items()))
            msg.text(f"relations: {sum(self.relations.values())} ({parts})")
        if self.cats:
            parts = ", ".join(f"{label} {n}" for label, n in sorted(self.cats.most_common(12)))
            msg.text(f"positive cats: {parts}{' ...' if len(self.cats) > 12 else ''}")
        printer = {"unplaceable": msg.warn, "skipped": msg.warn, "adjusted": msg.info, "info": msg.text}
        for kind in KINDS:
            for reason, n in sorted(self.events[kind].items()):
                printer[kind](f"{kind}: {reason} x{n}")
                for ex in self.examples[f"{kind}:{reason}"][:max_lines]:
                    loc = ex.get("file", "?")
                    if "line" in ex:
                        loc += f":{ex['line']}"
                    if "offset" in ex:
                        loc += f" offset {ex['offset']}"
                    if "detail" in ex:
                        loc += f" ({ex['detail']})"
                    msg.text(f"    {loc}")
        if not self.n_unplaceable:
            msg.good("every annotation was placed")
