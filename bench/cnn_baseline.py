"""The spaCy CNN NER baseline outside the workflow: train it and print its dev figures.

    python bench/cnn_baseline.py --max-steps 5000        # about 5 min on 2 cores
    python bench/speed_suite.py --cnn build/cnn-baseline/model-last ...

The workflow's ``train-cnn`` and ``baselines`` steps run the same code
(``spacy_clintiny.evaluation.cnn_baseline``): spaCy's efficiency NER recipe trained on the
student's training splits, scored on the evaluate step's dev docs with the pipelines' own
definitions (concepts by strict span F1 per corpus on the labels it annotates, PhysioNet PHI by
token recall and precision). Prints figures only, never text; writes ``OUT/scores.json``.
"""

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "cnn-baseline")
    parser.add_argument("--max-steps", type=int, default=5000)
    parser.add_argument("--limit", type=int, default=300, help="dev docs per corpus, as the evaluate step")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-training", action="store_true", help="score an existing OUT/model-last")
    args = parser.parse_args()

    from wasabi import msg

    from spacy_clintiny.evaluation.cnn_baseline import cnn_baseline, train_cnn_baseline
    from spacy_clintiny.fileio import write_json_atomic

    if not args.skip_training:
        info = train_cnn_baseline(args.corpus, args.out, max_steps=args.max_steps, seed=args.seed)
        msg.good(f"trained {info['max_steps']:,} steps in {info['minutes']:.1f} min")
    phi = args.corpus / "physionet" / "dev.spacy"
    scores = cnn_baseline(
        args.out / "model-last", args.corpus, phi_docs=phi if phi.exists() else None, limit=args.limit
    )
    write_json_atomic(args.out / "scores.json", scores)
    rows = []
    for task, entry in scores.items():
        keys = ("p", "r", "f", "token_recall", "token_precision")
        figures = ", ".join(f"{key} {100 * entry[key]:.1f}" for key in keys if entry.get(key) is not None)
        rows.append((task, entry["dev_docs"], figures, f"{entry['words_per_s']:,.0f}"))
    msg.table(rows, header=("task", "dev docs", "figures", "words/s"), divider=True)


if __name__ == "__main__":
    main()
