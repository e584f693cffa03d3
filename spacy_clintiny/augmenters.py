"""Corpus augmenters.

``spacy-clintiny.CopyGoldSpans.v1`` copies span groups from the reference doc onto the
predicted doc of each training/evaluation example. Use it when a component needs spans as
*input* rather than as a target: the NLI pair spans of ``clintiny_textcat`` in pair mode,
or gold entities for ``clintiny_rel`` when it is trained and evaluated without an NER
component in front of it (relation scores then measure relation extraction on gold
entities). A later NER component in the pipeline overwrites the copied groups with its
predictions.
"""

from typing import Callable, Iterator, List

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.training import Example
from spacy.util import filter_spans

from .architectures.instances import ENTS_KEY
from .registry import registry


@registry.augmenters("spacy-clintiny.CopyGoldSpans.v1")
def build_copy_gold_spans_v1(spans_keys: List[str]) -> Callable[[Language, Example], Iterator[Example]]:
    """Build the augmenter.

    spans_keys (List[str]): Span groups to copy; "ents" copies ``doc.ents``.
    RETURNS (Callable[[Language, Example], Iterator[Example]]): The augmenter.
    """
    keys = list(spans_keys)

    def augment(nlp: Language, example: Example) -> Iterator[Example]:
        yield copy_gold_spans(example, keys)

    return augment


def copy_gold_spans(example: Example, spans_keys: List[str]) -> Example:
    """A new Example whose predicted doc carries the reference's span groups.

    Spans are aligned by character offsets (expanded to token boundaries when the two
    tokenizations differ). Groups missing from the reference stay missing.

    example (Example): The example.
    spans_keys (List[str]): Span groups to copy; "ents" copies ``doc.ents``.
    RETURNS (Example): The example with a copied predicted doc.
    """
    ref = example.reference
    pred = example.predicted.copy()
    for key in spans_keys:
        if key == ENTS_KEY:
            if ref.has_annotation("ENT_IOB"):
                pred.set_ents(filter_spans([s for s in (_align(pred, span) for span in ref.ents) if s is not None]))
        elif key in ref.spans:
            pred.spans[key] = [s for s in (_align(pred, span) for span in ref.spans[key]) if s is not None]
    return Example(pred, ref)


def _align(doc: Doc, span: Span) -> Span:
    if span.start == span.end:  # empty span: keep it empty at the aligned position
        first = next((t.i for t in doc if t.idx >= span.start_char), len(doc))
        return Span(doc, first, first, label=span.label_, kb_id=span.kb_id_, span_id=span.id_)
    return doc.char_span(
        span.start_char,
        span.end_char,
        label=span.label_,
        kb_id=span.kb_id_,
        span_id=span.id_,
        alignment_mode="expand",
    )
