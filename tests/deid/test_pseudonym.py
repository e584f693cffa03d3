"""Hash, encrypt and remove modes: keyed codes consistent across notes, patients and runs;
encryption that only its key reverses, exactly; and ``clintiny deid-decrypt`` giving the key
holder the original notes back from a JSONL and a CSV written by ``clintiny deid``."""

import csv
import io
import json

import pytest
from typer.testing import CliRunner

from helpers import rule_mentions
from spacy_clintiny.cli import app
from spacy_clintiny.deid.decrypt import decrypt_document
from spacy_clintiny.deid.operators import apply_operator, mode_operator
from spacy_clintiny.deid.pseudonym import ENCRYPTED_SPAN, Pseudonymizer, decrypt_text
from spacy_clintiny.deid.surrogate import SurrogateGenerator
from spacy_clintiny.deid.types import PhiMention

KEY = "a secret of more than sixteen characters"
OTHER_KEY = "another secret, also long enough"
TEXT = "Seen by Dr. Smith, 3/14/2021; wife Mary SMITH called 617-555-0199.\nSMITH aware."
SPANS = [
    ("Smith,", "NAME"),
    ("3/14/2021", "DATE"),
    ("Mary SMITH", "NAME"),
    ("617-555-0199", "CONTACT"),
    ("SMITH", "NAME"),
]
MENTIONS = rule_mentions(TEXT, SPANS)


def test_hash_codes_are_keyed_consistent_and_case_blind():
    one, again, other = Pseudonymizer(KEY), Pseudonymizer(KEY), Pseudonymizer(OTHER_KEY)
    code = one.code("Mary Smith", label="NAME")
    assert len(code) == 12 and int(code, 16) >= 0
    # same key: the same code in another object (another process or run), any case or spacing
    assert again.code("MARY  smith", label="NAME") == code
    assert other.code("Mary Smith", label="NAME") != code
    assert one.code("Mary Smith", label="LOCATION") != code
    assert one.code("Mary Smyth", label="NAME") != code
    # a random key: consistent within the object only
    unkeyed = Pseudonymizer()
    assert unkeyed.code("Smith", label="NAME") == unkeyed.code("SMITH", label="NAME")
    assert unkeyed.code("Smith", label="NAME") != Pseudonymizer().code("Smith", label="NAME")
    assert KEY not in repr(one)


def test_hash_mode_replaces_spans_and_keeps_punctuation_outside():
    generator = mode_operator("hash", KEY)
    output, reps = apply_operator(TEXT, MENTIONS, mode="hash", patient_id="p1", generator=generator)
    smith = generator.hashed("Smith", label="NAME")
    assert output.startswith(f"Seen by Dr. {smith}, [DATE-")
    assert output.endswith(f"\n{smith} aware.")
    assert [r.operator for r in reps] == ["hash"] * 5
    for phrase, _ in SPANS:
        assert phrase.strip(",") not in output
    for r in reps:
        assert output[r.out_start : r.out_end] == r.new_text
    # another patient's note: the same name gets the same code (codes link across patients)
    other, _ = apply_operator(
        "SMITH", [PhiMention(0, 5, "NAME", "rule")], mode="hash", patient_id="p2", generator=generator
    )
    assert other == smith


def test_encryption_is_deterministic_and_only_its_key_reverses_it():
    generator = mode_operator("encrypt", KEY)
    output, reps = apply_operator(TEXT, MENTIONS, mode="encrypt", patient_id="p1", generator=generator)
    assert [r.operator for r in reps] == ["encrypt"] * 5
    assert "Smith" not in output and "SMITH" not in output and "617-555-0199" not in output
    tokens = [m.group(0) for m in ENCRYPTED_SPAN.finditer(output)]
    assert len(tokens) == 5
    # deterministic: the same text gives the same token (here in a second object with the key)
    again, _ = apply_operator(TEXT, MENTIONS, mode="encrypt", generator=Pseudonymizer(KEY))
    assert again == output
    # the key holder gets the note back exactly
    assert decrypt_text(output, Pseudonymizer(KEY)) == (TEXT, 5, [])
    # another key opens nothing and says where
    back, done, failed = decrypt_text(output, Pseudonymizer(OTHER_KEY))
    assert (back, done) == (output, 0)
    assert [output[s:e] for s, e in failed] == tokens
    # a token moved to another label, or changed, fails its check instead of decrypting wrongly
    first = ENCRYPTED_SPAN.search(output)
    relabeled = output.replace(first.group(0), first.group(0).replace("[NAME~", "[CONTACT~"), 1)
    assert decrypt_text(relabeled, Pseudonymizer(KEY))[1] == 4
    token = first.group("token")
    flipped = output.replace(token, token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1], 1)
    assert decrypt_text(flipped, Pseudonymizer(KEY))[1] == 4


def test_encrypt_needs_a_key_and_modes_need_their_object():
    with pytest.raises(ValueError, match="E732"):
        mode_operator("encrypt", None)
    with pytest.raises(ValueError, match="E732"):
        Pseudonymizer().encrypt("Smith", label="NAME")
    with pytest.raises(ValueError, match="E721"):
        apply_operator(TEXT, MENTIONS, mode="hash", generator=SurrogateGenerator(KEY))
    with pytest.raises(ValueError, match="E721"):
        apply_operator(TEXT, MENTIONS, mode="encrypt")
    assert mode_operator("redact", KEY) is None


