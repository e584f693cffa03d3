"""medspaCy after the heads: PyRuSH sentences, sectionizer and ConText act on the entities
written by clintiny_ner, keep the pipeline's tokenizer, stay quiet, and keep their rules
through to_disk / spacy.load."""

import pytest
import spacy
from medspacy.context import ConTextRule
from spacy.language import Language
from spacy.tokens import Span

from helpers import add_tiny_encoder, fit, span_examples
from spacy_clintiny.components.rules import add_clinical_rules

NOTE = (
    "Past Medical History: hypertension.\n"
    "Patient denies chest pain and fever.\n"
    "Family history: mother had diabetes.\n"
    "Return if he develops rash."
)
CONCEPTS = [
    ("Patient denies chest pain and fever.", [(15, 25, "PROBLEM"), (30, 35, "PROBLEM")]),
    ("Mother had diabetes and hypertension.", [(11, 19, "PROBLEM"), (24, 36, "PROBLEM")]),
    ("He has a rash and chest pain.", [(9, 13, "PROBLEM"), (18, 28, "PROBLEM")]),
    ("Started aspirin for fever.", [(8, 15, "TREATMENT"), (20, 25, "PROBLEM")]),
]


@Language.component("test_problem_ents")
def problem_ents(doc):
    """Rule stand-in for a trained head: every known problem word becomes an entity."""
    words = {"hypertension", "chest", "pain", "fever", "diabetes", "rash"}
    spans = []
    i = 0
    while i < len(doc):
        if doc[i].lower_ in words:
            end = i + 2 if doc[i].lower_ == "chest" else i + 1
            spans.append(Span(doc, i, end, label="PROBLEM"))
            i = end
        else:
            i += 1
    doc.ents = spans
    return doc


def rule_pipeline():
    nlp = spacy.blank("en")
    nlp.add_pipe("test_problem_ents")
    add_clinical_rules(nlp)
    return nlp


def attrs(doc):
    return {e.text: (e._.is_negated, e._.is_family, e._.is_historical, e._.is_hypothetical) for e in doc.ents}


def test_context_acts_on_ents_from_clintiny_ner(tiny_encoder):
    spacy.util.fix_random_seed(0)
    nlp = spacy.blank("en")
    add_tiny_encoder(nlp, tiny_encoder)
    nlp.add_pipe("clintiny_ner", name="ner_concepts", config={"spans_key": "concepts", "write_ents": True})
    fit(nlp, span_examples(nlp, CONCEPTS, "concepts"))
    add_clinical_rules(nlp)
    assert nlp.pipe_names == [
        "clintiny_encoder",
        "ner_concepts",
        "clintiny_sentences",
        "clintiny_sectionizer",
        "clintiny_context",
    ]
    doc = nlp("Patient denies chest pain and fever.\nFamily history: mother had diabetes.")
    found = attrs(doc)
    assert found["chest pain"][0] and found["fever"][0]  # negated
    assert found["diabetes"][1] and not found["diabetes"][0]  # family, not negated
    assert [e.text for e in doc.ents] == [s.text for s in doc.spans["concepts"]]


def test_context_and_sections_on_a_note():
    doc = rule_pipeline()(NOTE)
    found = attrs(doc)
    assert found["hypertension"][2]  # past medical history section -> historical
    assert found["chest pain"][0] and found["fever"][0]
    assert found["diabetes"][1]
    assert found["rash"][3]  # "return if" -> hypothetical
    categories = [s.category for s in doc._.sections]
    assert categories[0] == "past_medical_history" and "family_history" in categories
    assert len([s for s in doc.sents if s.text.strip()]) == 4


def test_tokenizer_is_kept_and_medspacy_factories_are_registered():
    nlp = spacy.blank("en")
    tokenizer = nlp.tokenizer
    add_clinical_rules(nlp)
    assert nlp.tokenizer is tokenizer
    for name in ("medspacy_context", "medspacy_sectionizer", "medspacy_pyrush"):
        assert Language.has_factory(name)


