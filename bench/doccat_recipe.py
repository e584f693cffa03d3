"""Document classification on the fixed student encoder: TextClassifier.v1 (pooled encoder
vectors), v2 (+ a hashed n-gram linear part) and v3 (+ the TF-IDF + logistic regression baseline,
out-of-fold while training), each calibrated, beside the TF-IDF baseline
(results: bench/results/doccat_recipe.md).

    python bench/doccat_recipe.py split --out /tmp/F/data
    python bench/doccat_recipe.py train --variant v1 --data /tmp/F/data --out /tmp/F/runs --max-steps 600
    python bench/doccat_recipe.py train --variant v2 --data /tmp/F/data --out /tmp/F/runs --max-steps 600
    python bench/doccat_recipe.py score --data /tmp/F/data --out /tmp/F/runs --progress /tmp/F/progress.md

``split`` carves a seeded calibration slice out of each TRAINING split by group (the groups
ranked first by ``sha1(f"{seed}:{group}")``, as ``converters.splits`` ranks dev groups):
``<out>/<corpus>/{train,calib}.spacy``, and the calibration slices again as
``<out>/calib/<corpus>.spacy`` (the folder ``clintiny calibrate`` reads). The reported dev splits
(corpus/<corpus>/dev.spacy) are never read for training, model selection or calibration.

``train`` runs ``spacy train configs/doccat.cfg`` (fixed encoder build/student, the two doc heads)
with the variant's architecture; its training-time dev set is the calibration slice, and the
figures are taken from model-last (no model selection).

``score`` calibrates each trained run on the calibration slices (``clintiny calibrate``) and scores
each pipeline with three decision rules (0.5; 0.5 + the top label; calibrated + the top label)
from one prediction pass, on the same evenly spaced 300 dev docs per corpus
that ``clintiny baselines --limit 300`` scored (build/metrics/baselines.json), with the heads' own
``score()`` (top-1 in the gold set, macro-F1 over all 40 labels, ADE F1). It prints the table and
writes it to ``--progress``. Only figures are printed, never note text.
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ("mtsamples", "ade")
VARIANTS = {
    "v1": "spacy-clintiny.TextClassifier.v1",
    "v2": "spacy-clintiny.TextClassifier.v2",
    "v3": "spacy-clintiny.TextClassifier.v3",
}
# v3's regression takes the features the TF-IDF baseline's cross-validation on the training split
# chose for each task (build/metrics/baselines.json): word unigrams for specialty (v3's
# default), character 2-5-grams for ADE sentences
VARIANT_OVERRIDES = {"v3": ["--components.textcat_ade.model.features", "char_wb 2-5"]}
HEADS = {"mtsamples": "textcat_specialty", "ade": "textcat_ade"}
DEV_LIMIT = 300  # build/metrics/baselines.json: "limit": 300


def split(corpus: Path, out: Path, *, fraction: float, seed: int) -> Dict[str, Any]:
    """Write ``<out>/<corpus>/train.spacy`` and ``calib.spacy`` from ``<corpus>/<name>/train.spacy``."""
    import spacy
    from spacy.tokens import DocBin

    from spacy_clintiny.converters.splits import dev_groups, group_of

    nlp = spacy.blank("en")
    summary: Dict[str, Any] = {"fraction": fraction, "seed": seed}
    for name in CORPORA:
        docs = list(DocBin().from_disk(corpus / name / "train.spacy").get_docs(nlp.vocab))
        groups = [group_of(doc) for doc in docs]
        calib = dev_groups(groups, dev_fraction=fraction, seed=seed)
        train_docs = [d for d, g in zip(docs, groups) if g not in calib]
        calib_docs = [d for d, g in zip(docs, groups) if g in calib]
        (out / name).mkdir(parents=True, exist_ok=True)
        DocBin(docs=train_docs, store_user_data=True).to_disk(out / name / "train.spacy")
        DocBin(docs=calib_docs, store_user_data=True).to_disk(out / name / "calib.spacy")
        (out / "calib").mkdir(exist_ok=True)
        DocBin(docs=calib_docs, store_user_data=True).to_disk(out / "calib" / f"{name}.spacy")
        summary[name] = {
            "train_docs": len(train_docs),
            "calib_docs": len(calib_docs),
            "calib_groups": len(calib),
            "groups": len(set(groups)),
            "calib_positives": _positives(calib_docs),
        }
    (out / "split.json").write_text(json.dumps(summary, indent=1), encoding="utf8")
    return summary


def _positives(docs: List[Any]) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for doc in docs:
        for label, value in doc.cats.items():
            counts[label] = counts.get(label, 0) + int(value > 0)
    return counts


def train(variant: str, data: Path, out: Path, *, max_steps: int, encoder: Path, extra: List[str]) -> Dict[str, Any]:
    """``spacy train configs/doccat.cfg`` for one variant; RETURNS minutes and steps."""
    run = out / variant
    cmd = [
        sys.executable,
        "-m",
        "spacy",
        "train",
        str(ROOT / "configs" / "doccat.cfg"),
        "--output",
        str(run),
        "--paths.data",
        str(data),
        "--paths.encoder",
        str(encoder),
        "--paths.train_log",
        str(out / f"{variant}.jsonl"),
        "--paths.labels",
        str(ROOT / "corpus" / "labels" / "specialty.json"),
        "--vars.textcat_arch",
        VARIANTS[variant],
        *VARIANT_OVERRIDES.get(variant, []),
        "--training.max_steps",
        str(max_steps),
        *extra,
    ]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT)
    minutes = (time.perf_counter() - start) / 60
    info = {"variant": variant, "steps": max_steps, "minutes": round(minutes, 1), "extra": extra}
    (out / f"{variant}.train.json").write_text(json.dumps(info), encoding="utf8")
    return info


def calibrate(run: Path, data: Path, *, min_positives: int) -> Path:
    """``clintiny calibrate`` on both calibration slices (one call per head)."""
    src = run / "model-last"
    calibrated = run / "calibrated"
    cmd = [
        str(ROOT / ".venv" / "bin" / "clintiny"),
        "calibrate",
        str(src),
        str(data / "calib"),
        str(calibrated),
        "--min-positives",
        str(min_positives),
        "--report",
        str(run / "calibration.json"),
        "--force",
    ]
    subprocess.run(cmd, check=True, cwd=ROOT)
    return calibrated


DECISIONS = (
    ("threshold 0.5", {"thresholds": {}, "always_top": False}),
    ("0.5 + top label", {"thresholds": {}, "always_top": True}),
    ("calibrated + top label", None),  # as calibrated (always_top as configured for specialty)
)


def score_pipeline(path: Path, corpus: Path) -> Dict[str, Dict[str, Any]]:
    """The heads' dev figures on the baselines' dev docs, for each decision rule of ``DECISIONS``
    (one prediction pass: the rules only change the heads' thresholds)."""
    import spacy

    from spacy_clintiny.evaluation.baselines import spread_subset
    from spacy_clintiny.evaluation.scores import predict
    from spacy_clintiny.training.mixed_corpus import load_examples

    nlp = spacy.load(path)
    out: Dict[str, Dict[str, Any]] = {rule: {} for rule, _ in DECISIONS}
    for name, head in HEADS.items():
        dev = spread_subset(load_examples(spacy.blank("en"), corpus / name / "dev.spacy"), DEV_LIMIT)
        predicted = predict(nlp, dev)
        pipe = nlp.get_pipe(head)
        calibrated = dict(pipe.cfg)
        for rule, settings in DECISIONS:
            pipe.cfg.update(settings or calibrated)
            scores = pipe.score(predicted)
            out[rule][head] = {
                "acc": scores[f"{head}_acc"],
                "macro_f": scores[f"{head}_macro_f"],
                "micro_f": scores[f"{head}_micro_f"],
                "macro_auc": scores[f"{head}_macro_auc"],
            }
        pipe.cfg.update(calibrated)
    return out


def baseline_figures(path: Path) -> Dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf8"))["tasks"]
    spec = data["textcat_specialty"]["tfidf_logreg"]
    ade = data["textcat_ade"]["tfidf_logreg"]
    return {"top1": spec["top1"], "macro_f": spec["macro_f"], "ade_f": ade["f"]}


def table(rows: List[Dict[str, Any]], base: Dict[str, Any]) -> str:
    def pct(value: Any) -> str:
        return "–" if value is None else f"{100 * value:.1f}"

    lines = [
        "| variant | steps | minutes | specialty top-1 | specialty macro-F1 | ADE F1 "
        "| vs TF-IDF (top-1 / macro-F1 / ADE F1) |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        spec, ade = row["scores"]["textcat_specialty"], row["scores"]["textcat_ade"]
        diffs = [
            spec["acc"] - base["top1"] if spec["acc"] is not None else None,
            spec["macro_f"] - base["macro_f"] if spec["macro_f"] is not None else None,
            ade["macro_f"] - base["ade_f"] if ade["macro_f"] is not None else None,
        ]
        vs = " / ".join("–" if d is None else f"{100 * d:+.1f}" for d in diffs)
        lines.append(
            f"| {row['name']} | {row['steps']} | {row['minutes']} | {pct(spec['acc'])} | {pct(spec['macro_f'])} "
            f"| {pct(ade['macro_f'])} | {vs} |"
        )
    lines.append(
        f"| TF-IDF + LR (build/metrics/baselines.json) | | | {pct(base['top1'])} | {pct(base['macro_f'])} "
        f"| {pct(base['ade_f'])} | |"
    )
    return "\n".join(lines)


def score(
    data: Path,
    out: Path,
    *,
    corpus: Path,
    baselines: Path,
    min_positives: int,
    progress: Path,
    variants: List[str],
    recalibrate: bool = True,
) -> str:
    """Calibrate and score the runs; rows already in ``<out>/scores.json`` for other variants are kept."""
    base = baseline_figures(baselines)
    done = out / "scores.json"
    rows = [row for row in json.loads(done.read_text()) if row["variant"] not in variants] if done.exists() else []
    for variant in variants:
        run = out / variant
        info = json.loads((out / f"{variant}.train.json").read_text(encoding="utf8"))
        calibrated = run / "calibrated"
        if recalibrate or not calibrated.exists():
            calibrated = calibrate(run, data, min_positives=min_positives)
        by_rule = score_pipeline(calibrated, corpus)
        rows.extend({"name": f"{variant}, {rule}", **info, "scores": scores} for rule, scores in by_rule.items())
        (out / "scores.json").write_text(json.dumps(rows, indent=1), encoding="utf8")
        text = table(rows, base)
        with progress.open("a", encoding="utf8") as handle:
            handle.write(f"\n### scores after {variant} ({time.strftime('%H:%M')})\n\n{text}\n")
    return table(rows, base)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_split = sub.add_parser("split")
    p_split.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    p_split.add_argument("--out", type=Path, required=True)
    p_split.add_argument("--fraction", type=float, default=0.15)
    p_split.add_argument("--seed", type=int, default=0)
    p_train = sub.add_parser("train")
    p_train.add_argument("--variant", choices=sorted(VARIANTS), required=True)
    p_train.add_argument("--data", type=Path, required=True)
    p_train.add_argument("--out", type=Path, required=True)
    p_train.add_argument("--max-steps", type=int, default=600)
    p_train.add_argument("--encoder", type=Path, default=ROOT / "build" / "student")
    p_train.add_argument("extra", nargs="*", help="more spacy train overrides, e.g. --training.seed=1")
    p_score = sub.add_parser("score")
    p_score.add_argument("--data", type=Path, required=True)
    p_score.add_argument("--out", type=Path, required=True)
    p_score.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    p_score.add_argument("--baselines", type=Path, default=ROOT / "build" / "metrics" / "baselines.json")
    p_score.add_argument("--min-positives", type=int, default=3)
    p_score.add_argument("--progress", type=Path, required=True)
    p_score.add_argument("--variants", nargs="+", default=sorted(VARIANTS), choices=sorted(VARIANTS))
    p_score.add_argument("--reuse", action="store_true", help="score an existing <run>/calibrated as it is")
    args = parser.parse_args()
    if args.command == "split":
        print(json.dumps(split(args.corpus, args.out, fraction=args.fraction, seed=args.seed), indent=1))
    elif args.command == "train":
        print(
            json.dumps(
                train(
                    args.variant, args.data, args.out, max_steps=args.max_steps, encoder=args.encoder, extra=args.extra
                )
            )
        )
    else:
        print(
            score(
                args.data,
                args.out,
                corpus=args.corpus,
                baselines=args.baselines,
                min_positives=args.min_positives,
                progress=args.progress,
                variants=args.variants,
                recalibrate=not args.reuse,
            )
        )


if __name__ == "__main__":
    main()
