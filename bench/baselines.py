"""The simple baselines on the workflow's corpus, with deid.pl checked against its published figure.

    python bench/baselines.py corpus --deid-pl assets/physionet-deid/deid-pl-output/id.phi \
        --limit 300 --out /tmp/baselines.json

Runs what ``clintiny baselines`` runs (TF-IDF + logistic regression for MTSamples specialty and
ADE sentences, tuned by cross-validation on the training splits; deid.pl's output on the held-out
PhysioNet patients), and also scores deid.pl on ALL the PhysioNet notes of the corpus (training
and held-out patients), the set on which the data README quotes token recall 0.957 / precision
0.748 (its token definition is not stated). Measured on 2026-12-01 (2 cores shared with a
training run, about 3 minutes): with the project's definition (a spaCy token is PHI when it
overlaps a PHI span) deid.pl scores 0.951 / 0.674 on all 810 notes and 0.948 / 0.732 on the 215
notes of the 18 held-out patients; whitespace tokens give 0.956 / 0.718 on all notes, span-level
overlap 0.963 / 0.735. Prints one table; no note text.
"""

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus_dir", type=Path, help="the workflow's corpus/ folder")
    parser.add_argument("--deid-pl", type=Path, default=None, help="deid.pl's output (id.phi)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--limit", type=int, default=0, help="dev docs per text corpus (the evaluate step's)")
    parser.add_argument("--out", type=Path, default=None, help="write the baselines JSON here")
    args = parser.parse_args()

    import spacy
    from wasabi import msg

    from spacy_clintiny.converters.physionet import read_deid_pl_output
    from spacy_clintiny.evaluation.baselines import deid_pl_baseline, run_baselines
    from spacy_clintiny.fileio import write_json_atomic
    from spacy_clintiny.training.mixed_corpus import load_examples

    nlp = spacy.blank("en")
    start = time.perf_counter()
    result = run_baselines(
        args.corpus_dir,
        nlp=nlp,
        deid_pl=args.deid_pl,
        seed=args.seed,
        folds=args.folds,
        limit=args.limit,
        progress=msg.info,
    )
    rows = []
    for task, systems in result["tasks"].items():
        for system, e in systems.items():
            figures = {
                k: e[k]
                for k in (
                    "top1",
                    "macro_f",
                    "macro_f_present_labels",
                    "macro_f_at_0_5",
                    "f",
                    "p",
                    "r",
                    "token_recall",
                    "token_precision",
                )
                if e.get(k) is not None
            }
            speed = e.get("words_per_s")
            rows.append(
                (
                    task,
                    system,
                    e.get("dev_docs"),
                    ", ".join(f"{k} {v * 100:.1f}" for k, v in figures.items()),
                    f"{speed:,.0f}" if speed else "–",
                    json.dumps(e.get("params", {})),
                    f"{e['fit_seconds']:.0f}" if "fit_seconds" in e else "",
                )
            )
    if args.deid_pl is not None:
        physionet = args.corpus_dir / "physionet"
        notes = [eg for split in ("train", "dev") for eg in load_examples(nlp, physionet / f"{split}.spacy")]
        every = deid_pl_baseline(
            notes, read_deid_pl_output(args.deid_pl), output_path=args.deid_pl, docs_path=physionet
        )
        rows.append(
            (
                "phi_tokens (all patients)",
                "deid_pl",
                every["dev_docs"],
                f"token_recall {every['token_recall'] * 100:.1f}, token_precision {every['token_precision'] * 100:.1f}",
                "–",
                "",
                "",
            )
        )
    msg.table(rows, header=("task", "system", "dev docs", "figures", "words/s", "params", "fit s"), divider=True)
    print(f"total {time.perf_counter() - start:.0f} s")
    if args.out is not None:
        write_json_atomic(args.out, result)


if __name__ == "__main__":
    main()
