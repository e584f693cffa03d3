"""Evaluate a trained pipeline (and its teacher baseline) on every task's dev split.

``evaluate_pipelines`` is what ``clintiny evaluate`` and the project's ``evaluate`` step run:
per-label P/R/F for every head, PHI token-level recall/precision on real notes, specialty top-1
accuracy and macro-F1, relation F1, and the student-versus-teacher table (parameters, MB,
words/s on this machine, each task's score and the fraction of the teacher's score kept).
Given the file ``clintiny baselines`` writes, the report adds the baselines task by task
(:mod:`.baselines`), with the winner of each figure and its margin.
"""

import json
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import spacy
from spacy.language import Language

from ..errors import Errors
from ..fileio import write_json_atomic, write_text_atomic
from .baselines import read_baselines, spread_subset
from .report import TASK_TITLES, baseline_comparison, main_figure, markdown_report, plot_all, teacher_kept
from .scores import (
    dir_size_mb,
    encoder_size,
    phi_token_scores,
    predict,
    read_dev_sets,
    score_tasks,
    words_per_second,
)

__all__ = ["evaluate_pipelines", "evaluate_one", "package_meta", "read_baselines", "read_eval_sets", "score_pipeline"]

PHI_CORPUS = "physionet"
HEAD_FACTORIES = ("clintiny_encoder", "transformer", "clintiny_ner", "clintiny_textcat", "clintiny_rel")


def find_dev_sets(corpus_dir: Path, *, split: str = "dev") -> Dict[str, Path]:
    """Every ``<corpus_dir>/<name>/<split>.spacy``, keyed by corpus name."""
    return {p.parent.name: p for p in sorted(Path(corpus_dir).glob(f"*/{split}.spacy"))}


def speed_texts(dev_sets: Dict[str, List], *, n_docs: int) -> List[str]:
    """A fixed, varied sample of dev texts for timing: round-robin over the corpora."""
    pools = [[eg.reference.text for eg in egs] for _, egs in sorted(dev_sets.items())]
    texts: List[str] = []
    i = 0
    while len(texts) < n_docs and any(i < len(p) for p in pools):
        for pool in pools:
            if i < len(pool) and len(texts) < n_docs:
                texts.append(pool[i])
        i += 1
    return texts


def evaluate_one(
    model_path: Path,
    dev_sets: Dict[str, List],
    *,
    phi_corpus: str = "physionet",
    speed_sample: List[str],
    batch_size: int = 16,
    scores: Optional[Dict[str, Any]] = None,
) -> Dict[str, Any]:
    """Scores, size and speed of one pipeline.

    scores (Optional[Dict[str, Any]]): The pipeline's scores on these dev sets, computed before
        (:func:`score_file`, checked with :func:`read_scores`): only its speed is measured here.
    """
    nlp = spacy.load(model_path)
    result: Dict[str, Any] = {"model": str(model_path)}
    if scores is None:
        result.update(score_pipeline(nlp, dev_sets, phi_corpus=phi_corpus, batch_size=batch_size))
    else:
        result.update({key: scores[key] for key in SCORE_KEYS if key in scores})
    result.update(encoder_size(nlp))
    result["pipeline_mb"] = dir_size_mb(model_path)
    extra = [name for name in nlp.pipe_names if nlp.get_pipe_meta(name).factory not in HEAD_FACTORIES]
    result["words_per_s"] = words_per_second(nlp, speed_sample, batch_size=batch_size, disable=extra)
    if extra:
        result["words_per_s_full"] = words_per_second(nlp, speed_sample, batch_size=batch_size)
    result["speed_docs"] = len(speed_sample)
    return result


# what score_pipeline gives, and so what a scores file (score_file) holds besides its checks
SCORE_KEYS = ("tasks", "tasks_by_corpus", "phi_tokens")


