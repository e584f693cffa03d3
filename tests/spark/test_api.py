"""annotate and deidentify on local[2]: the same output as the serial pipeline and engine, in any
partitioning; null and empty texts; checks that fail on the driver before any task starts; the
pipeline loaded once per Python worker."""

import pytest
from spark_support import KEY, require_spark

require_spark()

from pyspark.sql import functions as F  # noqa: E402

from spacy_clintiny.deid.custom import load_custom_operator  # noqa: E402
from spacy_clintiny.deid.engine import Deidentifier, load_deid_pipeline  # noqa: E402
from spacy_clintiny.deid.surrogate import SurrogateGenerator  # noqa: E402
from spacy_clintiny.deid.types import NoteRecord  # noqa: E402
from spacy_clintiny.spark import annotate, deidentify  # noqa: E402
from spacy_clintiny.spark.records import doc_row  # noqa: E402

SCHEMA = "id string, patient string, text string, visit long"


def rounded(value, places=5):
    """Floats rounded (batch composition moves the encoder's last digits), recursively."""
    if isinstance(value, float):
        return round(value, places)
    if isinstance(value, dict):
        return {k: rounded(v, places) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v, places) for v in value]
    return value


@pytest.fixture(scope="module")
def notes_df(spark, notes):
    rows = [(note_id, patient, text, None if i % 5 == 0 else i) for i, (note_id, patient, text) in enumerate(notes)]
    return spark.createDataFrame(rows, SCHEMA).repartition(4)


def by_id(df):
    return {row["id"]: row.asDict(recursive=True) for row in df.collect()}


def test_annotate_equals_the_serial_pipeline(spark, notes_df, notes, tiny_pipeline, serial_nlp):
    out = by_id(annotate(notes_df, "text", model=str(tiny_pipeline), id_col="id", with_text=True))
    texts = [(text, note_id) for note_id, _, text in notes if text is not None]
    n_spans = 0
    for doc, note_id in serial_nlp.pipe(texts, as_tuples=True, batch_size=16):
        expected = doc_row(doc, ("concepts", "phi"), with_text=True)
        got = out[note_id]
        assert got["error"] is None
        for col in ("concepts", "phi", "cats", "relations"):
            assert rounded(got[col]) == rounded(expected[col]), (note_id, col)
        n_spans += len(got["phi"])
    assert n_spans > 2 * len(texts)  # names, dates and phones: the comparison is not vacuous
    assert any(s["is_negated"] for row in out.values() for s in row["concepts"] or [])
    assert any(row["relations"] for row in out.values())
    null, empty = out["n007"], out["n011"]
    assert [null[c] for c in ("concepts", "phi", "cats", "relations", "error")] == [None] * 5
    assert (empty["concepts"], empty["phi"], empty["relations"], empty["error"]) == ([], [], [], None)
    assert out["n001"]["visit"] == 1 and out["n005"]["visit"] is None  # other columns pass through


def test_the_pipeline_loads_once_per_python_worker(spark, notes_df, tiny_pipeline):
    annotate(notes_df.limit(40).repartition(8), "text", model=str(tiny_pipeline)).select("error").collect()

    def probe(batches):
        import os

        import pandas

        from spacy_clintiny.spark.worker import load_counts

        for _ in batches:
            pass
        yield pandas.DataFrame({"pid": [os.getpid()], "loads": [load_counts().get(f"annotate:{tiny_pipeline}", 0)]})

    rows = spark.range(8, numPartitions=8).mapInPandas(probe, "pid long, loads long").collect()
    loads = {row["pid"]: row["loads"] for row in rows}
    assert set(loads.values()) <= {0, 1}  # never twice in one process
    assert 1 <= sum(loads.values()) <= 2 < 8  # 2 workers for 8 partitions, reused across tasks


def serial_deid(nlp, notes):
    """``clintiny deid``'s engine on the notes sorted by patient (then id), scope "patient": Spark
    groups each patient's notes wherever they sit, the serial engine propagates through consecutive
    ones (its default scope "run" also carries places to later patients, which Spark cannot)."""
    engine = Deidentifier(nlp, mode="surrogate", generator=SurrogateGenerator(KEY), propagate="patient")
    records = [NoteRecord(note_id, text, patient) for note_id, patient, text in notes if text is not None]
    records.sort(key=lambda r: (r.patient_id, r.note_id))
    return {r.record.note_id: r for r in engine.run(records)}


