"""Propagation: a name or place found once is redacted wherever it recurs in the patient's notes,
and a place or a staff name in every later note of the run."""

import re

import pytest

from helpers import regex_phi_nlp
from spacy_clintiny.deid.engine import MAX_HELD_NOTES, Deidentifier
from spacy_clintiny.deid.propagate import propagated_mentions, propagation_words, remember, run_words
from spacy_clintiny.deid.types import NoteRecord, PhiMention

CUED = re.compile(r"(?<=Dr\. )[A-Z][a-z]+|(?<=went to )[A-Z][a-z]+ [A-Z][a-z]+")


@pytest.fixture
def nlp():
    """The surname after "Dr." (NAME), the two words after "went to" (LOCATION): a stand-in
    detector that never sees a name without its cue."""

    def label_of(text, match):
        return "NAME" if text[match.start() - 4 : match.start()] == "Dr. " else "LOCATION"

    return regex_phi_nlp("test_propagate_cued_phi", CUED, label_of)


def run(nlp, notes, **kwargs):
    records = [NoteRecord(f"n{i}", text, patient_id=patient) for i, (patient, text) in enumerate(notes)]
    return list(Deidentifier(nlp, **kwargs).run(records))


NOTES = [
    ("p1", "Seen by Dr. Quimbleton. Went well."),
    ("p1", "QUIMBLETON aware of k 3.1; quimbleton's plan: went to Harrowgate Heart."),
    ("p1", "Family drove home to harrowgate. Heart rate 80."),
    ("p2", "Quimbleton is a word this patient's notes never tie to PHI."),
]


def test_names_and_places_found_once_are_redacted_across_the_patients_notes(nlp):
    results = run(nlp, NOTES)
    assert [r.text for r in results] == [
        "Seen by Dr. [NAME]. Went well.",
        "[NAME] aware of k 3.1; [NAME]'s plan: went to [LOCATION].",
        "Family drove home to [LOCATION]. Heart rate 80.",  # "heart" is a common word: never propagated
        "Quimbleton is a word this patient's notes never tie to PHI.",  # another patient
    ]
    assert {m.source for m in results[1].mentions} == {"propagated", "rule:test"}
    assert [m.source for m in results[2].mentions] == ["propagated"]
    assert [m.label for m in results[2].mentions] == ["LOCATION"]


def test_scope_note_and_none(nlp):
    notes = [("p1", "Dr. Quimbleton came; QUIMBLETON aware."), ("p1", "quimbleton called.")]
    assert [r.text for r in run(nlp, notes, propagate="note")] == ["Dr. [NAME] came; [NAME] aware.", notes[1][1]]
    assert [r.text for r in run(nlp, notes, propagate="none")] == ["Dr. [NAME] came; QUIMBLETON aware.", notes[1][1]]
    assert [r.text for r in run(nlp, notes)] == ["Dr. [NAME] came; [NAME] aware.", "[NAME] called."]
    with pytest.raises(ValueError, match="E797"):
        Deidentifier(nlp, propagate="everywhere")


def test_scope_run_carries_places_to_later_patients_but_not_names(nlp):
    notes = [
        ("p1", "Dr. Quimbleton: went to Harrowgate Heart."),
        ("p2", "Back from harrowgate; quimbleton called."),
        (None, "HARROWGATE again."),
    ]
    assert [r.text for r in run(nlp, notes)] == [
        "Dr. [NAME]: went to [LOCATION].",
        "Back from [LOCATION]; quimbleton called.",  # the place follows; the name stays with p1
        "[LOCATION] again.",
    ]
    assert [r.text for r in run(nlp, notes, propagate="patient")][1:] == [text for _, text in notes[1:]]
    # the memory looks forward only: notes written before a place was found are not revisited
    later = [("p1", "harrowgate"), ("p2", "went to Harrowgate Heart.")]
    assert [r.text for r in run(nlp, later)] == ["harrowgate", "went to [LOCATION]."]


