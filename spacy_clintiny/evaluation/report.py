"""Write the evaluation as ``metrics.json``, a Markdown report and PNG plots."""

import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..fileio import atomic_path, write_json_atomic  # noqa: F401 (write_json_atomic re-exported: cli/evaluate.py writes meta.json with it)
from .scores import kept_fraction

TASK_TITLES = {
    "phi": "PHI (de-identification)",
    "concepts": "Medical concepts",
    "modifiers": "Medication modifiers",
    "textcat_specialty": "Specialty (MTSamples)",
    "textcat_ade": "ADE sentence (ADE corpus)",
    "rel": "Relations",
}
PHI_TASK = "phi"
# the teacher's figure of a task whose teacher head had another recipe than the student's
OTHER_RECIPE = "(other recipe)"


def teacher_kept(
    task: str, student: Optional[float], teacher: Optional[float], other_recipe: Sequence[str]
) -> Optional[float]:
    """The fraction of the teacher's figure the student keeps on ``task``; None when the
    teacher's head for it had another recipe (``other_recipe``): the two do not compare."""
    return None if task in other_recipe else kept_fraction(student, teacher)


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


# The tasks the baselines file can cover: title, corpus, and per figure (key in the baselines
# file, title, where the pipelines' metrics hold it).
COMPARED: Dict[str, Tuple[str, str, Tuple[Tuple[str, str, Tuple[str, ...]], ...]]] = {
    "textcat_specialty": (
        "Specialty (MTSamples)",
        "mtsamples",
        (
            ("top1", "top-1 in gold set", ("tasks", "textcat_specialty", "acc")),
            ("macro_f", "macro-F1", ("tasks", "textcat_specialty", "main")),
        ),
    ),
    "textcat_ade": ("ADE sentence (ADE corpus)", "ade", (("f", "F1", ("tasks", "textcat_ade", "main")),)),
    "concepts_ncbi": (
        "Concepts, NCBI-disease (PROBLEM)",
        "ncbi",
        (("f", "strict F1", ("tasks_by_corpus", "ncbi", "concepts")),),
    ),
    "concepts_bc5cdr": (
        "Concepts, BC5CDR (TREATMENT, PROBLEM)",
        "bc5cdr",
        (("f", "strict F1", ("tasks_by_corpus", "bc5cdr", "concepts")),),
    ),
    "concepts_ade": (
        "Concepts, ADE corpus (TREATMENT, PROBLEM)",
        "ade",
        (("f", "strict F1", ("tasks_by_corpus", "ade", "concepts")),),
    ),
    "phi_tokens": (
        "PhysioNet PHI tokens, held-out patients",
        "physionet",
        (
            ("token_recall", "token recall", ("phi_tokens", "token_recall")),
            ("token_precision", "token precision", ("phi_tokens", "token_precision")),
        ),
    ),
}
PIPELINES = ("student", "teacher")


def compare_systems(values: Dict[str, Optional[float]]) -> Optional[Dict[str, Any]]:
    """Which system scores highest, and by how much over the next one.

    values (Dict[str, Optional[float]]): system -> figure (None: not measured, left out).
    RETURNS (Optional[Dict[str, Any]]): {"winner", "value", "runner_up", "margin"} (runner_up and
        margin None with one system; "winner" None on a tie at the top, with "tied" listing the
        systems); None when no system has the figure.
    """
    scored = sorted(((v, k) for k, v in values.items() if v is not None), key=lambda item: -item[0])
    if not scored:
        return None
    best, winner = scored[0]
    if len(scored) == 1:
        return {"winner": winner, "value": best, "runner_up": None, "margin": None}
    second, runner_up = scored[1]
    if second == best:
        return {
            "winner": None,
            "value": best,
            "tied": sorted(k for v, k in scored if v == best),
            "runner_up": None,
            "margin": 0.0,
        }
    return {"winner": winner, "value": best, "runner_up": runner_up, "margin": best - second}


