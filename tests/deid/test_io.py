"""Reading, writing and path safety of ``clintiny deid``: decoding policy, CSV/JSONL parsing,
resumable record files, refusals that protect the input, and a crash mid-run that resumes to
the same outputs as an uninterrupted run."""

import json

import pytest
import spacy
from spacy.language import Language

from spacy_clintiny.deid.engine import Deidentifier
from spacy_clintiny.deid.io import plan_deid, run_deid
from spacy_clintiny.deid.lists import read_deny_list, read_surrogate_key
from spacy_clintiny.deid.readers import Columns, CsvSource, decode_text, iter_jsonl, read_note_bytes
from spacy_clintiny.deid.writers import RecordFile, partial_paths

PHONE = "617-555-0199"


@Language.component("test_deid_io_phone")
def phone_phi(doc):
    """Known answers without the rule module: every "617-555-0199" is CONTACT."""
    spans, start = [], doc.text.find(PHONE)
    while start >= 0:
        spans.append(doc.char_span(start, start + len(PHONE), label="CONTACT"))
        start = doc.text.find(PHONE, start + 1)
    doc.spans["phi"] = [s for s in spans if s is not None]
    return doc


@pytest.fixture
def engine():
    nlp = spacy.blank("en")
    nlp.add_pipe("test_deid_io_phone")
    return Deidentifier(nlp, batch_size=3)


def test_decoding_falls_back_per_line_and_refuses_binary():
    text, fallback = decode_text("caf\u00e9 ok\n".encode("utf8") + "caf\u00e9 bad\n".encode("cp1252") + b"end")
    assert text == "caf\u00e9 ok\ncaf\u00e9 bad\nend" and fallback == [2]
    assert decode_text("\ufeffhello".encode("utf8")) == ("hello", [])
    assert decode_text("hi\r\n".encode("utf-16")) == ("hi\r\n", [])
    problems = []
    assert read_note_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00", "img.txt", problems) is None
    assert problems[0].failed and "[E750]" in problems[0].message and "img.txt" in problems[0].where


def test_csv_with_embedded_newlines_quotes_and_bad_rows():
    data = 'id,text,site\n1,"Line one\nLine ""two"", 617-555-0199",A\n2,plain,B\n3\n'
    problems = []
    records = list(CsvSource(data, "notes.csv", problems, columns=Columns("text", "id")))
    assert [(r.note_id, r.text, r.meta["line"]) for r in records] == [
        ("1", 'Line one\nLine "two", 617-555-0199', 2),
        ("2", "plain", 4),
    ]
    assert len(problems) == 1 and problems[0].where == "notes.csv:5" and "[E752]" in problems[0].message
    problems = []
    assert list(CsvSource("id,body\n1,x\n", "n.csv", problems, columns=Columns())) == []
    assert "[E752]" in problems[0].message and "header" in problems[0].message


def test_an_empty_patient_is_no_patient_as_in_spark():
    data = "id,text,patient\n1,a,P1\n2,b,\n3,c,  \n"
    records = list(CsvSource(data, "n.csv", [], columns=Columns("text", "id", "patient")))
    assert [r.patient_id for r in records] == ["P1", None, None]
    lines = [b'{"text": "a", "patient": ""}\n', b'{"text": "b", "patient": 7}\n']
    records = list(iter_jsonl(iter(lines), "n.jsonl", [], columns=Columns(patient="patient")))
    assert [r.patient_id for r in records] == [None, "7"]


def test_jsonl_bad_lines_are_reported_by_line_without_content():
    lines = [
        b'{"text": "a 617-555-0199"}\n',
        b"\n",
        b'{"text": "secret unterminated\n',
        b"[1, 2]\n",
        b'{"body": "secret"}\n',
        b'{"text": 5}\n',
        '{"text": "caf\u00e9"}\n'.encode("cp1252"),
    ]
    problems = []
    records = list(iter_jsonl(iter(lines), "n.jsonl", problems, columns=Columns()))
    assert [(r.note_id, r.text) for r in records] == [("n.jsonl:1", "a 617-555-0199"), ("n.jsonl:7", "caf\u00e9")]
    failed = [(p.where, p.message[: len("(spacy-clintiny) [E75x]")]) for p in problems if p.failed]
    assert failed == [
        ("n.jsonl:3", "(spacy-clintiny) [E751]"),
        ("n.jsonl:4", "(spacy-clintiny) [E751]"),
        ("n.jsonl:5", "(spacy-clintiny) [E752]"),
        ("n.jsonl:6", "(spacy-clintiny) [E753]"),
    ]
    assert not any("secret" in p.message for p in problems)
    assert [p.where for p in problems if not p.failed] == ["n.jsonl:7"]


