"""DRUG_AE end to end on every ADE dev sentence, the negative ones too, with and without gating the
relations by the pipeline's ADE sentence decision.

Before 2308a74 the relation head's score (and the report) counted only docs that carry gold
relations: in the ADE corpus the 305 positive dev sentences. Since then the 1,184 negative
sentences (ADE-NEG.txt) carry an empty relation list annotated for DRUG_AE (by the corpus's
definition they state no drug-adverse-effect relation, so every DRUG_AE predicted in one is a false
positive a user would see), and ``ade_evidence`` gates: a sentence decided not ADE keeps no DRUG_AE.
This runs the pipeline with the gate off and scores both ways, on the positive sentences only and on
every sentence:

    python bench/rel_ade_negatives.py build/en_clintiny_sm corpus/ade/dev.spacy

Gating drops a doc's DRUG_AE relations when ``doc.cats["ADE"]`` is below a fraction of the ADE
head's threshold (1.0: the pipeline's own ADE decision, which is what the pipeline predicts with
its gate on).
"""

import argparse
from typing import List, Optional, Set, Tuple

import spacy
from spacy.tokens import Doc, DocBin

import spacy_clintiny  # noqa: F401  (the components)
from spacy_clintiny.relations import get_gold_relations

Key = Tuple[int, int, int, int]


def predicted(doc: Doc, label: str) -> Set[Key]:
    rels = doc._.clintiny_rels or []
    return {(r.head.start_char, r.head.end_char, r.tail.start_char, r.tail.end_char) for r in rels if r.label == label}


def gold(doc: Doc, label: str) -> Set[Key]:
    rels = get_gold_relations(doc) or []
    return {(*r["head"], *r["tail"]) for r in rels if r["label"] == label}


def prf(docs: List[Doc], refs: List[Doc], label: str, gate: Optional[float], every_doc: bool) -> Tuple[float, ...]:
    tp = fp = fn = 0
    for doc, ref in zip(docs, refs):
        if not every_doc and not gold(ref, label):
            continue
        found = predicted(doc, label) if gate is None or doc.cats["ADE"] >= gate else set()
        truth = gold(ref, label)
        tp, fp, fn = tp + len(found & truth), fp + len(found - truth), fn + len(truth - found)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return 100 * p, 100 * r, 100 * (2 * p * r / (p + r) if p + r else 0.0), fp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pipeline")
    parser.add_argument("dev", help="the ADE dev DocBin (positive and negative sentences)")
    parser.add_argument("--label", default="DRUG_AE")
    parser.add_argument("--doc-head", default="textcat_ade")
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    evidence = "ade_evidence"  # its gate off: the gated rows are computed here
    nlp = spacy.load(args.pipeline, config={"components": {evidence: {"gate": False}}})
    refs = list(DocBin().from_disk(args.dev).get_docs(nlp.vocab))
    skip = [n for n in nlp.pipe_names if n in ("ner_phi", "sentences", "sectionizer", "context")]
    with nlp.select_pipes(disable=skip):
        docs = list(nlp.pipe((ref.text for ref in refs), batch_size=args.batch_size))
    head = nlp.get_pipe(args.doc_head)
    threshold = float(head.label_thresholds[list(head.labels).index("ADE")])
    positive = sum(bool(gold(ref, args.label)) for ref in refs)
    print(f"{len(refs)} sentences, {positive} with gold {args.label} relations; ADE threshold {threshold:.3f}\n")
    print(f"| {args.label} | positive sentences: P / R / F | every sentence: P / R / F | false pairs |")
    print("|---|---:|---:|---:|")
    for name, gate in (
        ("not gated (gate = false)", None),
        ("gated at half the ADE threshold", threshold / 2),
        ("gated by the ADE decision (the pipeline)", threshold),
    ):
        report = prf(docs, refs, args.label, gate, every_doc=False)
        every = prf(docs, refs, args.label, gate, every_doc=True)
        print(
            f"| {name} | {report[0]:.1f} / {report[1]:.1f} / {report[2]:.1f} | "
            f"{every[0]:.1f} / {every[1]:.1f} / {every[2]:.1f} | {every[3]} |"
        )


if __name__ == "__main__":
    main()
