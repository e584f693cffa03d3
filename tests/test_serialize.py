"""A trained pipeline (encoder + two clintiny_ner heads + medspaCy sentences, sectionizer and
ConText) saved with ``nlp.to_disk`` and loaded with ``spacy.load`` in a FRESH interpreter
(no prior import of spacy_clintiny) gives identical predictions."""

import json
import os
import subprocess
import sys

import pytest
import spacy

from helpers import add_tiny_encoder, fit, span_examples
from spacy_clintiny.components.rules import add_clinical_rules

PHI = [
    ("John Smith was seen at Boston clinic.", [(0, 10, "NAME"), (23, 29, "LOCATION")]),
    ("Mary Jones reports chest pain.", [(0, 10, "NAME")]),
]
CONCEPTS = [
    ("Patient denies chest pain and fever.", [(15, 25, "PROBLEM"), (30, 35, "PROBLEM")]),
    ("Started aspirin for chest pain.", [(8, 15, "TREATMENT"), (20, 30, "PROBLEM")]),
    ("Family history: mother had diabetes.", [(27, 35, "PROBLEM")]),
]
NOTES = [
    "Past Medical History: diabetes.\nJohn Smith denies chest pain and fever.\nFamily history: mother had diabetes.",
    "Mary Jones was seen at Boston clinic. Started aspirin for chest pain.",
    "",
]

# Runs in a fresh interpreter: only spacy is imported; spacy_clintiny (and through it the
# medspaCy factories) must come in through the entry points.
LOAD_SCRIPT = """
import json, sys
import spacy
assert "spacy_clintiny" not in sys.modules
nlp = spacy.load(sys.argv[1])
notes = json.loads(sys.stdin.read())
print(json.dumps({"pipe_names": nlp.pipe_names, "docs": [DESCRIBE(doc) for doc in nlp.pipe(notes)]}))
"""


def describe(doc):
    """Everything the pipeline predicts, as plain data."""
    return {
        "spans": {
            key: [[s.start_char, s.end_char, s.label_] for s in group] for key, group in sorted(doc.spans.items())
        },
        "scores": {key: list(group.attrs.get("scores", [])) for key, group in sorted(doc.spans.items())},
        "ents": [
            [
                e.start_char,
                e.end_char,
                e.label_,
                e._.is_negated,
                e._.is_family,
                e._.is_historical,
                e._.is_hypothetical,
                e._.is_uncertain,
            ]
            for e in doc.ents
        ],
        "sents": [s.start_char for s in doc.sents] if len(doc) else [],
        "sections": [s.category for s in doc._.sections],
    }


@pytest.fixture(scope="module")
def trained(tiny_encoder):
    spacy.util.fix_random_seed(0)
    nlp = spacy.blank("en")
    add_tiny_encoder(nlp, tiny_encoder)
    nlp.add_pipe("clintiny_ner", name="ner_phi", config={"spans_key": "phi"})
    nlp.add_pipe("clintiny_ner", name="ner_concepts", config={"spans_key": "concepts", "write_ents": True})
    fit(nlp, span_examples(nlp, PHI, "phi") + span_examples(nlp, CONCEPTS, "concepts"))
    add_clinical_rules(nlp)
    return nlp


def test_round_trip_in_a_fresh_process(trained, tmp_path):
    import inspect

    expected = [describe(doc) for doc in trained.pipe(NOTES)]
    assert any(e["ents"] for e in expected), "the trained pipeline should predict something"
    assert any(ent[3] for e in expected for ent in e["ents"]), "ConText should negate something"
    trained.to_disk(tmp_path / "pipeline")
    script = LOAD_SCRIPT.replace("DESCRIBE", "describe")
    script = inspect.getsource(describe) + script
    env = dict(
        os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="1"
    )
    result = subprocess.run(
        [sys.executable, "-W", "ignore::FutureWarning", "-c", script, str(tmp_path / "pipeline")],
        input=json.dumps(NOTES),
        capture_output=True,
        text=True,
        env=env,
        cwd=str(tmp_path),
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded["pipe_names"] == trained.pipe_names
    assert len(loaded["docs"]) == len(expected) == len(NOTES)
    for got, want in zip(loaded["docs"], expected):
        assert got["spans"] == want["spans"]
        assert got["ents"] == want["ents"]
        assert got["sents"] == want["sents"]
        assert got["sections"] == want["sections"]
        for key in want["scores"]:
            assert got["scores"][key] == pytest.approx(want["scores"][key], rel=1e-5, abs=1e-6)
    # PyRuSH's loguru DEBUG lines (which contain note text) must not reach stderr
    assert "DEBUG" not in result.stderr


def test_round_trip_in_process_and_bytes(trained, tmp_path):
    expected = [describe(doc) for doc in trained.pipe(NOTES)]
    # non-empty on both heads, or the comparisons below would pass with nothing to compare
    assert any(e["spans"].get("phi") for e in expected) and any(e["spans"].get("concepts") for e in expected)
    trained.to_disk(tmp_path / "pipeline")
    loaded = spacy.load(tmp_path / "pipeline")
    assert [describe(doc) for doc in loaded.pipe(NOTES)] == expected
    from_bytes = spacy.blank("en").from_config(trained.config).from_bytes(trained.to_bytes())
    got = [describe(doc) for doc in from_bytes.pipe(NOTES)]
    assert [g["spans"] for g in got] == [e["spans"] for e in expected]
    assert [g["ents"] for g in got] == [e["ents"] for e in expected]
