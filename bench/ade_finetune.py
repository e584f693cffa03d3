"""Does fine-tuning the encoder on ADE sentences alone beat the fixed-encoder ADE head?

    python bench/ade_finetune.py build/student --corpus corpus --epochs 2 --lr 1e-4
    python bench/ade_finetune.py build/teacher-clinical --corpus corpus --epochs 2 --lr 5e-5

A probe for issue #9 (ADE sentences F1 >= 85): a Hugging Face encoder folder and one linear
layer over its mean-pooled last hidden state, trained with AdamW (linear warm-up over 10% of the
steps, then linear decay) on ``corpus/ade/train.spacy``, batches of similar length. The threshold
is chosen on the calibration slice (``corpus/calib/ade.spacy``, never trained on) with the
report's search; the dev F1 is then taken once, at that threshold, on every sentence of
``corpus/ade/dev.spacy``. Prints one line per epoch and a last JSON line.

With ``--soft-labels DIR`` it also writes the fine-tuned encoder's probabilities as soft labels
for distillation: ``DIR/ade/train.spacy`` (the training sentences, ``cats["ADE"]`` the
probability) and a copy of the calibration slice at ``DIR/calib/ade.spacy``, the two files
``configs/ade_context_head.cfg`` reads with ``--paths.corpus DIR``.
"""

import argparse
import json
import math
import random
import time
from pathlib import Path

import numpy
from doc_context_head import best_threshold, f1, load_texts


def batches(lengths, batch_size, rng):
    """Index batches of similar length, in random order."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], rng.random()))
    groups = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(groups)
    return groups


def write_soft_labels(corpus: Path, output: Path, probs: numpy.ndarray) -> None:
    """The training sentences with ``cats["ADE"]`` set to ``probs`` (in file order), and the
    calibration slice as it is, under ``output`` as ``configs/ade_context_head.cfg`` reads them."""
    import shutil

    import spacy
    from spacy.tokens import DocBin

    nlp = spacy.blank("en")
    docs = list(DocBin(store_user_data=True).from_disk(corpus / "ade" / "train.spacy").get_docs(nlp.vocab))
    if len(docs) != len(probs):
        raise SystemExit(f"{len(probs)} probabilities for {len(docs)} training sentences")
    for doc, prob in zip(docs, probs):
        doc.cats["ADE"] = float(prob)
    (output / "ade").mkdir(parents=True, exist_ok=True)
    (output / "calib").mkdir(parents=True, exist_ok=True)
    DocBin(docs=docs, store_user_data=True).to_disk(output / "ade" / "train.spacy")
    shutil.copyfile(corpus / "calib" / "ade.spacy", output / "calib" / "ade.spacy")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("encoder", type=Path, help="a Hugging Face encoder folder (build/student)")
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=1e-4, help="the encoder's learning rate")
    parser.add_argument("--head-lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pos-weight", type=float, default=1.0, help="BCE weight of the positive class")
    parser.add_argument("--soft-labels", type=Path, default=None, help="write soft labels for distillation here")
    args = parser.parse_args()

    import torch
    from transformers import AutoModel, AutoTokenizer

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    tokenizer = AutoTokenizer.from_pretrained(str(args.encoder))
    encoder = AutoModel.from_pretrained(str(args.encoder), add_pooling_layer=False)
    head = torch.nn.Linear(encoder.config.hidden_size, 1)

    def encode(texts):
        return tokenizer(texts, padding=True, truncation=True, max_length=args.max_length, return_tensors="pt")

    def logits(enc):
        hidden = encoder(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return head(pooled).squeeze(-1)

    def predict(texts):
        encoder.eval()
        out = []
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with torch.no_grad():
            for start in range(0, len(order), 64):
                idx = order[start : start + 64]
                out.append((idx, torch.sigmoid(logits(encode([texts[i] for i in idx]))).numpy()))
        probs = numpy.zeros(len(texts), dtype="float32")
        for idx, p in out:
            probs[idx] = p
        return probs

    train_texts, train_gold = load_texts(args.corpus / "ade" / "train.spacy", 0)
    calib = load_texts(args.corpus / "calib" / "ade.spacy", 0)
    dev = load_texts(args.corpus / "ade" / "dev.spacy", 0)
    lengths = [len(tokenizer.tokenize(t)) for t in train_texts]
    groups = batches(lengths, args.batch_size, rng)
    total = args.epochs * len(groups)
    warmup = max(1, total // 10)
    optimizer = torch.optim.AdamW(
        [
            {"params": encoder.parameters(), "lr": args.lr},
            {"params": head.parameters(), "lr": args.head_lr},
        ],
        weight_decay=0.01,
    )
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warmup, max(0.0, (total - step) / max(1, total - warmup)))
    )
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(args.pos_weight))
    gold = torch.tensor(numpy.asarray(train_gold, dtype="float32"))
    start, step, results = time.time(), 0, []
    for epoch in range(args.epochs):
        encoder.train()
        losses = []
        for idx in groups if epoch == 0 else batches(lengths, args.batch_size, rng):
            loss = loss_fn(logits(encode([train_texts[i] for i in idx])), gold[idx])
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(list(encoder.parameters()) + list(head.parameters()), 1.0)
            optimizer.step()
            schedule.step()
            losses.append(float(loss.detach()))
            step += 1
        train_minutes = (time.time() - start) / 60
        calib_probs, dev_probs = predict(calib[0]), predict(dev[0])
        threshold, calib_f1 = best_threshold(calib_probs, calib[1])
        dev_f1 = f1(dev_probs, dev[1], threshold)
        entry = {
            "epoch": epoch + 1,
            "steps": step,
            "train_minutes": round(train_minutes, 2),
            "loss": round(float(numpy.mean(losses)), 4),
            "threshold": round(float(threshold), 2),
            "calib_f1": round(100 * calib_f1, 1),
            "dev_f1": round(100 * dev_f1, 1),
            "dev_f1_at_0.5": round(100 * f1(dev_probs, dev[1], 0.5), 1),
        }
        results.append(entry)
        print(entry, flush=True)
    if math.isnan(results[-1]["loss"]):
        raise SystemExit("the training loss is NaN: lower --lr")
    if args.soft_labels is not None:
        write_soft_labels(args.corpus, args.soft_labels, predict(train_texts))
    settings = {key: str(value) if isinstance(value, Path) else value for key, value in vars(args).items()}
    print(json.dumps({"args": settings, "epochs": results}))


if __name__ == "__main__":
    main()
