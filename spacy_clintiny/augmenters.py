"""Corpus augmenters.

``spacy-clintiny.CopyGoldSpans.v1`` copies span groups from the reference doc onto the
predicted doc of each training/evaluation example. Use it when a component needs spans as
*input* rather than as a target: the NLI pair spans of ``clintiny_textcat`` in pair mode,
or gold entities for ``clintiny_rel`` when it is trained and evaluated without an NER
component in front of it (relation scores then measure relation extraction on gold
entities). A later NER component in the pipeline overwrites the copied groups with its
predictions.

``spacy-clintiny.CaseVariants.v1`` serves a training example upper-cased or lower-cased with
given probabilities, its annotation intact. Clinical notes come in all three cases (a third of
the PhysioNet nursing notes are all capitals, a quarter all lower case), while synthetic notes
and most corpora are written in mixed case: without variants a head learns "capitalised, so a
name" from the surface features and misses "DR SMITH" and "dr smith".
"""

import copy
import random
from typing import Callable, Iterator, List

from spacy.attrs import DEP, ENT_IOB, ENT_KB_ID, ENT_TYPE, HEAD, MORPH, POS, SENT_START, TAG
from spacy.language import Language
from spacy.tokens import Doc, Span, SpanGroup
from spacy.training import Example
from spacy.util import filter_spans

from .architectures.instances import ENTS_KEY
from .errors import Errors
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


@registry.augmenters("spacy-clintiny.CaseVariants.v1")
def build_case_variants_v1(upper: float = 0.2, lower: float = 0.2) -> Callable[[Language, Example], Iterator[Example]]:
    """Build the augmenter: each example is yielded once, upper-cased with probability
    ``upper``, lower-cased with probability ``lower``, else as it is (Python's ``random``,
    seeded by ``spacy train``'s ``[training] seed``).

    upper (float): Probability of the upper-cased variant.
    lower (float): Probability of the lower-cased variant.
    RETURNS (Callable[[Language, Example], Iterator[Example]]): The augmenter.
    """
    for name, value in (("upper", upper), ("lower", lower)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(Errors.E893.format(name=name, value=value))
    if upper + lower > 1.0:
        raise ValueError(Errors.E893.format(name="upper + lower", value=upper + lower))

    def augment(nlp: Language, example: Example) -> Iterator[Example]:
        draw = random.random()
        if draw < upper:
            yield case_variant(nlp, example, str.upper)
        elif draw < upper + lower:
            yield case_variant(nlp, example, str.lower)
        else:
            yield example

    return augment


def case_variant(nlp: Language, example: Example, transform: Callable[[str], str]) -> Example:
    """A new Example whose reference is the old one with every token's text passed through
    ``transform`` (``str.upper``, ``str.lower``) and the same annotation: token attributes,
    entities, span groups with their attrs, cats and user_data. Character offsets stay valid,
    so a token whose length the transform would change (German "ß" upper-cased is "SS") keeps
    its text.

    nlp (Language): The pipeline, whose tokenizer makes the predicted doc.
    example (Example): The example.
    transform (Callable[[str], str]): The case function.
    RETURNS (Example): The variant.
    """
    ref = example.reference
    words = []
    for token in ref:
        text = transform(token.text)
        words.append(text if len(text) == len(token.text) else token.text)
    doc = Doc(ref.vocab, words=words, spaces=[bool(token.whitespace_) for token in ref])
    attrs = [attr for attr in (TAG, POS, MORPH) if ref.has_annotation(attr)]
    if ref.has_annotation("ENT_IOB"):
        attrs += [ENT_IOB, ENT_TYPE, ENT_KB_ID]
    if ref.has_annotation("DEP"):  # heads imply the sentence starts; spaCy takes one or the other
        attrs += [HEAD, DEP]
    elif ref.has_annotation("SENT_START"):
        attrs.append(SENT_START)
    if attrs:
        doc.from_array(attrs, ref.to_array(attrs))
    for key, group in ref.spans.items():
        spans = [Span(doc, s.start, s.end, label=s.label_, kb_id=s.kb_id_, span_id=s.id_) for s in group]
        doc.spans[key] = SpanGroup(doc, name=key, attrs=copy.deepcopy(group.attrs), spans=spans)
    doc.cats = dict(ref.cats)
    doc.user_data = copy.deepcopy(ref.user_data)
    return Example(nlp.make_doc(doc.text), doc)


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
