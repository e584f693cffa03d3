"""``clintiny evaluate``: task scores, PHI token figures, speed and the student/teacher table."""

from pathlib import Path
from typing import List, Optional

import typer
from wasabi import msg

from ..fileio import check_outputs
from ..models import check_pipeline_folder
from ._app import app


@app.command("evaluate")
def evaluate_cli(
    student: Path = typer.Argument(..., help="Trained (assembled) student pipeline folder", exists=True),
    corpus_dir: Path = typer.Argument(..., help="Folder with <corpus>/dev.spacy files", exists=True),
    output_dir: Path = typer.Argument(..., help="Where metrics.json, report.md and plots go"),
    teacher: Optional[Path] = typer.Option(None, "--teacher", help="Same heads on the teacher encoder", exists=True),
    phi_docs: Optional[Path] = typer.Option(
        None, "--phi-docs", help="Real notes with gold PHI (DocBin) for token-level figures", exists=True
    ),
    train_log: List[str] = typer.Option([], "--train-log", help="NAME=PATH of a spacy train JSONL log (repeatable)"),
    speed_docs: int = typer.Option(200, "--speed-docs", help="Dev docs timed for words/s"),
    limit: int = typer.Option(0, "--limit", min=0, help="At most this many docs per dev corpus (0 = all)"),
    threads: int = typer.Option(2, "--threads", help="torch threads while timing"),
    meta: Optional[Path] = typer.Option(
        None, "--meta", help="Package meta template: writes meta.json with the figures beside metrics.json", exists=True
    ),
    fidelity: Optional[Path] = typer.Option(
        None, "--fidelity", help="The student's distillation fidelity.json, recorded in meta.json"
    ),
    baselines: Optional[Path] = typer.Option(
        None,
        "--baselines",
        exists=True,
        help="JSON from `clintiny baselines`: adds the section 'Baselines, same dev splits'",
    ),
    runtime: Optional[Path] = typer.Option(
        None,
        "--runtime",
        exists=True,
        help="JSON from `clintiny optimize --choose --report`: adds the section 'Encoder runtime'",
    ),
    teacher_other_recipe: List[str] = typer.Option(
        [],
        "--teacher-other-recipe",
        help="A task (phi, concepts, modifiers, textcat_specialty, textcat_ade, rel) whose teacher head was "
        "trained with another recipe than the student's: shown marked, with no kept fraction (repeatable)",
    ),
    teacher_scores: Optional[Path] = typer.Option(
        None,
        "--teacher-scores",
        exists=True,
        dir_okay=False,
        help="JSON from `clintiny evaluate-scores` on the teacher and the same dev docs: the teacher is only timed",
    ),
) -> None:
    """Evaluate the student (and teacher baseline) on every dev split and write the report."""
    from ..evaluation import evaluate_pipelines, package_meta
    from ..evaluation.report import write_json_atomic

    logs = {}
    for item in train_log:
        if "=" not in item:
            msg.fail(f"--train-log takes NAME=PATH, got '{item}'", exits=1)
        name, path = item.split("=", 1)
        logs[name] = Path(path)
    try:
        for folder in (student, teacher):
            if folder is not None:
                check_pipeline_folder(folder)
        inputs = {"STUDENT": student, "CORPUS": corpus_dir, "--teacher": teacher, "--meta": meta}
        check_outputs({"OUTPUT": output_dir}, {**inputs, "--baselines": baselines, "--teacher-scores": teacher_scores})
        metrics = evaluate_pipelines(
            student,
            corpus_dir,
            output_dir,
            teacher=teacher,
            phi_docs=phi_docs,
            train_logs=logs,
            speed_docs=speed_docs,
            limit=limit,
            threads=threads,
            baselines=baselines,
            runtime=runtime,
            teacher_other_recipe=teacher_other_recipe,
            teacher_scores=teacher_scores,
        )
    except ValueError as err:
        msg.fail(str(err), exits=1)
    if meta is not None:
        write_json_atomic(output_dir / "meta.json", package_meta(meta, metrics, fidelity=fidelity))
    msg.good(f"Wrote {output_dir / 'metrics.json'} and {output_dir / 'report.md'}")
    print((output_dir / "report.md").read_text(encoding="utf8"))
    if not metrics["student"]["tasks"]:
        msg.warn("The student pipeline has no clintiny heads to score.")


@app.command("evaluate-scores")
def evaluate_scores_cli(
    model: Path = typer.Argument(..., help="Pipeline folder", exists=True),
    corpus_dir: Path = typer.Argument(..., help="Folder with <corpus>/dev.spacy files", exists=True),
    output: Path = typer.Argument(..., help="JSON file of the scores (for clintiny evaluate --teacher-scores)"),
    phi_docs: Optional[Path] = typer.Option(
        None, "--phi-docs", help="Real notes with gold PHI (DocBin) for token-level figures", exists=True
    ),
    limit: int = typer.Option(0, "--limit", min=0, help="At most this many docs per dev corpus (0 = all)"),
    threads: Optional[int] = typer.Option(None, "--threads", help="torch threads (default: torch's)"),
) -> None:
    """Score one pipeline on the dev splits as `clintiny evaluate` does, without timing it, and
    write the scores: `clintiny evaluate --teacher-scores` then only times the teacher."""
    from ..evaluation import score_file

    try:
        check_pipeline_folder(model)
        check_outputs({"OUTPUT": output}, {"MODEL": model, "CORPUS": corpus_dir})
        result = score_file(model, corpus_dir, output, phi_docs=phi_docs, limit=limit, threads=threads)
    except ValueError as err:
        msg.fail(str(err), exits=1)
    counts = ", ".join(f"{name} {n}" for name, n in result["dev_docs"].items())
    msg.good(f"Wrote {output}: {len(result['tasks'])} task(s) scored on {counts} dev docs")
