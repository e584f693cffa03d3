"""Choose the encoder runtime of a packaged pipeline: the fastest one whose accuracy cost is
within a bound on every task.

The fp32 pipeline and each candidate runtime (fastest first) are scored on the same dev sets;
the first candidate that loses at most ``max_loss`` F1 points on every task, overall and on each
corpus, is written to the output. When none qualifies the fp32 pipeline is written unchanged.
The decision, with every score and loss, is returned (and ``clintiny optimize --choose`` writes
it as JSON) so that the report can show what the speed costs.

The same rule is also applied to the PHI figures alone (``phi`` and ``phi@<corpus>``): the
runtimes within the bound there are recorded in the written pipeline's ``meta.json``
(``clintiny_runtime``), so that a run that uses only the PHI head (``clintiny deid``) can take
the fastest runtime that costs de-identification nothing measurable even when another task
kept the package at fp32.
"""

import json
import math
import shutil
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from ..converters.labels import PHI_KEY
from ..errors import Errors
from .pipeline import check_paths, optimize_pipeline, replace_folder, write_pipeline_atomic

# fastest first (docs/speed.md: ONNX int8 about 1.6x and ONNX fp32 about 1.35x torch fp32 words/s
# for the full pipeline; torch int8 is slower than ONNX fp32 and loses more accuracy)
RUNTIMES: Dict[str, Dict[str, bool]] = {
    "onnx-int8": {"onnx": True, "int8": True},
    "onnx": {"onnx": True, "int8": False},
    "int8": {"onnx": False, "int8": True},
}
DEFAULT_CANDIDATES = ("onnx-int8", "onnx")
# the written pipeline's meta.json key: {"chosen", "max_loss", "within_bound": {"all": [...], "phi": [...]}}
META_KEY = "clintiny_runtime"


def parse_candidates(value: str) -> List[str]:
    """``"onnx-int8,onnx"`` -> ``["onnx-int8", "onnx"]``; E832 for an unknown name."""
    return check_candidates([name.strip() for name in value.split(",") if name.strip()])


def check_candidates(names: Sequence[str]) -> List[str]:
    """``names`` as a list; E832 for a name that is not in ``RUNTIMES``."""
    for name in names:
        if name not in RUNTIMES:
            raise ValueError(Errors.E832.format(value=name, options=", ".join(RUNTIMES)))
    return list(names)


def task_figures(scores: Dict[str, Any]) -> Dict[str, float]:
    """The figures the bound applies to, in F1 points: each task's main score on all dev
    corpora together (``phi``) and on each corpus (``phi@physionet``)."""
    figures: Dict[str, float] = {}
    for task, entry in scores.get("tasks", {}).items():
        value = entry.get("main")
        if isinstance(value, (int, float)) and not math.isnan(value):
            figures[task] = 100.0 * value
    for corpus, tasks in scores.get("tasks_by_corpus", {}).items():
        for task, value in tasks.items():
            if isinstance(value, (int, float)) and not math.isnan(value):
                figures[f"{task}@{corpus}"] = 100.0 * value
    return figures


def phi_token_f1(scores: Dict[str, Any]) -> Optional[float]:
    """Token-level PHI F1 on real notes in points (recorded beside the bound, not part of it:
    a few hundred gold tokens make it move by 0.3-0.6 points per token)."""
    tokens = scores.get("phi_tokens") or {}
    recall, precision = tokens.get("token_recall"), tokens.get("token_precision")
    if recall is None or precision is None or recall + precision == 0:
        return None
    return 100.0 * 2 * recall * precision / (recall + precision)


def losses(reference: Dict[str, float], candidate: Dict[str, float]) -> Dict[str, float]:
    """F1 points lost by ``candidate`` on each figure of ``reference`` (negative: gained). A
    figure the candidate lacks counts as lost in full."""
    return {name: round(value - candidate.get(name, 0.0), 4) for name, value in reference.items()}


