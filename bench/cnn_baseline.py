"""The spaCy CNN NER baseline: what users would otherwise pick, trained on the same data.

    python bench/cnn_baseline.py --max-steps 3000        # about 10 min on 2 cores
    python bench/speed_suite.py --cnn build/cnn-baseline/model-best ...

spaCy's own recipe (``spacy init config -p ner --optimize efficiency``: a hash-embedding CNN
tok2vec and the transition-based ``ner``), trained with ``spacy train`` on the project's
training splits with the concept and PHI span groups as entities (synthetic notes, NCBI-disease,
BC5CDR, ADE and the PhysioNet training patients), and scored on the same dev splits per corpus
(entity P/R/F from spaCy's Scorer, concept and PHI labels apart). Unlike the clintiny heads it
cannot learn from partial annotation: an NCBI abstract's unlabelled drugs count as negatives.
Writes ``OUT/model-best``, ``OUT/model-last`` and ``OUT/scores.json``; prints a table (figures
only, never text).
"""

import argparse
import time
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ("synth", "ncbi", "bc5cdr", "ade", "physionet")
GROUPS = ("concepts", "phi")


def as_entities(docs: List, groups=GROUPS) -> List:
    """Copies of ``docs`` whose ``doc.ents`` are the span groups' spans (overlaps: longest kept)."""
    from spacy.util import filter_spans

    out = []
    for doc in docs:
        spans = [span for key in groups if key in doc.spans for span in doc.spans[key]]
        doc.ents = filter_spans(spans)
        out.append(doc)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "cnn-baseline")
    parser.add_argument("--max-steps", type=int, default=3000)
    parser.add_argument("--eval-frequency", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import spacy
    from spacy.cli.init_config import init_config
    from spacy.cli.train import train
    from spacy.scorer import Scorer
    from spacy.tokens import DocBin
    from spacy.training import Example
    from wasabi import msg

    from spacy_clintiny.fileio import write_json_atomic

    nlp = spacy.blank("en")
    data = args.out / "data"
    data.mkdir(parents=True, exist_ok=True)
    dev_docs: Dict[str, List] = {}
    for split in ("train", "dev"):
        docs = []
        for name in CORPORA:
            path = args.corpus / name / f"{split}.spacy"
            if path.exists():
                part = as_entities(list(DocBin().from_disk(path).get_docs(nlp.vocab)))
                docs += part
                if split == "dev":
                    dev_docs[name] = part
        DocBin(docs=docs).to_disk(data / f"{split}.spacy")
    config = init_config(lang="en", pipeline=["ner"], optimize="efficiency", gpu=False)
    config["paths"]["train"] = str(data / "train.spacy")
    config["paths"]["dev"] = str(data / "dev.spacy")
    config["training"]["max_steps"] = args.max_steps
    config["training"]["eval_frequency"] = args.eval_frequency
    config["system"]["seed"] = args.seed
    config.to_disk(args.out / "config.cfg")
    start = time.perf_counter()
    train(args.out / "config.cfg", args.out, use_gpu=-1)
    minutes = (time.perf_counter() - start) / 60

    model = spacy.load(args.out / "model-best")
    concept_labels = {"PROBLEM", "TEST", "TREATMENT"}
    scores: Dict[str, Dict[str, float]] = {}
    rows = []
    for name, docs in dev_docs.items():
        predicted = list(model.pipe([doc.text for doc in docs], batch_size=64))
        for group, keep in (
            ("concepts", lambda label: label in concept_labels),
            ("phi", lambda label: label not in concept_labels),
        ):
            examples = []
            for pred, gold in zip(predicted, docs):
                if group not in gold.spans:
                    continue
                ref = gold.copy()
                ref.ents = [e for e in gold.ents if keep(e.label_)]
                hyp = pred.copy()
                hyp.ents = [e for e in pred.ents if keep(e.label_)]
                examples.append(Example(hyp, ref))
            if examples:
                result = Scorer.score_spans(examples, "ents")
                key = f"{group}@{name}"
                scores[key] = {k: result[f"ents_{k}"] for k in ("p", "r", "f")}
                rows.append((key, *(f"{100 * (result[f'ents_{k}'] or 0):.1f}" for k in ("p", "r", "f"))))
    write_json_atomic(
        args.out / "scores.json", {"minutes": round(minutes, 1), "max_steps": args.max_steps, "scores": scores}
    )
    msg.table(rows, header=("task@corpus", "P", "R", "F"), divider=True)
    msg.good(f"spaCy CNN NER baseline trained in {minutes:.1f} min -> {args.out / 'model-best'}")


if __name__ == "__main__":
    main()
