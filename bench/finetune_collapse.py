"""Does fine-tuning "collapse" here? spaCy's stock transformer + ner recipe on PhysioNet PHI.

    python bench/finetune_collapse.py data --corpus corpus --out /tmp/ftc
    python bench/finetune_collapse.py run --encoder build/student --out /tmp/ftc --name stock --steps 450
    python bench/finetune_collapse.py report --out /tmp/ftc --encoder build/student

``data`` writes, from the TRAINING patients' notes (corpus/physionet/train.spacy; the held-out
patients are not in it), ``train.spacy`` and ``dev.spacy`` split again by patient
(``dev_groups(..., 0.17, seed=0)``), every PHI span as one ``doc.ents`` label "PHI".

``run`` generates spaCy's own config (``spacy init config -p ner -G``: a ``transformer``
component and the transition-based ``ner``), points the transformer at a local encoder folder,
sets the schedule the report of issue #9 used (learn rate 1e-4, 50 warm-up steps, linear decay
over ``--steps``), CPU, and trains with a JSONL log, keeping every loss unrounded.

``report`` prints, per evaluation: the ``transformer`` loss column as logged (spacy-transformers
adds up the SQUARED gradient its listeners send back, so it is a squared gradient norm, not a
loss), the ner loss, entity P/R/F on the dev patients, and how far the encoder's weights moved
from the start (relative L2 change of every weight together, from ``--encoder`` to model-last).
Figures only, never note text.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path


def data(args: argparse.Namespace) -> None:
    import spacy
    from spacy.tokens import DocBin, Span
    from spacy.util import filter_spans

    from spacy_clintiny.converters.splits import dev_groups, group_of

    nlp = spacy.blank("en")
    docs = list(DocBin().from_disk(args.corpus / "physionet" / "train.spacy").get_docs(nlp.vocab))
    dev = dev_groups([group_of(d) for d in docs], dev_fraction=0.17, seed=0)
    out = {"train": DocBin(), "dev": DocBin()}
    counts = {"train": [0, 0], "dev": [0, 0]}
    for doc in docs:
        split = "dev" if group_of(doc) in dev else "train"
        doc.ents = filter_spans([Span(doc, s.start, s.end, label="PHI") for s in doc.spans.get("phi", [])])
        out[split].add(doc)
        counts[split][0] += 1
        counts[split][1] += len(doc.ents)
    args.out.mkdir(parents=True, exist_ok=True)
    for split, docbin in out.items():
        docbin.to_disk(args.out / f"{split}.spacy")
    print("; ".join(f"{split}: {n} notes, {n_phi} PHI" for split, (n, n_phi) in counts.items()))


def run(args: argparse.Namespace) -> None:
    config = args.out / "stock_ner.cfg"
    if not config.exists():
        cmd = [sys.executable, "-m", "spacy", "init", "config", str(config), "-p", "ner", "-G", "-l", "en"]
        subprocess.run(cmd, check=True)
    run_dir = args.out / args.name
    cmd = [
        sys.executable, "-m", "spacy", "train", str(config), "--output", str(run_dir),
        "--paths.train", str(args.out / "train.spacy"), "--paths.dev", str(args.out / "dev.spacy"),
        "--system.gpu_allocator", "null", "--components.transformer.model.name", str(args.encoder.resolve()),
        "--training.max_steps", str(args.steps), "--training.eval_frequency", str(args.eval_frequency),
        "--training.optimizer.learn_rate.initial_rate", str(args.learn_rate),
        "--training.optimizer.learn_rate.warmup_steps", str(args.warmup),
        "--training.optimizer.learn_rate.total_steps", str(args.steps),
        "--training.logger.@loggers", "spacy.ConsoleLogger.v3",
        "--training.logger.progress_bar", "null", "--training.logger.console_output", "true",
        "--training.logger.output_file", str(run_dir / "log.jsonl"),
        "--training.before_update", "null",
    ]  # fmt: skip
    cmd += args.extra
    run_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(cmd, check=True)


def weight_change(pipeline: Path, encoder: Path) -> float:
    """Relative L2 change of the encoder's weights (pooler excluded: unused, and randomly
    initialised on every load of a folder without one) from ``encoder`` to ``pipeline``'s."""
    import math

    import spacy
    from transformers import AutoModel

    trained = spacy.load(pipeline).get_pipe("transformer").model.layers[0].shims[0]._model.state_dict()
    start = AutoModel.from_pretrained(str(encoder)).state_dict()
    keys = [k for k, v in start.items() if v.dtype.is_floating_point and not k.startswith("pooler.")]
    moved = sum(float(((trained[k] - start[k]) ** 2).sum()) for k in keys)
    return math.sqrt(moved / sum(float((start[k] ** 2).sum()) for k in keys))


def report(args: argparse.Namespace) -> None:
    for log in sorted(args.out.glob("*/log.jsonl")):
        change = ""
        if args.encoder is not None and (log.parent / "model-last").exists():
            change = (
                f"; encoder weights moved {weight_change(log.parent / 'model-last', args.encoder):.2e} (relative L2)"
            )
        print(f"== {log.parent.name}{change}; entity P/R/F in %")
        print(f"{'step':>5} {'transformer (sum d^2)':>22} {'ner loss':>10} {'ents P':>7} {'ents R':>7} {'ents F':>7}")
        for line in log.read_text().splitlines():
            row = json.loads(line)
            if row.get("type") != "eval" and "score" not in row:
                continue
            losses = row.get("losses", {})
            other = row.get("other_scores", row.get("scores", {}))
            prf = " ".join(f"{other.get(k) or 0:>7.3f}" for k in ("ents_p", "ents_r", "ents_f"))
            print(
                f"{row.get('step', 0):>5} {losses.get('transformer', 0.0):>22.3e} {losses.get('ner', 0.0):>10.2f} {prf}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("data")
    p.add_argument("--corpus", type=Path, default=Path("corpus"))
    p.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("run")
    p.add_argument("--encoder", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--name", default="stock")
    p.add_argument("--steps", type=int, default=450)
    p.add_argument("--eval-frequency", type=int, default=50)
    p.add_argument("--learn-rate", type=float, default=1e-4)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("extra", nargs="*", help="more spacy train overrides, after --")
    p = sub.add_parser("report")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--encoder", type=Path, default=None, help="the starting encoder: report how far it moved")
    args = parser.parse_args()
    {"data": data, "run": run, "report": report}[args.command](args)


if __name__ == "__main__":
    main()
