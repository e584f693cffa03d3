"""Custom mode: the user's function replaces each PHI span (Presidio's "custom" operator), but a
value that still shows the original is never written, a function that fails fails its note (by
id, without its text) and not the run, and the function is found by name on the command line,
in a saved component and on Spark executors."""

import json
import os
import subprocess
import sys

import pytest
import spacy
from typer.testing import CliRunner

from helpers import rule_mentions
from spacy_clintiny.cli import app
from spacy_clintiny.deid.custom import CustomOperator, keeps_original, load_custom_operator
from spacy_clintiny.deid.engine import Deidentifier, load_deid_pipeline
from spacy_clintiny.deid.operators import apply_operator, mode_operator
from spacy_clintiny.deid.types import NoteRecord

TEXT = "Seen by Dr. Smith, 3/14/2021; wife Mary SMITH called."
OPS = '''
SEEN = {}


def initials(text, *, label, subtype=None, patient_id=None):
    """A person's initials, a category tag for the rest; numbered per patient."""
    if label != "NAME":
        return f"<{label}>"
    key = (patient_id, text.lower())
    SEEN.setdefault(key, len([k for k in SEEN if k[0] == patient_id]) + 1)
    return "".join(w[0] for w in text.split()) + f"#{SEEN[key]}"


def echo(text, **kwargs):
    return text.upper()


def number(text, **kwargs):
    return 42


def explode(text, **kwargs):
    raise KeyError(text)


def leave(text, **kwargs):
    raise SystemExit(text)
'''


@pytest.fixture
def ops_file(tmp_path):
    path = tmp_path / "my_ops.py"
    path.write_text(OPS)
    return path


MENTIONS = rule_mentions(TEXT, [("Smith,", "NAME"), ("3/14/2021", "DATE"), ("Mary SMITH", "NAME")])


def test_the_function_replaces_each_span_with_offsets_and_punctuation_kept(ops_file):
    op = mode_operator("custom", None, f"{ops_file}:initials")
    out, reps = apply_operator(TEXT, MENTIONS, mode="custom", patient_id="p1", generator=op)
    assert out == "Seen by Dr. S#1, <DATE>; wife MS#2 called."
    assert [r.operator for r in reps] == ["custom"] * 3
    for rep in reps:
        assert out[rep.out_start : rep.out_end] == rep.new_text
    # a callable works as well as a name; the same function keeps its own per-patient memory
    again, _ = apply_operator(TEXT, MENTIONS, mode="custom", patient_id="p1", generator=op)
    assert again == out


def test_a_value_that_shows_the_original_is_redacted_instead(ops_file):
    op = load_custom_operator(f"{ops_file}:echo")
    out, reps = apply_operator(TEXT, MENTIONS, mode="custom", generator=op)
    assert out == "Seen by Dr. [NAME] [DATE]; wife [NAME] called."  # as redact mode writes it
    assert {r.operator for r in reps} == {"redact_fallback"}
    assert keeps_original("Li", "Dr. LI") and not keeps_original("J", "James")
    assert keeps_original("J", " j ") and not keeps_original("Smith", "S.")
    # whitespace, accents and apostrophe forms do not hide the original, nor does keeping one
    # of its words (as surrogate mode refuses)
    assert keeps_original("John\nSmith", "John Smith") and keeps_original("John  Smith", "JOHN SMITH")
    assert keeps_original("José García", "Jose Garcia") and keeps_original("O\u2019Brien", "O'Brien")
    assert keeps_original("John Smith", "Mr. Smith") and not keeps_original("John Smith", "[PERSON-1]")


def test_a_failing_function_fails_its_note_only_and_says_no_text(ops_file):
    nlp = load_deid_pipeline("rules")
    records = [NoteRecord("a", "Dr. Quimbleton called 617-555-0199."), NoteRecord("b", "No PHI here.")]
    for func, code in (("number", "E739"), ("explode", "KeyError"), ("leave", "RuntimeError")):
        engine = Deidentifier(nlp, mode="custom", generator=mode_operator("custom", None, f"{ops_file}:{func}"))
        first, second = engine.run(records)
        assert first.text is None and code in first.error and "Quimbleton" not in first.error
        assert "617" not in first.error
        assert second.error is None and second.text == "No PHI here."