def test_record_file_resumes_from_the_last_confirmed_record(tmp_path):
    out = RecordFile(tmp_path / "out.jsonl")
    assert out.start(resume=True, header="H\n") == []
    out.write("1", "one\n")
    out.write("2", "two\n")
    out.close()
    partial, progress = partial_paths(tmp_path / "out.jsonl")
    with partial.open("ab") as handle:  # killed while writing record 3 ...
        handle.write(b"thr")
    with progress.open("a") as handle:  # ... and its progress line
        handle.write('["3", 9')
    again = RecordFile(tmp_path / "out.jsonl")
    assert again.start(resume=True, header="H\n") == ["1", "2"]
    again.write("3", "three\n")
    again.finish("END\n")
    assert (tmp_path / "out.jsonl").read_text() == "H\none\ntwo\nthree\nEND\n"
    assert not partial.exists() and not progress.exists()
    kept = RecordFile(tmp_path / "audit.jsonl")
    kept.start(resume=False)
    for key in "abc":
        kept.write(key, f'{{"note_id": "{key}"}}\n')
    kept.close()
    assert RecordFile(tmp_path / "audit.jsonl").start(resume=True, keep=lambda k: k != "b") == ["a", "c"]


def test_plan_refuses_to_write_into_or_over_the_input(tmp_path):
    notes = tmp_path / "notes"
    (notes / "p1").mkdir(parents=True)
    (notes / "p1" / "a.txt").write_text("x")
    single = tmp_path / "note.txt"
    single.write_text("x")
    for output in (notes, notes / "out", tmp_path):
        with pytest.raises(ValueError, match="E747"):
            plan_deid(notes, output)
    with pytest.raises(ValueError, match="E747"):
        plan_deid(single, single)
    with pytest.raises(ValueError, match="E747"):
        plan_deid(single, tmp_path / "out.txt", audit=single)
    with pytest.raises(ValueError, match="E747"):
        plan_deid(notes, tmp_path / "out", mapping=notes / "map.jsonl", mode="surrogate")
    with pytest.raises(ValueError, match="E757"):
        plan_deid(notes, "-")
    with pytest.raises(ValueError, match="E748"):
        plan_deid(tmp_path / "missing.txt", tmp_path / "o.txt")
    with pytest.raises(ValueError, match="E755"):
        plan_deid(single, tmp_path / "o.txt", mapping=tmp_path / "map.jsonl")
    with pytest.raises(ValueError, match="E756"):
        plan_deid(single, tmp_path / "o.txt", patient_from="dir")
    (tmp_path / "o.txt").write_text("old")
    with pytest.raises(ValueError, match="E749"):
        plan_deid(single, tmp_path / "o.txt", resume=False)
    plan = plan_deid(single, tmp_path / "o.txt", resume=False, force=True)
    assert plan.audit == tmp_path / "o.txt.audit.jsonl" and plan.kind == "text"


def test_lists_and_key_errors_never_show_the_terms(tmp_path, monkeypatch):
    deny = tmp_path / "deny.tsv"
    deny.write_text("# staff\nNAME\tJohn Smith\nlocation\tMercy Hospital\n")
    assert read_deny_list(deny) == {"NAME": ["John Smith"], "LOCATION": ["Mercy Hospital"]}
    deny.write_text("NAME\tJohn Smith\nPERSON\tJane Roe\n")
    with pytest.raises(ValueError, match=r"E758.*line 2") as err:
        read_deny_list(deny)
    assert "Jane" not in str(err.value)
    monkeypatch.setenv("CLINTINY_DEID_KEY", "short")
    with pytest.raises(ValueError, match="E754"):
        read_surrogate_key()
    monkeypatch.setenv("CLINTINY_DEID_KEY", "a" * 32)
    assert read_surrogate_key() == "a" * 32


class Crash(Exception):
    pass


def crash_after(engine, k):
    """Wrap ``engine.run`` so the process "dies" after ``k`` notes were handed out."""
    real = engine.run

    def run(records):
        for i, result in enumerate(real(records)):
            if i == k:
                raise Crash()
            yield result

    engine.run = run
    return engine


