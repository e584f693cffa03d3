"""The executor side without Spark: rows from docs (ConText flags, text only when asked), one
pandas batch annotated or de-identified, null and empty texts, a failing note isolated from its
batch, and the pipeline loaded once per process."""

import pytest
import spacy
from spacy.language import Language
from spacy.tokens import Span
from spark_support import KEY, require_spark

require_spark()  # pandas and pyarrow come with the [spark] extra

import pandas  # noqa: E402

from spacy_clintiny.spark import worker  # noqa: E402
from spacy_clintiny.spark.checks import pipeline_config, resolve_model, span_keys_of  # noqa: E402
from spacy_clintiny.spark.records import doc_row, span_rows  # noqa: E402

NOTE = "Pt John Smith seen 3/14/2021. Call 617-555-0199.\nDenies chest pain. Mother had fever."


@Language.component("test_spark_boom")
def boom(doc):
    if "BOOM" in doc.text:
        raise RuntimeError(f"failure that quotes the note: {doc.text}")
    return doc


def annotate_options(path, **kwargs):
    keys = ("phi", "concepts")
    return worker.AnnotateOptions(
        model=str(path),
        text_col="text",
        span_keys=keys,
        span_cols=keys,
        cats_col="cats",
        relations_col="relations",
        error_col="error",
        **kwargs,
    )


def test_span_rows_carry_context_flags_and_text_only_when_asked(serial_nlp):
    doc = serial_nlp(NOTE)
    rows = span_rows(doc, "concepts")
    assert [(NOTE[r["start"] : r["end"]], r["label"], r["is_negated"], r["is_family"]) for r in rows] == [
        ("chest pain", "PROBLEM", True, False),
        ("fever", "PROBLEM", False, True),
    ]
    assert all("text" not in r for r in rows)
    assert [r["text"] for r in span_rows(doc, "concepts", with_text=True)] == ["chest pain", "fever"]
    assert span_rows(doc, "ents") == rows and span_rows(doc, "no_such_group") == []
    phi = {(NOTE[r["start"] : r["end"]], r["label"], r["source"]) for r in span_rows(doc, "phi")}
    assert {("3/14/2021", "DATE", "rule:numeric_date"), ("617-555-0199", "CONTACT", "rule:phone")} <= phi
    row = doc_row(doc, ("phi",))
    assert set(row) == {"phi", "cats", "relations"} and set(row["cats"]) == {"CARDIO", "DERMA"}


def test_span_of_another_group_with_the_ents_offsets_shares_their_flags(serial_nlp):
    doc = serial_nlp(NOTE)
    pain = next(e for e in doc.ents if e.text == "chest pain")
    doc.spans["copy"] = [Span(doc, pain.start, pain.end, label="PROBLEM"), Span(doc, 0, 1, label="X")]
    rows = span_rows(doc, "copy")
    assert rows[0]["is_negated"] is True and rows[1]["is_negated"] is None


def test_annotate_frame_nulls_empties_and_known_spans(tiny_pipeline):
    options = annotate_options(tiny_pipeline)
    frame = pandas.DataFrame({"text": [NOTE, None, ""], "other": [1, 2, 3]})
    out = worker.annotate_frame(frame, worker.load_annotator(options), options)
    assert list(out.columns) == ["text", "other", "phi", "concepts", "cats", "relations", "error"]
    assert out["other"].tolist() == [1, 2, 3]
    assert [r["label"] for r in out["concepts"][0]] == ["PROBLEM", "PROBLEM"]
    assert [out[c][1] for c in ("phi", "concepts", "cats", "relations", "error")] == [None] * 5
    assert (out["phi"][2], out["concepts"][2], out["relations"][2], out["error"][2]) == ([], [], [], None)