def choose_runtime(
    pipeline: Path,
    output: Path,
    dev_sets: Dict[str, List],
    *,
    candidates: Sequence[str] = DEFAULT_CANDIDATES,
    max_loss: float = 0.5,
    force: bool = False,
) -> Dict[str, Any]:
    """Write to ``output`` the fastest of ``candidates`` that loses at most ``max_loss`` F1
    points on every task against the fp32 ``pipeline``, or ``pipeline`` itself if none does.

    pipeline (Path): A trained fp32 pipeline folder.
    output (Path): Where the chosen pipeline goes (outside ``pipeline``).
    dev_sets (Dict[str, List[Example]]): The dev sets to score on (``evaluation.read_eval_sets``).
    candidates (Sequence[str]): Runtime names of ``RUNTIMES``, fastest first.
    max_loss (float): Most F1 points a runtime may lose on any task (overall or on one corpus).
    force (bool): Replace a non-empty ``output``.
    RETURNS (Dict[str, Any]): ``chosen``, ``max_loss``, the fp32 ``figures`` and, per candidate
        tried, its figures, losses, worst loss and PHI token F1.
    """
    import spacy

    from ..evaluation import score_pipeline

    pipeline, output = Path(pipeline), Path(output)
    check_paths(pipeline, output, force=force)
    if not isinstance(max_loss, (int, float)) or math.isnan(max_loss) or max_loss < 0:
        raise ValueError(Errors.E834.format(value=max_loss))
    names = check_candidates(candidates)
    fp32_nlp = spacy.load(pipeline)
    fp32 = score_pipeline(fp32_nlp, dev_sets)
    reference = task_figures(fp32)
    decision: Dict[str, Any] = {
        "max_loss": max_loss,
        "fp32": {"figures": reference, "phi_token_f1": phi_token_f1(fp32)},
        "candidates": {},
        "chosen": "fp32",
    }
    for name, staging in _staged(names, output):
        optimize_pipeline(pipeline, staging, force=True, **RUNTIMES[name])
        scores = score_pipeline(spacy.load(staging), dev_sets)
        figures = task_figures(scores)
        lost = losses(reference, figures)
        worst = max(lost.values(), default=0.0)
        token_f1 = phi_token_f1(scores)
        fp32_token_f1 = decision["fp32"]["phi_token_f1"]
        decision["candidates"][name] = {
            "figures": figures,
            "loss": lost,
            "worst_loss": worst,
            "worst_task": max(lost, key=lost.get) if lost else None,
            "phi_token_f1": token_f1,
            "phi_token_f1_loss": None if token_f1 is None or fp32_token_f1 is None else fp32_token_f1 - token_f1,
            "within_bound": worst <= max_loss,
        }
        if worst <= max_loss:
            replace_folder(staging, output)
            decision["chosen"] = name
            break
    else:
        write_pipeline_atomic(fp32_nlp, output)
    decision["phi_within_bound"] = phi_within_bound(decision)
    record_runtime(output, decision)
    return decision


def phi_within_bound(decision: Dict[str, Any]) -> List[str]:
    """The candidates tried that lose at most ``max_loss`` on every PHI figure (``phi``,
    ``phi@<corpus>``); none when the pipeline has no PHI figure."""
    within = []
    for name, entry in decision["candidates"].items():
        phi = [lost for task, lost in entry["loss"].items() if task.split("@")[0] == PHI_KEY]
        if phi and max(phi) <= decision["max_loss"]:
            within.append(name)
    return within


def record_runtime(output: Path, decision: Dict[str, Any]) -> None:
    """Write the decision's summary into ``output/meta.json`` under ``META_KEY`` (atomically)."""
    from ..fileio import write_json_atomic

    meta_path = Path(output) / "meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf8"))
    meta[META_KEY] = {
        "chosen": decision["chosen"],
        "max_loss": decision["max_loss"],
        "within_bound": {
            "all": [name for name, entry in decision["candidates"].items() if entry["within_bound"]],
            PHI_KEY: list(decision["phi_within_bound"]),
        },
    }
    write_json_atomic(meta_path, meta)


def phi_runtime_allows_int8(meta: Dict[str, Any]) -> bool:
    """Whether a pipeline's own runtime check (``record_runtime``) kept it at ONNX fp32 and found
    ONNX int8 within its bound on every PHI figure: then quantizing its encoder in memory
    (``InferenceShim.quantize_int8``) gives exactly the runtime that was measured."""
    record = meta.get(META_KEY) or {}
    phi = (record.get("within_bound") or {}).get(PHI_KEY) or []
    return record.get("chosen") == "onnx" and "onnx-int8" in phi


def _staged(names: Sequence[str], output: Path) -> Iterator[Tuple[str, Path]]:
    """A temporary sibling folder of ``output`` per candidate, removed unless it was moved."""
    output.parent.mkdir(parents=True, exist_ok=True)
    for name in names:
        staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.{name}.", dir=output.parent))
        try:
            yield name, staging
        finally:
            shutil.rmtree(staging, ignore_errors=True)
