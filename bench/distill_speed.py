"""Seconds per step and tokens/s of ``clintiny distill`` for compact students of a teacher.

For each preset, a student is built with ``init-student`` and distilled for
``--warmup + --steps`` steps through the real engine (``run_training``: masking, teacher
forward, every loss term, backward, clipping, AdamW, logging; checkpoints and the held-out
evaluations happen outside the timed steps). Timing is read from the run's JSONL log,
ignoring the first ``--warmup`` steps.

    python bench/distill_speed.py --teacher runs/teacher-mtsamples \
        --corpus /work/shared/data/mtsamples/*.jsonl --text-field transcription --threads 1
"""

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def measure(
    teacher: str,
    preset: str,
    corpus,
    *,
    text_field: str,
    steps: int,
    warmup: int,
    threads: int,
    batch_size: int,
    seq_len: int,
    recipe: str,
    workdir: Path,
) -> dict:
    from spacy_clintiny.distill.config import load_config
    from spacy_clintiny.distill.runner import run_training
    from spacy_clintiny.distill.student import init_student

    student = workdir / f"student-{preset}"
    info = init_student(teacher, student, preset=preset, force=True)
    out = workdir / f"run-{preset}"
    overrides = {
        "paths.teacher": teacher,
        "paths.student": str(student),
        "paths.output": str(out),
        "corpus.paths": list(corpus),
        "corpus.text_field": text_field,
        "corpus.seq_len": seq_len,
        "training.batch_size": batch_size,
        "training.max_steps": warmup + steps,
        "training.threads": threads,
        "training.checkpoint_every": 0,
        "training.eval_max_sequences": 16,
        "training.schedule": "constant",
        "distill.fidelity": False,
    }
    config = load_config("distill", overrides=overrides, recipe=recipe)
    run_training("distill", config, force=True, progress=False)
    log = [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines() if '"train"' in x]
    first, last = log[warmup - 1], log[-1]
    seconds = last["elapsed_s"] - first["elapsed_s"]
    tokens = last["tokens"] - first["tokens"]
    terms = sorted(k[5:] for k in last if k.startswith("loss_"))
    return {
        "preset": preset,
        "layers_x_hidden": f"{info['layers']} x {info['hidden']}",
        "encoder_parameters": info["encoder_parameters"],
        "steps_timed": steps,
        "s_per_step": seconds / steps,
        "tokens_per_s": tokens / seconds,
        "loss_terms": terms,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teacher", default="default")
    parser.add_argument("--corpus", nargs="+", required=True)
    parser.add_argument("--text-field", default="transcription")
    parser.add_argument("--presets", nargs="+", default=["l4-384", "l2-384"])
    parser.add_argument("--recipe", default="compact")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--output", type=Path, default=None, help="Write the results as JSON here")
    args = parser.parse_args()
    from spacy_clintiny.models import resolve_model_source

    teacher = resolve_model_source(args.teacher)
    rows = []
    load_before = load_average()
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="distill-speed-") as tmp:
        for preset in args.presets:
            rows.append(
                measure(
                    teacher,
                    preset,
                    args.corpus,
                    text_field=args.text_field,
                    steps=args.steps,
                    warmup=args.warmup,
                    threads=args.threads,
                    batch_size=args.batch_size,
                    seq_len=args.seq_len,
                    recipe=args.recipe,
                    workdir=Path(tmp),
                )
            )
    result = {
        "teacher": args.teacher,
        "recipe": args.recipe,
        "batch": f"{args.batch_size} x {args.seq_len}",
        "threads": args.threads,
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "wall_seconds": round(time.time() - started, 1),
        "rows": rows,
    }
    print(
        f"teacher {args.teacher}, recipe {args.recipe}, batch {result['batch']}, {args.threads} thread(s), "
        f"load average {load_before} -> {result['load_average_after']}"
    )
    print("| student | encoder parameters | s/step | tokens/s | loss terms |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['preset']} ({r['layers_x_hidden']}) | {r['encoder_parameters']:,} | {r['s_per_step']:.2f} | "
            f"{r['tokens_per_s']:,.0f} | {', '.join(r['loss_terms'])} |"
        )
    if args.output:
        args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf8")


if __name__ == "__main__":
    main()