@pytest.mark.parametrize("kind", ["dir", "jsonl", "csv"])
def test_a_crash_mid_run_resumes_to_the_uninterrupted_outputs(tmp_path, engine, kind):
    texts = [f"note {i}: call {PHONE}\nline two of {i}" for i in range(25)]
    source = tmp_path / {"dir": "notes", "jsonl": "notes.jsonl", "csv": "notes.csv"}[kind]
    if kind == "dir":
        for i, text in enumerate(texts):
            (source / f"p{i % 3}").mkdir(parents=True, exist_ok=True)
            (source / f"p{i % 3}" / f"{i:02d}.txt").write_text(text)
    elif kind == "jsonl":
        source.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(texts)))
    else:
        source.write_text("id,text\r\n" + "".join(f'{i},"{t}"\r\n' for i, t in enumerate(texts)))
    suffix = "" if kind == "dir" else source.suffix
    whole, resumed = tmp_path / f"whole{suffix}", tmp_path / f"resumed{suffix}"
    summary = run_deid(plan_deid(source, whole), engine, progress=False)
    assert summary.deidentified == 25 and summary.failed == 0
    with pytest.raises(Crash):
        run_deid(plan_deid(source, resumed), crash_after(engine, 11), progress=False)
    if kind != "dir":
        assert not resumed.exists() and partial_paths(resumed)[0].exists()
    again = run_deid(plan_deid(source, resumed), Deidentifier(engine.nlp), progress=False)
    assert again.skipped >= 10 and again.deidentified == 25 - again.skipped
    if kind == "dir":
        names = sorted(p.relative_to(whole).as_posix() for p in whole.rglob("*.txt"))
        assert len(names) == 25
        assert all((whole / n).read_text() == (resumed / n).read_text() for n in names)
    else:
        assert whole.read_bytes() == resumed.read_bytes()
        assert PHONE not in whole.read_text() and whole.read_text().count("[CONTACT]") == 25
    audit = [json.loads(line) for line in (tmp_path / f"resumed{suffix}.audit.jsonl").read_text().splitlines()]
    assert len(audit) == 26 and "summary" in audit[-1]
    assert sorted(a["note_id"] for a in audit[:-1]) == sorted(
        a["note_id"]
        for a in (json.loads(line) for line in (tmp_path / f"whole{suffix}.audit.jsonl").read_text().splitlines()[:-1])
    )


# ---------------------------------------------------------------------- hostile inputs (adversarial review)


def test_csv_without_a_header_row_writes_nothing_and_shows_no_field(tmp_path, engine):
    notes = tmp_path / "n.csv"
    notes.write_text("1,Mr. Zqxwv seen 617-555-0199,p1\n2,other,p2\n")
    out = tmp_path / "o.csv"
    summary = run_deid(plan_deid(notes, out), engine, progress=False)
    assert summary.failed == 1 and "[E752]" in summary.problems[0].message
    assert "Zqxwv" not in summary.problems[0].message and "617" not in summary.problems[0].message
    assert not out.exists() and not any(p.exists() for p in partial_paths(out))


def test_csv_stray_quote_in_another_column_is_refused_not_copied(tmp_path, engine):
    notes = tmp_path / "n.csv"
    notes.write_text('id,text,patient\n1,a 617-555-0199,p1\n"2,Dr. Zqxwv,p2\n3,b,p3\n4,"c",p4\n')
    out = tmp_path / "o.csv"
    summary = run_deid(plan_deid(notes, out, columns=Columns("text", "id")), engine, progress=False)
    assert "Zqxwv" not in out.read_text() and "[CONTACT]" in out.read_text()
    assert [p.where for p in summary.problems if p.failed] == ["n.csv:3"]
    assert "[E913]" in summary.problems[0].message and "Zqxwv" not in summary.problems[0].message


def test_output_link_into_the_input_is_refused_per_file(tmp_path, engine):
    src, out = tmp_path / "in", tmp_path / "out"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "b.txt").write_text("call 617-555-0199")
    (src / "a.txt").write_text("call 617-555-0199")
    out.mkdir()
    (out / "sub").symlink_to(src / "sub")
    summary = run_deid(plan_deid(src, out, resume=False, force=True), engine, progress=False)
    assert (src / "sub" / "b.txt").read_text() == "call 617-555-0199"  # the input is untouched
    assert (out / "a.txt").read_text() == "call [CONTACT]"
    assert [p.where for p in summary.problems if p.failed] == ["sub/b.txt"] and "[E747]" in summary.problems[0].message


