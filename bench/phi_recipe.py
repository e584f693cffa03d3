"""PHI head recipes on a fixed encoder computed once: which head gets PhysioNet PHI right?

    python bench/phi_recipe.py features --pipeline build/pipeline-student/model-best --out /tmp/E/feats/student
    python bench/phi_recipe.py run --feats /tmp/E/feats/student --progress /tmp/E/progress.md

``features`` runs the pipeline's fixed encoder ONCE over the PHI training docs (PhysioNet
notes of the training patients, corpus/physionet/train.spacy, and synthetic notes,
corpus/synth/train.spacy) and the held-out patients' notes (corpus/physionet/dev.spacy), and
stores every layer's output pooled to spaCy tokens (the listener's ``reduce_mean`` over the
token's wordpieces, averaged over overlapping windows) as float16 arrays.

``run`` trains head variants of ``spacy-clintiny.TokenClassifier.v1``/``v2`` inside a real
``clintiny_ner`` component (same loss, decoding and ``outside_weight``) on those cached
features for many epochs, chooses the operating point (``outside_weight``) by
cross-validation over TRAINING patients only, and scores token-level binary PHI recall and
precision (``evaluation.scores.phi_token_scores``) and strict span F1 on the held-out
patients. It prints the comparison table (figures only, never note text).
"""

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy

CORPORA = {
    "physionet-train": "physionet/train.spacy",
    "physionet-dev": "physionet/dev.spacy",
    "synth-train": "synth/train.spacy",
}
FEAT_KEY = "phi_recipe_row"


# ---------------------------------------------------------------------------- features


def extract_features(pipeline: Path, corpus: Path, out: Path, *, synth_limit: int, batch_size: int) -> None:
    """Encode every doc once and store all layers' token vectors (float16)."""
    import spacy
    import torch
    from spacy.tokens import DocBin
    from spacy_transformers.align import apply_alignment
    from thinc.api import NumpyOps, reduce_mean

    torch.set_num_threads(2)
    nlp = spacy.load(pipeline)
    encoder = nlp.get_pipe("encoder")
    hf_model = encoder.model.layers[0].shims[0]._model
    hf_model.config.output_hidden_states = True
    ops = NumpyOps()
    pool = reduce_mean()
    out.mkdir(parents=True, exist_ok=True)
    for name, rel in CORPORA.items():
        docs = list(DocBin().from_disk(corpus / rel).get_docs(nlp.vocab))
        if name == "synth-train" and synth_limit:
            docs = docs[:synth_limit]
        texts = [doc.text for doc in docs]
        start = time.perf_counter()
        rows: List[numpy.ndarray] = []
        lengths = []
        for doc in nlp.pipe(texts, batch_size=batch_size, disable=[p for p in nlp.pipe_names if p != "encoder"]):
            lengths.append(len(doc))
            if not len(doc):
                continue
            trf = doc._.trf_data
            layers = []
            for hidden in trf.model_output.hidden_states:
                src = ops.reshape2f(hidden, -1, hidden.shape[-1])
                aligned, _ = apply_alignment(ops, trf.align, src)
                pooled, _ = pool(aligned, False)
                layers.append(pooled)
            rows.append(numpy.stack(layers, axis=1).astype("float16"))  # (n_tokens, n_layers, width)
        feats = numpy.concatenate(rows, axis=0)
        numpy.save(out / f"{name}.npy", feats)
        numpy.save(out / f"{name}.lengths.npy", numpy.asarray(lengths, dtype="int64"))
        seconds = time.perf_counter() - start
        print(f"{name}: {len(docs)} docs, {feats.shape} in {seconds:.0f}s", file=sys.stderr)
        (out / f"{name}.json").write_text(
            json.dumps({"docs": len(docs), "shape": list(feats.shape), "seconds": seconds})
        )


# ---------------------------------------------------------------------------- training


def load_split(nlp, corpus: Path, feats: Path, name: str, *, limit: int = 0):
    """Examples of one corpus, each predicted doc pointing at its rows of the cached features."""
    from spacy.tokens import DocBin
    from spacy.training import Example

    docs = list(DocBin().from_disk(corpus / CORPORA[name]).get_docs(nlp.vocab))
    lengths = numpy.load(feats / f"{name}.lengths.npy")
    docs = docs[: len(lengths)]
    array = numpy.load(feats / f"{name}.npy", mmap_mode="r")
    examples = []
    start = 0
    for doc, n in zip(docs, lengths):
        pred = nlp.make_doc(doc.text)
        if len(pred) != n:
            raise ValueError(f"token count mismatch in {name}: {len(pred)} != {n}")
        pred.user_data[FEAT_KEY] = (name, int(start), int(start + n))
        start += n
        examples.append(Example(pred, doc))
    if limit:
        examples = examples[:limit]
    return examples, array


