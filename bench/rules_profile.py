"""Where a full clintiny pipeline spends its time, component by component, in one run.

    python bench/rules_profile.py build/en_clintiny_sm --physionet 200 --mtsamples 100 --threads 2 \
        --reference --out bench/results/rules_profile.json

For each corpus (PhysioNet and MTSamples dev notes from ``corpus/*/dev.spacy``) it tokenizes
the same texts and runs every component over them in pipeline order, timing each one, and
prints each component's share of the whole and the share of the rule components (sentence
splitting, sectionizer, ConText; target: at most 15%). ``--reference`` also times the code
they replace on copies of the same docs (PyRuSH's own rule walk for ``clintiny_sentences``,
medspaCy's own ConText graph for ``clintiny_context``) and checks that the outputs are
identical: that is the "before" column, measured in the same run. ``--profile`` prints
cProfile's top functions inside the rule components. Texts are never printed.
"""

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

RULE_FACTORIES = ("clintiny_sentences", "clintiny_sectionizer", "clintiny_context")
CORPORA = {"physionet": "corpus/physionet/dev.spacy", "mtsamples": "corpus/mtsamples/dev.spacy"}


def time_components(nlp: Any, texts: List[str], *, batch_size: int, profile: bool) -> Dict[str, Any]:
    """Tokenize ``texts`` and run each component of ``nlp`` over all docs in turn.

    RETURNS (Dict[str, Any]): Seconds per step (``tokenizer`` and each pipe name), the docs
        as they were before the first rule component (bytes), and the final docs.
    """
    from spacy.tokens import Doc

    seconds: Dict[str, float] = {}
    start = time.perf_counter()
    docs = [nlp.make_doc(text) for text in texts]
    seconds["tokenizer"] = time.perf_counter() - start
    before_rules: List[bytes] = []
    for name, proc in nlp.pipeline:
        factory = nlp.get_pipe_meta(name).factory
        if factory in RULE_FACTORIES and not before_rules:
            before_rules = [doc.to_bytes() for doc in docs]
        profiler = cProfile.Profile() if profile and factory in RULE_FACTORIES else None
        start = time.perf_counter()
        if profiler:
            profiler.enable()
        if hasattr(proc, "pipe"):
            docs = list(proc.pipe(docs, batch_size=batch_size))
        else:
            docs = [proc(doc) for doc in docs]
        if profiler:
            profiler.disable()
        seconds[name] = time.perf_counter() - start
        if profiler:
            print(f"\n--- cProfile of {name} ({factory}), top 12 by own time", file=sys.stderr)
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(12)
    vocab = nlp.vocab
    return {"seconds": seconds, "before_rules": [Doc(vocab).from_bytes(b) for b in before_rules], "docs": docs}


def time_references(nlp: Any, docs_before: List[Any], docs_after: List[Any]) -> Dict[str, Any]:
    """Time the replaced implementations on copies of the docs and compare outputs."""
    from medspacy.context import ConText
    from PyRuSH.RuSH import RuSH
    from spacy.attrs import SENT_START
    from spacy.tokens import Doc

    from spacy_clintiny.components.rules import ClinicalContext
    from spacy_clintiny.components.sentences import RushSentences, split_gaps_starts

    out: Dict[str, Any] = {}
    for name, proc in nlp.pipeline:
        if isinstance(proc, RushSentences):
            plain = RuSH(rules=proc.rules_text.rstrip("\n") + "\n", max_repeat=proc.max_repeat, auto_fix_gaps=True)
            start = time.perf_counter()
            starts = [
                split_gaps_starts(doc, plain.segToSentenceSpans(doc.text), proc.max_sentence_length)
                for doc in docs_before
            ]
            seconds = time.perf_counter() - start
            same = (
                all([t.is_sent_start for t in after] == s for after, s in zip(docs_after, starts))
                and not proc.merge_gaps
            )
            out[name] = {"reference": "PyRuSH RuSH (every character)", "seconds": seconds, "identical": same}
        elif isinstance(proc, ClinicalContext):
            # copies of the docs before the rule components, with the pipeline's sentences
            # (the sectionizer also sets ConText's attributes, so compare ConText alone)
            copies = []
            for before, after in zip(docs_before, docs_after):
                for _ in range(2):
                    copy = Doc(before.vocab).from_bytes(before.to_bytes())
                    copy.from_array([SENT_START], after.to_array([SENT_START]))
                    copies.append(copy)
            start = time.perf_counter()
            refs = [ConText.__call__(proc, copy) for copy in copies[1::2]]
            seconds = time.perf_counter() - start
            same = all(_context_view(proc(a)) == _context_view(b) for a, b in zip(copies[::2], refs))
            out[name] = {"reference": "medspaCy ConText (all pairs)", "seconds": seconds, "identical": same}
    return out


