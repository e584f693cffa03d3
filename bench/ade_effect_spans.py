"""How the concept head's spans on the ADE corpus's positive dev sentences miss: strict and
overlap precision / recall per label, false spans that overlap no gold span (the ADE corpus marks
adverse effects, not every disease a sentence names) and misses that no predicted span overlaps
(the others are boundary errors). A DRUG_AE relation is only right when both its spans are exact.

    python bench/ade_effect_spans.py build/en_clintiny_sm corpus/ade/dev.spacy

Prints counts only.
"""

import argparse
from collections import Counter
from typing import Set, Tuple

Span = Tuple[int, int]


def overlaps(span: Span, others: Set[Span]) -> bool:
    return any(span[0] < end and start < span[1] for start, end in others)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pipeline")
    parser.add_argument("dev", help="the ADE dev DocBin")
    parser.add_argument("--spans-key", default="concepts")
    parser.add_argument("--labels", default="PROBLEM,TREATMENT")
    args = parser.parse_args()

    import spacy
    from spacy.tokens import DocBin

    import spacy_clintiny  # noqa: F401  (the components)

    nlp = spacy.load(args.pipeline)
    refs = [d for d in DocBin().from_disk(args.dev).get_docs(nlp.vocab) if args.spans_key in d.spans]
    with nlp.select_pipes(enable=[n for n in nlp.pipe_names if n in ("encoder", "ner_concepts")]):
        docs = list(nlp.pipe((r.text for r in refs), batch_size=32))
    labels = args.labels.split(",")
    c: Counter = Counter()
    for doc, ref in zip(docs, refs):
        for label in labels:
            gold = {(s.start_char, s.end_char) for s in ref.spans[args.spans_key] if s.label_ == label}
            pred = {(s.start_char, s.end_char) for s in doc.spans.get(args.spans_key, []) if s.label_ == label}
            c[label, "gold"] += len(gold)
            c[label, "pred"] += len(pred)
            c[label, "tp"] += len(gold & pred)
            c[label, "pred_overlap"] += sum(overlaps(s, gold) for s in pred)
            c[label, "gold_overlap"] += sum(overlaps(s, pred) for s in gold)
    print(f"{len(refs)} dev sentences with {args.spans_key} spans\n")
    print("| label | strict P / R / F | overlap P / R | false spans overlapping no gold | misses no span overlaps |")
    print("|---|---:|---:|---:|---:|")
    for label in labels:
        gold, pred, tp = c[label, "gold"], c[label, "pred"], c[label, "tp"]
        p, r = (tp / pred if pred else 0.0), (tp / gold if gold else 0.0)
        f = 2 * p * r / (p + r) if p + r else 0.0
        op = c[label, "pred_overlap"] / pred if pred else 0.0
        orr = c[label, "gold_overlap"] / gold if gold else 0.0
        spurious, unfound = pred - c[label, "pred_overlap"], gold - c[label, "gold_overlap"]
        print(
            f"| {label} | {100 * p:.1f} / {100 * r:.1f} / {100 * f:.1f} | {100 * op:.1f} / {100 * orr:.1f} | "
            f"{spurious} of {pred - tp} | {unfound} of {gold - tp} |"
        )


if __name__ == "__main__":
    main()