def cached_features(arrays: Dict[str, numpy.ndarray], *, layers: Sequence[int]):
    """A thinc layer giving each doc its cached token vectors (chosen layers concatenated)."""
    from thinc.api import Model

    def forward(model, docs, is_train):
        outs = []
        for doc in docs:
            name, start, end = doc.user_data[FEAT_KEY]
            block = numpy.asarray(arrays[name][start:end][:, list(layers)], dtype="float32")
            outs.append(block.reshape(end - start, -1))
        return outs, lambda d: []

    return Model("cached_features", forward)


def build_head(variant: str, arrays, n_layers: int, width: int):
    """The model of one variant over cached features."""
    from spacy_clintiny.architectures.token_head import build_token_classifier_v1, build_token_classifier_v2

    last = [n_layers - 1]
    every = list(range(n_layers))
    spec = VARIANTS[variant]
    layers = every if spec.get("mix") else last
    tok2vec = cached_features(arrays, layers=layers)
    if spec["arch"] == "v1":
        return build_token_classifier_v1(tok2vec, hidden_width=256)
    kwargs = dict(spec["kwargs"])
    if spec.get("mix"):
        kwargs["n_layers"] = n_layers
    return build_token_classifier_v2(tok2vec, **kwargs)


VARIANTS: Dict[str, Dict] = {
    "a maxout (v1)": {"arch": "v1"},
    "b +surface": {"arch": "v2", "kwargs": {"surface_width": 96, "depth": 0, "hidden_width": 256}},
    "c +surface+cnn2": {"arch": "v2", "kwargs": {"surface_width": 96, "depth": 2, "hidden_width": 256}},
    "c +surface+cnn4": {"arch": "v2", "kwargs": {"surface_width": 96, "depth": 4, "hidden_width": 256}},
    "c +surface+cnn2+mix": {
        "arch": "v2",
        "mix": True,
        "kwargs": {"surface_width": 96, "depth": 2, "hidden_width": 256},
    },
    "c +surface+lstm": {
        "arch": "v2",
        "kwargs": {"surface_width": 96, "depth": 1, "context": "lstm", "hidden_width": 256},
    },
}


def make_component(nlp, model, labels: List[str]):
    from spacy_clintiny.components.ner import TokenClassifier

    ner = TokenClassifier(nlp.vocab, model, name="ner_phi", spans_key="phi", scheme="BILUO")
    for label in labels:
        ner.add_label(label)
    return ner