def score_file(
    model_path: Path,
    corpus_dir: Path,
    output: Path,
    *,
    phi_docs: Optional[Path] = None,
    limit: int = 0,
    threads: Optional[int] = None,
) -> Dict[str, Any]:
    """Score one pipeline on the dev sets ``clintiny evaluate`` reads, and write the scores as
    JSON for its ``--teacher-scores``: so the teacher baseline is scored in ``make all``'s lanes,
    beside the student's runs, and the evaluate step only times it.

    model_path (Path): The pipeline.
    corpus_dir, phi_docs, limit: As :func:`evaluate_pipelines` takes them.
    threads (Optional[int]): torch threads (None: torch's default).
    output (Path): The JSON file (written atomically).
    RETURNS (Dict[str, Any]): What was written: the scores (``SCORE_KEYS``), the pipeline's
        path and the number of dev docs of each corpus.
    """
    import torch

    if threads is not None:
        torch.set_num_threads(threads)
    dev_sets = read_eval_sets(corpus_dir, phi_docs=phi_docs, limit=limit)
    _require_dev_sets(dev_sets, corpus_dir)
    result: Dict[str, Any] = {
        "model": str(model_path),
        "dev_docs": dev_doc_counts(dev_sets),
    }
    result.update(score_pipeline(spacy.load(model_path), dev_sets))
    write_json_atomic(output, result)
    return result


def dev_doc_counts(dev_sets: Dict[str, List]) -> Dict[str, int]:
    """Dev docs per corpus: what metrics.json records and what a scores file must match."""
    return {name: len(egs) for name, egs in dev_sets.items()}


def read_scores(path: Path, dev_sets: Dict[str, List]) -> Dict[str, Any]:
    """A scores file of :func:`score_file`, checked against the dev sets being evaluated: E906
    when it was made on other dev docs (another corpus, ``--limit`` or ``--phi-docs``)."""
    scores = json.loads(Path(path).read_text(encoding="utf8"))
    counts = dev_doc_counts(dev_sets)
    if not isinstance(scores, dict) or scores.get("dev_docs") != counts or "tasks" not in scores:
        found = scores.get("dev_docs") if isinstance(scores, dict) else None
        raise ValueError(Errors.E906.format(path=path, found=found, expected=counts))
    return scores


def score_pipeline(
    nlp: Language, dev_sets: Dict[str, List], *, phi_corpus: str = PHI_CORPUS, batch_size: int = 16
) -> Dict[str, Any]:
    """Every head's scores on the dev sets: ``tasks`` (all corpora together),
    ``tasks_by_corpus`` (each task's main figure per corpus) and, when ``phi_corpus`` is among
    the dev sets, ``phi_tokens`` (token-level PHI recall and precision on real notes). The
    ``phi_corpus`` notes go through the PHI head and its encoder only (``deid.engine.
    phi_components``): they annotate nothing else, so the other heads' scores skip them and
    running medspaCy, the concept and relation heads on them would only cost time."""
    from ..deid.engine import phi_components  # the deid engine imports the components

    predicted = {}
    for name, egs in dev_sets.items():
        # the real notes carry only PHI gold: run just the PHI head and its encoder on them
        enable = phi_components(nlp.config)["keep"] if name == phi_corpus else []
        with nlp.select_pipes(enable=enable) if enable else nullcontext():
            predicted[name] = predict(nlp, egs, batch_size=batch_size)
    result: Dict[str, Any] = {"tasks": score_tasks(nlp, [eg for egs in predicted.values() for eg in egs])}
    result["tasks_by_corpus"] = {
        name: {t: v.get("main") for t, v in score_tasks(nlp, egs).items() if v.get("main") is not None}
        for name, egs in predicted.items()
    }
    if phi_corpus in predicted and "phi" in result["tasks"]:
        result["phi_tokens"] = phi_token_scores(predicted[phi_corpus])
    return result


