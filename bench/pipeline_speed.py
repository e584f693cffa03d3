"""Words per second of trained clintiny pipelines on this machine, in one run so ratios compare.

    python bench/pipeline_speed.py build/en_clintiny_sm build/pipeline-teacher/model-best \
        --texts corpus/mtsamples/dev.spacy --n-docs 100 --threads 2

For each pipeline it times ``nlp.pipe`` over the same texts after a warm-up batch: with every
component, and with the clintiny heads only (medspaCy rule components disabled). It prints a
table and, with ``--out``, writes it as JSON. Texts are never printed.
"""

import argparse
import json
import sys
from pathlib import Path

HEADS = ("clintiny_encoder", "transformer", "clintiny_ner", "clintiny_textcat", "clintiny_rel")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pipelines", nargs="+", type=Path, help="pipeline folders or installed package names")
    parser.add_argument("--texts", type=Path, required=True, help="DocBin (.spacy) whose texts are timed")
    parser.add_argument("--n-docs", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    import spacy
    import torch
    from spacy.tokens import DocBin
    from wasabi import msg

    from spacy_clintiny.evaluation.scores import encoder_size, words_per_second

    torch.set_num_threads(args.threads)
    vocab_nlp = spacy.blank("en")
    texts = [doc.text for doc in DocBin().from_disk(args.texts).get_docs(vocab_nlp.vocab)][: args.n_docs]
    if not texts:
        msg.fail(f"No documents in {args.texts}", exits=1)
    rows, results = [], []
    for path in args.pipelines:
        nlp = spacy.load(path)
        rules = [n for n in nlp.pipe_names if nlp.get_pipe_meta(n).factory not in HEADS]
        heads = words_per_second(nlp, texts, batch_size=args.batch_size, disable=rules)
        full = words_per_second(nlp, texts, batch_size=args.batch_size) if rules else heads
        size = encoder_size(nlp)
        results.append(
            {
                "pipeline": str(path),
                "params": size["params"],
                "heads_words_per_s": heads,
                "full_words_per_s": full,
                "components": nlp.pipe_names,
            }
        )
        rows.append((str(path), f"{size['params'] / 1e6:.1f}M", f"{heads:,.0f}", f"{full:,.0f}"))
    base = results[-1]["heads_words_per_s"]
    for row, res in zip(rows, results):
        rows[rows.index(row)] = row + (f"{res['heads_words_per_s'] / base:.2f}x",)
    msg.table(rows, header=("pipeline", "encoder params", "words/s heads", "words/s all", "vs last"), divider=True)
    print(f"{len(texts)} docs, {args.threads} torch threads, batch {args.batch_size}", file=sys.stderr)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"docs": len(texts), "threads": args.threads, "results": results}, indent=2))


if __name__ == "__main__":
    main()
