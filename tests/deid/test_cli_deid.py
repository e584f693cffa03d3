"""``clintiny deid`` end to end with the rule patterns (``--model rules``): every input kind,
stdin to stdout, hostile inputs, the audit (no note text), the mapping (only when asked), the
review page, refusals that protect the input, and a killed run that resumes."""

import csv
import io
import json
import signal
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from spacy_clintiny.cli import app

PHONE = "617-555-0199"
DATE = "3/14/2021"
NOTE = f"Pt called from {PHONE} on {DATE}.\nVitals stable."
REDACTED = "Pt called from [CONTACT] on [DATE].\nVitals stable."


@pytest.fixture(autouse=True)
def reuse_rule_pipeline(monkeypatch):
    """Building the rule matchers takes seconds: build the default rules pipeline once per module
    (``Deidentifier`` only sets its error handler, so sharing it is safe)."""
    from spacy_clintiny.deid import engine

    real = engine.load_deid_pipeline

    def load(model, options=None, *, threads=None, **settings):
        if model == "rules" and not settings:  # the options (hashable) are the key
            if options not in PIPELINES:
                PIPELINES[options] = real(model, options, threads=threads)
            return PIPELINES[options]
        return real(model, options, threads=threads, **settings)

    monkeypatch.setattr(engine, "load_deid_pipeline", load)


PIPELINES = {}


def deid(*args, input=None):
    result = CliRunner().invoke(app, ["deid", *map(str, args), "--model", "rules", "--no-progress"], input=input)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def said(result):
    """stderr with wasabi's line wrapping undone."""
    return " ".join(result.stderr.split())


def audit_lines(path):
    return [json.loads(line) for line in path.read_text(encoding="utf8").splitlines()]


def test_text_file_with_audit_and_no_phi_in_the_audit(tmp_path):
    (tmp_path / "note.txt").write_text(NOTE)
    result = deid(tmp_path / "note.txt", tmp_path / "out.txt")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "out.txt").read_text() == REDACTED
    audit_text = (tmp_path / "out.txt.audit.jsonl").read_text()
    assert PHONE not in audit_text and DATE not in audit_text and "Vitals" not in audit_text
    note, summary = audit_lines(tmp_path / "out.txt.audit.jsonl")
    assert note["note_id"] == "note.txt" and note["n_chars"] == len(NOTE)
    assert [(s["start"], s["end"], s["label"], s["subtype"], s["operator"]) for s in note["spans"]] == [
        (15, 27, "CONTACT", "PHONE", "redact"),
        (31, 40, "DATE", "DATE", "redact"),
    ]
    assert all(s["source"].startswith("rule:") and s["score"] == 1.0 for s in note["spans"])
    assert summary["summary"]["deidentified"] == 1 and summary["summary"]["labels"] == {"CONTACT": 1, "DATE": 1}
    with_text = deid(tmp_path / "note.txt", tmp_path / "out2.txt", "--audit-text")
    assert "hold PHI" in said(with_text)
    assert [s["text"] for s in audit_lines(tmp_path / "out2.txt.audit.jsonl")[0]["spans"]] == [PHONE, DATE]


def test_stdin_to_stdout_writes_only_the_note(tmp_path):
    result = deid("-", "-", input=NOTE)
    assert result.exit_code == 0 and result.stdout == REDACTED
    assert list(tmp_path.iterdir()) == []


