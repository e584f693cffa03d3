"""Checkpoints: everything needed to continue a run exactly where it stopped.

``checkpoints/step-0000100/`` holds the trained weights (model and projections), the
optimizer, scheduler and grad-scaler states, every process's RNG states and
``trainer_state.json`` (step, tokens seen, loss average, data position). The data position
and the token masks are functions of the step (see :mod:`.corpus` and :mod:`.mlm`), so a
resumed run sees exactly the batches the uninterrupted run would have seen. A checkpoint is
written to a temporary folder and renamed into place, so a run killed while saving leaves
the previous checkpoint intact.
"""

import json
import random
import shutil
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy
import torch

from .runs import CHECKPOINT_DIR

STATE_FILE = "trainer_state.json"


def checkpoint_dirs(output: Path) -> List[Path]:
    """Complete checkpoints of a run, oldest first."""
    root = Path(output) / CHECKPOINT_DIR
    if not root.exists():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and p.name.startswith("step-") and (p / STATE_FILE).exists()]
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def latest_checkpoint(output: Path) -> Optional[Path]:
    dirs = checkpoint_dirs(output)
    return dirs[-1] if dirs else None


def rng_state() -> Dict[str, Any]:
    """This process's RNG states (torch CPU and CUDA, numpy, python)."""
    state = {"torch": torch.random.get_rng_state(), "numpy": numpy.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Dict[str, Any]) -> None:
    torch.random.set_rng_state(state["torch"])
    numpy.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    output: Path,
    step: int,
    *,
    model_state: Dict[str, torch.Tensor],
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: Optional[Any],
    rng_states: List[Dict[str, Any]],
    trainer_state: Dict[str, Any],
    keep: int = 2,
) -> Path:
    """Write the checkpoint of ``step`` (main process) and drop the oldest beyond ``keep``.

    RETURNS (Path): The checkpoint folder.
    """
    root = Path(output) / CHECKPOINT_DIR
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:07d}"
    if (final / STATE_FILE).exists():
        return final
    tmp = root / f".tmp-step-{step:07d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    torch.save(model_state, tmp / "model.pt")
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
    if scaler is not None:
        torch.save(scaler.state_dict(), tmp / "scaler.pt")
    torch.save(rng_states, tmp / "rng.pt")
    (tmp / STATE_FILE).write_text(json.dumps(trainer_state, indent=2), encoding="utf8")
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    for old in checkpoint_dirs(output)[: -max(1, keep)]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(path: Path, *, map_location: Any = "cpu") -> Dict[str, Any]:
    """Everything :func:`save_checkpoint` wrote, as a dict."""
    path = Path(path)
    data = {
        "model": torch.load(path / "model.pt", map_location=map_location),
        "optimizer": torch.load(path / "optimizer.pt", map_location=map_location),
        "scheduler": torch.load(path / "scheduler.pt", map_location=map_location),
        "rng": torch.load(path / "rng.pt", weights_only=False),
        "state": json.loads((path / STATE_FILE).read_text(encoding="utf8")),
    }
    if (path / "scaler.pt").exists():
        data["scaler"] = torch.load(path / "scaler.pt", map_location=map_location)
    return data
