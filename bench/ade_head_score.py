"""Score a trained ADE sentence head the way ``bench/doc_context_head.py`` scores its prototypes.

    python -m spacy train configs/ade_context_head.cfg --output build/ade-context \
        --paths.encoder build/student --paths.corpus corpus
    python bench/ade_head_score.py build/ade-context/model-last --corpus corpus

The threshold is chosen on the workflow's calibration slice (``corpus/calib/ade.spacy``, never
trained on) with the report's search; the dev F1 is then taken once, at that threshold, on the
report's 300 dev sentences (``corpus/ade/dev.spacy``, evenly spread). Prints figures only.
"""

import argparse
from pathlib import Path

import numpy
from doc_context_head import best_threshold, f1, load_texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pipeline", help="a pipeline whose doc.cats has ADE")
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--limit", type=int, default=300, help="dev sentences, evenly spread (the report's)")
    parser.add_argument("--label", default="ADE")
    args = parser.parse_args()

    import spacy

    nlp = spacy.load(args.pipeline)
    scores = {}
    for split, path, limit in (
        ("calib", args.corpus / "calib" / "ade.spacy", 0),
        ("dev", args.corpus / "ade" / "dev.spacy", args.limit),
    ):
        texts, gold = load_texts(path, limit)
        probs = numpy.array([doc.cats[args.label] for doc in nlp.pipe(texts, batch_size=32)])
        scores[split] = (probs, gold)
    threshold, calib_f1 = best_threshold(*scores["calib"])
    dev_f1 = f1(*scores["dev"], threshold)
    print(f"calibration F1 {100 * calib_f1:.1f} at threshold {threshold:.2f}; dev F1 {100 * dev_f1:.1f}")


if __name__ == "__main__":
    main()
