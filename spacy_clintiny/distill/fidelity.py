"""How faithful a student is to its teacher, on held-out text.

* MLM top-1 agreement: on the held-out masked positions, how often the student's top
  prediction is the teacher's (needs both MLM heads).
* Hidden-state cosine: mean cosine between the last hidden states of both encoders on
  unmasked held-out text, per real token (through the student's learned projection when
  it is narrower).
* Held-out MLM loss and perplexity of each, on the same masks.
* Encoder parameters, MB (float32) and words/s (encoder forward pass only, batches of
  ``batch_size`` sequences, on this process's device and threads).
"""

import math
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import torch
from torch.nn import functional as F

from .corpus import Corpus
from .heldout import heldout_mlm_loss
from .mlm import load_mlm_model
from .student import PROJECTIONS_FILE, count_parameters, megabytes


def encoder_speed(
    encoder: torch.nn.Module, corpus: Corpus, *, device: torch.device, batch_size: int, n_sequences: int
) -> Dict[str, float]:
    """Words/s and tokens/s of an encoder's forward pass over held-out sequences."""
    seqs = corpus.heldout.select(torch.arange(min(n_sequences, len(corpus.heldout))))
    words = int((seqs.word_start & ~seqs.special).sum())
    encoder.eval()
    with torch.no_grad():
        warm = slice(0, min(batch_size, len(seqs)))
        encoder(input_ids=seqs.input_ids[warm].to(device), attention_mask=seqs.attention_mask[warm].to(device))
        start = time.perf_counter()
        for begin in range(0, len(seqs), batch_size):
            part = slice(begin, begin + batch_size)
            encoder(input_ids=seqs.input_ids[part].to(device), attention_mask=seqs.attention_mask[part].to(device))
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    return {"words_per_s": words / seconds, "tokens_per_s": seqs.n_tokens / seconds, "seconds": seconds}


def last_hidden(
    encoder: torch.nn.Module, corpus: Corpus, *, device: torch.device, batch_size: int, n_sequences: int
) -> torch.Tensor:
    """Last hidden states of real non-special tokens, (n_tokens, width)."""
    seqs = corpus.heldout.select(torch.arange(min(n_sequences, len(corpus.heldout))))
    keep = seqs.attention_mask.bool() & ~seqs.special
    out = []
    encoder.eval()
    with torch.no_grad():
        for begin in range(0, len(seqs), batch_size):
            part = slice(begin, begin + batch_size)
            hidden = encoder(
                input_ids=seqs.input_ids[part].to(device), attention_mask=seqs.attention_mask[part].to(device)
            ).last_hidden_state
            out.append(hidden[keep[part].to(device)].float().cpu())
    return torch.cat(out)