def _require_dev_sets(dev_sets: Dict[str, Any], corpus_dir: Path) -> None:
    """An empty report would look like a finished evaluation (``optimize --choose`` has its own
    error for this, E835, so ``read_eval_sets`` itself does not raise)."""
    if not dev_sets:
        raise ValueError(Errors.E918.format(path=corpus_dir))


def read_eval_sets(corpus_dir: Path, *, phi_docs: Optional[Path] = None, limit: int = 0) -> Dict[str, List]:
    """The dev sets of ``corpus_dir`` as ``clintiny evaluate`` scores them: at most ``limit``
    evenly spaced docs per corpus (``baselines.spread_subset``, as ``clintiny baselines --limit``
    takes them), and ``phi_docs`` (real notes with gold PHI) in full as the corpus "physionet"."""
    nlp = spacy.blank("en")
    paths = find_dev_sets(corpus_dir)
    if phi_docs is not None:
        paths.pop(PHI_CORPUS, None)
    dev_sets = {name: spread_subset(egs, limit) for name, egs in read_dev_sets(nlp, paths).items()}
    if phi_docs is not None:
        dev_sets[PHI_CORPUS] = read_dev_sets(nlp, {PHI_CORPUS: phi_docs})[PHI_CORPUS]
    return dev_sets


def evaluate_pipelines(
    student: Path,
    corpus_dir: Path,
    output_dir: Path,
    *,
    teacher: Optional[Path] = None,
    phi_docs: Optional[Path] = None,
    train_logs: Optional[Dict[str, Path]] = None,
    speed_docs: int = 200,
    limit: int = 0,
    threads: int = 2,
    baselines: Optional[Path] = None,
    runtime: Optional[Path] = None,
    teacher_other_recipe: Sequence[str] = (),
    teacher_scores: Optional[Path] = None,
) -> Dict[str, Any]:
    """Evaluate the student (and teacher) and write metrics.json, report.md and plots.

    student (Path): The trained (assembled) student pipeline.
    corpus_dir (Path): Folder with ``<corpus>/dev.spacy`` files.
    output_dir (Path): Where metrics.json, report.md and the PNG plots go.
    teacher (Optional[Path]): The same heads trained on the teacher encoder.
    phi_docs (Optional[Path]): Real notes with gold PHI for token-level figures, scored in
        full (no ``limit``) as the corpus "physionet".
    speed_docs (int): Dev docs timed for words/s.
    limit (int): At most this many dev docs per corpus (0 = all), evenly spaced over each dev
        file (``baselines.spread_subset``, as ``clintiny baselines --limit`` takes them).
    threads (int): torch threads.
    baselines (Optional[Path]): The JSON file ``clintiny baselines`` wrote: the report gains
        the section "Baselines, same dev splits". Read (and checked) before any evaluation.
    runtime (Optional[Path]): The JSON file ``clintiny optimize --choose --report`` wrote: the
        report gains the section "Encoder runtime" (what the packaged runtime costs against fp32).
    teacher_other_recipe (Sequence[str]): Tasks (keys of ``report.TASK_TITLES``) whose teacher
        head was trained with another recipe than the student's (for example the teacher's PHI
        head from its multi-task run, the student's from a run of its own): their teacher figures
        are reported, marked, with no kept fraction. Checked before any evaluation.
    teacher_scores (Optional[Path]): The teacher's scores on the same dev docs, written before
        by :func:`score_file` (``clintiny evaluate-scores``): the teacher is then only timed.
        Checked before any evaluation.
    RETURNS (Dict[str, Any]): The metrics.
    """
    import torch

    other_recipe = check_task_names(teacher_other_recipe)
    if teacher_scores is not None and teacher is None:
        raise ValueError(Errors.E907.format(path=teacher_scores))
    baseline_data = read_baselines(baselines) if baselines is not None else None
    torch.set_num_threads(threads)
    dev_sets = read_eval_sets(corpus_dir, phi_docs=phi_docs, limit=limit)
    _require_dev_sets(dev_sets, corpus_dir)
    known_teacher = read_scores(teacher_scores, dev_sets) if teacher_scores is not None else None
    sample = speed_texts(dev_sets, n_docs=speed_docs)
    metrics: Dict[str, Any] = {
        "dev_docs": dev_doc_counts(dev_sets),
        "threads": threads,
    }
    metrics["student"] = evaluate_one(student, dev_sets, phi_corpus=PHI_CORPUS, speed_sample=sample)
    if teacher is not None:
        metrics["teacher"] = evaluate_one(
            teacher, dev_sets, phi_corpus=PHI_CORPUS, speed_sample=sample, scores=known_teacher
        )
        metrics["teacher_other_recipe"] = other_recipe
        metrics["kept"] = {
            task: teacher_kept(
                task, main_figure(entry), main_figure(metrics["teacher"]["tasks"].get(task, {})), other_recipe
            )
            for task, entry in metrics["student"]["tasks"].items()
        }
        metrics["speedup"] = metrics["student"]["words_per_s"] / max(metrics["teacher"]["words_per_s"], 1e-9)
    if runtime is not None:
        metrics["runtime"] = json.loads(Path(runtime).read_text(encoding="utf8"))
    if baseline_data is not None:
        metrics["baselines"] = baseline_data
        metrics["comparison"] = baseline_comparison(metrics)
    output_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(output_dir / "metrics.json", metrics)
    write_text_atomic(output_dir / "report.md", markdown_report(metrics))
    plot_all(metrics, output_dir, train_logs or {})
    return metrics


