"""Scoring de-identification against gold PHI: the figures ``clintiny deid-eval`` reports.

Tokens are those of spaCy's blank English tokenizer on the note text, so figures compare
across detectors and with ``evaluation.scores.phi_token_scores`` (one implementation:
``evaluation.scores.token_confusion``).

- **Token recall / precision / F1** (binary, the standard de-identification measure): a token is
  PHI when it overlaps a gold span, predicted when it overlaps a predicted mention, whatever
  the categories.
- **Entity strict**: a prediction is correct when a gold span has its offsets and label.
  **Entity overlap**: a prediction is correct when it overlaps a gold span of its label, and a
  gold span is found when a prediction of its label overlaps it (precision counts predictions,
  recall counts gold spans: one prediction straddling two gold spans finds both). Per category
  and micro-averaged over all categories.
- **Recall per category** (``recall``): the share of the category's gold spans that any
  prediction overlaps, whatever its label. For de-identification what matters is that the
  span was replaced, not what it was called.
- **Leak rate**: the share of gold PHI tokens the de-identified output still shows at their
  place. A token's PHI characters are its characters inside gold spans; tokens whose PHI
  characters are all whitespace are not counted. A token leaks when (1) one of its PHI
  characters lies outside every replaced span (operators in ``REPLACING_OPERATORS``;
  annotate mode's "keep" replaces nothing, so there every PHI token leaks), or (2) its PHI
  text, 2 characters or more, appears case-insensitively inside the output text that replaces
  it (a surrogate that happens to contain the original; only for operators whose output is made
  from the original, ``CARRYING_OPERATORS``: a redaction tag, mask or code is never a leak).
  The replacements' output offsets give the place: the output must equal the input with each
  replaced span swapped for its output text, or the note is rejected (E771).
- Token recall counts a token as found when a prediction touches it; the leak rate counts it
  as safe only when all its PHI characters were replaced, so a span cut short ("Jo[NAME]")
  lowers the leak rate's figure, not recall's. Detections without output text (deid.pl's
  ``.phi`` file, :meth:`DeidScorer.add_spans`) are scored as redacted.
- A note the engine failed on (``DeidResult.error``) produced no output: it is scored as
  nothing detected and every PHI token leaked, and counted in ``failed_notes``.

Ratios whose denominator is zero (no gold, no prediction) are None, shown as "-".
"""

from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from spacy.language import Language
from spacy.tokens import Doc

from ..converters.labels import PHI_LABELS
from ..errors import Errors
from ..evaluation.scores import char_mask, token_confusion, token_flags
from .types import CARRYING_OPERATORS, REPLACING_OPERATORS, DeidResult, NoteRecord, Replacement

Range = Tuple[int, int]
# (start, end, label): label None when the detector does not name categories (deid.pl)
LabelledRange = Tuple[int, int, Optional[str]]
# (start, end, output text): an input span and what the output shows in its place
Replaced = Tuple[int, int, str]

MIN_VERBATIM = 2


@dataclass
class GoldNote:
    """A note with its gold PHI.

    note_id (str): Identifier (e.g. "PID-NOTE"), never text.
    text (str): The note.
    spans (List[Tuple[int, int, str]]): Gold (start, end, category) spans.
    patient_id (Optional[str]): The patient, for patient-consistent surrogates.
    """

    note_id: str
    text: str
    spans: List[Tuple[int, int, str]] = field(default_factory=list)
    patient_id: Optional[str] = None

    def to_record(self) -> NoteRecord:
        """RETURNS (NoteRecord): The note as the engine's input."""
        return NoteRecord(note_id=self.note_id, text=self.text, patient_id=self.patient_id)


def ratio(num: int, den: int) -> Optional[float]:
    """``num / den``, None when ``den`` is 0."""
    return num / den if den else None