def _fmt(value: Optional[float], digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def measure_fidelity(
    teacher: str,
    student: str,
    corpus: Corpus,
    config: Dict[str, Any],
    *,
    device: Optional[torch.device] = None,
    batch_size: int = 16,
    max_sequences: int = 256,
) -> Dict[str, Any]:
    """Compare ``student`` with ``teacher`` on the held-out part of ``corpus``.

    teacher (str), student (str): Resolved model sources (folders or hub ids).
    corpus (Corpus): Packed corpus (its held-out part is used).
    config (Dict[str, Any]): Run config (masking settings and seed).
    RETURNS (Dict[str, Any]): Per-model figures, agreement, cosine and table ``rows``.
    """
    from transformers import AutoTokenizer

    device = device or torch.device("cpu")
    tokenizer = AutoTokenizer.from_pretrained(student)
    cfg = {**config, "training": {**config["training"], "eval_max_sequences": max_sequences}}
    models, report = {}, {}
    for role, source in (("teacher", teacher), ("student", student)):
        model, has_head = load_mlm_model(source)
        model.to(device).eval()
        models[role] = model
        figures: Dict[str, Any] = {"source": source, "mlm_head": has_head}
        if has_head:
            loss, predictions = heldout_mlm_loss(
                model,
                corpus,
                cfg,
                device=device,
                mask_token_id=tokenizer.mask_token_id,
                vocab_size=min(len(tokenizer), model.config.vocab_size),
                batch_size=batch_size,
                return_predictions=True,
            )
            figures.update(mlm_loss=loss, perplexity=math.exp(min(loss, 50.0)))
            figures["_predictions"] = predictions
        params = count_parameters(model.base_model)
        figures.update(
            parameters=params,
            mb=megabytes(params),
            layers=model.config.num_hidden_layers,
            hidden=model.config.hidden_size,
        )
        figures.update(
            encoder_speed(model.base_model, corpus, device=device, batch_size=batch_size, n_sequences=max_sequences)
        )
        report[role] = figures
    t_pred, s_pred = report["teacher"].pop("_predictions", None), report["student"].pop("_predictions", None)
    agreement = float((t_pred == s_pred).float().mean()) if t_pred is not None and s_pred is not None else None
    t_hidden = last_hidden(
        models["teacher"].base_model, corpus, device=device, batch_size=batch_size, n_sequences=max_sequences
    )
    s_hidden = last_hidden(
        models["student"].base_model, corpus, device=device, batch_size=batch_size, n_sequences=max_sequences
    )
    cosine = None
    if s_hidden.shape[-1] != t_hidden.shape[-1]:
        path = Path(student) / PROJECTIONS_FILE
        if path.exists():
            from safetensors.torch import load_file

            weights = load_file(str(path))
            last = str(models["student"].config.num_hidden_layers)
            if f"{last}.weight" in weights:
                s_hidden = F.linear(s_hidden, weights[f"{last}.weight"], weights[f"{last}.bias"])
    if s_hidden.shape == t_hidden.shape:
        cosine = float(F.cosine_similarity(s_hidden, t_hidden, dim=-1).mean())
    t, s = report["teacher"], report["student"]
    rows: List[Dict[str, str]] = [
        {
            "metric": "layers x hidden",
            "teacher": f"{t['layers']} x {t['hidden']}",
            "student": f"{s['layers']} x {s['hidden']}",
        },
        {"metric": "encoder parameters", "teacher": _fmt(t["parameters"]), "student": _fmt(s["parameters"])},
        {"metric": "encoder MB (fp32)", "teacher": _fmt(t["mb"], 1), "student": _fmt(s["mb"], 1)},
        {"metric": "encoder words/s", "teacher": _fmt(t["words_per_s"], 0), "student": _fmt(s["words_per_s"], 0)},
        {"metric": "held-out MLM loss", "teacher": _fmt(t.get("mlm_loss")), "student": _fmt(s.get("mlm_loss"))},
        {
            "metric": "held-out perplexity",
            "teacher": _fmt(t.get("perplexity"), 2),
            "student": _fmt(s.get("perplexity"), 2),
        },
        {"metric": "MLM top-1 agreement with teacher", "teacher": "1.000", "student": _fmt(agreement)},
        {"metric": "last hidden-state cosine with teacher", "teacher": "1.000", "student": _fmt(cosine)},
    ]
    return {
        "teacher": t,
        "student": s,
        "mlm_top1_agreement": agreement,
        "hidden_cosine": cosine,
        "heldout_sequences": min(max_sequences, len(corpus.heldout)),
        "batch_size": batch_size,
        "threads": torch.get_num_threads(),
        "device": str(device),
        "rows": rows,
    }


def run_fidelity(
    teacher: str,
    student: str,
    corpus_paths: List[str],
    *,
    overrides: Optional[Dict[str, Any]] = None,
    output: Optional[Path] = None,
    max_sequences: int = 256,
    batch_size: int = 16,
    threads: int = 0,
) -> Dict[str, Any]:
    """``clintiny fidelity``: rebuild the run's held-out split of ``corpus_paths`` (same
    corpus settings and seed give the same split) and compare the two models on it."""
    from transformers import AutoTokenizer

    from ..fileio import write_json_atomic
    from ..models import resolve_model_source
    from .config import load_config
    from .corpus import corpus_settings, load_corpus

    if threads > 0:
        torch.set_num_threads(threads)
    config = load_config("distill", overrides={**(overrides or {}), "corpus.paths": list(corpus_paths)})
    teacher_src, student_src = resolve_model_source(teacher), resolve_model_source(student)
    tokenizer = AutoTokenizer.from_pretrained(student_src)
    corpus = load_corpus(
        config["corpus"]["paths"], tokenizer, corpus_settings(config), cache_dir=config["corpus"]["cache_dir"]
    )
    report = measure_fidelity(
        teacher_src, student_src, corpus, config, batch_size=batch_size, max_sequences=max_sequences
    )
    if output is not None:
        write_json_atomic(Path(output), report)
    return report
