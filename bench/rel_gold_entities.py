"""The relation head given the GOLD entities of a dev corpus: how much of the end-to-end relation
F1 is lost upstream, in the concept head.

    python bench/rel_gold_entities.py build/en_clintiny_sm corpus/ade/dev.spacy

The encoder runs on each dev doc, its span groups are replaced by the gold ones (expanded to token
boundaries), and the relation head predicts and is scored as in the report (its calibrated
thresholds, its own ``score``).
"""

import argparse

import spacy
from spacy.tokens import DocBin
from spacy.training import Example

import spacy_clintiny  # noqa: F401  (the components)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pipeline")
    parser.add_argument("dev", help="a dev DocBin with gold entities and relations")
    parser.add_argument("--rel", default="rel", help="the relation head's name")
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    nlp = spacy.load(args.pipeline)
    rel = nlp.get_pipe(args.rel)
    gold = list(DocBin().from_disk(args.dev).get_docs(nlp.vocab))
    encoders = [n for n in nlp.pipe_names if nlp.get_pipe_meta(n).factory in ("clintiny_encoder", "transformer")]
    with nlp.select_pipes(enable=encoders):
        docs = list(nlp.pipe((g.text for g in gold), batch_size=args.batch_size))
    for doc, ref in zip(docs, gold):
        for key in rel.cfg["spans_keys"]:
            spans = (
                doc.char_span(s.start_char, s.end_char, label=s.label_, alignment_mode="expand")
                for s in (ref.ents if key == "ents" else ref.spans.get(key, []))
            )
            if key == "ents":
                doc.ents = [s for s in spans if s is not None]
            else:
                doc.spans[key] = [s for s in spans if s is not None]
    for i in range(0, len(docs), args.batch_size):
        batch = docs[i : i + args.batch_size]
        rel.set_annotations(batch, rel.predict(batch))
    scores = rel.score([Example(doc, ref) for doc, ref in zip(docs, gold)])
    print(f"| label | P | R | F |  (gold entities, {len(docs)} docs of {args.dev})")
    print("|---|---:|---:|---:|")
    for label, prf in scores[f"{args.rel}_rel_per_type"].items():
        if any(prf.values()):
            print(f"| {label} | {100 * prf['p']:.1f} | {100 * prf['r']:.1f} | {100 * prf['f']:.1f} |")


if __name__ == "__main__":
    main()
