"""The PHI head's operating point by cross-validation over the TRAINING patients.

    python bench/phi_cv.py split --corpus corpus --out /tmp/phicv --folds 3
    python bench/phi_cv.py train --encoder build/student --out /tmp/phicv --steps 1500
    python bench/phi_cv.py score --physionet ../shared/data/physionet-deid --out /tmp/phicv

``split`` divides the PhysioNet training patients (corpus/physionet/train.spacy: the held-out
patients are not in it) into ``--folds`` folds by patient, seeded (patients ranked by
``sha1(f"{seed}:{patient}")``, dealt round-robin), and writes per fold a corpus folder whose
``physionet/train.spacy`` holds the other folds' notes (``synth/`` and ``labels/`` are linked).

``train`` runs the workflow's own PHI recipe, ``spacy train configs/phi.cfg`` on the fixed
student encoder, once per fold; ``--tag T`` trains into ``fold*/modelT`` and ``--set
vars.x=y`` passes config overrides, so recipes can be compared on the same folds
(``score --tag T`` scores them).

``score`` runs each fold's pipeline on its fold's notes (never trained on), the PHI head alone
and the hybrid (head + the recall-profile rules) in ``annotate`` mode, at each
``outside_weight`` of ``--weights`` (the hybrid also at each ``dictionary_gate`` of ``--gates``),
and prints token-level binary PHI recall / precision per
weight, pooled over the folds (figures only, never note text); ``--out``/cv.json keeps them.
The rules were written looking at these patients, so the hybrid rows are optimistic; the
head-alone rows are not. The held-out patients are never read.
"""

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Dict, List


def split(args: argparse.Namespace) -> None:
    import spacy
    from spacy.tokens import DocBin

    from spacy_clintiny.converters.splits import group_of

    nlp = spacy.blank("en")
    docs = list(DocBin().from_disk(args.corpus / "physionet" / "train.spacy").get_docs(nlp.vocab))
    patients = sorted({group_of(doc) for doc in docs})
    ranked = sorted(patients, key=lambda p: hashlib.sha1(f"{args.seed}:{p}".encode("utf8")).hexdigest())
    folds = {p: i % args.folds for i, p in enumerate(ranked)}
    for k in range(args.folds):
        root = args.out / f"fold{k}"
        (root / "physionet").mkdir(parents=True, exist_ok=True)
        DocBin(docs=[d for d in docs if folds[group_of(d)] != k], store_user_data=True).to_disk(
            root / "physionet" / "train.spacy"
        )
        for name in ("synth", "labels"):
            link = root / name
            if not link.exists():
                link.symlink_to((args.corpus / name).resolve(), target_is_directory=True)
    (args.out / "folds.json").write_text(json.dumps({"seed": args.seed, "folds": folds}, indent=2))
    sizes = [sum(1 for f in folds.values() if f == k) for k in range(args.folds)]
    print(f"{len(docs)} notes of {len(patients)} training patients; patients per fold: {sizes}")


def train(args: argparse.Namespace) -> None:
    folds = json.loads((args.out / "folds.json").read_text())["folds"]
    chosen = sorted(set(folds.values())) if not args.only else [int(k) for k in args.only.split(",")]
    for k in chosen:
        root = args.out / f"fold{k}"
        output = root / f"model{args.tag}"
        if (output / "model-last").exists():
            print(f"fold {k}: trained")
            continue
        overrides = []
        for item in args.set:
            name, _, value = item.partition("=")
            overrides += [f"--{name}", value]
        cmd = [
            sys.executable, "-m", "spacy", "train", str(args.config), "--output", str(output),
            "--paths.encoder", str(args.encoder), "--paths.corpus", str(root),
            "--paths.train_log", str(root / f"train_log{args.tag}.jsonl"),
            "--training.max_steps", str(args.steps), "--training.eval_frequency", str(args.steps), *overrides,
        ]  # fmt: skip
        subprocess.run(cmd, check=True)