def test_run_memory_keeps_places_and_staff_names_and_is_bounded(monkeypatch):
    from spacy_clintiny.deid import propagate

    text = "Dr. Smythe saw Quimbleton at Harrowgate"
    mentions = [
        PhiMention(4, 10, "NAME", "rule:dr_name", 1.0, "DOCTOR"),
        PhiMention(15, 25, "NAME", "model", 0.9),
        PhiMention(29, 39, "LOCATION", "model", 0.4),
    ]
    memory = {}
    remember(run_words(text, mentions), memory)
    remember({"harrowgate": ("LOCATION", 0.8)}, memory)
    assert memory == {"smythe": ("NAME", 1.0), "harrowgate": ("LOCATION", 0.8)}  # not the patient's name
    monkeypatch.setattr(propagate, "MAX_RUN_WORDS", 3)
    remember({w: ("LOCATION", 0.5) for w in ("alpha", "beta", "gamma")}, memory)
    assert list(memory) == ["smythe", "harrowgate", "alpha"]


def test_only_consecutive_notes_of_a_patient_and_notes_without_one_stand_alone(nlp):
    notes = [
        NOTES[0],
        ("p9", "Other patient."),
        ("p1", "quimbleton called."),
        (None, "Dr. Quimbleton."),
        (None, "quimbleton"),
    ]
    texts = [r.text for r in run(nlp, notes)]
    assert texts == [
        "Seen by Dr. [NAME]. Went well.",
        "Other patient.",
        "quimbleton called.",
        "Dr. [NAME].",
        "quimbleton",
    ]


def test_output_order_and_failures_survive_holding_a_patients_notes(nlp):
    records = [NoteRecord(f"n{i}", text, patient_id="p1") for i, (_, text) in enumerate(NOTES[:2])]
    records.insert(1, NoteRecord("bad", b"not text", patient_id="p1"))
    results = list(Deidentifier(nlp, batch_size=1).run(records))
    assert [r.record.note_id for r in results] == ["n0", "bad", "n1"]
    assert results[1].text is None and "[E744]" in results[1].error
    assert results[2].text.startswith("[NAME] aware")


def test_a_long_run_of_one_patient_is_released_in_bounded_groups(nlp, monkeypatch):
    from spacy_clintiny.deid import engine

    monkeypatch.setattr(engine, "MAX_HELD_NOTES", 2)
    # groups [0, 1], [2, 3], [4]: a later group of the patient gets the words of the earlier ones
    # (forward only: "farquell" in note 2 is written before "Dr. Farquell" is found)
    notes = [("p1", "quimbleton"), ("p1", "Dr. Quimbleton"), ("p1", "quimbleton farquell")]
    notes += [("p1", "x"), ("p1", "Dr. Farquell"), ("p2", "quimbleton")]
    assert [r.text for r in run(nlp, notes, propagate="patient")] == [
        "[NAME]", "Dr. [NAME]", "[NAME] farquell", "x", "Dr. [NAME]", "quimbleton"
    ]  # fmt: skip
    assert MAX_HELD_NOTES == 1000


def test_word_choice():
    text = "Dr. Al Quimbleton-Smythe at St. Heart 3B"
    mentions = [PhiMention(4, 25, "NAME", "model", 0.7), PhiMention(29, 41, "LOCATION", "model", 0.9)]
    words = propagation_words(text, mentions)
    # "Al" is too short; "St", "Heart" are common words; "3B" has no letters to keep
    assert words == {"quimbleton": ("NAME", 0.7), "smythe": ("NAME", 0.7)}
    found = propagated_mentions("SMYTHE, quimbletons, Quimbleton2 and xquimbleton", words)
    assert [(m.start, m.end, m.label, m.source, m.score) for m in found] == [
        (0, 6, "NAME", "propagated", 0.7),
        (21, 31, "NAME", "propagated", 0.7),  # followed by a digit: still a whole word
    ]
    assert propagated_mentions("", words) == [] and propagated_mentions("text", {}) == []
    later = propagation_words("to Quimbleton", [PhiMention(3, 13, "LOCATION", "model", 0.9)], words)
    assert later is words and words["quimbleton"] == ("LOCATION", 0.9)  # the highest-scoring mention's
    # the same mentions in the other order (Spark sorts a patient's notes by id): the same words
    reverse = propagation_words("to Quimbleton", [PhiMention(3, 13, "LOCATION", "model", 0.9)])
    propagation_words(text, mentions, reverse)
    assert reverse == words
    tie = propagation_words("to Quimbleton", [PhiMention(3, 13, "LOCATION", "rule:x", 1.0)])
    propagation_words("Dr. Quimbleton", [PhiMention(4, 14, "NAME", "rule:y", 1.0)], tie)
    assert tie["quimbleton"] == ("NAME", 1.0)  # a tie: NAME, whichever came first