def prf(correct_pred: int, n_pred: int, correct_gold: int, n_gold: int) -> Dict[str, Optional[float]]:
    """Precision, recall and F1 from counts (precision and recall may count different things).

    correct_pred (int): Predictions judged correct.
    n_pred (int): Predictions.
    correct_gold (int): Gold items judged found.
    n_gold (int): Gold items.
    RETURNS (Dict[str, Optional[float]]): {"p", "r", "f"}; None where undefined (F1 is 0.0,
        not undefined, when there is gold and nothing was predicted).
    """
    p, r = ratio(correct_pred, n_pred), ratio(correct_gold, n_gold)
    if r is None:
        f = None
    elif p is None:
        f = 0.0
    else:
        f = 2 * p * r / (p + r) if p + r else 0.0
    return {"p": p, "r": r, "f": f}


def overlaps_any(queries: Sequence[Range], targets: Sequence[Range]) -> List[bool]:
    """For each query range, whether it shares a character with any target range.

    queries (Sequence[Range]): (start, end) ranges to test.
    targets (Sequence[Range]): (start, end) ranges, in any order, possibly overlapping.
    RETURNS (List[bool]): One flag per query.
    """
    ordered = sorted(targets)
    starts = [start for start, _ in ordered]
    max_end = list(accumulate((end for _, end in ordered), max))
    flags = []
    for start, end in queries:
        i = bisect_left(starts, end)  # targets starting before the query ends
        flags.append(i > 0 and max_end[i - 1] > start)
    return flags


def entity_counts(gold: Iterable[Tuple[int, int, str]], predicted: Iterable[LabelledRange]) -> Dict[str, Counter]:
    """Entity-level counts of one note, per category.

    gold (Iterable[Tuple[int, int, str]]): Gold (start, end, category) spans.
    predicted (Iterable[LabelledRange]): Predicted (start, end, category or None) spans;
        unlabelled ones count only toward ``touched``.
    RETURNS (Dict[str, Counter]): category -> Counter of "gold", "pred", "strict" (exact
        offsets and label), "overlap_pred" (predictions overlapping a gold span of their
        label), "overlap_gold" (gold spans overlapped by a prediction of their label) and
        "touched" (gold spans overlapped by any prediction).
    """
    gold_set, pred_set = sorted(set(gold)), sorted(set(predicted), key=lambda s: (s[0], s[1], s[2] or ""))
    all_pred = [(start, end) for start, end, _ in pred_set]
    counts: Dict[str, Counter] = {}
    for label in sorted({g[2] for g in gold_set} | {p[2] for p in pred_set if p[2]}):
        g_l = [(start, end) for start, end, lab in gold_set if lab == label]
        p_l = [(start, end) for start, end, lab in pred_set if lab == label]
        counts[label] = Counter(
            gold=len(g_l),
            pred=len(p_l),
            strict=len(set(g_l) & set(p_l)),
            overlap_pred=sum(overlaps_any(p_l, g_l)),
            overlap_gold=sum(overlaps_any(g_l, p_l)),
            touched=sum(overlaps_any(g_l, all_pred)),
        )
    return counts


def check_replacements(note_id: str, text: str, output: str, replacements: Iterable[Replacement]) -> None:
    """Raise E771 unless ``output`` is ``text`` with each replacement's input span swapped for
    its ``new_text`` at its output offsets (what makes "at the same place" well defined).

    note_id (str): For the message.
    text (str): The input note.
    output (str): The de-identified text.
    replacements (Iterable[Replacement]): What the engine did, in any order.
    """
    pos_in = pos_out = 0
    for rep in sorted(replacements, key=lambda r: (r.start, r.end)):
        problem = None
        if rep.start < pos_in or rep.end > len(text):
            problem = f"replacement at input offsets ({rep.start}, {rep.end}) overlaps another or passes the end"
        elif rep.out_start != pos_out + rep.start - pos_in:
            problem = f"replacement at input offset {rep.start} has output offset {rep.out_start}"
        elif text[pos_in : rep.start] != output[pos_out : rep.out_start]:
            problem = f"unreplaced text before input offset {rep.start} differs"
        elif output[rep.out_start : rep.out_end] != rep.new_text:
            problem = f"output offsets ({rep.out_start}, {rep.out_end}) do not hold the replacement text"
        if problem is not None:
            raise ValueError(Errors.E771.format(note_id=note_id, problem=problem))
        pos_in, pos_out = rep.end, rep.out_end
    if text[pos_in:] != output[pos_out:]:
        raise ValueError(Errors.E771.format(note_id=note_id, problem=f"text after input offset {pos_in} differs"))


