"""The whole workflow, end to end, at smoke size: corpora from the mirror, pre-training,
distillation, multi-task training of student and teacher, medspaCy assembly, evaluation,
packaging, and a fresh-process spacy.load of the packaged pipeline."""

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from helpers import ROOT as REPO
from helpers import require_shared_data


@pytest.mark.long
def test_smoke_workflow_end_to_end(tmp_path, monkeypatch):
    from weasel.cli.run import project_run

    mirror = require_shared_data().resolve()  # skipped without the mirror, failed under CI=true
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(REPO / "project.yml", root / "project.yml")
    shutil.copytree(REPO / "configs", root / "configs")
    # the commands call `clintiny`: make this interpreter's scripts folder win
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    project_run(root, "smoke", overrides={"vars.mirror": str(mirror)}, capture=True)

    build = root / "build" / "smoke"
    metrics = json.loads((build / "metrics" / "metrics.json").read_text())
    student, teacher = metrics["student"], metrics["teacher"]
    assert 0 < student["params"] < teacher["params"]
    assert student["words_per_s"] > 0 and teacher["words_per_s"] > 0
    assert {"phi", "concepts", "modifiers", "textcat_specialty", "textcat_ade", "rel"} <= set(student["tasks"])
    assert "token_recall" in student["phi_tokens"]
    assert (build / "metrics" / "report.md").read_text().startswith("# en_clintiny_sm evaluation")
    for plot in ("training_curves.png", "per_label_f1.png", "speed_vs_score.png"):
        assert (build / "metrics" / plot).stat().st_size > 1000
    meta = json.loads((build / "metrics" / "meta.json").read_text())
    assert meta["performance"]["words_per_second_2_cores"] > 0
    # the teacher's PHI head is its multi-task run's, the student's its own run's: no kept fraction
    assert metrics["teacher_other_recipe"] == ["phi"]
    # the teacher was scored in the first lane (score-teacher); the evaluate step only timed it
    teacher_scores = json.loads((build / "metrics" / "teacher_scores.json").read_text())
    assert teacher["tasks"] == teacher_scores["tasks"] and teacher["phi_tokens"] == teacher_scores["phi_tokens"]
    # assemble and optimize ran in the second lane, after calibrate and the baselines
    assert all((build / "logs" / f"{step}.log").exists() for step in ("score-teacher", "assemble", "optimize"))
    assert metrics["kept"]["phi"] is None and meta["clintiny"]["kept_of_teacher"]["phi"] is None
    assert "(other recipe)" in (build / "metrics" / "report.md").read_text()
    fidelity = json.loads((build / "student" / "fidelity.json").read_text())
    assert fidelity
    wheels = list((build / "packages").glob("*/dist/en_clintiny_smoke-*.whl"))
    assert len(wheels) == 1
    # the PHI head comes from its own run, the specialty head from the calibrated multi-task run
    config = (build / "en_clintiny_smoke" / "config.cfg").read_text()
    assert "spacy-clintiny.TokenClassifier.v3" in config and "lexicons = [" in config  # the PHI head's run
    assert "spacy-clintiny.TokenClassifier.v2" in config and "spacy-clintiny.TextClassifier.v3" in config
    # the concept head comes from its own run (train-concepts), not from the multi-task run, the
    # relation head from its own (train-rel, trained on that concept head's spans too) and the
    # ADE sentence head from its own (train-ade: a BiLSTM over the wordpiece vectors)
    assert "spacy-clintiny.TextClassifier.v4" in config and "spacy-clintiny.WordpieceListener.v1" in config
    own_runs = (
        (
            "package",
            "en_clintiny_smoke-fp32",
            "pipeline-student",
            "pipeline-phi",
            "pipeline-concepts",
            "pipeline-ade",
            "pipeline-rel",
        ),
        (
            "teacher",
            "pipeline-teacher/heads",
            "pipeline-teacher",
            "pipeline-teacher",
            "pipeline-teacher-concepts",
            "pipeline-teacher-ade",
            "pipeline-teacher-rel",
        ),
    )
    for who, assembled, multi_task, phi_run, concepts_run, ade_run, rel_run in own_runs:
        # the multi-task run trains only the heads no run of their own replaces (--nlp.pipeline)
        multi_task_config = (build / multi_task / "model-last" / "config.cfg").read_text()
        trained = multi_task_config.split("pipeline = ", 1)[1].split("\n", 1)[0]
        assert "ner_concepts" not in trained and "textcat_ade" not in trained and '"rel"' not in trained, (who, trained)
        assert ("ner_phi" in trained) == (phi_run == multi_task), (who, trained)
        for head, own_run in (
            ("ner_phi", phi_run),
            ("ner_concepts", concepts_run),
            ("textcat_ade", ade_run),
            ("rel", rel_run),
        ):
            assembled_weights = (build / assembled / head / "model").read_bytes()
            assert assembled_weights == (build / own_run / "model-last" / head / "model").read_bytes(), (who, head)
    # the runs on one fixed encoder shared its output through build/encoder-cache: one folder per
    # encoder (student, teacher), each doc's file written once and read by the later runs
    folders = sorted(path for path in (build / "encoder-cache").iterdir() if path.is_dir())
    assert len(folders) == 2 and all(any(folder.glob("*/*.msgpack")) for folder in folders)
    assert (root / "corpus" / "calib" / "mtsamples.spacy").exists() or (build / "corpus" / "calib").exists()
    calibration = json.loads((build / "pipeline-student" / "calibration.json").read_text())
    # the ADE decision combined with the relation head's predictions, fitted (or left unfitted
    # for want of positives) by calibrate after the heads' thresholds, and packaged
    assert calibration["components"]["ade_evidence"]["owner"] == "textcat_ade"
    assert set(calibration["components"]) >= {"textcat_specialty", "textcat_ade", "rel", "ade_evidence"}
    assert 'factory = "clintiny_relation_evidence"' in config
    # the optimize step records its runtime decision in the package (clintiny deid reads it)
    runtime = json.loads((build / "metrics" / "runtime.json").read_text())
    record = json.loads((build / "en_clintiny_smoke" / "meta.json").read_text())["clintiny_runtime"]
    assert record["chosen"] == runtime["chosen"] and record["within_bound"]["phi"] == runtime["phi_within_bound"]
