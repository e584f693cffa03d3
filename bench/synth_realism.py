"""How realistic are the synthetic notes? Train a PHI ``clintiny_ner`` on synthetic notes ONLY
and measure PHI token recall / precision on the real PhysioNet deid dev notes.

    python bench/synth_realism.py --minutes 13 --out reports/synth_realism.json

By default the encoder (the bundled teacher, all-MiniLM-L6-v2) is frozen and only the PHI head
(a Maxout hidden layer + softmax) learns, at 2e-3 with warm-up and a linear decay over the
wall-clock budget: on a shared 2-core CPU that sees ~4,000 notes in 13 minutes, while
fine-tuning the encoder (``--finetune-encoder``) sees ~400 and does not converge in that budget.

A token is PHI when it overlaps a PHI span (``spacy_clintiny.evaluation.scores``). Reported:
token recall and precision over all predicted labels, precision ignoring PROFESSION
predictions (PhysioNet does not annotate professions), recall per gold PhysioNet category,
and exact-span P/R/F per label. Nothing here downloads anything: the encoder is the bundled
default teacher (or a local folder) and PhysioNet comes from the corpus mirror.
"""

import argparse
import json
import os
import random
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Dict, List, Sequence

ROOT = Path(__file__).resolve().parents[1]


def build_nlp(encoder: str, window: int, stride: int, hidden_width: int):
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe(
        "clintiny_encoder",
        config={
            "model": {
                "@architectures": "spacy-clintiny.Encoder.v1",
                "name": encoder,
                "window": window,
                "stride": stride,
            }
        },
    )
    nlp.add_pipe(
        "clintiny_ner",
        name="ner_phi",
        config={
            "spans_key": "phi",
            "scheme": "BILUO",
            "model": {
                "@architectures": "spacy-clintiny.TokenClassifier.v1",
                "hidden_width": hidden_width or None,
                "tok2vec": {
                    "@architectures": "spacy-transformers.TransformerListener.v1",
                    "grad_factor": 1.0,
                    "upstream": "clintiny_encoder",
                    "pooling": {"@layers": "reduce_mean.v1"},
                },
            },
        },
    )
    return nlp


def token_flags(doc, spans, label_of=False):
    """Per token: None, or the label of the first span overlapping it."""
    flags: List = [None] * len(doc)
    ranges = sorted((s.start_char, s.end_char, s.label_) for s in spans)
    for i, token in enumerate(doc):
        t_start, t_end = token.idx, token.idx + len(token)
        for start, end, label in ranges:
            if start >= t_end:
                break
            if end > t_start:
                flags[i] = label
                break
    return flags