def test_deidentify_equals_the_serial_engine_in_any_partitioning(
    spark, notes_df, notes, tiny_pipeline, serial_deid_nlp
):
    def run(df):
        out = deidentify(
            df, "text", model=str(tiny_pipeline), patient_col="patient", id_col="id", mode="surrogate", key=KEY
        )
        return by_id(out)

    one = run(notes_df.coalesce(1))
    shuffled = run(notes_df.orderBy(F.rand(seed=3)).repartition(4))
    assert one == shuffled
    expected = serial_deid(serial_deid_nlp, notes)
    assert len(expected) == len(notes) - 1
    for note_id, result in expected.items():
        got = one[note_id]
        assert got["error"] is None and got["text"] == result.text, note_id
        assert [(p["start"], p["end"], p["label"], p["operator"]) for p in got["phi"]] == [
            (r.start, r.end, r.label, r.operator) for r in result.replacements
        ]
    # the same patient keeps the same surrogate name in notes spread over partitions
    changed = sum(one[note_id]["text"] != text for note_id, _, text in notes if text)
    assert changed == len(notes) - 2
    assert (one["n007"]["text"], one["n007"]["phi"], one["n007"]["error"]) == (None, None, None)
    assert (one["n011"]["text"], one["n011"]["phi"], one["n011"]["error"]) == ("", [], None)
    assert list(one["n001"]) == ["id", "patient", "text", "visit", "phi", "error"]


def test_a_name_found_once_is_redacted_in_the_patients_other_notes_on_any_partition(spark):
    # invented name, found from its title in q1 only; q3 is another patient's note
    rows = [
        ("q1", "pa", "Seen by Dr. Quimbleton today."),
        ("q2", "pa", "QUIMBLETON aware of plan."),
        ("q3", "pb", "QUIMBLETON aware of plan."),
        ("q4", None, "QUIMBLETON aware of plan."),
        ("q5", "", "Seen by Dr. Quimbleton today."),  # an empty patient is no patient, as in the CLI
        ("q6", "", "QUIMBLETON aware of plan."),
    ]
    df = spark.createDataFrame(rows, "id string, patient string, text string").repartition(4, "id")

    def texts(**kwargs):
        out = deidentify(df, "text", model="rules", patient_col="patient", id_col="id", **kwargs)
        return {row["id"]: row["text"] for row in out.collect()}

    assert texts() == {
        "q1": "Seen by Dr. [NAME] today.",
        "q2": "[NAME] aware of plan.",
        "q3": "QUIMBLETON aware of plan.",
        "q4": "QUIMBLETON aware of plan.",
        "q5": "Seen by Dr. [NAME] today.",
        "q6": "QUIMBLETON aware of plan.",
    }
    assert texts(propagate="note")["q2"] == "QUIMBLETON aware of plan."
    for scope in ("everywhere", "run"):  # run needs one ordered stream, not executors
        with pytest.raises(ValueError, match=f"E797.*'{scope}'"):
            deidentify(df, "text", model="rules", propagate=scope)


def test_dotted_column_names_work_and_come_back_as_they_were(spark, tiny_pipeline):
    # pandas UDFs look columns up by name, where Spark reads a dot as a struct field
    df = spark.createDataFrame(
        [("n1", "Seen by Dr. Quimbleton.", 3)], "`note.id` string, `note.text` string, `a.b` int"
    )
    out = deidentify(df, "note.text", model="rules", id_col="note.id", patient_col="note.id", phi_col="note.phi")
    assert out.columns == ["note.id", "note.text", "a.b", "note.phi", "error"]
    row = out.collect()[0]
    assert row["note.text"] == "Seen by Dr. [NAME]." and row["a.b"] == 3 and len(row["note.phi"]) == 1
    annotated = annotate(df, "note.text", model=tiny_pipeline, id_col="note.id", prefix="x.")
    assert annotated.columns[:3] == ["note.id", "note.text", "a.b"] and "x.error" in annotated.columns
    assert annotated.collect()[0]["x.error"] is None


