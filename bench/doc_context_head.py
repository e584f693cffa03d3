"""ADE sentences on the fixed encoder: does a head with context of its own beat pooling?

    python bench/doc_context_head.py --encoder build/student --corpus corpus \
        --pipeline build/en_clintiny_sm --baselines build/metrics/baselines.json \
        --out bench/results/doc_context_head.json

Issue #9 item 3 asks for a fixed encoder computed once, all its layers kept, and heads that add
context of their own over a learned mix of the layers. The workflow's ADE sentence head
(``TextClassifier.v3``) pools the encoder's last layer (mean and max) beside a TF-IDF
regression. This prototype, in plain PyTorch outside spaCy, measures what a context head would
give before one is built into ``clintiny_textcat``:

1. every sentence of ``corpus/ade/train.spacy`` (training), ``corpus/calib/ade.spacy`` (the
   workflow's calibration slice, never trained on) and the report's dev sentences
   (``corpus/ade/dev.spacy``, ``--limit`` evenly spread, as ``clintiny evaluate --limit``) is
   encoded once, every hidden layer kept (embeddings included);
2. each variant trains ``--epochs`` epochs on the training sentences (Adam, batch 32, positive
   weight (neg/pos)^0.5 as the workflow's heads): ``pool`` (no context), ``cnn`` (one
   convolution, width 3) or ``lstm`` (one BiLSTM layer) over the ``last`` layer or a learned
   scalar ``mix`` of all layers, pooled by ``mean`` + max or by ``att`` (attention) + max;
3. the epoch and the decision threshold are chosen on the calibration slice; a late fusion with
   the workflow's TF-IDF baseline model (character 2-5-grams, C 10, balanced) takes its
   weight there too;
4. the chosen model is scored once on the dev sentences, beside the pipeline's own
   ``textcat_ade`` and the TF-IDF baseline of ``build/metrics/baselines.json``.

Prints figures only (no sentence text); ``--out`` writes them as JSON.
"""

import argparse
import json
import time
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import numpy


def f1(probs: numpy.ndarray, gold: numpy.ndarray, threshold: float) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(gold, probs >= threshold, zero_division=0))


def best_threshold(probs: numpy.ndarray, gold: numpy.ndarray) -> Tuple[float, float]:
    """The report's threshold search (``THRESHOLDS``, ties toward 0.5) and the F1 it gives."""
    from spacy_clintiny.evaluation.baselines import best_threshold as search

    threshold = search(gold, probs)
    return threshold, f1(probs, gold, threshold)


def load_texts(path: Path, limit: int = 0) -> Tuple[List[str], numpy.ndarray]:
    import spacy
    from spacy.tokens import DocBin

    from spacy_clintiny.evaluation.baselines import spread_subset

    nlp = spacy.blank("en")
    docs = list(DocBin().from_disk(path).get_docs(nlp.vocab))
    if limit:
        docs = spread_subset(docs, limit)
    return [doc.text for doc in docs], numpy.array([doc.cats.get("ADE", 0.0) for doc in docs])


def encode(encoder: Path, texts: Sequence[str], batch_size: int = 64, units: str = "wordpieces") -> List[numpy.ndarray]:
    """Every hidden layer of each text, side by side: per wordpiece ``(n_pieces, n_layers * width)``
    or, with ``units="tokens"``, per spaCy token, the mean of its wordpieces (what the pipeline's
    ``TransformerListener`` with ``reduce_mean`` gives a head; [CLS], [SEP] and tokens without a
    wordpiece left out)."""
    import spacy
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(encoder)
    model = AutoModel.from_pretrained(encoder, output_hidden_states=True, add_pooling_layer=False).eval()
    words = spacy.blank("en").tokenizer
    out = []
    with torch.no_grad():
        for i in range(0, len(texts), batch_size):
            chunk = list(texts[i : i + batch_size])
            batch = tokenizer(
                chunk,
                padding=True,
                truncation=True,
                max_length=128,
                return_tensors="pt",
                return_offsets_mapping=True,
            )
            offsets = batch.pop("offset_mapping").numpy()
            hidden = torch.cat(model(**batch).hidden_states, -1)
            for j, n in enumerate(batch["attention_mask"].sum(1).tolist()):
                pieces = hidden[j, :n].numpy()
                if units == "tokens":
                    starts, ends = offsets[j, :n, 0], offsets[j, :n, 1]
                    real = ends > starts  # special tokens have empty offsets
                    means = []
                    for token in words(chunk[j]):
                        inside = real & (starts < token.idx + len(token.text)) & (ends > token.idx)
                        if inside.any():
                            means.append(pieces[inside].mean(0))
                    pieces = numpy.stack(means) if means else pieces[:1]
                out.append(pieces.astype(numpy.float16))
    return out


