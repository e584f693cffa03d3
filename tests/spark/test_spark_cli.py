"""``clintiny spark-deid`` end to end on local[2]: parquet in and out, CSV in and out equal to
``clintiny deid`` on the same file with the same key, and the refusals that protect the input
and an existing output."""

import csv

import pytest
from spark_support import KEY, require_spark
from typer.testing import CliRunner

from spacy_clintiny.cli import app

require_spark()


def spark_deid(*args):
    result = CliRunner().invoke(app, ["spark-deid", *map(str, args), "--master", "local[2]"])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def said(result):
    return " ".join(result.output.split())


@pytest.fixture(scope="module")
def key_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("key") / "deid.key"
    path.write_text(KEY + "\n")
    return path


def test_parquet_in_and_out_with_consistent_surrogates(spark, notes, tiny_pipeline, tmp_path, key_file):
    rows = [(note_id, patient, text, i) for i, (note_id, patient, text) in enumerate(notes[:60])]
    spark.createDataFrame(rows, "id string, patient string, text string, visit long").write.parquet(
        str(tmp_path / "in")
    )
    options = ["--model", tiny_pipeline, "--mode", "surrogate", "--key-file", key_file, "--id-col", "id"]
    result = spark_deid(tmp_path / "in", tmp_path / "out", *options, "--patient-col", "patient", "--partitions", "3")
    assert result.exit_code == 0, result.output
    assert "60 note(s), 0 failed" in said(result) and (tmp_path / "out" / "_SUCCESS").exists()
    out = {row["id"]: row for row in spark.read.parquet(str(tmp_path / "out")).collect()}
    assert out.keys() == {r[0] for r in rows}
    assert out["n001"]["visit"] == 1 and out["n007"]["text"] is None and out["n011"]["text"] == ""
    phones = [t.split("Call ")[1][:12] for _, _, t in notes[:60] if t]
    assert not any(phone in (row["text"] or "") for row in out.values() for phone in phones)
    assert all(row["error"] is None for row in out.values()) and sum(len(r["phi"] or []) for r in out.values()) > 60
    # the same notes again, one partition: the same surrogates
    again = spark_deid(tmp_path / "in", tmp_path / "out1", *options, "--patient-col", "patient", "--partitions", "1")
    assert again.exit_code == 0, again.output
    assert {row["id"]: row["text"] for row in spark.read.parquet(str(tmp_path / "out1")).collect()} == {
        k: row["text"] for k, row in out.items()
    }