def test_custom_mode_needs_a_function_and_only_custom_mode_takes_one(ops_file, tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("raise ValueError('a module that fails on import')\n")
    with pytest.raises(ValueError, match="E738"):
        mode_operator("custom")
    with pytest.raises(ValueError, match="E738"):
        Deidentifier(load_deid_pipeline("rules"), mode="custom")
    with pytest.raises(ValueError, match="E738"):
        CustomOperator("not a function")
    with pytest.raises(ValueError, match="E764.*'redact'"):
        mode_operator("redact", None, f"{ops_file}:initials")
    with pytest.raises(ValueError, match="E721"):
        apply_operator(TEXT, MENTIONS, mode="hash", generator=load_custom_operator(f"{ops_file}:initials"))
    for spec, why in (
        ("initials", "not MODULE:FUNCTION"),
        (f"{tmp_path / 'none.py'}:f", "no file"),
        ("os.path:no_such_function", "no attribute"),
        ("os.path:sep", "not a function"),
        ("no_such_module_xyz:f", "ModuleNotFoundError"),
        (f"{broken}:f", "importing it raised ValueError"),
    ):
        with pytest.raises(ValueError, match=f"E734.*{why}"):
            load_custom_operator(spec)
    assert load_custom_operator("os.path:basename").func is os.path.basename


def run(*args):
    result = CliRunner().invoke(app, [*map(str, args)])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def test_cli_custom_mode_end_to_end(ops_file, tmp_path):
    notes = [
        {"id": "a", "patient": "p1", "text": "Dr. Quimbleton called 617-555-0199 on 3/14/2021."},
        {"id": "b", "patient": "p1", "text": "Dr. Quimbleton aware."},
    ]
    source = tmp_path / "notes.jsonl"
    source.write_text("".join(json.dumps(n) + "\n" for n in notes))
    out = tmp_path / "out.jsonl"
    common = ["--model", "rules", "--no-progress", "--id-col", "id", "--patient-col", "patient"]
    result = run("deid", source, out, "--mode", "custom", "--custom", f"{ops_file}:initials", *common)
    assert result.exit_code == 0, result.stderr
    texts = [json.loads(line)["text"] for line in out.read_text().splitlines()]
    assert texts == ["Dr. Q#1 called <CONTACT> on <DATE>.", "Dr. Q#1 aware."]
    audit = (tmp_path / "out.jsonl.audit.jsonl").read_text()
    assert '"custom"' in audit and "Quimbleton" not in audit
    for args, code in (
        (["--mode", "custom"], "E738"),
        (["--mode", "redact", "--custom", f"{ops_file}:initials"], "E764"),
        (["--mode", "custom", "--custom", "my_ops:initials"], "E734"),
    ):
        result = run("deid", source, tmp_path / "bad.jsonl", *args, *common)
        assert result.exit_code == 1 and code in result.stderr
        assert not (tmp_path / "bad.jsonl").exists()


def test_the_component_names_its_function_in_the_config_and_reloads(ops_file, tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("clintiny_deid", config={"mode": "custom", "custom": f"{ops_file}:initials"})
    doc = nlp.make_doc("Dr. Quimbleton called 617-555-0199.")
    doc._.deid_patient = "p9"
    assert nlp(doc)._.deid_text == "Dr. Q#1 called <CONTACT>."
    with pytest.raises(ValueError, match="E738"):
        spacy.blank("en").add_pipe("clintiny_deid", config={"mode": "custom"})
    nlp.to_disk(tmp_path / "deid")
    code = "import spacy, sys; nlp = spacy.load(sys.argv[1]); print(nlp(sys.argv[2])._.deid_text)"
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "deid"), "Dr. Quimbleton called."],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.rstrip("\n") == "Dr. Q#1 called."


def test_the_shipped_example_numbers_each_patients_originals():
    from helpers import ROOT

    op = load_custom_operator(f"{ROOT / 'bench' / 'deid_custom_ops.py'}:numbered")
    text = "Dr. Smith saw Mary Jones; SMITH called Jones."
    mentions = rule_mentions(text, [("Smith", "NAME"), ("Mary Jones", "NAME"), ("SMITH", "NAME"), ("Jones", "NAME")])
    out, _ = apply_operator(text, mentions, mode="custom", patient_id="p1", generator=op)
    assert out == "Dr. <NAME-1> saw <NAME-2>; <NAME-1> called <NAME-3>."
    other, _ = apply_operator(text, mentions[:1], mode="custom", patient_id="p2", generator=op)
    assert other == "Dr. <NAME-1> saw Mary Jones; SMITH called Jones."