def test_a_failing_note_gets_an_error_without_its_text_and_the_batch_goes_on(tiny_pipeline, tmp_path):
    nlp = spacy.load(tiny_pipeline)
    nlp.add_pipe("test_spark_boom")
    texts = [NOTE, f"BOOM {NOTE}", NOTE, 42]
    options = annotate_options(tiny_pipeline, batch_size=4)
    out = worker.annotate_frame(pandas.DataFrame({"text": texts}), nlp, options)
    errors = out["error"].tolist()
    assert errors[0] is None and errors[2] is None
    assert "[E810]" in errors[1] and "test_spark_boom" in errors[1] and "RuntimeError" in errors[1]
    assert "John" not in errors[1] and "617" not in errors[1]
    assert errors[1].split()[3] == worker.note_digest(texts[1])  # "... [E810] Note sha1:...": findable
    assert "[E808]" in errors[3] and "int" in errors[3]
    assert out["concepts"][2] == out["concepts"][0] and out["concepts"][1] is None


def test_deidentify_frame_matches_the_engine_and_handles_nulls(tiny_pipeline, serial_deid_nlp):
    from spacy_clintiny.deid.engine import Deidentifier
    from spacy_clintiny.deid.surrogate import SurrogateGenerator
    from spacy_clintiny.deid.types import NoteRecord

    options = worker.DeidOptions(
        model=str(tiny_pipeline),
        text_col="text",
        output_col="text",
        phi_col="phi",
        error_col="error",
        mode="surrogate",
        key=KEY,
        has_id=True,
        has_patient=True,
    )
    assert KEY not in repr(options)
    frame = pandas.DataFrame(
        {"text": [NOTE, None, "", NOTE], worker.ID_HELPER: ["a", "b", "c", "d"], worker.PATIENT_HELPER: ["p1"] * 4}
    )
    out = worker.deidentify_frame(frame, worker.load_deidentifier(options), options)
    assert list(out.columns) == ["text", "phi", "error"]
    serial = Deidentifier(serial_deid_nlp, mode="surrogate", generator=SurrogateGenerator(KEY))
    expected = next(serial.run([NoteRecord("a", NOTE, "p1")]))
    assert out["text"][0] == expected.text == out["text"][3] and "617-555-0199" not in expected.text
    assert [(r["start"], r["label"], r["operator"]) for r in out["phi"][0]] == [
        (r.start, r.label, r.operator) for r in expected.replacements
    ]
    assert (out["text"][1], out["phi"][1], out["error"][1]) == (None, None, None)
    assert (out["text"][2], out["phi"][2], out["error"][2]) == ("", [], None)


def test_deidentify_patient_propagates_through_the_patients_notes_in_id_order():
    def options(propagate):
        return worker.DeidOptions(
            model="rules", text_col="text", output_col="text", phi_col="phi", error_col="error",
            has_id=True, has_patient=True, propagate=propagate,
        )  # fmt: skip

    # invented name, found from its title in a1 only; the frame comes in any order
    frame = pandas.DataFrame(
        {
            "text": ["QUIMBLETON aware of plan.", "Seen by Dr. Quimbleton today."],
            worker.ID_HELPER: ["b2", "a1"],
            worker.PATIENT_HELPER: ["p1", "p1"],
        }
    )
    out = worker.deidentify_patient(frame, options("patient"))
    assert out["text"].tolist() == ["Seen by Dr. [NAME] today.", "[NAME] aware of plan."]
    assert [row[0]["source"] for row in out["phi"]] == ["rule:dr_name", "propagated"]
    within = worker.deidentify_frame(frame, worker.load_deidentifier(options("note")), options("note"))
    assert within["text"].tolist() == ["QUIMBLETON aware of plan.", "Seen by Dr. [NAME] today."]
    # duplicate ids: the text breaks the tie, so the rows come out in one order however they came in
    twins = frame.assign(**{worker.ID_HELPER: ["a1", "a1"]})
    one = worker.deidentify_patient(twins, options("patient"))["text"].tolist()
    other = worker.deidentify_patient(twins.iloc[::-1], options("patient"))["text"].tolist()
    assert one == other


def test_the_pipeline_loads_once_per_process(tiny_pipeline):
    options = annotate_options(tiny_pipeline, threads=1)
    first = worker.load_annotator(options)
    assert worker.load_annotator(annotate_options(tiny_pipeline, threads=1, with_text=True)) is first
    assert worker.load_counts()[f"annotate:{tiny_pipeline}"] == 1
    frame = pandas.DataFrame({"text": [NOTE] * 3})
    list(worker.annotate_partition(iter([frame, frame]), options))
    assert worker.load_counts()[f"annotate:{tiny_pipeline}"] == 1


