"""Write the evaluation as ``metrics.json``, a Markdown report and PNG plots."""
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional

from .scores import kept_fraction

TASK_TITLES = {
    "phi": "PHI (de-identification)",
    "concepts": "Medical concepts",
    "modifiers": "Medication modifiers",
    "textcat_specialty": "Specialty (MTSamples)",
    "textcat_ade": "ADE sentence (ADE corpus)",
    "rel": "Relations",
}


def write_json_atomic(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf8") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
    os.replace(tmp, path)


def _fmt(value: Optional[float], pct: bool = True) -> str:
    if value is None:
        return "–"
    return f"{value * 100:.1f}" if pct else f"{value:,.0f}"


def _ranks_labels(task: Dict[str, Any]) -> bool:
    """A multi-label classifier over several labels, judged by its top-1 accuracy; with one
    label (e.g. ADE yes/no) the top label is always that label, so F1 judges it."""
    return task.get("kind") == "textcat" and task.get("acc") is not None and len(task.get("per_label") or {}) > 1


def main_figure(task: Dict[str, Any]) -> Optional[float]:
    """The figure a task is judged by: top-1 accuracy for a classifier over several
    labels, F1 otherwise (entities, relations, a one-label classifier)."""
    return task.get("acc") if _ranks_labels(task) else task.get("main")


def main_metric_name(task: Dict[str, Any]) -> str:
    return "top-1 acc" if _ranks_labels(task) else "F1"


def markdown_report(metrics: Dict[str, Any]) -> str:
    """Render the evaluation as Markdown tables."""
    student = metrics["student"]
    teacher = metrics.get("teacher")
    lines: List[str] = ["# en_clintiny_sm evaluation", ""]
    lines += ["## Student versus teacher", ""]
    header = "| | student | teacher | kept |"
    lines += [header, "|---|---:|---:|---:|"]
    rows = [
        ("encoder parameters", student["params"], teacher and teacher["params"], False),
        ("encoder MB (fp32)", student["encoder_mb"], teacher and teacher["encoder_mb"], False),
        ("pipeline MB on disk", student.get("pipeline_mb"), teacher and teacher.get("pipeline_mb"), False),
        ("words/s (heads only, 2 cores)", student["words_per_s"], teacher and teacher["words_per_s"], False),
    ]
    for label, s, t, _ in rows:
        lines.append(f"| {label} | {_fmt(s, False)} | {_fmt(t, False)} | |")
    if student.get("words_per_s_full") is not None:
        lines.append(f"| words/s (full pipeline with medspacy) | {_fmt(student['words_per_s_full'], False)} | | |")
    for task, entry in student["tasks"].items():
        s = main_figure(entry)
        t = main_figure(teacher["tasks"].get(task, {})) if teacher else None
        kept = metrics.get("kept", {}).get(task)
        title = TASK_TITLES.get(task, task)
        lines.append(f"| {title} {main_metric_name(entry)} | {_fmt(s)} | {_fmt(t)} | {_fmt(kept)} |")
        if _ranks_labels(entry):
            t_f = teacher["tasks"].get(task, {}).get("main") if teacher else None
            kept_f = kept_fraction(entry.get("main"), t_f)
            lines.append(f"| {title} macro-F1 | {_fmt(entry.get('main'))} | {_fmt(t_f)} | {_fmt(kept_f)} |")
    phi_tok = student.get("phi_tokens")
    if phi_tok:
        t_tok = teacher.get("phi_tokens") if teacher else None
        for fig in ("token_recall", "token_precision"):
            t_val = t_tok.get(fig) if t_tok else None
            kept = kept_fraction(phi_tok[fig], t_val)
            lines.append(f"| PhysioNet PHI {fig.replace('_', ' ')} | {_fmt(phi_tok[fig])} | {_fmt(t_val)} | {_fmt(kept)} |")
    lines.append("")
    lines += ["## Per-label scores of the student (dev splits)", ""]
    for task, entry in student["tasks"].items():
        per_label = entry.get("per_label") or {}
        if not per_label:
            continue
        lines += [f"### {TASK_TITLES.get(task, task)}", "", "| label | P | R | F |", "|---|---:|---:|---:|"]
        for label, fig in sorted(per_label.items()):
            lines.append(f"| {label} | {_fmt(fig.get('p'))} | {_fmt(fig.get('r'))} | {_fmt(fig.get('f'))} |")
        extra = {k: v for k, v in entry.items() if k in ("acc", "micro_f", "main") and v is not None}
        if _ranks_labels(entry):
            lines.append("")
            lines.append(f"top-1 accuracy {_fmt(extra.get('acc'))}, macro-F1 {_fmt(extra.get('main'))}, "
                         f"micro-F1 {_fmt(extra.get('micro_f'))}")
        lines.append("")
    if metrics.get("notes"):
        lines += ["## Notes", ""] + [f"- {n}" for n in metrics["notes"]] + [""]
    return "\n".join(lines)


def plot_all(metrics: Dict[str, Any], out_dir: Path, train_logs: Dict[str, Path]) -> List[Path]:
    """Training curves, per-label F1 and speed against F1, as PNG files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written: List[Path] = []
    out_dir.mkdir(parents=True, exist_ok=True)
    # training curves: total loss per head and the main score, from spacy train's JSONL logs
    curves = {name: _read_log(path) for name, path in train_logs.items() if Path(path).exists()}
    if curves:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        for name, rows in curves.items():
            steps = [r["step"] for r in rows]
            for head in sorted({h for r in rows for h in r.get("losses", {})}):
                axes[0].plot(steps, [r["losses"].get(head, float("nan")) for r in rows], label=f"{name}:{head}")
            axes[1].plot(steps, [r.get("score", float("nan")) for r in rows], label=name)
        axes[0].set_yscale("log")
        axes[0].set_title("training loss per head")
        axes[1].set_title("weighted dev score")
        for ax in axes:
            ax.set_xlabel("step")
            ax.legend(fontsize=6)
        fig.tight_layout()
        written.append(_save(fig, out_dir / "training_curves.png"))
    # per-label F1
    labels, values = [], []
    for task, entry in metrics["student"]["tasks"].items():
        for label, fig_ in sorted((entry.get("per_label") or {}).items()):
            labels.append(f"{task}:{label}")
            values.append(fig_.get("f") or 0.0)
    if labels:
        fig, ax = plt.subplots(figsize=(8, max(3, 0.22 * len(labels))))
        ax.barh(labels, values)
        ax.set_xlim(0, 1)
        ax.set_xlabel("F1 (dev)")
        ax.tick_params(axis="y", labelsize=6)
        fig.tight_layout()
        written.append(_save(fig, out_dir / "per_label_f1.png"))
    # speed against mean task score
    points = [("student", metrics["student"])]
    if metrics.get("teacher"):
        points.append(("teacher", metrics["teacher"]))
    fig, ax = plt.subplots(figsize=(5, 4))
    for name, entry in points:
        figs = [f for f in (main_figure(t) for t in entry["tasks"].values()) if f is not None]
        mean = sum(figs) / len(figs) if figs else 0.0
        ax.scatter([entry["words_per_s"]], [mean])
        ax.annotate(f"{name} ({entry['params'] / 1e6:.1f}M)", (entry["words_per_s"], mean))
    ax.set_xlabel("words/s (2 cores)")
    ax.set_ylabel("mean task score (dev)")
    fig.tight_layout()
    written.append(_save(fig, out_dir / "speed_vs_score.png"))
    return written


def _read_log(path: Path) -> List[Dict[str, Any]]:
    rows = []
    with open(path, encoding="utf8") as fh:
        for line in fh:
            line = line.strip()
            if line:
                rows.append(json.loads(line))
    return rows


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
    return path