def test_undecodable_inputs_are_reported_and_the_rest_continues(tmp_path, engine):
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.txt").write_text("call 617-555-0199")
    (src / "odd.txt").write_bytes("call 617-555-0199\n".encode("utf-16") + b"A")  # UTF-16 with an odd byte
    (src / b"M\xfcller.txt".decode("utf-8", "surrogateescape")).write_text("x")  # a latin-1 file name
    summary = run_deid(plan_deid(src, tmp_path / "out"), engine, progress=False)
    assert (tmp_path / "out" / "a.txt").read_text() == "call [CONTACT]"
    failed = sorted((p.where, p.message.split("]")[0][-4:]) for p in summary.problems if p.failed)
    assert failed == [("M\\xfcller.txt", "E911"), ("odd.txt", "E910")]
    lines = [b'\xef\xbb\xbf{"text": "a 617-555-0199"}\n', b'{"text": "cut \\ud83d 617-555-0199"}\n']
    problems = []
    records = list(iter_jsonl(iter(lines), "n.jsonl", problems, columns=Columns()))
    assert [r.text for r in records] == ["a 617-555-0199", "cut \ufffd 617-555-0199"]  # BOM dropped, offsets kept
    assert [p.failed for p in problems] == [False]
    problems = []
    assert list(iter_jsonl(iter(['{"text": "x"}\n'.encode("utf-16")]), "w.jsonl", problems, columns=Columns())) == []
    assert "[E912]" in problems[0].message


def test_side_files_must_be_distinct_files_and_not_someone_elses(tmp_path):
    notes = tmp_path / "n.jsonl"
    notes.write_text('{"text": "x"}\n')
    with pytest.raises(ValueError, match="E914"):
        plan_deid(notes, tmp_path / "o.jsonl", audit=tmp_path / "o.jsonl")
    with pytest.raises(ValueError, match="E914"):
        side = tmp_path / "m.jsonl"
        plan_deid(notes, tmp_path / "o.jsonl", audit=side, mapping=side, mode="surrogate")
    (tmp_path / "folder").mkdir()
    with pytest.raises(ValueError, match="E915"):
        plan_deid(notes, tmp_path / "o.jsonl", audit=tmp_path / "folder")
    (tmp_path / "important.txt").write_text("keep me")
    with pytest.raises(ValueError, match="E749"):  # a new run would overwrite it, resume or not
        plan_deid(notes, tmp_path / "o.jsonl", audit=tmp_path / "important.txt")
    (tmp_path / "stdin.txt").write_text("an earlier run")
    with pytest.raises(ValueError, match="E916"):
        plan_deid("-", tmp_path / "stdin.txt")


def test_a_finished_run_with_failures_still_reports_them(tmp_path, engine):
    notes = tmp_path / "n.jsonl"
    notes.write_text('{"text": "a 617-555-0199"}\n{"text": 5}\n')
    out = tmp_path / "o.jsonl"
    first = run_deid(plan_deid(notes, out), engine, progress=False)
    assert first.failed == 1 and first.seconds > 0
    again = run_deid(plan_deid(notes, out), engine, progress=False)
    assert again.up_to_date and again.previous_failed == 1
    summary = json.loads((tmp_path / "o.jsonl.audit.jsonl").read_text().splitlines()[-1])["summary"]
    assert summary["seconds"] > 0


def test_stdin_as_a_folder_and_absolute_globs_are_refused(tmp_path):
    with pytest.raises(ValueError, match="E757"):
        plan_deid("-", tmp_path / "out", fmt="dir")
    (tmp_path / "in").mkdir()
    with pytest.raises(ValueError, match="E917"):
        plan_deid(tmp_path / "in", tmp_path / "out", glob="/etc/*.txt")


def test_resume_removes_the_temporary_file_of_a_killed_write(tmp_path, engine):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    (src / "a.txt").write_text("call 617-555-0199")
    out.mkdir()
    (out / ".a.txt.k3j9x2q1.tmp").write_text("call [CONT")  # a write killed before its rename
    (out / ".mine.tmp").write_text("not ours")
    run_deid(plan_deid(src, out), engine, progress=False)
    assert (out / "a.txt").read_text() == "call [CONTACT]"
    assert sorted(p.name for p in out.iterdir()) == [".mine.tmp", "a.txt"]