def check_task_names(tasks: Sequence[str]) -> List[str]:
    """``tasks`` as a sorted list without repeats; E905 for a name that is not a task of the report."""
    for task in tasks:
        if task not in TASK_TITLES:
            raise ValueError(Errors.E905.format(value=task, tasks=", ".join(TASK_TITLES)))
    return sorted(set(tasks))


def package_meta(template: Path, metrics: Dict[str, Any], *, fidelity: Optional[Path] = None) -> Dict[str, Any]:
    """The package meta: the template (name, license, sources...) plus the measured figures,
    so the installed package says what it was trained from and how well it does."""
    meta = json.loads(Path(template).read_text(encoding="utf8"))
    student = metrics["student"]
    performance: Dict[str, Any] = {}
    for task, entry in student["tasks"].items():
        value = main_figure(entry)
        if value is not None:
            performance[f"{task}_{'acc' if entry.get('kind') == 'textcat' else 'f'}"] = round(value, 4)
    if student.get("phi_tokens"):
        performance["physionet_phi_token_recall"] = round(student["phi_tokens"]["token_recall"], 4)
        performance["physionet_phi_token_precision"] = round(student["phi_tokens"]["token_precision"], 4)
    performance["words_per_second_2_cores"] = round(student["words_per_s"])
    meta["performance"] = performance
    clintiny: Dict[str, Any] = {
        "encoder_params": student["params"],
        "encoder_mb": round(student["encoder_mb"], 1),
        "kept_of_teacher": {k: (round(v, 4) if v is not None else None) for k, v in metrics.get("kept", {}).items()},
    }
    if fidelity is not None and Path(fidelity).exists():
        clintiny["distillation_fidelity"] = json.loads(Path(fidelity).read_text(encoding="utf8"))
    meta["clintiny"] = clintiny
    # requirements the pipeline folder itself declares (`clintiny optimize --onnx` adds
    # onnxruntime): `spacy package --meta-path` takes this meta instead of the folder's
    folder_meta = Path(student.get("model", "")) / "meta.json"
    if folder_meta.is_file():
        folder = json.loads(folder_meta.read_text(encoding="utf8"))
        requirements = list(meta.get("requirements", []))
        requirements += [req for req in folder.get("requirements", []) if req not in requirements]
        if requirements:
            meta["requirements"] = requirements
    return meta
