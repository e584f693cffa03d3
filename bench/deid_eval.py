"""De-identification on the held-out PhysioNet patients: the value of each part, in one table.

    python bench/deid_eval.py ../shared/data/physionet-deid --model build/en_clintiny_sm \
        --out bench/results/deid_eval.json

Runs, on the patients the workflow never trains on (``clintiny deid-eval``'s default set), the
rule patterns alone, the model alone and the hybrid (model + rules) when ``--model`` is given,
each in redact and surrogate mode, and scores deid.pl's own output on the same notes. Prints
token recall / precision / F1, leak rate and notes/s per system (figures only, never note
text); ``--out`` writes every figure as JSON. Each line is reproduced by
``clintiny deid-eval physionet FOLDER --model ... --mode ...`` (``--rules-only``, ``--no-rules``).
"""

import argparse
import sys
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="PhysioNet deid folder (id.text, id-phi.phrase, deid-pl-output/)")
    parser.add_argument("--model", default=None, help="pipeline with a PHI head (model alone and hybrid rows)")
    parser.add_argument("--patients", default="heldout", choices=("heldout", "train", "all"))
    parser.add_argument("--modes", default="redact,surrogate", help="comma-separated modes")
    parser.add_argument("--limit", type=int, default=0, help="first N notes only (0 = all)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--int8",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run the encoder in int8 or not (default: as the pipeline's runtime check allows, like clintiny deid)",
    )
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--profile",
        default=None,
        choices=("precision", "recall"),
        help="rule profile (default: the pipeline's, else recall)",
    )
    parser.add_argument(
        "--outside-weight",
        type=float,
        default=None,
        help="the PHI head's factor on the O tag for the model rows (default: the pipeline's)",
    )
    parser.add_argument(
        "--dictionary-gate",
        type=float,
        default=None,
        help="the PHI head's least token probability for a cue-less dictionary hit (default: the pipeline's)",
    )
    parser.add_argument(
        "--check-dates",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="drop the PHI head's dates that are clinical numbers by the rules' test (default: the pipeline's)",
    )
    parser.add_argument(
        "--propagate",
        default="run",
        choices=("run", "patient", "note", "none"),
        help="name/place words found once redacted wherever they recur (Deidentifier propagate)",
    )
    args = parser.parse_args()

    import spacy

    from spacy_clintiny.cli.deid_eval import (
        EVAL_KEY,
        print_systems,
        read_gold_notes,
        run_engine,
        score_deid_pl,
        score_results,
    )
    from spacy_clintiny.converters.physionet import read_deid_pl_output
    from spacy_clintiny.deid.engine import resolve_int8
    from spacy_clintiny.deid.operators import mode_operator
    from spacy_clintiny.deid.types import DetectorOptions
    from spacy_clintiny.fileio import write_json_atomic

    notes, info = read_gold_notes("physionet", args.folder, patients=args.patients, limit=args.limit)
    tokenizer = spacy.blank("en")
    systems = [("rules", "rules", True)]
    if args.model:
        systems += [("model", args.model, False), ("hybrid", args.model, True)]
    results = {}
    for mode in args.modes.split(","):
        for name, model, rules in systems:
            generator = mode_operator(mode, EVAL_KEY)
            outputs, seconds = run_engine(
                notes,
                model=model,
                mode=mode,
                detector=DetectorOptions(
                    rules=rules,
                    profile=args.profile,
                    outside_weight=args.outside_weight if model != "rules" else None,
                    dictionary_gate=args.dictionary_gate,
                    check_dates=args.check_dates,
                ),
                generator=generator,
                batch_size=args.batch_size,
                threads=args.threads,
                propagate=args.propagate,
                int8=args.int8 if model != "rules" else None,
            )
            results[f"{name} {mode}"] = score_results(notes, outputs, seconds=seconds, tokenizer=tokenizer)
            print(f"{name} {mode}: done", file=sys.stderr)
    deid_pl = args.folder / "deid-pl-output" / "id.phi"
    if deid_pl.exists():
        results["deid.pl"] = score_deid_pl(notes, read_deid_pl_output(deid_pl), path=str(deid_pl), tokenizer=tokenizer)

    print_systems(results, categories=True)
    print(
        f"{info['notes']} notes of {info['n_patients']} {info['patients']} patients, {info['gold_spans']} gold PHI "
        f"spans; {args.threads} torch threads, batch {args.batch_size}",
        file=sys.stderr,
    )
    if args.out:
        write_json_atomic(
            args.out,
            {
                "data": info,
                "model": args.model,
                "threads": args.threads,
                "int8": resolve_int8(args.model, args.int8) if args.model else False,
                "profile": args.profile,
                "propagate": args.propagate,
                "dictionary_gate": args.dictionary_gate,
                "check_dates": args.check_dates,
                "results": results,
            },
        )


if __name__ == "__main__":
    main()
