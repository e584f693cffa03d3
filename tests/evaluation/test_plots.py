"""The report's plots: one panel per head and per dev score, speed against score per task."""

import json

from spacy_clintiny.evaluation.report import _curve_panels, _pipelines_only, plot_all

SPECIALTY = {"kind": "textcat", "acc": 0.5, "main": 0.1, "per_label": {"A": {"f": 0.5}, "B": {"f": 0.2}}}
TASKS = {"phi": {"main": 0.7}, "textcat_specialty": SPECIALTY}


def _metrics(**extra):
    return {"student": {"tasks": TASKS, "words_per_s": 3000.0, "params": 1e7}, **extra}


def test_plots_are_written_with_and_without_a_teacher_and_logs(tmp_path):
    log = tmp_path / "log.jsonl"
    rows = [
        {"step": 0, "losses": {"encoder": 0.0, "ner_phi": 0.0}, "scores": {"spans_phi_f": 0.0}},
        {"step": 100, "losses": {"encoder": 0.0, "ner_phi": 12.5}, "scores": {"spans_phi_f": 40.0}},
    ]
    log.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf8")
    teacher = {"tasks": TASKS, "words_per_s": 500.0, "params": 2e7}
    written = plot_all(_metrics(teacher=teacher), tmp_path / "plots", {"student": log})
    assert [p.name for p in written] == ["training_curves.png", "per_label_f1.png", "speed_vs_score.png"]
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in plot_all(_metrics(), tmp_path / "bare", {})][-1] == "speed_vs_score.png"


def test_tasks_without_a_baseline_get_a_panel_of_the_pipelines_main_figure():
    entries = _pipelines_only(_metrics(teacher={"tasks": {"phi": {"main": 0.8}}, "words_per_s": 500.0}))
    by_task = {e["task"]: e["figures"][0]["values"] for e in entries}
    assert by_task["phi"] == {"student": 0.7, "teacher": 0.8}
    assert by_task["textcat_specialty"] == {"student": 0.5, "teacher": None}  # top-1 for a ranking head


def test_curve_panels_leave_out_what_no_run_trains_or_scores():
    # the multi-task run has no concept head: its concept score and relation score stay 0
    multi_task = [
        {"step": 0, "losses": {"encoder": 0.0, "rel": 0.0}, "scores": {"spans_concepts_f": 0.0, "rel_rel_f": 0.0}},
        {"step": 250, "losses": {"encoder": 0.0, "rel": 170.0}, "scores": {"spans_concepts_f": 0.0, "rel_rel_f": 0.0}},
    ]
    concepts = [{"step": 1000, "losses": {"ner_concepts": 9.0}, "scores": {"spans_concepts_f": 0.7}}]
    heads, scores = _curve_panels({"student": multi_task, "student-concepts": concepts})
    assert heads == ["ner_concepts", "rel"] and scores == ["spans_concepts_f"]