def test_sentences_are_quiet(capfd):
    nlp = spacy.blank("en")
    nlp.add_pipe("clintiny_sentences")
    doc = nlp("John Smith denies pain.\nHe was seen today.")
    out, err = capfd.readouterr()
    assert "DEBUG" not in err and "John" not in err and "John" not in out
    assert [s.text for s in doc.sents if s.text.strip()] == ["John Smith denies pain.", "He was seen today."]
    assert list(nlp.pipe(["", " ", "\n\n"])) and len(nlp("")) == 0


def test_rules_survive_disk_round_trip(tmp_path):
    nlp = rule_pipeline()
    context = nlp.get_pipe("clintiny_context")
    n_default = len(context.rules)
    text = "Patient xyzzy diabetes."  # an invented cue, absent from the default rules
    assert not attrs(nlp(text))["diabetes"][0]
    context.add([ConTextRule("xyzzy", "NEGATED_EXISTENCE", direction="FORWARD")])
    assert attrs(nlp(text))["diabetes"][0]
    nlp.to_disk(tmp_path / "pipe")
    assert (tmp_path / "pipe" / "clintiny_context" / "rules.json").exists()
    assert (tmp_path / "pipe" / "clintiny_sectionizer" / "rules.json").exists()
    assert (tmp_path / "pipe" / "clintiny_sentences" / "rush_rules.tsv").exists()
    loaded = spacy.load(tmp_path / "pipe")
    assert len(loaded.get_pipe("clintiny_context").rules) == n_default + 1
    assert len(loaded.get_pipe("clintiny_sectionizer").rules) == len(nlp.get_pipe("clintiny_sectionizer").rules)
    assert attrs(loaded(text))["diabetes"][0]
    assert attrs(loaded(NOTE)) == attrs(nlp(NOTE))


def test_rule_file_is_copied_into_the_pipeline(tmp_path):
    rules = tmp_path / "my_rules.json"
    ConTextRule.to_json([ConTextRule("free of", "NEGATED_EXISTENCE", direction="FORWARD")], str(rules))
    nlp = spacy.blank("en")
    nlp.add_pipe("test_problem_ents")
    nlp.add_pipe("clintiny_sentences")
    nlp.add_pipe("clintiny_context", config={"rules": str(rules)})
    nlp.to_disk(tmp_path / "pipe")
    rules.unlink()  # the saved pipeline must not need the original file
    loaded = spacy.load(tmp_path / "pipe")
    found = attrs(loaded("Patient is free of fever. Patient denies rash."))
    assert found["fever"][0] and not found["rash"][0]  # only the custom rule is loaded


def test_missing_rule_file_is_a_clear_error(tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("clintiny_sentences")
    nlp.add_pipe("clintiny_context", config={"rules": str(tmp_path / "no_such.json")})
    with pytest.raises(ValueError, match="E106.*no_such.json"):
        nlp.initialize()
    with pytest.raises(ValueError, match="E106.*no_such.json"):
        nlp("Patient denies pain.")


def test_sentence_port_matches_pyrush():
    """clintiny_sentences maps RuSH spans to tokens with a port of PyRuSH's
    cpredict_split_gaps (minus its per-token logging): same sentence starts."""
    from loguru import logger
    from PyRuSH.StaticSentencizerFun import cpredict_split_gaps

    from spacy_clintiny.components.sentences import split_gaps_starts

    nlp = spacy.blank("en")
    sentences = nlp.add_pipe("clintiny_sentences")
    texts = [
        NOTE,
        "A.  B\n\nC. d e f.\r\n\r\n  G",
        "  leading space. Then more\n",
        "x",
        "Dr. Smith saw pt. at 5 p.m. today.",
        "Jose\u0301 \u0301 denies\x07 pain 😷.\r\nPlan:\n\n\n- aspirin\n- rest",
    ]
    logger.disable(__name__)  # PyRuSH's cython function logs every token under the caller's name
    try:
        for max_len in (None, 12):
            for text in texts:
                doc = nlp.make_doc(text)
                expected = [bool(x) for x in cpredict_split_gaps([doc], sentences.rush.segToSentenceSpans, max_len)[0]]
                assert split_gaps_starts(doc, sentences.rush.segToSentenceSpans(text), max_len) == expected
    finally:
        logger.enable(__name__)