def test_folder_with_hostile_files(tmp_path):
    notes = tmp_path / "notes"
    (notes / "p1").mkdir(parents=True)
    (notes / "p2" / "deeper").mkdir(parents=True)
    (notes / "p1" / "a.txt").write_text(NOTE)
    (notes / "p1" / "empty.txt").write_bytes(b"")
    (notes / "p2" / "deeper" / "mixed.txt").write_bytes(
        f"Caf\u00e9 {PHONE}\n".encode("utf8") + f"Ren\u00e9e seen {DATE}\n".encode("cp1252")
    )
    (notes / "p2" / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" + PHONE.encode())
    (notes / "p2" / "skip.md").write_text(NOTE)
    result = deid(notes, tmp_path / "out")
    assert result.exit_code == 1
    out = tmp_path / "out"
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "p1/a.txt",
        "p1/empty.txt",
        "p2/deeper/mixed.txt",
    ]
    assert (out / "p1" / "a.txt").read_text() == REDACTED
    assert (out / "p1" / "empty.txt").read_bytes() == b""
    mixed = (out / "p2" / "deeper" / "mixed.txt").read_text(encoding="utf8")
    assert mixed == "Caf\u00e9 [CONTACT]\nRen\u00e9e seen [DATE]\n"
    assert "p2/binary.txt" in said(result) and "E750" in said(result)
    assert "p2/deeper/mixed.txt" in said(result) and "line(s) 2" in said(result)
    assert PHONE not in result.stderr + result.stdout
    assert (notes / "p2" / "binary.txt").exists()  # inputs untouched
    summary = audit_lines(tmp_path / "out.audit.jsonl")[-1]["summary"]
    assert summary["deidentified"] == 3 and summary["failed"] == 1


def test_jsonl_keeps_other_fields_and_reports_bad_lines(tmp_path):
    lines = [
        json.dumps({"id": "a1", "text": NOTE, "site": "ICU"}),
        "{not json " + PHONE,
        json.dumps({"id": "a2", "body": NOTE}),
        json.dumps({"id": "a3", "text": "", "site": "ward"}),
    ]
    (tmp_path / "notes.jsonl").write_text("\n".join(lines) + "\n")
    result = deid(tmp_path / "notes.jsonl", tmp_path / "out.jsonl", "--id-col", "id")
    assert result.exit_code == 1
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert rows == [{"id": "a1", "text": REDACTED, "site": "ICU"}, {"id": "a3", "text": "", "site": "ward"}]
    assert "notes.jsonl:2" in said(result) and "E751" in said(result)
    assert "notes.jsonl:3" in said(result) and "E752" in said(result)
    assert PHONE not in result.stderr
    assert [a.get("note_id") for a in audit_lines(tmp_path / "out.jsonl.audit.jsonl")[:-1]] == ["a1", "a3"]


def test_csv_with_embedded_newlines_and_quotes(tmp_path):
    rows = [
        ["id", "text", 'note "kind"'],
        ["1", f'He said "call {PHONE}",\nthen left on {DATE}.', "x,y"],
        ["2", 'No PHI, "quoted"', ""],
    ]
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    (tmp_path / "notes.csv").write_text(buffer.getvalue(), newline="")
    result = deid(tmp_path / "notes.csv", tmp_path / "out.csv", "--id-col", "id")
    assert result.exit_code == 0, result.stderr
    with (tmp_path / "out.csv").open(newline="") as handle:
        out = list(csv.reader(handle))
    assert out == [rows[0], ["1", 'He said "call [CONTACT]",\nthen left on [DATE].', "x,y"], rows[2]]


def test_empty_inputs_give_empty_outputs(tmp_path):
    for name in ("empty.txt", "empty.jsonl", "empty.csv"):
        (tmp_path / name).write_bytes(b"")
        result = deid(tmp_path / name, tmp_path / f"out-{name}")
        assert result.exit_code == 0, result.stderr
        assert (tmp_path / f"out-{name}").read_bytes() == b""


def test_a_million_character_note(tmp_path):
    filler = ("x" * 99 + "\n") * 10_001  # few tokens: the point is the length, not the rules' speed
    (tmp_path / "long.txt").write_text(f"{PHONE}\n{filler}end {DATE}")
    result = deid(tmp_path / "long.txt", tmp_path / "out.txt")
    assert result.exit_code == 0, result.stderr
    text = (tmp_path / "out.txt").read_text()
    assert text.startswith("[CONTACT]\n") and text.endswith("end [DATE]") and len(text) > 1_000_000