def time_long_note(nlp: Any, characters: int) -> Dict[str, Any]:
    """Run the whole pipeline on ONE note of ``characters`` characters (PhysioNet notes of the
    project's training patients, repeated) and measure its time and the process's peak RSS."""
    import resource

    from spacy_clintiny.converters.physionet import iter_physionet
    from spacy_clintiny.converters.splits import dev_groups

    folder = Path("../shared/data/physionet-deid")
    notes = list(iter_physionet(folder / "id.text", folder / "id-phi.phrase"))
    held_out = dev_groups({n.group_id for n in notes}, dev_fraction=0.334, seed=0)
    text = "\n\n".join(n.text for n in notes if n.group_id not in held_out)
    text = (text * (1 + characters // len(text)))[:characters]
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    nlp.max_length = max(nlp.max_length, len(text) + 1)
    start = time.perf_counter()
    doc = nlp(text)
    seconds = time.perf_counter() - start
    return {
        "characters": len(text),
        "tokens": len(doc),
        "seconds": seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_before_mb": rss_before,
    }


def _context_view(doc: Any) -> List[Any]:
    attrs = ("is_negated", "is_uncertain", "is_historical", "is_hypothetical", "is_family")
    return [
        (e.start, e.end, tuple(getattr(e._, a) for a in attrs), tuple(m.modifier_span for m in e._.modifiers))
        for e in doc.ents
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pipeline", nargs="?", default="build/en_clintiny_sm")
    parser.add_argument("--physionet", type=int, default=200, help="PhysioNet dev notes")
    parser.add_argument("--mtsamples", type=int, default=100, help="MTSamples dev notes")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reference", action="store_true", help="also time the replaced implementations")
    parser.add_argument("--profile", action="store_true", help="cProfile the rule components (stderr)")
    parser.add_argument("--long-note", type=int, default=0, help="also time ONE note of this many characters")
    parser.add_argument(
        "--deid",
        action="store_true",
        help="the pipeline as clintiny deid loads it (encoder, PHI head, clintiny_deid in redact mode) instead",
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    import spacy
    import torch
    from spacy.tokens import DocBin
    from wasabi import msg

    torch.set_num_threads(args.threads)
    if args.deid:
        from spacy_clintiny.deid.engine import load_deid_pipeline

        nlp = load_deid_pipeline(args.pipeline)
        nlp.get_pipe("clintiny_deid").cfg["mode"] = "redact"
    else:
        nlp = spacy.load(args.pipeline)
    results: Dict[str, Any] = {
        "pipeline": str(args.pipeline),
        "deid": args.deid,
        "threads": args.threads,
        "corpora": {},
    }
    for corpus, limit in (("physionet", args.physionet), ("mtsamples", args.mtsamples)):
        if not limit:
            continue
        texts = [doc.text for doc in DocBin().from_disk(CORPORA[corpus]).get_docs(nlp.vocab)][:limit]
        list(nlp.pipe(texts[:4]))  # warm-up
        run = time_components(nlp, texts, batch_size=args.batch_size, profile=args.profile)
        seconds = run["seconds"]
        total = sum(seconds.values())
        rule_names = [n for n in nlp.pipe_names if nlp.get_pipe_meta(n).factory in RULE_FACTORIES]
        rules = sum(seconds[n] for n in rule_names)
        refs = time_references(nlp, run["before_rules"], run["docs"]) if args.reference else {}
        rows = []
        for name, sec in seconds.items():
            row = [name, f"{sec:.3f}", f"{100 * sec / total:.1f}%"]
            if args.reference:
                ref = refs.get(name)
                row += [f"{ref['seconds']:.3f}" if ref else "", str(ref["identical"]) if ref else ""]
            rows.append(row)
        header = ["step", "seconds", "share"] + (["reference s", "identical"] if args.reference else [])
        words = sum(len(doc) for doc in run["docs"])
        msg.divider(f"{corpus}: {len(texts)} notes, {sum(map(len, texts)):,} characters, {words:,} tokens")
        msg.table(rows, header=header, divider=True)
        summary = (
            f"rule components ({', '.join(rule_names)}): {rules:.3f} s = {100 * rules / total:.1f}% of {total:.3f} s"
        )
        if refs:
            before = rules - sum(seconds[n] for n in refs) + sum(r["seconds"] for r in refs.values())
            before_total = total - rules + before
            summary += (
                f" (with the reference implementations: {100 * before / before_total:.1f}% of {before_total:.3f} s)"
            )
        print(summary)
        results["corpora"][corpus] = {
            "notes": len(texts),
            "characters": sum(map(len, texts)),
            "tokens": words,
            "seconds": seconds,
            "rule_share": rules / total,
            "references": refs,
        }
    if args.long_note:
        results["long_note"] = time_long_note(nlp, args.long_note)
        print(
            "one note of {characters:,} characters ({tokens:,} tokens): {seconds:.1f} s, peak RSS "
            "{peak_rss_mb:,.0f} MB ({rss_before_mb:,.0f} MB before it)".format(**results["long_note"])
        )
    if args.out:
        from spacy_clintiny.fileio import write_json_atomic

        write_json_atomic(args.out, results, indent=2)


if __name__ == "__main__":
    main()