def score(args: argparse.Namespace) -> None:
    import spacy

    from spacy_clintiny.cli.deid_eval import read_gold_notes
    from spacy_clintiny.deid.engine import Deidentifier, load_deid_pipeline
    from spacy_clintiny.deid.evaluate import DeidScorer

    folds = json.loads((args.out / "folds.json").read_text())["folds"]
    notes, _ = read_gold_notes("physionet", args.physionet, patients="train")
    weights = [float(w) for w in args.weights.split(",")]
    gates = [float(g) for g in args.gates.split(",")]
    tokenizer = spacy.blank("en")
    scorers: Dict[str, DeidScorer] = {}
    chosen = sorted(set(folds.values())) if not args.only else [int(k) for k in args.only.split(",")]
    for k in chosen:
        fold_notes = [n for n in notes if folds.get(n.patient_id) == k]
        records = [n.to_record() for n in fold_notes]
        model = str(args.out / f"fold{k}" / f"model{args.tag}" / "model-last")
        for system, rules in (("head", False), ("hybrid", True)):
            nlp = load_deid_pipeline(model, rules=rules, threads=args.threads, check_dates=args.check_dates)
            head = next(pipe for _, pipe in nlp.pipeline if getattr(pipe, "spans_key", None) == "phi")
            for weight in weights:
                head.cfg["outside_weight"] = weight
                for gate in gates if rules else [None]:
                    name = f"{system}@{weight}"
                    if gate is not None:
                        nlp.get_pipe("clintiny_deid").cfg["dictionary_gate"] = gate
                        name += f",gate={gate}" if len(gates) > 1 else ""
                    results = list(Deidentifier(nlp, mode="annotate").run(records))
                    scorer = scorers.setdefault(name, DeidScorer(tokenizer))
                    for note, result in zip(fold_notes, results, strict=True):
                        scorer.add_result(note, result)
        print(f"fold {k}: {len(fold_notes)} notes scored", flush=True)
    rows: List[Dict] = []
    print(f"{'system':<28} {'token R':>8} {'token P':>8} {'token F1':>8} {'F2':>6}")
    for key, scorer in scorers.items():
        s = scorer.scores()
        r, p = s["token_recall"], s["token_precision"]
        f2 = 5 * p * r / (4 * p + r) if p + r else 0.0
        rows.append({"system": key, "token_recall": r, "token_precision": p, "token_f1": s["token_f1"], "f2": f2})
        print(f"{key:<28} {r:>8.3f} {p:>8.3f} {s['token_f1']:>8.3f} {f2:>6.3f}")
    name = f"cv{args.tag}{'_check_dates' if args.check_dates else ''}.json"
    (args.out / name).write_text(json.dumps({"folds": folds, "rows": rows}, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("split")
    p.add_argument("--corpus", type=Path, default=Path("corpus"))
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--folds", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p = sub.add_parser("train")
    p.add_argument("--encoder", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--config", type=Path, default=Path("configs/phi.cfg"))
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--tag", default="", help="train into fold*/model{TAG} (compare recipes on the same folds)")
    p.add_argument("--set", action="append", default=[], help="config override vars.x=y (repeatable)")
    p.add_argument("--only", default="", help="comma-separated folds to train (default: all)")
    p = sub.add_parser("score")
    p.add_argument("--physionet", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--weights", default="0.05,0.1,0.2,0.3,0.5,1.0")
    p.add_argument("--gates", default="0.01", help="clintiny_deid dictionary_gate values for the hybrid rows")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--tag", default="", help="score fold*/model{TAG}")
    p.add_argument("--only", default="", help="comma-separated folds to score (default: all)")
    p.add_argument(
        "--check-dates", action="store_true", help="clintiny_deid check_dates on (the head's implausible dates dropped)"
    )
    args = parser.parse_args()
    {"split": split, "train": train, "score": score}[args.command](args)


if __name__ == "__main__":
    main()