def test_mapping_only_when_asked(tmp_path, monkeypatch):
    monkeypatch.setenv("CLINTINY_DEID_KEY", "k" * 32)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "note.txt").write_text(NOTE)
    result = deid(tmp_path / "in" / "note.txt", tmp_path / "out.txt", "--mode", "surrogate")
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "out.txt", "out.txt.audit.jsonl"]
    surrogate = (tmp_path / "out.txt").read_text()
    assert PHONE not in surrogate and DATE not in surrogate and "[" not in surrogate
    again = deid(
        tmp_path / "in" / "note.txt", tmp_path / "out2.txt", "--mode", "surrogate", "--mapping", tmp_path / "map.jsonl"
    )
    assert again.exit_code == 0 and "map.jsonl will hold PHI" in said(again)
    assert (tmp_path / "out2.txt").read_text() == surrogate  # same key: same surrogates
    mapping = audit_lines(tmp_path / "map.jsonl")
    assert [(m["original"], m["label"]) for m in mapping] == [(PHONE, "CONTACT"), (DATE, "DATE")]
    assert all(m["replacement"] in surrogate for m in mapping)
    refused = deid(tmp_path / "in" / "note.txt", tmp_path / "out3.txt", "--mapping", tmp_path / "m.jsonl")
    assert refused.exit_code == 1 and "E755" in said(refused) and not (tmp_path / "m.jsonl").exists()


def test_review_page_marks_phi_and_says_it_holds_phi(tmp_path):
    (tmp_path / "note.txt").write_text(NOTE)
    result = deid(tmp_path / "note.txt", tmp_path / "out.txt", "--review", tmp_path / "review.html")
    assert result.exit_code == 0 and "review.html will hold PHI" in said(result)
    page = (tmp_path / "review.html").read_text()
    assert "protected health information" in page and "CONTACT rule:phone" in page and "note.txt" in page