def replaced_spans(result: DeidResult) -> List[Replaced]:
    """The input spans a result replaced, with the output text in their place.

    result (DeidResult): A successful result (``text`` is not None), checked with
        :func:`check_replacements`.
    RETURNS (List[Replaced]): (start, end, output text), for operators in
        ``REPLACING_OPERATORS``; the output text is "" for operators that cannot show the
        original (not in ``CARRYING_OPERATORS``: "CA" redacted as "[LOCATION]" is no leak).
    """
    return [
        (r.start, r.end, result.text[r.out_start : r.out_end] if r.operator in CARRYING_OPERATORS else "")
        for r in result.replacements
        if r.operator in REPLACING_OPERATORS
    ]


def leaked_tokens(doc: Doc, gold: Sequence[Range], replaced: Sequence[Replaced]) -> Dict[int, bool]:
    """Which gold PHI tokens leak (see the module docstring for the definition).

    doc (Doc): The note's tokens.
    gold (Sequence[Range]): Gold PHI (start, end) ranges.
    replaced (Sequence[Replaced]): Non-overlapping replaced (start, end, output text) spans.
    RETURNS (Dict[int, bool]): token index -> leaked, for every gold PHI token.
    """
    text = doc.text
    gold_mask = char_mask(len(text), gold)
    replaced_mask = char_mask(len(text), ((start, end) for start, end, _ in replaced))
    ordered = sorted(replaced)
    starts = [start for start, _, _ in ordered]
    out: Dict[int, bool] = {}
    for token, is_gold in zip(doc, token_flags(doc, gold)):
        if not is_gold:
            continue
        lo, hi = token.idx, token.idx + len(token)
        phi = gold_mask[lo:hi]
        phi_text = "".join(ch for ch, inside in zip(text[lo:hi], phi) if inside).strip()
        if not phi_text:
            continue
        leaked = not bool(replaced_mask[lo:hi][phi].all())
        if not leaked and len(phi_text) >= MIN_VERBATIM:
            shown = []
            i = bisect_left(starts, hi) - 1
            while i >= 0 and ordered[i][1] > lo:
                shown.append(ordered[i][2])
                i -= 1
            leaked = phi_text.lower() in "".join(reversed(shown)).lower()
        out[token.i] = leaked
    return out


