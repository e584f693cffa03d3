"""Sentence pairs (NLI) carried by one Doc.

A pair is one Doc whose text is ``premise + "\\n" + hypothesis``, with
``doc.spans["nli_pair"]`` holding exactly two spans labelled ``PREMISE`` then
``HYPOTHESIS``. The encoder reads the whole doc in one pass, so attention crosses the two
sentences (as with ``[CLS] premise [SEP] hypothesis`` in BERT), and the
``clintiny_textcat`` head in ``pair`` mode pools each span separately.
"""

from typing import Optional, Tuple

from spacy.language import Language
from spacy.tokens import Doc, Span

PAIR_KEY = "nli_pair"
PREMISE = "PREMISE"
HYPOTHESIS = "HYPOTHESIS"


def make_pair_doc(nlp: Language, premise: str, hypothesis: str, *, spans_key: str = PAIR_KEY) -> Doc:
    """Tokenize a premise/hypothesis pair into one Doc with its pair span group.

    nlp (Language): Pipeline whose tokenizer to use (``nlp.make_doc``).
    premise (str): The premise.
    hypothesis (str): The hypothesis.
    spans_key (str): Span group for the two spans.
    RETURNS (Doc): The pair doc, ready for ``nlp(doc)``.
    """
    doc = nlp.make_doc(premise + "\n" + hypothesis)
    split = len(premise)
    doc.spans[spans_key] = [
        _span_over(doc, 0, split, PREMISE),
        _span_over(doc, split + 1, len(doc.text), HYPOTHESIS),
    ]
    return doc


def _span_over(doc: Doc, start_char: int, end_char: int, label: str) -> Span:
    """The span of the non-space tokens inside [start_char, end_char) (may be empty)."""
    inside = [t.i for t in doc if t.idx >= start_char and t.idx + len(t) <= end_char and not t.is_space]
    if not inside:
        first = next((t.i for t in doc if t.idx >= start_char), len(doc))
        return Span(doc, first, first, label=label)
    return Span(doc, inside[0], inside[-1] + 1, label=label)


def get_pair_spans(doc: Doc, spans_key: str = PAIR_KEY) -> Optional[Tuple[Span, Span]]:
    """The (premise, hypothesis) spans of a pair doc.

    doc (Doc): The doc.
    spans_key (str): The pair span group.
    RETURNS (Optional[Tuple[Span, Span]]): None if the group is missing or is not exactly
        a PREMISE span followed by a HYPOTHESIS span.
    """
    if spans_key not in doc.spans:
        return None
    group = doc.spans[spans_key]
    if len(group) != 2 or group[0].label_ != PREMISE or group[1].label_ != HYPOTHESIS:
        return None
    return group[0], group[1]
