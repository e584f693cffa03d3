"""Every task's main dev figure per corpus for one or more pipelines, side by side, scored as the
report's ``evaluate`` step scores them (``clintiny evaluate``: at most ``--limit`` evenly spread
dev docs per corpus, a corpus's entities and relations only on the labels it annotates). The
real PhysioNet notes are left out (``bench/deid_eval.py`` scores them).

    python -m spacy train configs/concepts.cfg --output OUT --paths.encoder build/student --paths.corpus corpus
    python bench/task_scores.py build/pipeline-student/model-last OUT/model-last --corpus corpus

Prints a table (figures in %, one column per pipeline) and, as its last line, the figures as JSON.
"""

import argparse
import json
from pathlib import Path
from typing import Dict, List


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pipelines", nargs="+", help="pipeline folders")
    parser.add_argument("--corpus", type=Path, default=Path("corpus"), help="folder with <corpus>/dev.spacy")
    parser.add_argument("--limit", type=int, default=300, help="dev docs per corpus, evenly spread (the report's)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import spacy
    import torch

    from spacy_clintiny.evaluation import PHI_CORPUS, read_eval_sets, score_pipeline

    torch.set_num_threads(args.threads)
    dev_sets = {name: egs for name, egs in read_eval_sets(args.corpus, limit=args.limit).items() if name != PHI_CORPUS}
    figures: Dict[str, Dict[str, float]] = {}
    for path in args.pipelines:
        scores = score_pipeline(spacy.load(path), dev_sets)["tasks_by_corpus"]
        figures[path] = {
            f"{task}@{corpus}": round(100 * value, 1)
            for corpus, tasks in sorted(scores.items())
            for task, value in sorted(tasks.items())
        }
    rows: List[str] = sorted({key for values in figures.values() for key in values})
    width = max(len(row) for row in rows) if rows else 10
    print(f"{'task@corpus':<{width}}  " + "  ".join(f"[{i}]".rjust(7) for i in range(len(args.pipelines))))
    for row in rows:
        cells = [figures[path].get(row) for path in args.pipelines]
        print(f"{row:<{width}}  " + "  ".join(f"{c:7.1f}" if c is not None else "      -" for c in cells))
    for i, path in enumerate(args.pipelines):
        print(f"[{i}] {path}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