def baseline_comparison(metrics: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Task by task, every system's figures, the winner of each figure and the student's gap to
    the best baseline, for the tasks ``metrics["baselines"]`` covers.

    metrics (Dict[str, Any]): The evaluation, with "student", optionally "teacher", and
        "baselines" (the file ``clintiny baselines`` writes).
    RETURNS (List[Dict[str, Any]]): One entry per task: {"task", "title", "corpus", "systems":
        {system: {"name", "label" (name and chosen parameters), "words_per_s", "dev_docs"}},
        "figures": [{"figure", "title", "values", "comparison", "student_minus_best_baseline"}],
        "pipeline_dev_docs"}.
    """
    tasks = (metrics.get("baselines") or {}).get("tasks") or {}
    out: List[Dict[str, Any]] = []
    for task, (title, corpus, figures) in COMPARED.items():
        baselines = tasks.get(task) or {}
        if not baselines:
            continue
        pipelines = {name: metrics[name] for name in PIPELINES if metrics.get(name)}
        other = _compared_task(task) in (metrics.get("teacher_other_recipe") or ())
        systems: Dict[str, Dict[str, Any]] = {}
        for name, entry in pipelines.items():
            shown = f"{name} {OTHER_RECIPE}" if other and name == "teacher" else name
            systems[name] = {"name": shown, "label": shown, "words_per_s": entry.get("words_per_s"), "dev_docs": None}
        for system, entry in baselines.items():
            systems[system] = {
                "name": entry.get("name") or system,
                "label": _baseline_label(entry),
                "words_per_s": entry.get("words_per_s"),
                "dev_docs": entry.get("dev_docs"),
            }
        rows = []
        for key, fig_title, path in figures:
            values = {name: _dig(entry, path) for name, entry in pipelines.items()}
            values.update({system: entry.get(key) for system, entry in baselines.items()})
            best_baseline = max((v for s, v in values.items() if s in baselines and v is not None), default=None)
            student = values.get("student")
            gap = student - best_baseline if student is not None and best_baseline is not None else None
            rows.append(
                {
                    "figure": key,
                    "title": fig_title,
                    "values": values,
                    "comparison": compare_systems(values),
                    "student_minus_best_baseline": gap,
                }
            )
        out.append(
            {
                "task": task,
                "title": title,
                "corpus": corpus,
                "systems": systems,
                "figures": rows,
                "pipeline_dev_docs": (metrics.get("dev_docs") or {}).get(corpus),
            }
        )
    return out


def _compared_task(key: str) -> str:
    """The report task a ``COMPARED`` entry scores ("concepts_ncbi" -> "concepts", "phi_tokens" -> "phi")."""
    for task in TASK_TITLES:
        if key == task or key.startswith(f"{task}_"):
            return task
    return key


def baselines_section(comparison: Sequence[Dict[str, Any]]) -> List[str]:
    """The report's "Baselines, same dev splits" section as Markdown lines ([] without baselines)."""
    if not comparison:
        return []
    lines = [
        "## Baselines, same dev splits",
        "",
        "The TF-IDF baselines are tuned by cross-validation on the training splits only; the spaCy "
        "CNN trains a fixed number of steps on the student's training splits (its last checkpoint "
        "kept); every baseline is scored once on the dev docs the pipelines are scored on, with the "
        "pipelines' definitions (a corpus's entities only on the labels it annotates). Specialty "
        "macro-F1 averages over all labels as spaCy's scorer does (a label without dev positives "
        "counts 0). Words/s: the pipelines' figure is all "
        "heads at once (one encoder pass) on the evaluate step's speed sample; a baseline's is its "
        "prediction alone on this task's dev texts.",
        "",
    ]
    for task in comparison:
        systems = task["systems"]
        docs = {s["dev_docs"] for s in systems.values() if s["dev_docs"] is not None}
        lines += [f"### {task['title']}", ""]
        header = "| system | " + " | ".join(f["title"] for f in task["figures"]) + " | words/s |"
        lines += [header, "|---|" + "---:|" * (len(task["figures"]) + 1)]
        for system, info in systems.items():
            cells = [_fmt(f["values"].get(system)) for f in task["figures"]]
            lines.append(f"| {info['label']} | " + " | ".join(cells) + f" | {_fmt(info['words_per_s'], False)} |")
        lines.append("")
        for fig in task["figures"]:
            lines.append(f"- {fig['title']}: {_verdict(fig, systems)}")
        pipeline_docs = task.get("pipeline_dev_docs")
        if pipeline_docs is not None and docs and docs != {pipeline_docs}:
            lines.append(
                f"- not the same docs: the pipelines were scored on {pipeline_docs} dev doc(s) of "
                f"{task['corpus']}, the baselines on {', '.join(str(d) for d in sorted(docs))} (give "
                f"`clintiny baselines` the evaluate step's --limit, and evaluate --phi-docs, which "
                f"scores the PhysioNet notes in full)"
            )
        elif docs:
            lines.append(f"- {', '.join(str(d) for d in sorted(docs))} dev docs of {task['corpus']}")
        lines.append("")
    return lines


def _verdict(fig: Dict[str, Any], systems: Dict[str, Dict[str, Any]]) -> str:
    result = fig["comparison"]
    if result is None:
        return "no system measured"
    if result["winner"] is None:
        return "tie at " + _fmt(result["value"]) + " between " + ", ".join(systems[s]["name"] for s in result["tied"])
    text = f"**{systems[result['winner']]['name']}** wins"
    if result["runner_up"] is not None:
        text += f" by {result['margin'] * 100:.1f} points over {systems[result['runner_up']]['name']}"
    if fig["student_minus_best_baseline"] is not None:
        text += f"; student minus best baseline: {fig['student_minus_best_baseline'] * 100:+.1f} points"
    return text


def _baseline_label(entry: Dict[str, Any]) -> str:
    """The baseline's name with its chosen parameters, for the table."""
    name = entry.get("name") or entry.get("system", "baseline")
    params = entry.get("params") or {}
    if not params:
        return name
    if "steps" in params:  # a trained baseline: its training budget
        minutes = params.get("minutes")
        budget = f"{params['steps']:,} steps" + (f", {minutes:.1f} min" if minutes is not None else "")
        return f"{name}, {budget}"
    parts = [str(params.get("features", ""))]
    if params.get("sublinear_tf"):
        parts.append("sublinear tf")
    if params.get("C") is not None:
        parts.append(f"C {params['C']:g}")
    parts.append(f"class weights {params.get('class_weight') or 'none'}")
    return f"{name} ({', '.join(p for p in parts if p)})"


def _dig(entry: Dict[str, Any], path: Tuple[str, ...]) -> Optional[float]:
    for key in path:
        if not isinstance(entry, dict):
            return None
        entry = entry.get(key)
    return entry if isinstance(entry, (int, float)) and not isinstance(entry, bool) else None


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
    other = set(metrics.get("teacher_other_recipe") or ())

    def row(title: str, task: str, s: Optional[float], t: Optional[float]) -> str:
        mark = f" {OTHER_RECIPE}" if task in other else ""
        return f"| {title} | {_fmt(s)} | {_fmt(t)}{mark} | {_fmt(teacher_kept(task, s, t, other))} |"

    for task, entry in student["tasks"].items():
        t_entry = teacher["tasks"].get(task, {}) if teacher else {}
        title = TASK_TITLES.get(task, task)
        lines.append(row(f"{title} {main_metric_name(entry)}", task, main_figure(entry), main_figure(t_entry)))
        if _ranks_labels(entry):
            lines.append(row(f"{title} macro-F1", task, entry.get("main"), t_entry.get("main")))
    phi_tok = student.get("phi_tokens")
    if phi_tok:
        t_tok = (teacher.get("phi_tokens") if teacher else None) or {}
        for fig in ("token_recall", "token_precision"):
            lines.append(row(f"PhysioNet PHI {fig.replace('_', ' ')}", PHI_TASK, phi_tok[fig], t_tok.get(fig)))
    lines.append("")
    if teacher and other:
        names = ", ".join(TASK_TITLES.get(task, task) for task in sorted(other))
        lines += [
            f"{OTHER_RECIPE}: the teacher's head for {names} was trained with another recipe than the "
            "student's, so its figures are shown for reference and no kept fraction is given.",
            "",
        ]
    lines += baselines_section(metrics.get("comparison") or baseline_comparison(metrics))
    lines += runtime_section(metrics.get("runtime"))
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
            lines.append(
                f"top-1 accuracy {_fmt(extra.get('acc'))}, macro-F1 {_fmt(extra.get('main'))}, "
                f"micro-F1 {_fmt(extra.get('micro_f'))}"
            )
        lines.append("")
    if metrics.get("notes"):
        lines += ["## Notes", ""] + [f"- {n}" for n in metrics["notes"]] + [""]
    return "\n".join(lines)


def runtime_section(decision: Optional[Dict[str, Any]]) -> List[str]:
    """The packaged encoder runtime and what it costs against fp32 (``clintiny optimize
    --choose``'s decision), one row per runtime tried."""
    if not decision:
        return []
    lines = [
        "## Encoder runtime",
        "",
        f"Packaged runtime: **{decision['chosen']}**, the fastest candidate that loses at most "
        f"{decision['max_loss']} F1 points on every task, overall and on each dev corpus, against fp32"
        + (f" (real-note PHI measured on `{decision['phi_docs']}`)." if decision.get("phi_docs") else "."),
        "",
        "| runtime | worst F1 loss (points) | on | PHI token F1 loss (points) | within bound |",
        "|---|---:|---|---:|---|",
    ]
    for name, entry in decision.get("candidates", {}).items():
        token = entry.get("phi_token_f1_loss")
        lines.append(
            f"| {name} | {entry['worst_loss']:.2f} | {entry.get('worst_task') or '-'} | "
            f"{'-' if token is None else f'{token:.2f}'} | {'yes' if entry['within_bound'] else 'no'} |"
        )
    return lines + [""]


def plot_all(metrics: Dict[str, Any], out_dir: Path, train_logs: Dict[str, Path]) -> List[Path]:
    """Training curves, per-label F1 and speed against F1, as PNG files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written: List[Path] = []
    out_dir.mkdir(parents=True, exist_ok=True)
    # training curves: one small panel per head (its loss per run), then one per dev score
    curves = {name: _read_log(path) for name, path in train_logs.items() if Path(path).exists()}
    if curves:
        written.append(_plot_curves(plt, curves, out_dir / "training_curves.png"))
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
    # speed against score: one panel per compared task, the baselines beside the pipelines
    comparison = list(metrics.get("comparison") or [])
    compared = {entry["task"] for entry in comparison}
    comparison += [entry for entry in _pipelines_only(metrics) if entry["task"] not in compared]
    written.append(_plot_speed_vs_score(plt, comparison, out_dir / "speed_vs_score.png"))
    return written


def _pipelines_only(metrics: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Comparison entries for the pipelines alone (tasks without a baseline): each task's
    main figure for the student and, when evaluated, the teacher."""
    runs = {name: metrics[name] for name in ("student", "teacher") if metrics.get(name)}
    entries = []
    for task in metrics["student"]["tasks"]:
        values = {name: main_figure(run["tasks"].get(task) or {}) for name, run in runs.items()}
        systems = {name: {"words_per_s": run.get("words_per_s")} for name, run in runs.items()}
        entries.append(
            {"task": task, "title": task, "systems": systems, "figures": [{"title": "main figure", "values": values}]}
        )
    return entries


def _grid(plt, n_panels: int, *, columns: int = 4, size: float = 2.8):
    rows = max(1, -(-n_panels // columns))
    cols = min(columns, max(1, n_panels))
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows), squeeze=False)
    flat = [ax for row in axes for ax in row]
    for ax in flat[n_panels:]:
        ax.set_visible(False)
    return fig, flat[:n_panels]


def _curve_panels(curves: Dict[str, List[Dict[str, Any]]]) -> Tuple[List[str], List[str]]:
    """The heads with a non-zero loss and the dev scores with a non-zero value in some run."""
    heads = sorted({h for rows in curves.values() for r in rows for h, v in r.get("losses", {}).items() if v})
    score_keys = sorted({k for rows in curves.values() for r in rows for k, v in (r.get("scores") or {}).items() if v})
    return heads, score_keys


def _plot_curves(plt, curves: Dict[str, List[Dict[str, Any]]], path: Path) -> Path:
    """One panel per head (training loss of each run, log scale) and one per dev score
    (each run's value over steps). Heads whose loss is always 0 (a fixed encoder) are left out,
    and so is a run's score that is 0 at every evaluation: a head the run does not train (the
    workflow's multi-task runs leave out the heads that runs of their own replace) or cannot
    score (a relation head with no concept head in its run to find the entities scores 0)."""
    heads, score_keys = _curve_panels(curves)
    fig, axes = _grid(plt, len(heads) + len(score_keys))
    for ax, head in zip(axes, heads):
        for name, rows in curves.items():
            points = [(r["step"], r["losses"][head]) for r in rows if r.get("losses", {}).get(head)]
            if points:
                ax.plot(*zip(*points), marker=".", label=name)
        ax.set_yscale("log")
        ax.set_title(f"loss: {head}", fontsize=8)
    for ax, key in zip(axes[len(heads) :], score_keys):
        for name, rows in curves.items():
            points = [(r["step"], r["scores"][key]) for r in rows if (r.get("scores") or {}).get(key) is not None]
            if any(value for _, value in points):
                ax.plot(*zip(*points), marker=".", label=name)
        ax.set_title(f"dev: {key}", fontsize=8)
    for ax in axes:
        ax.set_xlabel("step", fontsize=7)
        ax.tick_params(which="both", labelsize=6)
        ax.legend(fontsize=6)
    fig.tight_layout()
    return _save(fig, path)


def _plot_speed_vs_score(plt, comparison: List[Dict[str, Any]], path: Path) -> Path:
    """One panel per (task, figure) of the comparison table: each system's dev figure against
    its words/s (log scale). A system without a measured speed (deid.pl's stored output) is
    drawn as a horizontal line."""
    panels = [(task, figure) for task in comparison for figure in task["figures"]]
    fig, axes = _grid(plt, len(panels), columns=3, size=3.2)
    for ax, (task, figure) in zip(axes, panels):
        for key, value in figure["values"].items():
            if value is None:
                continue
            system = task["systems"].get(key, {})
            speed = system.get("words_per_s")
            if speed:
                ax.scatter([speed], [value])
                ax.annotate(key, (speed, value), fontsize=6)
            else:
                ax.axhline(value, linestyle="--", linewidth=0.8, color="grey")
                ax.annotate(f"{key} (speed n/a)", (0.02, value), xycoords=("axes fraction", "data"), fontsize=6)
        ax.set_xscale("log")
        ax.set_ylim(0, 1.05)
        ax.set_title(f"{task['title']}: {figure['title']}", fontsize=7)
        ax.set_xlabel("words/s (log)", fontsize=7)
        ax.tick_params(which="both", labelsize=6)
    fig.tight_layout()
    return _save(fig, path)


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

    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return path