def test_driver_side_model_checks(tiny_pipeline, tmp_path):
    assert resolve_model(str(tiny_pipeline)) == str(tiny_pipeline.resolve())
    assert resolve_model("rules", rules_ok=True) == "rules"
    assert span_keys_of(pipeline_config(str(tiny_pipeline))) == ["concepts", "phi"]
    for bad in (tmp_path / "missing", tmp_path, "rules", "no_such_package_xyz"):
        with pytest.raises(ValueError, match=r"\[E801\]"):
            resolve_model(str(bad))


def test_workers_use_this_interpreter_in_local_mode_only(monkeypatch):
    import os
    import sys

    from spacy_clintiny.spark.session import use_this_python

    for name in ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON", "PYSPARK_GATEWAY_PORT"):
        monkeypatch.delenv(name, raising=False)
    assert use_this_python("yarn") is False and "PYSPARK_PYTHON" not in os.environ
    monkeypatch.setenv("PYSPARK_GATEWAY_PORT", "4040")  # under spark-submit: its settings rule
    assert use_this_python(None) is False and "PYSPARK_PYTHON" not in os.environ
    assert use_this_python("local[2]") is True and os.environ["PYSPARK_PYTHON"] == sys.executable
    monkeypatch.setenv("PYSPARK_PYTHON", "/opt/other/python")
    use_this_python("local[2]")
    assert os.environ["PYSPARK_PYTHON"] == "/opt/other/python"  # an explicit choice is kept


@pytest.mark.parametrize(
    "src,dst,code",
    [
        ("notes", "notes", "E811"),
        ("notes", "notes/deid", "E811"),
        ("notes", "file://{tmp}/notes/deid", "E811"),
        ("hdfs:///lake/notes", "hdfs:///lake/notes/deid", "E811"),
        ("missing", "out", "E814"),
        ("notes", "existing", "E813"),
    ],
)
def test_spark_deid_paths_are_checked_before_spark_runs(tmp_path, monkeypatch, src, dst, code):
    from spacy_clintiny.spark.job import check_paths

    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes").mkdir()
    (tmp_path / "existing").mkdir()
    with pytest.raises(ValueError, match=rf"\[{code}\]"):
        check_paths(src, dst.format(tmp=tmp_path), overwrite=False, fmt="parquet")
    check_paths("notes", "existing", overwrite=True, fmt="parquet")
    check_paths("hdfs:///lake/notes", "hdfs:///lake/notes-deid", overwrite=False, fmt="parquet")


def test_the_cached_pipeline_is_keyed_by_every_detector_setting():
    from spacy_clintiny.deid.types import DetectorOptions

    def key(**settings):
        return worker.DeidOptions(
            model="rules", text_col="text", output_col="text", phi_col="phi", error_col="error",
            detector=DetectorOptions.make(**settings),
        ).pipeline_key()  # fmt: skip

    assert key() == key() and key(deny_list={"NAME": ["Kowalczyk"]}) == key(deny_list={"NAME": ("Kowalczyk",)})
    others = [key(dictionary_gate=0.2), key(outside_weight=0.3), key(profile="precision"), key(rules=False)]
    assert len({key(), *others}) == 5
    int8 = worker.DeidOptions(
        model="rules", text_col="text", output_col="text", phi_col="phi", error_col="error", int8=True
    ).pipeline_key()
    assert int8 != key()  # an int8 encoder is another pipeline


def test_int8_reaches_the_executors_pipeline(tiny_pipeline):
    """``deidentify(int8=True)`` travels in ``DeidOptions`` to ``load_deid_pipeline``: on a
    pipeline without an ``Encoder.v2`` encoder the executor gives E896, not a silent fp32 run."""
    options = worker.DeidOptions(
        model=str(tiny_pipeline), text_col="text", output_col="text", phi_col="phi", error_col="error", int8=True
    )
    with pytest.raises(ValueError, match=r"\[E896\]"):
        worker.load_deidentifier(options)
