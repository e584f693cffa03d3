"""clintiny_context gives exactly medspaCy ConText's modifiers, scopes, edges and attributes
(components/context_graph.py), comparing modifiers and targets only when their token ranges
can overlap: its comparisons grow with the note, not with its square."""

import itertools

import pytest
import spacy
from medspacy.context import ConText, ConTextModifier
from spacy.language import Language
from spacy.tokens import Doc, Span

from helpers import require_shared_data

WORDS = {"pneumonia", "fever", "pain", "diabetes", "hypertension", "rash", "cough", "edema", "cancer", "cad"}
NOTES = [
    "Past Medical History: hypertension, diabetes.\nPatient denies chest pain, fever or cough.\n"
    "Family history: mother had cancer. No evidence of pneumonia, but there is edema.",
    "No rash. Possible pneumonia versus edema. Rule out CAD. History of fever; no fever today.\n"
    "Not only pain but also cough. Mother denies rash. If he develops fever, return to clinic.",
    "Pt without fever or chills or cough or rash or pain or edema or pneumonia or diabetes.",
    "no no no fever fever . denies denies pain . . family history of diabetes and cancer and CAD",
    "",
]
ATTRS = ("is_negated", "is_uncertain", "is_historical", "is_hypothetical", "is_family")


@Language.component("test_context_targets")
def context_targets(doc: Doc) -> Doc:
    """Known problem words become PROBLEM entities, and also go (with overlapping two-word
    spans) into the span group medspaCy reads with input_span_type = "group"."""
    ents = [Span(doc, t.i, t.i + 1, label="PROBLEM") for t in doc if t.lower_ in WORDS]
    doc.ents = ents
    doc.spans["medspacy_spans"] = ents + [Span(doc, e.start, min(e.end + 1, len(doc)), label="PROBLEM") for e in ents]
    return doc


def pipeline(**context_config):
    nlp = spacy.blank("en")
    nlp.add_pipe("test_context_targets")
    nlp.add_pipe("clintiny_sentences")
    nlp.add_pipe("clintiny_context", config=context_config)
    return nlp


def view(doc: Doc, group: bool = False):
    """Everything ConText writes: per target its attributes and modifiers, the graph's
    modifiers with their final scopes, and its edges."""
    targets = list(doc.spans["medspacy_spans"]) if group else list(doc.ents)
    graph = doc._.context_graph
    return {
        "targets": [(t.start, t.end, tuple(getattr(t._, a) for a in ATTRS), _mods(t._.modifiers)) for t in targets],
        "modifiers": [(m.modifier_span, m.scope_span, m.category) for m in graph.modifiers],
        "edges": [((t.start, t.end), m.modifier_span, m.category) for t, m in graph.edges],
    }


def _mods(modifiers):
    return tuple((m.modifier_span, m.category) for m in modifiers)


def run_both(nlp, text: str):
    """(clintiny_context's doc, medspaCy ConText.__call__'s doc) on the same input."""
    context = nlp.get_pipe("clintiny_context")
    with nlp.select_pipes(disable=["clintiny_context"]):
        fast, ref = nlp(text), nlp(text)
    return context(fast), ConText.__call__(context, ref)


CONFIGS = [
    {},
    {"prune_on_target_overlap": True},
    {"max_scope": 3},
    {"max_targets": 1},
    {"input_span_type": "group"},
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: ",".join(c) or "default")
def test_same_results_as_medspacy(config):
    nlp = pipeline(**config)
    group = config.get("input_span_type") == "group"
    n_edges = 0
    for text in NOTES:
        fast, ref = run_both(nlp, text)
        assert view(fast, group) == view(ref, group)
        n_edges += len(fast._.context_graph.edges)
    assert n_edges > 5


def test_comparisons_grow_linearly_on_a_long_note(monkeypatch):
    """A note of 80 repeated paragraphs: same results as medspaCy, and the modifier/modifier
    and modifier/target comparisons stay a small multiple of the counts (all pairs: 10^4+)."""
    calls = {"limit_scope": 0, "modifies": 0}
    for name in calls:
        original = getattr(ConTextModifier, name)

        def counted(self, other, _original=original, _name=name):
            calls[_name] += 1
            return _original(self, other)

        monkeypatch.setattr(ConTextModifier, name, counted)
    nlp = pipeline()
    text = " ".join(NOTES[:2] * 40)
    fast, ref = run_both(nlp, text)
    assert view(fast) == view(ref)
    n_modifiers, n_targets = len(fast._.context_graph.modifiers), len(fast.ents)
    assert n_modifiers > 200 and n_targets > 400
    with nlp.select_pipes(disable=["clintiny_context"]):
        doc = nlp(text)
    calls.update(limit_scope=0, modifies=0)
    nlp.get_pipe("clintiny_context")(doc)
    assert 0 < calls["limit_scope"] < 20 * n_modifiers
    assert 0 < calls["modifies"] < 5 * (n_modifiers + n_targets)


def test_real_notes_same_results_as_medspacy():
    """MTSamples reports, with every known problem word as a target."""
    from spacy_clintiny.converters.mtsamples import iter_mtsamples

    nlp = pipeline()
    texts = [d.text for d in itertools.islice(iter_mtsamples(require_shared_data("mtsamples")), 6)]
    n_edges = 0
    for text in texts:
        fast, ref = run_both(nlp, text)
        assert view(fast) == view(ref)
        n_edges += len(fast._.context_graph.edges)
    assert n_edges > 0
