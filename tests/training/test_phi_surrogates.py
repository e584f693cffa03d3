"""spacy-clintiny.PhiSurrogates.v1 and Chain.v1: surrogate variants move every annotation with the text."""

import random

import pytest
import spacy
from spacy.tokens import SpanGroup
from spacy.training import Example

from spacy_clintiny.augmenters import moved_offset, surrogate_variant
from spacy_clintiny.deid.surrogate import SurrogateGenerator
from spacy_clintiny.registry import registry

TEXT = "Seen by Dr. Smith at Mercy Hospital on 3/11; call 617-555-0199. Lasix 40 mg caused rash."


@pytest.fixture
def example():
    nlp = spacy.blank("en")
    doc = nlp.make_doc(TEXT)
    phi = SpanGroup(doc, name="phi", attrs={"annotated_labels": ["NAME", "LOCATION", "DATE", "CONTACT"]})
    phi.extend(
        [
            doc.char_span(12, 17, label="NAME", kb_id="DOCTOR"),  # Smith
            doc.char_span(21, 35, label="LOCATION"),  # Mercy Hospital
            doc.char_span(39, 43, label="DATE"),  # 3/11
            doc.char_span(50, 62, label="CONTACT", kb_id="PHONE"),  # 617-555-0199
        ]
    )
    doc.spans["phi"] = phi
    lasix, rash = TEXT.index("Lasix"), TEXT.index("rash")
    doc.spans["concepts"] = [
        doc.char_span(lasix, lasix + 5, label="TREATMENT"),
        doc.char_span(rash, rash + 4, label="PROBLEM"),
    ]
    doc.cats = {"ADE": 1.0}
    doc.user_data["clintiny_source"] = {"doc_id": "7-2", "group": "7"}
    doc.user_data["clintiny_rels"] = ({"head": (lasix, lasix + 5), "tail": (rash, rash + 4), "label": "DRUG_AE"},)
    return nlp, Example(nlp.make_doc(doc.text), doc)


def test_variant_replaces_phi_and_moves_the_annotation(example):
    nlp, eg = example
    out = surrogate_variant(nlp, eg, SurrogateGenerator("k"), spans_key="phi", variant=0)
    old, new = eg.reference, out.reference
    assert out.predicted.text == new.text != old.text
    # every PHI span survives with its label and subtype, over new text
    assert [(s.label_, s.kb_id_) for s in new.spans["phi"]] == [(s.label_, s.kb_id_) for s in old.spans["phi"]]
    for before, after in zip(old.spans["phi"], new.spans["phi"]):
        assert after.text != before.text
    assert new.spans["phi"][3].text.count("-") == 2  # the phone keeps its layout
    assert new.spans["phi"].attrs == old.spans["phi"].attrs
    # what is not PHI is the same text, and the concepts and relation still point at it
    assert [s.text for s in new.spans["concepts"]] == ["Lasix", "rash"]
    (rel,) = new.user_data["clintiny_rels"]
    assert new.text[slice(*rel["head"])] == "Lasix" and new.text[slice(*rel["tail"])] == "rash"
    assert new.text.startswith("Seen by Dr. ") and new.text.endswith("Lasix 40 mg caused rash.")
    assert new.cats == old.cats and new.user_data["clintiny_source"] == old.user_data["clintiny_source"]
    # the input is not touched
    assert eg.reference.text == TEXT and len(eg.reference.spans["phi"]) == 4


def test_variants_are_fixed_texts(example):
    """The same variant of a note is the same text (a fixed encoder's cache can hold it); others differ."""
    nlp, eg = example
    texts = [
        surrogate_variant(nlp, eg, SurrogateGenerator("k"), spans_key="phi", variant=v).reference.text
        for v in (0, 0, 1)
    ]
    assert texts[0] == texts[1] != texts[2]


def test_docs_the_augmenter_cannot_change_are_served_as_they_are(example):
    nlp, eg = example
    generator = SurrogateGenerator("k")
    parsed = eg.reference.copy()
    parsed[6].is_sent_start = True  # token annotation cannot follow a change of text
    assert (
        surrogate_variant(nlp, Example(eg.predicted, parsed), generator, spans_key="phi", variant=0).reference is parsed
    )
    # labels outside the PHI categories are not replaced: nothing to change
    assert surrogate_variant(nlp, eg, generator, spans_key="concepts", variant=0) is eg
    augment = registry.augmenters.get("spacy-clintiny.PhiSurrogates.v1")(spans_key="nothing", probability=1.0)
    assert next(iter(augment(nlp, eg))) is eg  # no spans in that group


@pytest.mark.parametrize(
    "pos,end,expected",
    [(0, False, 0), (5, False, 5), (10, False, 10), (12, False, 10), (12, True, 13), (15, True, 13), (16, False, 14)],
)
def test_offsets_move_with_the_regions(pos, end, expected):
    # one region: old 10-15 became new 10-13 (two characters shorter)
    assert moved_offset(pos, [(10, 15, 10, 13)], end=end) == expected


def test_augmenter_rate_and_chain(example):
    nlp, eg = example
    augment = registry.augmenters.get("spacy-clintiny.PhiSurrogates.v1")(probability=0.5, variants=3)
    random.seed(0)
    texts = [next(iter(augment(nlp, eg))).reference.text for _ in range(300)]
    changed = [t for t in texts if t != TEXT]
    assert 100 < len(changed) < 200 and len(set(changed)) == 3
    upper = registry.augmenters.get("spacy-clintiny.CaseVariants.v1")(upper=1.0, lower=0.0)
    always = registry.augmenters.get("spacy-clintiny.PhiSurrogates.v1")(probability=1.0, variants=1)
    chain = registry.augmenters.get("spacy-clintiny.Chain.v1")(always, upper)
    (out,) = list(chain(nlp, eg))
    assert out.reference.text.isupper() or not any(c.islower() for c in out.reference.text)
    assert out.reference.text != TEXT.upper()
    assert [s.label_ for s in out.reference.spans["phi"]] == ["NAME", "LOCATION", "DATE", "CONTACT"]


@pytest.mark.parametrize("probability,variants", [(-0.1, 4), (1.5, 4), (0.5, 0), (0.5, 2.5)])
def test_bad_settings_are_refused(probability, variants):
    with pytest.raises(ValueError, match="E898"):
        registry.augmenters.get("spacy-clintiny.PhiSurrogates.v1")(probability=probability, variants=variants)


def test_augmenter_keeps_to_its_corpora(example):
    nlp, eg = example  # a doc of no named corpus: "clintiny_source" has no "corpus"
    only_physionet = registry.augmenters.get("spacy-clintiny.PhiSurrogates.v1")(probability=1.0, corpora=["physionet"])
    assert next(iter(only_physionet(nlp, eg))) is eg
    eg.reference.user_data["clintiny_source"]["corpus"] = "physionet"
    assert next(iter(only_physionet(nlp, eg))).reference.text != TEXT
