"""Two CPU processes (gloo) under torchrun, running the unchanged CLI command."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from spacy_clintiny.distill.config import load_config
from spacy_clintiny.distill.runner import run_training
from spacy_clintiny.distill.student import init_student

ARGS = [
    "--max-steps",
    "4",
    "--batch-size",
    "4",
    "--seq-len",
    "32",
    "--threads",
    "1",
    "--no-progress",
    "--recipe",
    "tinyclinicalbert",
    "--training.dropout",
    "0",
    "--training.checkpoint_every",
    "2",
    "--training.eval_max_sequences",
    "8",
    "--distill.fidelity",
    "false",
]


def test_two_processes_match_one_process(teacher4, text_corpus, tmp_path):
    clintiny = shutil.which("clintiny") or str(Path(sys.executable).parent / "clintiny")
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).parent / "torchrun")
    student = tmp_path / "student"
    init_student(str(teacher4), student, layers=2, hidden=16, heads=2)
    two = tmp_path / "two"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        torchrun,
        "--standalone",
        "--nproc_per_node",
        "2",
        clintiny,
        "distill",
        str(teacher4),
        str(student),
        str(text_corpus),
        str(two),
    ] + ARGS
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    meta = json.loads((two / "run_meta.json").read_text())
    # both ranks hold identical weights (checked by the trainer with an all-reduce) ...
    assert meta["world_size"] == 2 and meta["process_weights_max_difference"] == 0.0
    # ... which match one process with the same global batch
    one = tmp_path / "one"
    overrides = {
        "paths.teacher": str(teacher4),
        "paths.student": str(student),
        "paths.output": str(one),
        "corpus.paths": [str(text_corpus)],
        "training.max_steps": 4,
        "training.batch_size": 4,
        "corpus.seq_len": 32,
        "training.threads": 1,
        "training.dropout": 0,
        "training.checkpoint_every": 2,
        "training.eval_max_sequences": 8,
        "distill.fidelity": False,
    }
    run_training("distill", load_config("distill", overrides=overrides, recipe="tinyclinicalbert"), progress=False)
    for name in ("model.safetensors", "clintiny_projections.safetensors"):
        a, b = load_file(str(one / name)), load_file(str(two / name))
        for key in a:
            torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5, msg=f"{name}:{key}")
    log_one = [json.loads(x) for x in (one / "train_log.jsonl").read_text().splitlines() if '"train"' in x]
    log_two = [json.loads(x) for x in (two / "train_log.jsonl").read_text().splitlines() if '"train"' in x]
    assert len(log_one) == len(log_two) > 0
    for r1, r2 in zip(log_one, log_two):
        assert r1["loss"] == pytest.approx(r2["loss"], rel=1e-4)