def test_deidentify_redact_into_another_column_keeps_the_input(spark, notes_df, tiny_pipeline):
    out = deidentify(notes_df.where("id = 'n000'"), "text", model=str(tiny_pipeline), mode="redact", output_col="clean")
    row = out.first()
    assert "617-555-" in row["text"] and "617-555-" not in row["clean"] and "[CONTACT]" in row["clean"]


def test_encrypt_on_the_executors_is_reversed_by_the_key_on_the_driver(spark, notes_df, notes):
    from spacy_clintiny.deid.pseudonym import ENCRYPTED_SPAN, Pseudonymizer, decrypt_text

    out = by_id(
        deidentify(notes_df, "text", model="rules", patient_col="patient", id_col="id", mode="encrypt", key=KEY)
    )
    tokens = 0
    for note_id, _, text in notes:
        if text:
            assert out[note_id]["error"] is None
            tokens += len(ENCRYPTED_SPAN.findall(out[note_id]["text"]))
            assert decrypt_text(out[note_id]["text"], Pseudonymizer(KEY))[0] == text, note_id
    assert tokens > 0


def test_a_custom_function_runs_on_the_executors_by_name(spark, notes_df, notes, tmp_path):
    ops = tmp_path / "spark_ops.py"
    ops.write_text("def tag(text, *, label, **_):\n    return f'<{label.lower()}>'\n")
    out = by_id(deidentify(notes_df, "text", model="rules", id_col="id", mode="custom", custom=f"{ops}:tag"))
    op = load_custom_operator(f"{ops}:tag")
    engine = Deidentifier(load_deid_pipeline("rules"), mode="custom", generator=op, propagate="note")
    local = {r.record.note_id: r.text for r in engine.run(NoteRecord(i, t) for i, _, t in notes if t)}
    assert any("<contact>" in text for text in local.values())
    assert {i: out[i]["text"] for i in local} == local


def test_driver_side_errors_come_before_any_task(spark, notes_df, tiny_pipeline, tmp_path, monkeypatch):
    sc = spark.sparkContext
    sc.setJobGroup("clintiny-checks", "driver-side checks")
    monkeypatch.delenv("CLINTINY_DEID_KEY", raising=False)
    try:
        cases = [
            (lambda: annotate(notes_df, "text", model=str(tmp_path / "missing")), "E801"),
            (lambda: deidentify(notes_df, "text", model="no_such_package_xyz"), "E801"),
            (lambda: annotate(notes_df, "body", model=str(tiny_pipeline)), "E802"),
            (lambda: annotate(notes_df, "visit", model=str(tiny_pipeline)), "E803"),
            (lambda: annotate(notes_df.withColumn("cats", F.lit(1)), "text", model=str(tiny_pipeline)), "E804"),
            (lambda: deidentify(notes_df, "text", model="rules", mode="surrogate"), "E806"),
            (lambda: deidentify(notes_df, "text", model="rules", mode="hash"), "E806"),
            (lambda: deidentify(notes_df, "text", model="rules", mode="encrypt"), "E806"),
            (lambda: deidentify(notes_df, "text", model="rules", mode="surrogate", key="short"), "E807"),
            (lambda: deidentify(notes_df, "text", model="rules", batch_size=0), "E807"),
            (lambda: deidentify(notes_df, "text", model="rules", mode="erase"), "E742"),
            (lambda: deidentify(notes_df, "text", model="rules", mode="custom"), "E738"),
            (lambda: deidentify(notes_df, "text", model="rules", custom="os.path:basename"), "E764"),
            (lambda: deidentify(notes_df, "text", model="rules", mode="custom", custom="no_mod_xyz:f"), "E734"),
            (lambda: deidentify(notes_df, "text", model="rules", outside_weight=0.3), "E763"),
            (lambda: deidentify(notes_df, "text", model="rules", dictionary_gate=-0.5), "E894"),
            (lambda: deidentify(notes_df, "text", model="rules", profile="loose"), "E713"),
        ]
        for call, code in cases:
            with pytest.raises(ValueError, match=rf"\[{code}\]") as err:
                call()
            assert "short" not in str(err.value)
        assert sc.statusTracker().getJobIdsForGroup("clintiny-checks") == []
    finally:
        sc.setJobGroup("", "")
