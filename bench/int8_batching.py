"""int8 encoders and batching: does a note's output depend on the notes batched with it, and what
does encoding each window alone cost?

    python bench/int8_batching.py ../shared/data/physionet-deid --model build/en_clintiny_sm \
        --notes 500 --reps 3 --out bench/results/int8_batching.json

Dynamic int8 (torch or ONNX Runtime) scales the activations per encoder call, over every window
in it and their padding, so in length-sorted groups across notes (the fp32 path) a note's PHI can
change with its neighbours. The encoder therefore puts the windows of one note only in a call
when it is quantized (``architectures.encoder._doc_rows``). On PhysioNet training-patient
notes (never the held-out ones) this script times ``clintiny deid --mode redact`` three ways,
alternating (one note a call, the default; one window a call; groups across notes), and counts
the notes whose output differs between a batch of 32 and the note alone. Prints a table; no text.
"""

import argparse
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="the PhysioNet deid folder (id.text, id-phi.phrase)")
    parser.add_argument("--model", default="build/en_clintiny_sm")
    parser.add_argument("--notes", type=int, default=500, help="training-patient notes to time")
    parser.add_argument("--check", type=int, default=200, help="of which compared alone vs in a batch")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    import numpy
    import torch

    import spacy_clintiny.architectures.encoder as encoder
    from spacy_clintiny.cli.deid_eval import read_gold_notes
    from spacy_clintiny.deid.engine import Deidentifier, load_deid_pipeline
    from spacy_clintiny.deid.types import NoteRecord
    from spacy_clintiny.fileio import write_json_atomic

    torch.set_num_threads(args.threads)
    notes, _ = read_gold_notes("physionet", args.folder, patients="train", limit=args.notes)
    records = [NoteRecord(note.note_id, note.text, None) for note in notes]
    nlp = load_deid_pipeline(args.model)
    shim = nlp.get_pipe("encoder").model.layers[0].shims[0]
    if getattr(shim, "quantize", None) is None:
        raise SystemExit(f"{args.model}: its encoder is not quantized (load it with int8, or give an int8 package)")
    default_rows = encoder._doc_rows

    def one_window_a_call(nested_spans):
        return [numpy.array([i]) for i in range(sum(len(spans) for spans in nested_spans))]

    ways = {
        "one note a call (default)": (encoder._quantized, default_rows),
        "one window a call": (encoder._quantized, one_window_a_call),
        "groups across notes": (lambda model: False, default_rows),
    }

    def run(way, recs):
        encoder._quantized, encoder._doc_rows = way
        engine = Deidentifier(nlp, mode="redact", propagate="none", batch_size=32)
        start = time.perf_counter()
        texts = [result.text for result in engine.run(recs)]
        return time.perf_counter() - start, texts

    run(ways["one note a call (default)"], records[:32])  # warm-up
    seconds = {name: [] for name in ways}
    outputs = {}
    for _ in range(args.reps):
        for name, way in ways.items():
            took, texts = run(way, records)
            seconds[name].append(took)
            outputs.setdefault(name, texts)
    differs = {}
    engine = Deidentifier(nlp, mode="redact", propagate="none", batch_size=32)
    for name, way in ways.items():
        encoder._quantized, encoder._doc_rows = way
        alone = [next(engine.run([record])).text for record in records[: args.check]]
        differs[name] = sum(a != b for a, b in zip(alone, outputs[name]))
    encoder._quantized, encoder._doc_rows = ways["one note a call (default)"]
    words = sum(len(note.text.split()) for note in notes)
    rows = {
        name: {
            "notes_per_s_best": len(records) / min(seconds[name]),
            "notes_per_s": [len(records) / s for s in seconds[name]],
            "words_per_s_best": words / min(seconds[name]),
            "notes_differing_alone_vs_batch": differs[name],
        }
        for name in ways
    }
    print(f"{len(records)} training-patient notes ({words} words), redact, {args.threads} threads, {args.reps} reps")
    print(f"{'encoding':<30} {'notes/s best':>12} {'words/s best':>12}  differ alone vs batch (of {args.check})")
    for name, row in rows.items():
        print(
            f"{name:<30} {row['notes_per_s_best']:>12.1f} {row['words_per_s_best']:>12.0f}  "
            f"{row['notes_differing_alone_vs_batch']}"
        )
    base = rows["groups across notes"]["notes_per_s_best"]
    for name in ("one note a call (default)", "one window a call"):
        print(f"{name} / groups across notes: {rows[name]['notes_per_s_best'] / base:.3f}")
    if args.out is not None:
        write_json_atomic(args.out, {"model": args.model, "notes": len(records), "words": words, "results": rows})


if __name__ == "__main__":
    main()