def build_net(kind: str, layers: str, pool: str, n_layers: int, width: int, hidden: int = 192):
    import torch

    class ContextHead(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.mix = torch.nn.Parameter(torch.zeros(n_layers))
            self.norm = torch.nn.LayerNorm(width)
            if kind == "lstm":
                self.context = torch.nn.LSTM(width, hidden, batch_first=True, bidirectional=True)
            elif kind == "cnn":
                self.context = torch.nn.Conv1d(width, 2 * hidden, 3, padding=1)
            out_width = width if kind == "pool" else 2 * hidden
            self.attention = torch.nn.Linear(out_width, 1)
            self.output = torch.nn.Linear(2 * out_width, 1)
            self.dropout = torch.nn.Dropout(0.2)

        def forward(self, X, mask):
            B, L, _ = X.shape
            X = X.view(B, L, n_layers, width)
            if layers == "last":
                X = X[:, :, -1]
            else:
                X = (X * torch.softmax(self.mix, 0)[None, None, :, None]).sum(2)
            X = self.dropout(self.norm(X))
            if kind == "lstm":
                X, _ = self.context(X)
            elif kind == "cnn":
                X = torch.relu(self.context(X.transpose(1, 2))).transpose(1, 2)
            if pool == "att":
                weights = torch.softmax(self.attention(X).squeeze(-1).masked_fill(~mask, -1e9), 1)
                first = (weights.unsqueeze(-1) * X).sum(1)
            else:
                first = (X * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True)
            maxed = X.masked_fill(~mask.unsqueeze(-1), -1e9).max(1).values
            return self.output(self.dropout(torch.cat([first, maxed], -1))).squeeze(-1)

    return ContextHead()


def pad(feats: Sequence[numpy.ndarray]):
    import torch

    length = max(len(f) for f in feats)
    X = numpy.zeros((len(feats), length, feats[0].shape[1]), numpy.float32)
    mask = numpy.zeros((len(feats), length), bool)
    for i, f in enumerate(feats):
        X[i, : len(f)] = f
        mask[i, : len(f)] = True
    return torch.tensor(X), torch.tensor(mask)


def predict(net, feats: Sequence[numpy.ndarray]) -> numpy.ndarray:
    import torch

    net.eval()
    probs = []
    with torch.no_grad():
        for i in range(0, len(feats), 256):
            X, mask = pad(feats[i : i + 256])
            probs.append(torch.sigmoid(net(X, mask)).numpy())
    net.train()
    return numpy.concatenate(probs)


def train_variant(
    variant: str, data: Dict[str, Any], *, n_layers: int, width: int, epochs: int, seed: int
) -> Dict[str, Any]:
    import torch

    kind, layers, pool = variant.split("-")
    torch.manual_seed(seed)
    feats, gold = data["train"]
    calib_feats, calib_gold = data["calib"]
    net = build_net(kind, layers, pool, n_layers, width)
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.01)
    pos_weight = torch.tensor(float(((gold == 0).sum() / gold.sum()) ** 0.5))
    order = numpy.argsort([len(f) for f in feats])  # length-bucketed batches
    start = time.time()
    best: Dict[str, Any] = {"calib_f1": -1.0}
    curve = []
    for epoch in range(1, epochs + 1):
        batches = [order[i : i + 32] for i in range(0, len(order), 32)]
        numpy.random.RandomState(seed * 1000 + epoch).shuffle(batches)
        for batch in batches:
            X, mask = pad([feats[i] for i in batch])
            y = torch.tensor(gold[batch], dtype=torch.float32)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(net(X, mask), y, pos_weight=pos_weight)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        probs = predict(net, calib_feats)
        threshold, score = best_threshold(probs, calib_gold)
        curve.append(round(100 * score, 1))
        if score > best["calib_f1"]:
            best = {
                "calib_f1": score,
                "epoch": epoch,
                "threshold": threshold,
                "state": {k: v.clone() for k, v in net.state_dict().items()},
            }
        print(f"  {variant} epoch {epoch}: calibration F1 {100 * score:.1f} ({time.time() - start:.0f} s)", flush=True)
    net.load_state_dict(best.pop("state"))
    best.update(variant=variant, minutes=(time.time() - start) / 60, calib_curve=curve, net=net)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoder", type=Path, required=True, help="Hugging Face folder (build/student)")
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--pipeline", default=None, help="pipeline whose textcat_ade is scored beside")
    parser.add_argument("--baselines", type=Path, default=None, help="build/metrics/baselines.json")
    parser.add_argument("--variants", default="pool-mix-att,lstm-last-mean,lstm-last-att,lstm-mix-mean,lstm-mix-att")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--limit", type=int, default=300, help="dev sentences, evenly spread (the report's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--units", default="wordpieces", choices=("wordpieces", "tokens"), help="what the head reads (see encode)"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    import torch
    from wasabi import msg

    from spacy_clintiny.evaluation.baselines import THRESHOLDS
    from spacy_clintiny.fileio import write_json_atomic
    from spacy_clintiny.tfidf import logistic_regression, tfidf_vectorizer

    torch.set_num_threads(args.threads)
    texts: Dict[str, List[str]] = {}
    data: Dict[str, Any] = {}
    start = time.time()
    paths = {
        "train": (args.corpus / "ade" / "train.spacy", 0),
        "calib": (args.corpus / "calib" / "ade.spacy", 0),
        "dev": (args.corpus / "ade" / "dev.spacy", args.limit),
    }
    for split, (path, limit) in paths.items():
        texts[split], gold = load_texts(path, limit)
        data[split] = (encode(args.encoder, texts[split], units=args.units), gold)
    encode_minutes = (time.time() - start) / 60
    width = json.loads((args.encoder / "config.json").read_text())["hidden_size"]
    n_layers = data["train"][0][0].shape[1] // width
    sizes = {split: [len(g), int(g.sum())] for split, (_, g) in data.items()}
    msg.info(f"encoded in {encode_minutes:.1f} min: {sizes} (sentences, positives); {n_layers} layers of {width}")

    # the report's TF-IDF model, refitted on the training sentences, for late fusion
    vectorizer = tfidf_vectorizer("char_wb 2-5")
    regression = logistic_regression(10.0, "balanced")
    regression.fit(vectorizer.fit_transform(texts["train"]), data["train"][1])
    tfidf = {split: regression.predict_proba(vectorizer.transform(texts[split]))[:, 1] for split in ("calib", "dev")}

    rows = []
    results: Dict[str, Any] = {}
    dev_gold = data["dev"][1]
    calib_gold = data["calib"][1]
    for variant in args.variants.split(","):
        run = train_variant(variant, data, n_layers=n_layers, width=width, epochs=args.epochs, seed=args.seed)
        net = run.pop("net")
        calib_probs, dev_probs = predict(net, data["calib"][0]), predict(net, data["dev"][0])
        fusion = max(
            (f1(w * calib_probs + (1 - w) * tfidf["calib"], calib_gold, t), float(w), float(t))
            for w in numpy.arange(0.0, 1.01, 0.1)
            for t in THRESHOLDS
        )
        _, weight, fused_threshold = fusion
        run["dev_f1"] = f1(dev_probs, dev_gold, run["threshold"])
        run["fusion"] = {
            "weight": weight,
            "threshold": fused_threshold,
            "calib_f1": fusion[0],
            "dev_f1": f1(weight * dev_probs + (1 - weight) * tfidf["dev"], dev_gold, fused_threshold),
        }
        results[variant] = run
        rows.append(
            (
                variant,
                run["epoch"],
                f"{run['minutes']:.1f}",
                f"{100 * run['calib_f1']:.1f}",
                f"{100 * run['dev_f1']:.1f}",
                f"{weight:.1f}",
                f"{100 * run['fusion']['dev_f1']:.1f}",
            )
        )
    tfidf_threshold, _ = best_threshold(tfidf["calib"], calib_gold)
    reference = {"tfidf_refit_dev_f1": f1(tfidf["dev"], dev_gold, tfidf_threshold)}
    if args.baselines and args.baselines.exists():
        tasks = json.loads(args.baselines.read_text())["tasks"]
        reference["tfidf_report_dev_f1"] = tasks["textcat_ade"]["tfidf_logreg"]["f"]
    if args.pipeline:
        import spacy

        nlp = spacy.load(args.pipeline)
        probs = numpy.array([doc.cats["ADE"] for doc in nlp.pipe(texts["dev"], batch_size=32)])
        threshold = nlp.get_pipe("textcat_ade").cfg.get("thresholds", {}).get("ADE", 0.5)
        reference["pipeline_dev_f1"] = f1(probs, dev_gold, threshold)
        reference["pipeline_threshold"] = threshold
    header = ("variant", "epoch", "min", "calib F1", "dev F1", "fusion w", "dev F1 fused")
    msg.table(rows, header=header, divider=True)
    msg.info(
        ", ".join(
            f"{k} {100 * v:.1f}" if isinstance(v, float) and k.endswith("f1") else f"{k} {v}"
            for k, v in reference.items()
        )
    )
    if args.out:
        write_json_atomic(
            args.out,
            {
                "encoder": str(args.encoder),
                "sizes": sizes,
                "layers": n_layers,
                "width": width,
                "epochs": args.epochs,
                "seed": args.seed,
                "units": args.units,
                "encode_minutes": encode_minutes,
                "results": results,
                "reference": reference,
            },
        )


if __name__ == "__main__":
    main()