def train_head(
    nlp,
    variant: str,
    arrays,
    train: List,
    labels: List[str],
    *,
    n_layers: int,
    width: int,
    epochs: int,
    batch_size: int,
    learn_rate: float,
    seed: int,
    dev: Optional[List] = None,
    log: Optional[Callable[[str], None]] = None,
):
    from thinc.api import Adam, fix_random_seed, warmup_linear

    fix_random_seed(seed)
    ner = make_component(nlp, build_head(variant, arrays, n_layers, width), labels)
    ner.initialize(lambda: train, labels=labels)
    n_steps = epochs * ((len(train) + batch_size - 1) // batch_size)
    optimizer = Adam(warmup_linear(learn_rate, min(100, n_steps // 10), n_steps), L2=1e-6, grad_clip=1.0)
    rng = numpy.random.default_rng(seed)
    for epoch in range(epochs):
        order = rng.permutation(len(train))
        losses: Dict[str, float] = {}
        for i in range(0, len(order), batch_size):
            batch = [train[j] for j in order[i : i + batch_size]]
            ner.update(batch, drop=0.1, sgd=optimizer, losses=losses)
            optimizer.step_schedules()
        if log and dev is not None and (epoch + 1) % max(1, epochs // 4) == 0:
            probs = predict_probs(ner, dev)
            r, p, _ = score_at(ner, dev, probs, 1.0)
            log(f"  {variant} epoch {epoch + 1}: loss {losses['ner_phi']:.2f} held-out R {r:.3f} P {p:.3f} (ow=1)")
    if optimizer.averages:
        ner.model.use_params(optimizer.averages)
    return ner


def predict_probs(ner, examples) -> List[numpy.ndarray]:
    docs = [eg.predicted for eg in examples]
    out = []
    for i in range(0, len(docs), 64):
        out.extend(ner.model.predict(docs[i : i + 64]))
    return out


def score_at(ner, examples, probs, outside_weight: float) -> Tuple[float, float, float]:
    """Token recall / precision and strict span F1 at one operating point."""
    from spacy.scorer import Scorer

    from spacy_clintiny.evaluation.scores import phi_token_scores

    ner.cfg["outside_weight"] = outside_weight
    ner.set_annotations([eg.predicted for eg in examples], probs)
    tokens = phi_token_scores(examples)
    spans = Scorer.score_spans(
        examples,
        "spans_phi",
        getter=lambda doc, attr: list(doc.spans.get("phi", [])),
        has_annotation=lambda d: "phi" in d.spans,
        allow_overlap=True,
    )
    return tokens["token_recall"], tokens["token_precision"], spans["spans_phi_f"] or 0.0


OUTSIDE_WEIGHTS = (1.0, 0.5, 0.3, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002)


def choose_outside_weight(pooled: Dict[float, Tuple[int, int, int]], *, min_recall: float) -> float:
    """The largest O weight whose cross-validated recall reaches ``min_recall``, else the best F2."""
    best, best_f2 = OUTSIDE_WEIGHTS[-1], -1.0
    for ow in OUTSIDE_WEIGHTS:
        tp, fp, fn = pooled[ow]
        r = tp / (tp + fn) if tp + fn else 0.0
        p = tp / (tp + fp) if tp + fp else 0.0
        if r >= min_recall:
            return ow
        f2 = 5 * p * r / (4 * p + r) if p + r else 0.0
        if f2 > best_f2:
            best, best_f2 = ow, f2
    return best


def token_counts(examples) -> Tuple[int, int, int]:
    from spacy_clintiny.evaluation.scores import token_confusion

    tp = fp = fn = 0
    for eg in examples:
        gold = [(s.start_char, s.end_char) for s in eg.reference.spans["phi"]]
        guess = [(s.start_char, s.end_char) for s in eg.predicted.spans.get("phi", [])]
        a, b, c = token_confusion(eg.predicted, gold, guess)
        tp, fp, fn = tp + a, fp + b, fn + c
    return tp, fp, fn


def cross_validate(
    nlp, variant, arrays, physio, synth, labels, *, folds: int, **train_kwargs
) -> Dict[float, Tuple[int, int, int]]:
    """Token counts per O weight pooled over ``folds`` folds of TRAINING patients."""
    from spacy_clintiny.converters.splits import group_of

    groups = sorted({group_of(eg.reference) for eg in physio})
    pooled = {ow: (0, 0, 0) for ow in OUTSIDE_WEIGHTS}
    for k in range(folds):
        held = set(groups[k::folds])
        fit = [eg for eg in physio if group_of(eg.reference) not in held] + synth
        val = [eg for eg in physio if group_of(eg.reference) in held]
        ner = train_head(nlp, variant, arrays, fit, labels, **train_kwargs)
        probs = predict_probs(ner, val)
        for ow in OUTSIDE_WEIGHTS:
            score_at(ner, val, probs, ow)
            counts = token_counts(val)
            pooled[ow] = tuple(a + b for a, b in zip(pooled[ow], counts))
    return pooled


def run(args: argparse.Namespace) -> None:
    import spacy
    import torch

    torch.set_num_threads(args.threads)
    nlp = spacy.blank("en")
    labels = json.loads((args.corpus / "labels" / "phi.json").read_text())
    physio, a1 = load_split(nlp, args.corpus, args.feats, "physionet-train")
    dev, a2 = load_split(nlp, args.corpus, args.feats, "physionet-dev")
    synth, a3 = load_split(nlp, args.corpus, args.feats, "synth-train", limit=max(args.synth_limit, 0))
    if args.synth_limit < 0:  # real notes only
        synth = []
    arrays = {"physionet-train": a1, "physionet-dev": a2, "synth-train": a3}
    if args.in_memory:
        arrays = {k: numpy.asarray(v) for k, v in arrays.items()}
    n_layers, width = a1.shape[1], a1.shape[2]
    progress = args.progress

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    variants = [v for v in VARIANTS if not args.variants or any(v.startswith(s) for s in args.variants.split(","))]
    kwargs = dict(
        n_layers=n_layers,
        width=width,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learn_rate=args.learn_rate,
        seed=args.seed,
    )
    rows = []
    for variant in variants:
        train = physio + synth
        start = time.perf_counter()
        ner = train_head(nlp, variant, arrays, train, labels, dev=dev, log=log, **kwargs)
        minutes = (time.perf_counter() - start) / 60
        probs = predict_probs(ner, dev)
        if args.folds:
            pooled = cross_validate(nlp, variant, arrays, physio, synth, labels, folds=args.folds, **kwargs)
            ow = choose_outside_weight(pooled, min_recall=args.min_recall)
        else:
            ow = args.outside_weight
        r1, p1, f1 = score_at(ner, dev, probs, 1.0)
        r, p, f = score_at(ner, dev, probs, ow)
        row = {
            "variant": variant,
            "features": args.feats.name,
            "train_min": minutes,
            "epochs": args.epochs,
            "train_data": f"{len(physio)}+{len(synth)} docs x {args.epochs} ep",
            "ow": ow,
            "R": r,
            "P": p,
            "span_F1": f,
            "R@1": r1,
            "P@1": p1,
            "F1@1": f1,
        }
        rows.append(row)
        log(json.dumps(row))
        if progress:
            with open(progress, "a", encoding="utf8") as f_out:
                f_out.write(format_row(row) + "\n")
    print(TABLE_HEADER)
    for row in rows:
        print(format_row(row))


TABLE_HEADER = (
    "| variant | features | train data | train min | O weight | held-out token R / P | span F1 "
    "| R / P at O weight 1 |\n"
    "|---|---|---|---:|---:|---:|---:|---:|"
)


def format_row(row: Dict) -> str:
    """One markdown table row of figures (no note text)."""
    return (
        f"| {row['variant']} | {row['features']} | {row['train_data']} | {row['train_min']:.1f} | {row['ow']} | "
        f"{row['R']:.3f} / {row['P']:.3f} | {row['span_F1']:.3f} | {row['R@1']:.3f} / {row['P@1']:.3f} |"
    )


def score_pipeline(args: argparse.Namespace) -> None:
    """Held-out token R/P and span F1 of a trained pipeline's PHI head alone (its own O weight)."""
    import spacy
    import torch
    from spacy.scorer import Scorer

    from spacy_clintiny.evaluation.scores import phi_token_scores, predict
    from spacy_clintiny.training.mixed_corpus import load_examples

    torch.set_num_threads(args.threads)
    nlp = spacy.load(args.model)
    examples = load_examples(nlp, args.corpus / CORPORA["physionet-dev"])
    start = time.perf_counter()
    predicted = predict(nlp, examples, batch_size=16)
    seconds = time.perf_counter() - start
    tokens = phi_token_scores(predicted)
    spans = Scorer.score_spans(
        predicted,
        "spans_phi",
        getter=lambda doc, attr: list(doc.spans.get("phi", [])),
        has_annotation=lambda doc: "phi" in doc.spans,
        allow_overlap=True,
    )
    ner = [nlp.get_pipe(name) for name in nlp.pipe_names if nlp.get_pipe_meta(name).factory == "clintiny_ner"]
    out = {
        "model": str(args.model),
        "outside_weight": [pipe.cfg["outside_weight"] for pipe in ner],
        "token_recall": tokens["token_recall"],
        "token_precision": tokens["token_precision"],
        "gold_tokens": tokens["gold_tokens"],
        "span_f1": spans["spans_phi_f"],
        "docs": tokens["docs"],
        "seconds": seconds,
    }
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    feats = sub.add_parser("features", help="encode the PHI docs once, all layers")
    feats.add_argument("--pipeline", type=Path, required=True)
    feats.add_argument("--corpus", type=Path, default=Path("corpus"))
    feats.add_argument("--out", type=Path, required=True)
    feats.add_argument("--synth-limit", type=int, default=0)
    feats.add_argument("--batch-size", type=int, default=16)
    runp = sub.add_parser("run", help="train head variants on cached features and print the table")
    runp.add_argument("--feats", type=Path, required=True)
    runp.add_argument("--corpus", type=Path, default=Path("corpus"))
    runp.add_argument("--variants", default="", help="comma-separated prefixes of variant names (default all)")
    runp.add_argument("--epochs", type=int, default=10)
    runp.add_argument("--batch-size", type=int, default=16)
    runp.add_argument("--learn-rate", type=float, default=1e-3)
    runp.add_argument("--synth-limit", type=int, default=0, help="synthetic docs (0 = all cached, -1 = none)")
    runp.add_argument(
        "--folds", type=int, default=0, help="CV folds over training patients for the O weight (0 = fixed)"
    )
    runp.add_argument("--min-recall", type=float, default=0.95)
    runp.add_argument("--outside-weight", type=float, default=1.0)
    runp.add_argument("--seed", type=int, default=0)
    runp.add_argument("--threads", type=int, default=2)
    runp.add_argument("--in-memory", action="store_true")
    runp.add_argument("--progress", type=Path, default=None)
    scorep = sub.add_parser("score", help="held-out PHI figures of a trained pipeline, the model alone")
    scorep.add_argument("--model", type=Path, required=True)
    scorep.add_argument("--corpus", type=Path, default=Path("corpus"))
    scorep.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.command == "score":
        score_pipeline(args)
    elif args.command == "features":
        extract_features(args.pipeline, args.corpus, args.out, synth_limit=args.synth_limit, batch_size=args.batch_size)
    else:
        run(args)


if __name__ == "__main__":
    main()