class DeidScorer:
    """Accumulates the figures of one detector over many notes.

    tokenizer (Language): Its tokenizer defines the tokens (a blank English pipeline).
    """

    def __init__(self, tokenizer: Language) -> None:
        self.tokenizer = tokenizer
        self.counts: Counter = Counter()
        self.by_label: Dict[str, Counter] = {}
        self.unlabelled = 0

    def add(
        self, note: GoldNote, predicted: Iterable[LabelledRange], replaced: Sequence[Replaced], *, failed: bool = False
    ) -> None:
        """Score one note.

        note (GoldNote): The note and its gold spans.
        predicted (Iterable[LabelledRange]): Detected (start, end, category or None) spans.
        replaced (Sequence[Replaced]): What the output shows in place of each replaced span.
        failed (bool): The engine produced no output for this note.
        """
        predicted = list(predicted)
        doc = self.tokenizer.make_doc(note.text)
        gold = [(start, end) for start, end, _ in note.spans]
        pred = [(start, end) for start, end, _ in predicted]
        tp, fp, fn = token_confusion(doc, gold, pred)
        leaks = leaked_tokens(doc, gold, replaced)
        pred_flags = token_flags(doc, pred)
        self.counts.update(
            notes=1,
            failed=int(failed),
            words=sum(not t.is_space for t in doc),
            token_tp=tp,
            token_fp=fp,
            token_fn=fn,
            phi_tokens=len(leaks),
            leaked=sum(leaks.values()),
        )
        self.unlabelled += sum(label is None for _, _, label in predicted)
        for label, counts in entity_counts(note.spans, predicted).items():
            self.by_label.setdefault(label, Counter()).update(counts)
        for label in {lab for _, _, lab in note.spans}:
            ranges = [(start, end) for start, end, lab in note.spans if lab == label]
            flags = [i for i, is_gold in enumerate(token_flags(doc, ranges)) if is_gold]
            self.by_label[label].update(
                tokens=len(flags),
                tokens_found=sum(pred_flags[i] for i in flags),
                phi_tokens=sum(i in leaks for i in flags),
                leaked=sum(leaks.get(i, False) for i in flags),
            )

    def add_result(self, note: GoldNote, result: DeidResult) -> None:
        """Score the engine's result for ``note`` (a failed note: nothing detected, all leaked)."""
        if result.error is not None or result.text is None:
            self.add(note, [], [], failed=True)
            return
        check_replacements(note.note_id, note.text, result.text, result.replacements)
        self.add(note, [(m.start, m.end, m.label) for m in result.mentions], replaced_spans(result))

    def add_spans(self, note: GoldNote, spans: Iterable[Range]) -> None:
        """Score unlabelled detections as redacted (e.g. deid.pl's, which replaces each with a tag)."""
        spans = list(spans)
        self.add(note, [(start, end, None) for start, end in spans], [(start, end, "") for start, end in spans])

    def scores(self) -> Dict[str, Any]:
        """RETURNS (Dict[str, Any]): The figures (see the module docstring); entity-level
        figures are None when some predictions carry no category."""
        c = self.counts
        labelled = self.unlabelled == 0
        tokens = prf(c["token_tp"], c["token_tp"] + c["token_fp"], c["token_tp"], c["token_tp"] + c["token_fn"])
        out: Dict[str, Any] = {
            "token_recall": tokens["r"],
            "token_precision": tokens["p"],
            "token_f1": tokens["f"],
            "leak_rate": ratio(c["leaked"], c["phi_tokens"]),
            "notes": c["notes"],
            "failed_notes": c["failed"],
            "words": c["words"],
            "gold_tokens": c["token_tp"] + c["token_fn"],
            "predicted_tokens": c["token_tp"] + c["token_fp"],
            "phi_tokens": c["phi_tokens"],
            "leaked_tokens": c["leaked"],
        }
        total = sum(self.by_label.values(), Counter())
        out.update(self._entity_figures(total, labelled))
        out["gold_spans"], out["predicted_spans"] = total["gold"], total["pred"] + self.unlabelled
        out["per_category"] = {}
        others = sorted(set(self.by_label) - set(PHI_LABELS))
        for label in [lab for lab in PHI_LABELS if lab in self.by_label] + others:
            counts = self.by_label[label]
            entry = {
                "gold_spans": counts["gold"],
                "predicted_spans": counts["pred"] if labelled else None,
                "recall": ratio(counts["touched"], counts["gold"]),
                "token_recall": ratio(counts["tokens_found"], counts["tokens"]),
                "leak_rate": ratio(counts["leaked"], counts["phi_tokens"]),
            }
            entry.update(self._entity_figures(counts, labelled))
            out["per_category"][label] = entry
        return out

    @staticmethod
    def _entity_figures(counts: Counter, labelled: bool) -> Dict[str, Optional[float]]:
        strict = prf(counts["strict"], counts["pred"], counts["strict"], counts["gold"])
        overlap = prf(counts["overlap_pred"], counts["pred"], counts["overlap_gold"], counts["gold"])
        figures = {f"strict_{k}": v for k, v in strict.items()}
        figures.update({f"overlap_{k}": v for k, v in overlap.items()})
        return figures if labelled else {key: None for key in figures}
