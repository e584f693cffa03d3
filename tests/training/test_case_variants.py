"""spacy-clintiny.CaseVariants.v1: case variants keep every piece of annotation in place."""

import random

import pytest
import spacy
from spacy.tokens import DocBin, Span, SpanGroup
from spacy.training import Example

from spacy_clintiny.augmenters import case_variant
from spacy_clintiny.registry import registry


@pytest.fixture
def example():
    nlp = spacy.blank("en")
    doc = nlp("Seen by Dr. Smith at St. Agnes on 3/11, daughter Straße called.")
    group = SpanGroup(doc, name="phi", attrs={"annotated_labels": ["NAME", "LOCATION"]})
    group.extend([Span(doc, 3, 4, label="NAME", kb_id="DOCTOR"), Span(doc, 5, 7, label="LOCATION")])
    doc.spans["phi"] = group
    doc.set_ents([Span(doc, 8, 9, label="DATE")], default="outside")
    doc[0].is_sent_start = True
    doc.cats = {"NURSING": 1.0}
    doc.user_data["clintiny_source"] = {"doc_id": "7-2"}
    return nlp, Example(nlp.make_doc(doc.text), doc)


@pytest.mark.parametrize("transform", [str.upper, str.lower])
def test_variant_keeps_the_annotation(example, transform):
    nlp, eg = example
    ref = case_variant(nlp, eg, transform).reference
    old = eg.reference
    same_length = [transform(t.text) if len(transform(t.text)) == len(t.text) else t.text for t in old]
    assert [t.text for t in ref] == same_length
    assert ref.text != old.text and len(ref.text) == len(old.text)
    assert [(s.start_char, s.end_char, s.label_, s.kb_id_) for s in ref.spans["phi"]] == [
        (s.start_char, s.end_char, s.label_, s.kb_id_) for s in old.spans["phi"]
    ]
    assert [s.text for s in ref.spans["phi"]] == [transform(s.text) for s in old.spans["phi"]]
    assert ref.spans["phi"].attrs == old.spans["phi"].attrs
    assert ref.spans["phi"].attrs is not old.spans["phi"].attrs
    assert [(e.start, e.end, e.label_) for e in ref.ents] == [(8, 9, "DATE")]
    assert [t.ent_iob_ for t in ref] == [t.ent_iob_ for t in old]  # outside stays outside
    assert ref[0].is_sent_start
    assert ref.cats == old.cats and ref.user_data == old.user_data


def test_length_changing_token_keeps_its_text(example):
    nlp, eg = example
    ref = case_variant(nlp, eg, str.upper).reference
    assert "Straße" in ref.text  # "STRASSE" would shift every later offset


def test_augmenter_draws_variants_at_its_rates(example):
    nlp, eg = example
    augment = registry.augmenters.get("spacy-clintiny.CaseVariants.v1")(upper=0.3, lower=0.2)
    random.seed(0)
    seen = {"upper": 0, "lower": 0, "same": 0}
    for _ in range(2000):
        (out,) = list(augment(nlp, eg))
        text = out.reference.text
        seen["same" if text == eg.reference.text else "upper" if text.startswith("SEEN") else "lower"] += 1
    assert 500 < seen["upper"] < 700 and 300 < seen["lower"] < 500
    none = registry.augmenters.get("spacy-clintiny.CaseVariants.v1")(upper=0.0, lower=0.0)
    assert all(next(iter(none(nlp, eg))) is eg for _ in range(20))


@pytest.mark.parametrize("upper,lower", [(-0.1, 0.0), (0.0, 1.5), (0.6, 0.6)])
def test_bad_probabilities_are_refused(upper, lower):
    with pytest.raises(ValueError, match="E893"):
        registry.augmenters.get("spacy-clintiny.CaseVariants.v1")(upper=upper, lower=lower)


def test_mixed_corpus_applies_the_augmenter_to_training_draws_only(example, tmp_path):
    nlp, eg = example
    DocBin(docs=[eg.reference], store_user_data=True).to_disk(tmp_path / "one.spacy")
    augment = registry.augmenters.get("spacy-clintiny.CaseVariants.v1")(upper=1.0, lower=0.0)
    build = registry.readers.get("spacy-clintiny.MixedCorpus.v1")
    paths = {"one": str(tmp_path / "one.spacy")}
    drawn = list(build(paths, epoch_size=5, augmenter=augment)(nlp))
    assert len(drawn) == 5 and all(d.reference.text.startswith("SEEN BY DR. SMITH") for d in drawn)
    assert all(d.predicted.text == d.reference.text for d in drawn)
    fixed = list(build(paths, sample=False, augmenter=augment)(nlp))
    assert [d.reference.text for d in fixed] == [eg.reference.text]