def test_csv_equals_clintiny_deid_on_the_same_file(
    spark, notes, tiny_pipeline, tmp_path, key_file, serial_deid_nlp, monkeypatch
):
    from spacy_clintiny.deid import engine

    monkeypatch.setattr(engine, "load_deid_pipeline", lambda model, *args, **kwargs: serial_deid_nlp)  # loaded once
    with open(tmp_path / "notes.csv", "w", newline="", encoding="utf8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "patient", "text"])
        # sorted by patient: the serial command propagates through a patient's consecutive notes,
        # Spark through all of them (rows grouped by patient)
        for note_id, patient, text in sorted(notes[:60], key=lambda n: (n[1], n[0])):
            writer.writerow([note_id, patient, 'He said "ok".\n' + text if text else text])
    options = ["--model", tiny_pipeline, "--mode", "surrogate", "--key-file", key_file]
    columns = ["--text-col", "text", "--id-col", "id", "--patient-col", "patient"]
    serial = CliRunner().invoke(
        app,
        ["deid", str(tmp_path / "notes.csv"), str(tmp_path / "serial.csv"), "--propagate", "patient"]
        + [str(o) for o in options + columns],
    )
    assert serial.exit_code == 0, serial.output
    result = spark_deid(tmp_path / "notes.csv", tmp_path / "out", *options, *columns, "--format", "csv")
    assert result.exit_code == 0, result.output
    with open(tmp_path / "serial.csv", newline="", encoding="utf8") as f:
        expected = {row["id"]: row["text"] for row in csv.DictReader(f)}
    got = {}
    for part in sorted((tmp_path / "out").glob("part-*.csv")):
        with open(part, newline="", encoding="utf8") as f:
            for row in csv.DictReader(f):
                got[row["id"]] = row
    assert got.keys() == expected.keys()
    for note_id, text in expected.items():
        assert (got[note_id]["text"] or "") == text, note_id
        assert got[note_id]["phi"].startswith("[") or not text
    assert sum('"ok"' in row["text"] for row in got.values()) == 58  # quotes and line breaks survive


def test_refusals_protect_the_input_and_an_existing_output(spark, tmp_path):
    (tmp_path / "in").mkdir()
    spark.createDataFrame([("n1", "Call 617-555-0199.")], "id string, text string").write.parquet(
        str(tmp_path / "in" / "data")
    )
    inside = spark_deid(tmp_path / "in", tmp_path / "in" / "out", "--model", "rules")
    assert inside.exit_code == 1 and "[E811]" in said(inside)
    (tmp_path / "out").mkdir()
    exists = spark_deid(tmp_path / "in" / "data", tmp_path / "out", "--model", "rules")
    assert exists.exit_code == 1 and "[E813]" in said(exists)
    missing = spark_deid(tmp_path / "in" / "data", tmp_path / "out2", "--model", tmp_path / "nope")
    assert missing.exit_code == 1 and "[E801]" in said(missing)
    bad_format = spark_deid(tmp_path / "in" / "data", tmp_path / "out2", "--model", "rules", "--format", "xml")
    assert bad_format.exit_code == 1 and "[E812]" in said(bad_format)
    holds = spark_deid(tmp_path / "in" / "data", tmp_path / "in", "--model", "rules", "--overwrite")
    assert holds.exit_code == 1 and "[E811]" in said(holds) and (tmp_path / "in" / "data").is_dir()


def test_unparsable_rows_are_left_out_and_reported_not_copied(spark, tmp_path):
    lines = ['{"id": "n1", "text": "Call 617-555-0199."}', '{"id": "n2", "text": "Dr. Zqxwv']
    (tmp_path / "bad.jsonl").write_text("\n".join(lines) + "\n")
    result = spark_deid(tmp_path / "bad.jsonl", tmp_path / "out", "--model", "rules", "--format", "json")
    assert result.exit_code == 1 and "1 input row(s) could not be parsed" in said(result)
    written = "".join(part.read_text() for part in (tmp_path / "out").glob("part-*.json"))
    assert "Zqxwv" not in written and "[CONTACT]" in written
    (tmp_path / "bad.csv").write_text(
        'id,patient,visit,text\nn1,P1,"v1,"Seen by Dr. Zqxwv on 3/4/2093."\nn2,P1,v2,"Call 617-555-0199"\n'
    )
    result = spark_deid(tmp_path / "bad.csv", tmp_path / "out_csv", "--model", "rules", "--format", "csv")
    assert result.exit_code == 1 and "could not be parsed" in said(result)
    written = "".join(part.read_text() for part in (tmp_path / "out_csv").glob("part-*.csv"))
    assert "Zqxwv" not in written and "[CONTACT]" in written


def test_the_format_comes_from_the_file_names_and_a_wrong_one_is_named(spark, tmp_path):
    (tmp_path / "n.jsonl").write_text('{"id": "n1", "text": "Call 617-555-0199."}\n')
    wrong = spark_deid(tmp_path / "n.jsonl", tmp_path / "o1", "--model", "rules", "--format", "parquet")
    assert wrong.exit_code == 1 and "[E816]" in said(wrong) and "Exception" not in said(wrong)
    assert "like json" in said(wrong) and not (tmp_path / "o1").exists()
    auto = spark_deid(tmp_path / "n.jsonl", tmp_path / "o2", "--model", "rules")
    assert auto.exit_code == 0, auto.output
    assert "[CONTACT]" in "".join(part.read_text() for part in (tmp_path / "o2").glob("part-*.json"))
    (tmp_path / "mixed").mkdir()
    (tmp_path / "mixed" / "a.csv").write_text("id,text\nn1,x\n")
    (tmp_path / "mixed" / "b.json").write_text('{"id": "n2", "text": "y"}\n')
    mixed = spark_deid(tmp_path / "mixed", tmp_path / "o3", "--model", "rules")
    assert mixed.exit_code == 1 and "[E815]" in said(mixed) and ".csv, .json" in said(mixed)


def test_a_local_folder_is_listed_once_for_its_format(spark, tmp_path, monkeypatch):
    from spacy_clintiny.spark import job

    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "part-0.json").write_text('{"id": "n1", "text": "Call 617-555-0199."}\n')
    walks = []
    listed = job._data_files
    monkeypatch.setattr(job, "_data_files", lambda path: walks.append(path) or listed(path))
    result = spark_deid(tmp_path / "notes", tmp_path / "out", "--model", "rules")
    assert result.exit_code == 0, result.output
    assert walks == [tmp_path / "notes"]  # the format inferred and checked from one listing


def test_csv_output_keeps_leading_and_trailing_spaces(spark, tmp_path):
    (tmp_path / "n.csv").write_text('id,text\nn1,"  Call 617-555-0199.  "\n')
    result = spark_deid(tmp_path / "n.csv", tmp_path / "out", "--model", "rules", "--format", "csv")
    assert result.exit_code == 0, result.output
    with open(next((tmp_path / "out").glob("part-*.csv")), newline="", encoding="utf8") as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["text"] == "  Call [CONTACT].  "


def test_json_lines_in_and_out_keep_every_column(spark, notes, tmp_path):
    """JSON output keeps null columns (Spark's JSON writer drops them by default, and a run
    without a failed note then had no error column to count)."""
    import json

    with open(tmp_path / "notes.jsonl", "w", encoding="utf8") as f:
        for note_id, patient, text in notes[:10]:
            f.write(json.dumps({"id": note_id, "patient": patient, "text": text}) + "\n")
    result = spark_deid(tmp_path / "notes.jsonl", tmp_path / "out", "--model", "rules", "--format", "json")
    assert result.exit_code == 0, result.output
    assert "10 note(s), 0 failed" in said(result)
    lines = [json.loads(line) for part in (tmp_path / "out").glob("part-*.json") for line in part.open()]
    assert len(lines) == 10 and all("error" in line and line["error"] is None for line in lines)