def test_remove_deletes_spans_with_exact_offsets():
    output, reps = apply_operator(TEXT, MENTIONS, mode="remove")
    assert output == "Seen by Dr.  ; wife  called .\n aware."
    assert [r.operator for r in reps] == ["remove"] * 5
    assert all(r.out_start == r.out_end for r in reps)
    assert [output[: r.out_start].count("\n") for r in reps] == [0, 0, 0, 0, 1]


def test_decrypt_document_jsonl_and_csv_copy_everything_else():
    pseudonymizer = Pseudonymizer(KEY)
    note = 'Call "Mary, at home"\nnow'
    token = pseudonymizer.encrypted("Mary, at home", label="NAME")
    encrypted = note.replace("Mary, at home", token)
    jsonl = json.dumps({"id": 1, "text": encrypted}) + "\nnot json\n" + json.dumps({"id": 2, "text": "none"}) + "\n"
    out, report = decrypt_document(jsonl, pseudonymizer, fmt="jsonl")
    lines = out.splitlines()
    assert json.loads(lines[0]) == {"id": 1, "text": note}
    assert lines[1] == "not json" and json.loads(lines[2]) == {"id": 2, "text": "none"}
    assert (report.decrypted, report.failed, report.bad_lines) == (1, [], [2])
    rows = [["id", "text"], ["1", encrypted], ["2", "plain"]]
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    out, report = decrypt_document(buffer.getvalue(), pseudonymizer, fmt="csv")
    assert list(csv.reader(io.StringIO(out, newline=""))) == [["id", "text"], ["1", note], ["2", "plain"]]
    assert report.decrypted == 1
    with pytest.raises(ValueError, match="E736"):
        decrypt_document(buffer.getvalue(), pseudonymizer, fmt="csv", text_col="note")
    with pytest.raises(ValueError, match="E735"):
        decrypt_document("", pseudonymizer, fmt="xml")


def run(*args):
    result = CliRunner().invoke(app, [*map(str, args)])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def test_cli_encrypt_then_decrypt_gives_the_notes_back(tmp_path):
    key_file, wrong = tmp_path / "key.txt", tmp_path / "wrong.txt"
    key_file.write_text(KEY + "\n")
    wrong.write_text(OTHER_KEY)
    notes = [
        {"id": "a", "patient": "p1", "text": "Dr. Quimbleton called 617-555-0199 on 3/14/2021."},
        {"id": "b", "patient": "p1", "text": "Seen 3/15/2021, no PHI beyond the date."},
    ]
    source = tmp_path / "notes.jsonl"
    source.write_text("".join(json.dumps(n) + "\n" for n in notes))
    out, back = tmp_path / "out.jsonl", tmp_path / "back.jsonl"
    common = ["--model", "rules", "--no-progress", "--id-col", "id", "--patient-col", "patient"]
    result = run("deid", source, out, "--mode", "encrypt", "--key-file", key_file, *common)
    assert result.exit_code == 0, result.stderr
    written = out.read_text()
    for secret in ("617-555-0199", "3/14/2021", "3/15/2021"):
        assert secret not in written
    assert len(ENCRYPTED_SPAN.findall(written)) >= 3
    result = run("deid-decrypt", out, back, "--key-file", key_file)
    assert result.exit_code == 0, result.stderr
    assert [json.loads(line) for line in back.read_text().splitlines()] == notes
    assert "holds PHI" in " ".join(result.stderr.split())
    # the wrong key: nothing opened, the places named by line and offsets (no text), exit 1
    result = run("deid-decrypt", out, tmp_path / "wrong.jsonl", "--key-file", wrong)
    assert result.exit_code == 1
    said = " ".join(result.stderr.split())
    assert "line 1, offsets" in said and "617" not in said
    # no key: refused before anything is written; the input is never the output
    result = run("deid", source, tmp_path / "nokey.jsonl", "--mode", "encrypt", *common)
    assert result.exit_code == 1 and "E732" in result.stderr
    assert not (tmp_path / "nokey.jsonl").exists()
    result = run("deid-decrypt", out, out, "--key-file", key_file)
    assert result.exit_code == 1 and "E747" in result.stderr


def test_cli_hash_mode_is_the_same_in_two_runs_with_one_key(tmp_path):
    key_file = tmp_path / "key.txt"
    key_file.write_text(KEY)
    source = tmp_path / "note.txt"
    source.write_text("Dr. Quimbleton called 617-555-0199. Quimbleton aware.")
    outputs = []
    for name in ("one.txt", "two.txt"):
        result = run(
            "deid",
            source,
            tmp_path / name,
            "--mode",
            "hash",
            "--key-file",
            key_file,
            "--model",
            "rules",
            "--no-progress",
        )
        assert result.exit_code == 0, result.stderr
        outputs.append((tmp_path / name).read_text())
    assert outputs[0] == outputs[1]
    assert "Quimbleton" not in outputs[0] and "[CONTACT-" in outputs[0]
