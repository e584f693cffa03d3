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

``spacy-clintiny.PhiSurrogates.v1`` serves a training note with its gold PHI replaced by
realistic surrogates ("hide in plain sight"): the de-identifier's own keyed Faker surrogates
(``deid/surrogate.py``: names by names in the same case, places by places, phone numbers and
IDs in their layout, dates shifted in their own format), every annotation moved to the new
offsets. A PHI head trained on a few dozen real patients otherwise learns their particular
names and towns; with surrogates it sees the same real contexts with ever other values, which
is what a new patient's notes are. ``variants`` fixed surrogate sets per note keep the texts a
fixed encoder's output cache has to hold bounded.

``spacy-clintiny.Chain.v1`` applies several augmenters in turn (each to what the one before
it yields), so a corpus can have both.
"""

import copy
import hashlib
import random
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from spacy.attrs import DEP, ENT_IOB, ENT_KB_ID, ENT_TYPE, HEAD, MORPH, POS, SENT_START, TAG
from spacy.language import Language
from spacy.tokens import Doc, Span, SpanGroup
from spacy.training import Example
from spacy.util import filter_spans

from .architectures.instances import ENTS_KEY
from .converters.labels import PHI_KEY, PHI_LABELS
from .converters.placement import RELATIONS_KEY, SOURCE_KEY
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


Augmenter = Callable[[Language, Example], Iterator[Example]]
# A surrogate region: (old start, old end, new start, new end) character offsets.
Region = Tuple[int, int, int, int]
# Token annotation that cannot follow a change of text: docs carrying it are served as they are.
_TOKEN_ATTRS = ("TAG", "POS", "MORPH", "LEMMA", "DEP", "SENT_START")


@registry.augmenters("spacy-clintiny.Chain.v1")
def build_chain_v1(*augmenters: Augmenter) -> Augmenter:
    """Build an augmenter that applies ``augmenters`` in turn, each to every example the one
    before it yielded.

    *augmenters (Augmenter): The augmenters, in order (config: ``[corpora.train.augmenter.*.name]``).
    RETURNS (Augmenter): The chained augmenter.
    """
    chain = list(augmenters)

    def augment(nlp: Language, example: Example) -> Iterator[Example]:
        examples = [example]
        for augmenter in chain:
            examples = [out for ex in examples for out in augmenter(nlp, ex)]
        yield from examples

    return augment


@registry.augmenters("spacy-clintiny.PhiSurrogates.v1")
def build_phi_surrogates_v1(
    spans_key: str = PHI_KEY,
    probability: float = 0.5,
    variants: int = 4,
    key: str = "clintiny augment",
    corpora: Optional[List[str]] = None,
) -> Augmenter:
    """Build the augmenter: with probability ``probability`` an example with PHI spans is served
    with them replaced by surrogates (one of ``variants`` fixed surrogate sets of the note, drawn
    with Python's ``random``, seeded by ``spacy train``), else as it is.

    spans_key (str): The span group holding the PHI.
    probability (float): Probability of serving a surrogate variant.
    variants (int): Surrogate sets per note (each is a fixed text, so a fixed encoder's output
        cache can hold it).
    key (str): Key of the keyed surrogates (training data only; any fixed string).
    corpora (Optional[List[str]]): Only docs of these corpora (``user_data["clintiny_source"]
        ["corpus"]``, e.g. ["physionet"]: synthetic notes already have Faker values, and every
        variant is new text to a cached encoder); None: every doc.
    RETURNS (Augmenter): The augmenter.
    """
    if isinstance(probability, bool) or not 0.0 <= probability <= 1.0:
        raise ValueError(Errors.E898.format(name="probability", value=probability))
    if isinstance(variants, bool) or not isinstance(variants, int) or variants < 1:
        raise ValueError(Errors.E898.format(name="variants", value=variants))
    only = None if corpora is None else frozenset(corpora)
    generators: List = []  # made on first use: Faker loads only when the augmenter runs

    def augment(nlp: Language, example: Example) -> Iterator[Example]:
        ref = example.reference
        if (
            not probability
            or not len(ref.spans.get(spans_key, []))
            or (only is not None and (ref.user_data.get(SOURCE_KEY) or {}).get("corpus") not in only)
            or random.random() >= probability
        ):
            yield example
            return
        if not generators:
            from .deid.surrogate import SurrogateGenerator

            generators.append(SurrogateGenerator(key))
        yield surrogate_variant(nlp, example, generators[0], spans_key=spans_key, variant=random.randrange(variants))

    return augment


def surrogate_variant(nlp: Language, example: Example, generator, *, spans_key: str, variant: int) -> Example:
    """A new Example whose text has the PHI of ``spans_key`` replaced by surrogates and whose
    annotation (span groups, entities, gold relations, cats, user data) follows to the new offsets.

    Spans are replaced left to right (one overlapping a span already replaced is kept); a span
    of a label outside ``PHI_LABELS``, or one no surrogate can be made for, keeps its text (this
    is training data, not de-identification). A doc with token annotation (tags, parses,
    sentence starts) or with entities not set on every token is returned unchanged.

    nlp (Language): The pipeline, whose tokenizer makes the new docs.
    example (Example): The example.
    generator (SurrogateGenerator): Makes the surrogates.
    spans_key (str): The span group holding the PHI.
    variant (int): Which surrogate set of the note (the same variant gives the same text).
    RETURNS (Example): The variant, or ``example``.
    """
    ref = example.reference
    if any(ref.has_annotation(attr) for attr in _TOKEN_ATTRS):
        return example
    if ref.has_annotation("ENT_IOB") and any(token.ent_iob == 0 for token in ref):
        return example
    note = hashlib.sha1(ref.text.encode("utf8")).hexdigest()[:16]
    pieces: List[str] = []
    regions: List[Region] = []
    pos = shift = 0
    for span in sorted(ref.spans[spans_key], key=lambda s: (s.start_char, -s.end_char)):
        if span.start_char < pos or span.label_ not in PHI_LABELS:
            continue
        new = generator.surrogate(span.text, label=span.label_, subtype=span.kb_id_, patient_id=f"{note}|{variant}")
        if new is None or new == span.text:
            continue
        pieces.append(ref.text[pos : span.start_char])
        pieces.append(new)
        start = span.start_char + shift
        regions.append((span.start_char, span.end_char, start, start + len(new)))
        shift += len(new) - len(span.text)
        pos = span.end_char
    if not regions:
        return example
    pieces.append(ref.text[pos:])
    doc = nlp.make_doc("".join(pieces))
    for group_key, group in ref.spans.items():
        spans = [_moved(doc, span, regions) for span in group]
        doc.spans[group_key] = SpanGroup(
            doc, name=group_key, attrs=copy.deepcopy(group.attrs), spans=[s for s in spans if s is not None]
        )
    if ref.has_annotation("ENT_IOB"):
        doc.set_ents(
            filter_spans([s for s in (_moved(doc, e, regions) for e in ref.ents) if s is not None]), default="outside"
        )
    doc.cats = dict(ref.cats)
    doc.user_data = copy.deepcopy(ref.user_data)
    if doc.user_data.get(RELATIONS_KEY):
        doc.user_data[RELATIONS_KEY] = tuple(_moved_relation(rel, regions) for rel in doc.user_data[RELATIONS_KEY])
    return Example(nlp.make_doc(doc.text), doc)


def moved_offset(pos: int, regions: Sequence[Region], *, end: bool) -> int:
    """Where a character offset of the old text lies in the new one.

    An offset inside a replaced region goes to the region's new start (a span start) or new end
    (a span end), so a span that overlapped a replaced span covers all of its surrogate.

    pos (int): The old offset.
    regions (Sequence[Region]): The replaced regions, left to right.
    end (bool): Whether ``pos`` ends a span (else it starts one).
    RETURNS (int): The new offset.
    """
    shift = 0
    for old_start, old_end, new_start, new_end in regions:
        if (pos <= old_start) if end else (pos < old_start):
            break
        if (pos <= old_end) if end else (pos < old_end):
            return new_end if end else new_start
        shift = new_end - old_end
    return pos + shift


def _moved(doc: Doc, span: Span, regions: Sequence[Region]) -> Optional[Span]:
    start = moved_offset(span.start_char, regions, end=False)
    end = moved_offset(span.end_char, regions, end=True)
    return _span_like(doc, span, start, end)


def _moved_relation(rel: Dict, regions: Sequence[Region]) -> Dict:
    moved = dict(rel)
    for role in ("head", "tail"):
        start, end = rel[role]
        moved[role] = (moved_offset(start, regions, end=False), moved_offset(end, regions, end=True))
    return moved


def _align(doc: Doc, span: Span) -> Optional[Span]:
    if span.start == span.end:  # empty span: keep it empty at the aligned position
        first = next((t.i for t in doc if t.idx >= span.start_char), len(doc))
        return Span(doc, first, first, label=span.label_, kb_id=span.kb_id_, span_id=span.id_)
    return _span_like(doc, span, span.start_char, span.end_char)


def _span_like(doc: Doc, span: Span, start: int, end: int) -> Optional[Span]:
    """The span of ``doc`` covering characters ``start:end`` (widened to token edges) with
    ``span``'s label, kb id and span id, or None if the range is not on the text."""
    return doc.char_span(start, end, label=span.label_, kb_id=span.kb_id_, span_id=span.id_, alignment_mode="expand")
