"""Held-out masked-language-model loss with fixed masks, shared by the trainer's
evaluations and the fidelity report."""

from typing import Any, Dict

import torch

from .corpus import Corpus
from .losses import logits_at
from .mlm import mask_tokens
from .trainable import run_model

EVAL_SEED_OFFSET = 104_729


def heldout_mlm_loss(
    model: torch.nn.Module,
    corpus: Corpus,
    config: Dict[str, Any],
    *,
    device: torch.device,
    mask_token_id: int,
    vocab_size: int,
    batch_size: int = 16,
    autocast: Any = None,
    return_predictions: bool = False,
) -> Any:
    """Mean cross-entropy per masked token on (up to ``eval_max_sequences``) held-out
    sequences, masked with a fixed generator so every evaluation and every model sees the
    same masks."""
    heldout = corpus.heldout
    n = min(len(heldout), int(config["training"]["eval_max_sequences"]) or len(heldout))
    seqs = heldout.select(torch.arange(n))
    masking = config["masking"]
    seed = int(config["training"]["seed"]) + EVAL_SEED_OFFSET
    corrupted, chosen = mask_tokens(
        seqs.input_ids,
        special=seqs.special,
        word_start=seqs.word_start,
        mask_token_id=mask_token_id,
        vocab_size=vocab_size,
        generator=torch.Generator().manual_seed(seed),
        mlm_probability=float(masking["mlm_probability"]),
        whole_word=bool(masking["whole_word"]),
    )
    was_training = model.training
    model.eval()
    total, count, predictions = 0.0, 0, []
    with torch.no_grad():
        for begin in range(0, n, batch_size):
            part = slice(begin, begin + batch_size)
            ctx = autocast() if autocast else torch.autocast(device.type, enabled=False)
            mask = chosen[part].to(device)
            with ctx:
                out = run_model(
                    model,
                    corrupted[part].to(device),
                    seqs.attention_mask[part].to(device),
                    logits=True,
                    hidden=False,
                    attentions=False,
                    positions=mask,
                )
            logits = logits_at(out, mask).float()
            total += float(
                torch.nn.functional.cross_entropy(logits, seqs.input_ids[part].to(device)[mask], reduction="sum")
            )
            count += int(mask.sum())
            if return_predictions:
                predictions.append(logits.argmax(-1).cpu())
    model.train(was_training)
    loss = total / max(count, 1)
    if return_predictions:
        return loss, torch.cat(predictions) if predictions else torch.empty(0, dtype=torch.long)
    return loss
