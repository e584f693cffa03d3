"""The run folder: refusing to overwrite, atomic writes, provenance, the JSONL log, the
curves plot and the model card.

A run folder is the output Hugging Face folder itself: the final weights sit beside
``training_config.cfg`` (resolved config), ``run_meta.json`` (package versions, git SHA,
world size, data counts), ``train_log.jsonl``, ``curves.png``, ``checkpoints/`` and, after
``distill``, ``fidelity.json``. Nothing here records text from the corpus.
"""

import json
import shutil
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional

from ..errors import Errors
from ..fileio import atomic_path, write_json_atomic, write_text_atomic  # noqa: F401 (re-exported)

LOG_FILE = "train_log.jsonl"
PLOT_FILE = "curves.png"
CONFIG_FILE = "training_config.cfg"
META_FILE = "run_meta.json"
CHECKPOINT_DIR = "checkpoints"
RUN_FILES = (LOG_FILE, PLOT_FILE, CONFIG_FILE, META_FILE, "fidelity.json")
VERSIONED_PACKAGES = (
    "spacy-clintiny",
    "torch",
    "transformers",
    "tokenizers",
    "safetensors",
    "spacy",
    "spacy-transformers",
    "thinc",
    "numpy",
    "accelerate",
)


def prepare_output_dir(output: Path, *, force: bool, resume: bool, inputs: Optional[Mapping[str, str]] = None) -> None:
    """Check the output folder before a run writes to it.

    A non-empty folder is refused unless ``resume`` (continue the run in it) or ``force``
    (start over: its checkpoints and run files are removed, other files are left alone).
    The folder may never be one of the run's inputs.
    """
    output = Path(output)
    for role, path in (inputs or {}).items():
        if path and Path(path).exists() and Path(path).resolve() == output.resolve():
            raise ValueError(Errors.E511.format(path=output, role=role))
    if output.exists() and any(output.iterdir()) and not resume:
        if not force:
            raise ValueError(Errors.E510.format(path=output))
        shutil.rmtree(output / CHECKPOINT_DIR, ignore_errors=True)
        for name in RUN_FILES:
            (output / name).unlink(missing_ok=True)
    output.mkdir(parents=True, exist_ok=True)


def package_versions(names: Iterable[str] = VERSIONED_PACKAGES) -> Dict[str, str]:
    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def git_sha(cwd: Optional[Path] = None) -> Optional[str]:
    """The git commit of the code that runs (the package's checkout), or None."""
    here = Path(cwd) if cwd else Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


class JsonlLog:
    """Append-only JSONL log of every step's loss terms (main process only)."""

    def __init__(self, path: Path, *, enabled: bool = True) -> None:
        self.path = Path(path)
        self.enabled = enabled

    def truncate_after(self, step: int) -> None:
        """Drop records of steps after ``step`` (those of a run killed after its last
        checkpoint), so a resumed run's log reads like an uninterrupted one."""
        if not self.enabled or not self.path.exists():
            return
        kept = [
            line
            for line in self.path.read_text(encoding="utf8").splitlines()
            if line.strip() and json.loads(line).get("step", 0) <= step
        ]
        write_text_atomic(self.path, "".join(line + "\n" for line in kept))

    def write(self, record: Mapping[str, Any]) -> None:
        if not self.enabled:
            return
        with self.path.open("a", encoding="utf8") as fileh:
            fileh.write(json.dumps(record) + "\n")
            fileh.flush()


def read_log(path: Path) -> List[Dict[str, Any]]:
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf8").splitlines() if line.strip()]


def plot_curves(log_path: Path, out_path: Path, *, terms: Iterable[str]) -> Optional[Path]:
    """PNG of the training loss terms (raw and smoothed) and held-out MLM loss by step."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    records = read_log(log_path)
    train = [r for r in records if r.get("split") == "train"]
    heldout = [r for r in records if r.get("split") == "heldout"]
    keys = ["loss"] + [f"loss_{t}" for t in terms]
    keys = [k for k in keys if any(k in r for r in train)]
    if len(keys) == 2:  # a single term: its panel would repeat the total
        keys = keys[:1]
    panels = len(keys) + (1 if heldout else 0)
    if not panels:
        return None
    fig, axes = plt.subplots(panels, 1, figsize=(7, 2.2 * panels), sharex=True, squeeze=False)
    for ax, key in zip(axes[:, 0], keys):
        steps = [r["step"] for r in train if key in r]
        values = [r[key] for r in train if key in r]
        ax.plot(steps, values, lw=0.6, alpha=0.4)
        window = max(1, len(values) // 50)
        if window > 1:
            smooth = [
                sum(values[max(0, i - window + 1) : i + 1]) / len(values[max(0, i - window + 1) : i + 1])
                for i in range(len(values))
            ]
            ax.plot(steps, smooth, lw=1.2)
        ax.set_ylabel(key, fontsize=8)
    if heldout:
        ax = axes[-1, 0]
        ax.plot([r["step"] for r in heldout], [r["mlm_loss"] for r in heldout], marker="o")
        ax.set_ylabel("held-out MLM loss", fontsize=8)
    axes[-1, 0].set_xlabel("step")
    fig.tight_layout()
    with atomic_path(out_path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    return Path(out_path)


def model_card(meta: Mapping[str, Any], *, fidelity: Optional[Mapping[str, Any]] = None) -> str:
    """A short README.md for the output folder: teacher, recipe, data, steps, figures."""
    lines = [f"# {meta.get('title', 'spacy-clintiny model')}", ""]
    lines.append(meta.get("summary", ""))
    lines += ["", "| | |", "|---|---|"]
    for key, label in (
        ("kind", "Run"),
        ("base_model", "Trained from"),
        ("teacher", "Teacher"),
        ("recipe", "Recipe"),
        ("losses", "Loss terms (weight)"),
        ("layer_map", "Teacher layer per student layer"),
        ("data", "Data"),
        ("steps", "Steps"),
        ("batch", "Batch"),
        ("tokens_seen", "Training tokens seen"),
        ("minutes", "Wall-clock minutes"),
        ("world_size", "Processes"),
        ("device", "Device"),
        ("heldout_mlm_loss", "Held-out MLM loss (first -> last)"),
        ("encoder_parameters", "Encoder parameters"),
        ("encoder_mb", "Encoder MB (fp32)"),
        ("git_sha", "Code (git SHA)"),
    ):
        if meta.get(key) not in (None, ""):
            lines.append(f"| {label} | {meta[key]} |")
    if fidelity:
        lines += ["", "## Fidelity on held-out text", "", "| metric | teacher | student |", "|---|---|---|"]
        for row in fidelity.get("rows", []):
            lines.append(f"| {row['metric']} | {row['teacher']} | {row['student']} |")
    lines += [
        "",
        "Files: `config.json`, `model.safetensors` and the tokenizer load with "
        "`transformers.AutoModel.from_pretrained(path)` and as the `name` of a "
        "`spacy-clintiny.Encoder.v1` encoder. `training_config.cfg` and `run_meta.json` "
        "record how this model was made; `curves.png` shows the loss curves.",
        "",
    ]
    return "\n".join(lines)