def evaluate(nlp, references: Sequence, *, batch_size: int = 8) -> Dict:
    """Token-level PHI recall/precision (overall, without PROFESSION, per gold label) and
    exact-span scores per label."""
    tp = fp = fn = fp_profession = 0
    recall_by_label: Dict[str, Counter] = defaultdict(Counter)
    span_counts: Dict[str, Counter] = defaultdict(Counter)
    predicted_labels = Counter()
    for ref, pred in zip(references, nlp.pipe((r.text for r in references), batch_size=batch_size)):
        gold = token_flags(pred, ref.spans["phi"])
        guess = token_flags(pred, pred.spans.get("phi", []))
        for token, g, p in zip(pred, gold, guess):
            if token.is_space:
                continue
            if g and p:
                tp += 1
            elif p and not g:
                fp += 1
                fp_profession += p == "PROFESSION"
            elif g and not p:
                fn += 1
            if g:
                recall_by_label[g]["gold"] += 1
                recall_by_label[g]["found"] += bool(p)
        gold_spans = {(s.start_char, s.end_char, s.label_) for s in ref.spans["phi"]}
        pred_spans = {(s.start_char, s.end_char, s.label_) for s in pred.spans.get("phi", [])}
        predicted_labels.update(label for _, _, label in pred_spans)
        for label in {s[2] for s in gold_spans | pred_spans}:
            g = {s for s in gold_spans if s[2] == label}
            p = {s for s in pred_spans if s[2] == label}
            span_counts[label]["tp"] += len(g & p)
            span_counts[label]["fp"] += len(p - g)
            span_counts[label]["fn"] += len(g - p)

    def ratio(a, b):
        return round(a / b, 4) if b else None

    spans = {}
    for label, c in sorted(span_counts.items()):
        p, r = ratio(c["tp"], c["tp"] + c["fp"]), ratio(c["tp"], c["tp"] + c["fn"])
        spans[label] = {"p": p, "r": r, "f": ratio(2 * c["tp"], 2 * c["tp"] + c["fp"] + c["fn"]), **c}
    return {
        "docs": len(references),
        "gold_phi_tokens": tp + fn,
        "token_recall": ratio(tp, tp + fn),
        "token_precision": ratio(tp, tp + fp),
        "token_precision_without_profession": ratio(tp, tp + fp - fp_profession),
        "token_recall_by_gold_label": {k: ratio(c["found"], c["gold"]) for k, c in sorted(recall_by_label.items())},
        "predicted_spans_by_label": dict(predicted_labels),
        "exact_spans": spans,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-train", type=int, default=4000, help="synthetic training notes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--style", default="mixed")
    parser.add_argument("--minutes", type=float, default=12.0, help="training time budget (wall clock)")
    parser.add_argument("--encoder", default="default", help="'default' teacher or a local HF folder")
    parser.add_argument("--window", type=int, default=128)
    parser.add_argument("--stride", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=8, help="notes per update")
    parser.add_argument("--hidden-width", type=int, default=256, help="Maxout hidden layer of the head (0 = none)")
    parser.add_argument(
        "--finetune-encoder",
        action="store_true",
        help="also train the encoder (default: frozen encoder, only the PHI head learns, "
        "which fits a 10-15 minute CPU budget; fine-tuning needs far more steps)",
    )
    parser.add_argument(
        "--lr",
        type=float,
        default=None,
        help="peak learning rate (default 2e-3 with a frozen encoder, 5e-5 when fine-tuning)",
    )
    parser.add_argument("--warmup-steps", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--physionet",
        type=Path,
        default=Path(os.environ.get("CLINTINY_MIRROR", ROOT.parent / "shared" / "data")) / "physionet-deid",
    )
    parser.add_argument("--eval-limit", type=int, default=0, help="evaluate on the first N PhysioNet notes (0 = all)")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "synth_realism.json")
    parser.add_argument("--save-model", type=Path, default=None)
    args = parser.parse_args()

    import torch
    from spacy.training import Example
    from thinc.api import Adam

    from spacy_clintiny.converters import read_physionet
    from spacy_clintiny.synth import generate_docs

    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    t0 = time.time()
    nlp = build_nlp(args.encoder, args.window, args.stride, args.hidden_width)
    train_docs = list(generate_docs(args.n_train, seed=args.seed, style=args.style, nlp=nlp))
    synth_dev = list(generate_docs(100, seed=args.seed + 10_000, style=args.style, nlp=nlp))
    physionet = list(read_physionet(args.physionet / "id.text", args.physionet / "id-phi.phrase", nlp=nlp))
    if args.eval_limit:
        physionet = physionet[: args.eval_limit]
    examples = [Example(nlp.make_doc(d.text), d) for d in train_docs]
    print(f"data ready in {time.time() - t0:.0f}s: {len(examples)} synthetic notes, {len(physionet)} PhysioNet notes")

    if args.lr is None:
        args.lr = 5e-5 if args.finetune_encoder else 2e-3
    # A frozen encoder still annotates the docs (doc._.trf_data) so the listener can read them.
    frozen = [] if args.finetune_encoder else ["clintiny_encoder"]
    nlp.initialize(lambda: examples[:300])
    # The schedule follows the wall-clock budget, not a step count (steps take 1 to 20 s
    # depending on the machine's load): linear warm-up over the first steps, then linear decay
    # to zero at the end of the budget.
    optimizer = Adam(learn_rate=args.lr, grad_clip=1.0, L2=0.01, L2_is_weight_decay=True)
    budget = args.minutes * 60
    start = time.time()
    step, seen, losses_log = 0, 0, []
    order = list(range(len(examples)))
    while time.time() - start < budget:
        random.shuffle(order)
        for i in range(0, len(order), args.batch_size):
            if time.time() - start >= budget:
                break
            batch = [examples[j] for j in order[i : i + args.batch_size]]
            remaining = max(0.0, 1.0 - (time.time() - start) / budget)
            optimizer.learn_rate = args.lr * min(1.0, (step + 1) / args.warmup_steps) * remaining
            losses: Dict[str, float] = {}
            nlp.update(batch, sgd=optimizer, drop=0.1, losses=losses, exclude=frozen, annotates=frozen)
            step += 1
            seen += len(batch)
            losses_log.append(losses.get("ner_phi", 0.0))
            if step % 25 == 0:
                recent = losses_log[-25:]
                print(
                    f"step {step:5d}  notes {seen:6d}  loss {sum(recent) / len(recent):9.3f}  "
                    f"{time.time() - start:6.0f}s",
                    flush=True,
                )
    train_seconds = time.time() - start
    print(f"trained {step} steps / {seen} notes ({seen / len(examples):.2f} epochs) in {train_seconds:.0f}s")

    t_eval = time.time()
    synth_scores = evaluate(nlp, synth_dev)
    physionet_scores = evaluate(nlp, physionet)
    result = {
        "setup": {
            **{k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "train_steps": step,
            "train_notes_seen": seen,
            "train_seconds": round(train_seconds),
            "eval_seconds": round(time.time() - t_eval),
        },
        "synthetic_dev": synth_scores,
        "physionet_dev": physionet_scores,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, args.out)
    if args.save_model:
        nlp.to_disk(args.save_model)
    p = physionet_scores
    print(
        f"PhysioNet dev ({p['docs']} notes, {p['gold_phi_tokens']} PHI tokens): token recall {p['token_recall']}, "
        f"precision {p['token_precision']} (without PROFESSION predictions {p['token_precision_without_profession']})"
    )
    print(f"synthetic dev: token recall {synth_scores['token_recall']}, precision {synth_scores['token_precision']}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
