"""The relation head's prior correction for negative sampling, on and off, on the same dev docs.

    python bench/rel_prior.py build/pipeline-student/model-last corpus

Loads a trained pipeline (its concept and modifier heads give the candidate entities, end to
end), scores ``clintiny_rel`` on the dev splits that carry relations (synthetic notes, ADE,
BC5CDR; at most 300 evenly spaced docs each, as ``clintiny evaluate --limit 300``) once with
``prior_correction`` on (``log(q)`` added to the logits, q = the fraction of unrelated pairs
kept in training) and once off, from the same trained weights. Prints P/R/F per corpus and in
total (figures only, never note text).
"""

import argparse
from pathlib import Path

import spacy

import spacy_clintiny  # noqa: F401  (registers the components)
from spacy_clintiny.evaluation import read_eval_sets
from spacy_clintiny.evaluation.scores import predict

REL_CORPORA = ("synth", "ade", "bc5cdr")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pipeline", type=Path)
    parser.add_argument("corpus", type=Path, help="folder with <corpus>/dev.spacy")
    parser.add_argument("--component", default="rel")
    parser.add_argument("--limit", type=int, default=300)
    args = parser.parse_args()
    nlp = spacy.load(args.pipeline, exclude=["ner_phi", "textcat_specialty", "textcat_ade"])
    rel = nlp.get_pipe(args.component)
    sets = {k: v for k, v in read_eval_sets(args.corpus, limit=args.limit).items() if k in REL_CORPORA}
    predicted = {name: predict(nlp, egs) for name, egs in sets.items()}  # relations are re-predicted below
    seen, kept = rel.cfg.get("negatives_seen", 0), rel.cfg.get("negatives_kept", 0)
    print(f"unrelated pairs seen {seen:,}, kept {kept:,} (q = {kept / max(seen, 1):.3f})")
    print(f"{'correction':<11} {'corpus':<8} {'P':>6} {'R':>6} {'F':>6}")
    for on in (True, False):
        rel.cfg["prior_correction"] = on
        everything = []
        for name, egs in predicted.items():
            docs = [eg.predicted for eg in egs]
            rel.set_annotations(docs, rel.predict(docs))
            everything += egs
            _row(on, name, rel.score(egs), rel.name)
        _row(on, "all", rel.score(everything), rel.name)


def _row(on: bool, name: str, scores: dict, component: str) -> None:
    p, r, f = (100 * scores[f"{component}_rel_{k}"] for k in "prf")
    print(f"{'on' if on else 'off':<11} {name:<8} {p:6.1f} {r:6.1f} {f:6.1f}")


if __name__ == "__main__":
    main()