def test_refuses_output_inside_input_and_overwriting(tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.txt").write_text(NOTE)
    result = deid(notes, notes / "deid")
    assert result.exit_code == 1 and "E747" in said(result) and not (notes / "deid").exists()
    assert deid(notes / "a.txt", notes / "a.txt").exit_code == 1
    assert (notes / "a.txt").read_text() == NOTE
    assert deid(notes / "a.txt", tmp_path / "o.txt").exit_code == 0
    (tmp_path / "o.txt").write_text("kept")
    skipped = deid(notes / "a.txt", tmp_path / "o.txt")  # resume: a finished output is not redone
    assert skipped.exit_code == 0 and "nothing to do" in said(skipped) and (tmp_path / "o.txt").read_text() == "kept"
    refused = deid(notes / "a.txt", tmp_path / "o.txt", "--no-resume")
    assert refused.exit_code == 1 and "E749" in said(refused)
    assert deid(notes / "a.txt", tmp_path / "o.txt", "--no-resume", "--force").exit_code == 0
    assert (tmp_path / "o.txt").read_text() == REDACTED


N_KILL = 600
KILL_TEXT = "Note {i}: pt called from " + PHONE + " on " + DATE + ", vitals stable. "


def kill_part_way(args, done):
    """Start ``clintiny deid`` in a fresh process, SIGKILL it once ``done()`` holds, then run it
    again to the end. RETURNS (bool): whether the first run was killed before it finished."""
    command = [
        sys.executable,
        "-c",
        "from spacy_clintiny.cli import app; app()",
        "deid",
        *map(str, args),
        "--model",
        "rules",
        "--no-progress",
        "--batch-size",
        "8",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None and not done():
        time.sleep(0.02)
    killed = process.poll() is None
    process.send_signal(signal.SIGKILL)
    process.wait()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return killed


@pytest.mark.slow
def test_a_killed_folder_run_resumes_to_complete_outputs(tmp_path):
    """A real process killed with SIGKILL part way through a folder, then run again (the
    in-process crash test in test_io.py covers the same logic in a second)."""
    for i in range(N_KILL):
        (tmp_path / "notes" / f"p{i % 7}").mkdir(parents=True, exist_ok=True)
        (tmp_path / "notes" / f"p{i % 7}" / f"{i:03d}.txt").write_text(KILL_TEXT.format(i=i) * 3)
    out = tmp_path / "out"
    killed = kill_part_way([tmp_path / "notes", out], lambda: len(list(out.rglob("*.txt"))) >= 40)
    for i in range(N_KILL):
        expected = (KILL_TEXT.format(i=i) * 3).replace(PHONE, "[CONTACT]").replace(DATE, "[DATE]")
        assert (out / f"p{i % 7}" / f"{i:03d}.txt").read_text() == expected
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]  # no temporary file left
    audit = audit_lines(tmp_path / "out.audit.jsonl")
    assert sorted(a["note_id"] for a in audit[:-1]) == sorted(f"p{i % 7}/{i:03d}.txt" for i in range(N_KILL))
    assert killed, "the first run finished before it could be killed: make the input larger"


@pytest.mark.slow
def test_a_killed_jsonl_run_resumes_to_the_same_output(tmp_path):
    """A real process killed with SIGKILL part way through a JSONL file, then run again."""
    notes = [{"id": i, "text": KILL_TEXT.format(i=i) * 3} for i in range(N_KILL)]
    (tmp_path / "notes.jsonl").write_text("".join(json.dumps(n) + "\n" for n in notes))
    progress = tmp_path / ".out.jsonl.progress"
    killed = kill_part_way(
        [tmp_path / "notes.jsonl", tmp_path / "out.jsonl"],
        lambda: progress.exists() and progress.read_text().count("\n") >= 40,
    )
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == list(range(N_KILL))
    expected = [n["text"].replace(PHONE, "[CONTACT]").replace(DATE, "[DATE]") for n in notes]
    assert [r["text"] for r in rows] == expected
    audit = audit_lines(tmp_path / "out.jsonl.audit.jsonl")
    assert [a["line"] for a in audit[:-1]] == list(range(1, N_KILL + 1)) and "summary" in audit[-1]
    assert not progress.exists() and not (tmp_path / ".out.jsonl.partial").exists()
    assert killed, "the first run finished before it could be killed: make the input larger"


def test_a_bad_outside_weight_is_refused_by_name(tmp_path):
    note = tmp_path / "note.txt"
    note.write_text("Seen on 3/14/2021.", encoding="utf8")
    result = CliRunner().invoke(
        app, ["deid", str(note), str(tmp_path / "out.txt"), "--model", "rules", "--outside-weight", "0.2"]
    )
    assert result.exit_code != 0 and "E763" in result.output
    assert not (tmp_path / "out.txt").exists()


def test_a_cued_name_is_redacted_in_the_patients_other_notes(tmp_path):
    rows = [
        {"id": "1", "pid": "p1", "text": "Discussed with Dr. Quimbleton."},
        {"id": "2", "pid": "p1", "text": "QUIMBLETON aware."},
        {"id": "3", "pid": "p2", "text": "QUIMBLETON aware."},
    ]
    (tmp_path / "notes.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    common = ("--id-col", "id", "--patient-col", "pid")
    assert deid(tmp_path / "notes.jsonl", tmp_path / "out.jsonl", *common).exit_code == 0
    out = [json.loads(line)["text"] for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    # the default scope "run" also carries a staff name (after "Dr.") to later patients
    assert out == ["Discussed with Dr. [NAME].", "[NAME] aware.", "[NAME] aware."]
    assert deid(tmp_path / "notes.jsonl", tmp_path / "own.jsonl", *common, "--propagate", "patient").exit_code == 0
    own = [json.loads(line)["text"] for line in (tmp_path / "own.jsonl").read_text().splitlines()]
    assert own == ["Discussed with Dr. [NAME].", "[NAME] aware.", "QUIMBLETON aware."]
    audit = audit_lines(tmp_path / "out.jsonl.audit.jsonl")
    assert [s["source"] for a in audit if a.get("note_id") == "2" for s in a["spans"]] == ["propagated"]
    assert deid(tmp_path / "notes.jsonl", tmp_path / "none.jsonl", *common, "--propagate", "none").exit_code == 0
    assert "QUIMBLETON aware." in (tmp_path / "none.jsonl").read_text().splitlines()[1]
    bad = deid(tmp_path / "notes.jsonl", tmp_path / "bad.jsonl", *common, "--propagate", "all")
    assert bad.exit_code == 1 and "E797" in said(bad)
