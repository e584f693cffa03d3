"""``pretrain`` and ``distill`` runs: set up the models, corpus and run folder, train, then
write the final Hugging Face folder with its provenance, curves and model card."""

import logging
import math
import os
import random
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy
import torch
from thinc.api import Config

from ..errors import Errors
from ..fileio import set_default_permissions, write_json_atomic, write_text_atomic
from ..models import resolve_model_source
from .config import config_differences, resolve_losses
from .corpus import corpus_settings, load_corpus
from .distributed import DistContext, barrier, init_distributed, shutdown, weights_max_difference
from .layer_map import check_layer_map, parse_layer_map, uniform_layer_map
from .mlm import load_mlm_model, new_head_parameter_names, set_attention_dropout, set_dropout
from .runs import (
    CONFIG_FILE,
    LOG_FILE,
    META_FILE,
    PLOT_FILE,
    git_sha,
    model_card,
    package_versions,
    plot_curves,
    prepare_output_dir,
    read_log,
)
from .student import (
    PROJECTIONS_FILE,
    STUDENT_META,
    count_parameters,
    load_projections,
    megabytes,
    read_student_meta,
    save_projections,
)
from .trainable import TrainableModel, freeze
from .trainer import Trainer

logger = logging.getLogger(__name__)


def load_run_corpus(config: Dict[str, Any], tokenizer: Any, ctx: DistContext):
    """Main process builds (or finds) the cached corpus first; the others then read it."""
    paths = config["corpus"]["paths"]
    settings = corpus_settings(config)
    cache_dir = config["corpus"]["cache_dir"]
    if ctx.is_main:
        corpus = load_corpus(paths, tokenizer, settings, cache_dir=cache_dir)
    barrier(ctx)
    if not ctx.is_main:
        corpus = load_corpus(paths, tokenizer, settings, cache_dir=cache_dir)
    return corpus


def _check_output(
    config: Dict[str, Any], output: Path, inputs: Dict[str, str], *, resume: bool, force: bool, ctx: DistContext
) -> None:
    # every process checks (read-only) before the main one changes anything
    exists = output.exists() and any(output.iterdir())
    for role, path in inputs.items():
        if Path(path).exists() and Path(path).resolve() == output.resolve():
            raise ValueError(Errors.E511.format(path=output, role=role))
    if exists and not resume and not force:
        raise ValueError(Errors.E510.format(path=output))
    if resume:
        saved_path = output / CONFIG_FILE
        if not saved_path.exists():
            raise ValueError(Errors.E512.format(path=output))
        saved = Config().from_disk(saved_path)
        diffs = config_differences(saved, config)
        if diffs:
            raise ValueError(Errors.E513.format(path=output, keys=", ".join(diffs)))
        if (
            saved["training"]["max_steps"] != config["training"]["max_steps"]
            and config["training"]["schedule"] == "linear"
        ):
            warnings.warn(
                "training.max_steps changed on resume with a linear schedule: the "
                "learning rate from here on differs from the original run's.",
                stacklevel=2,
            )
    barrier(ctx)
    if ctx.is_main:
        prepare_output_dir(output, force=force, resume=resume, inputs=inputs)
    barrier(ctx)


def _nothing_to_resume(output: Path) -> bool:
    """True when ``output`` is missing, empty, or holds only the files of a run that never
    reached its first checkpoint."""
    from .checkpoint import latest_checkpoint
    from .runs import CHECKPOINT_DIR, RUN_FILES

    if not output.exists():
        return True
    names = {p.name for p in output.iterdir()}
    return latest_checkpoint(output) is None and names <= set(RUN_FILES) | {CHECKPOINT_DIR}


def _seed_everything(seed: int, rank: int) -> None:
    torch.manual_seed(seed + rank)
    numpy.random.seed((seed + rank) % 2**32)
    random.seed(seed + rank)


def run_training(
    kind: str,
    config: Config,
    *,
    resume: bool = False,
    force: bool = False,
    progress: bool = True,
    callbacks: Sequence[Callable] = (),
) -> Dict[str, Any]:
    """Run ``pretrain`` or ``distill`` as configured, alone or as one of torchrun's processes.

    kind (str): "pretrain" or "distill".
    config (Config): Resolved config (see :func:`.config.load_config`).
    resume (bool): Continue the run in ``paths.output`` from its last checkpoint.
    force (bool): Start over in a non-empty ``paths.output``.
    RETURNS (Dict[str, Any]): The run summary (also in run_meta.json).
    """
    threads = int(config["training"]["threads"])
    previous_threads = torch.get_num_threads()
    if threads > 0:
        torch.set_num_threads(threads)
    ctx = init_distributed(config["training"]["device"])
    try:
        return _run(kind, config, ctx, resume=resume, force=force, progress=progress, callbacks=callbacks)
    finally:
        shutdown(ctx)
        torch.set_num_threads(previous_threads)


def _run(
    kind: str,
    config: Config,
    ctx: DistContext,
    *,
    resume: bool,
    force: bool,
    progress: bool,
    callbacks: Sequence[Callable],
) -> Dict[str, Any]:
    from transformers import AutoTokenizer

    started = time.time()
    paths = config["paths"]
    training = config["training"]
    seed = int(training["seed"])
    output = Path(paths["output"])
    if kind == "pretrain":
        model_src = resolve_model_source(paths["model"])
        inputs = {"model": model_src}
    else:
        teacher_src = resolve_model_source(paths["teacher"])
        model_src = resolve_model_source(paths["student"])
        inputs = {"teacher": teacher_src, "student": model_src}
    if _nothing_to_resume(output):
        # only the run files of a run that failed or was stopped before its first checkpoint (or
        # nothing): start the run. A workflow step re-run after an interruption passes --resume
        # every time, and a run that failed on its corpus left its training_config.cfg.
        resume, force = False, True
    _check_output(config, output, inputs, resume=resume, force=force, ctx=ctx)
    if ctx.is_main and not resume:
        write_text_atomic(output / CONFIG_FILE, config.to_str())
    _seed_everything(seed, ctx.rank)
    terms = resolve_losses(config["losses"])
    requires = {r for t in terms for r in t.func.requires}
    attn_impl = "eager" if "attentions" in requires else None
    teacher, teacher_has_head, layer_map, teacher_config = None, False, None, None
    if kind == "distill":
        full_teacher, teacher_has_head = load_mlm_model(teacher_src, attn_implementation=attn_impl, seed=seed)
        teacher_config = full_teacher.config
        if not teacher_has_head:
            kept = []
            for term in terms:
                if "teacher_logits" in term.func.requires:
                    if not term.optional:
                        raise ValueError(Errors.E508.format(key=term.key, name=term.name, teacher=paths["teacher"]))
                    logger.info("Teacher has no MLM head: loss term '%s' is skipped", term.key)
                    continue
                kept.append(term)
            terms = kept
        teacher = freeze(full_teacher if teacher_has_head else full_teacher.base_model)
    else:
        for term in terms:
            if "teacher" in term.func.requires:
                raise ValueError(
                    Errors.E521.format(
                        name=f"losses.{term.key}",
                        value=term.name,
                        hint="pretrain has no teacher: use spacy-clintiny.MaskedLM.v1 only",
                    )
                )
    _seed_everything(seed, 0)  # a new MLM head is initialised identically on every process
    model, had_head = load_mlm_model(model_src, attn_implementation=attn_impl, seed=seed)
    original_dropout = {
        k: getattr(model.config, k)
        for k in ("hidden_dropout_prob", "attention_probs_dropout_prob")
        if hasattr(model.config, k)
    }
    if training["dropout"] is not None:
        set_dropout(model, float(training["dropout"]))
    if kind == "distill" and "attentions" in requires and config["distill"]["attention_dropout"] is not None:
        set_attention_dropout(model, float(config["distill"]["attention_dropout"]))
    _seed_everything(seed, ctx.rank)  # dropout streams differ between processes
    new_params = ["model." + n for n in new_head_parameter_names(model)] if not had_head else []
    tokenizer = AutoTokenizer.from_pretrained(model_src)
    projections = None
    if kind == "distill":
        if teacher_config.vocab_size != model.config.vocab_size:
            raise ValueError(
                Errors.E524.format(teacher_vocab=teacher_config.vocab_size, student_vocab=model.config.vocab_size)
            )
        n_s, n_t = model.config.num_hidden_layers, teacher_config.num_hidden_layers
        meta = read_student_meta(Path(model_src))
        chosen = parse_layer_map(config["distill"]["layer_map"])
        if chosen is None and meta.get("layer_map") and len(meta["layer_map"]) == n_s:
            chosen = meta["layer_map"]
        layer_map = check_layer_map(chosen, n_teacher=n_t, n_student=n_s) if chosen else uniform_layer_map(n_t, n_s)
        if model.config.hidden_size != teacher_config.hidden_size and "hidden_states" in requires:
            projections = load_projections(
                Path(model_src), model.config.hidden_size, teacher_config.hidden_size, n_s, seed=seed
            )
            used = (
                {str(i) for i in range(n_s + 1)} if any(t.name.endswith("HiddenMSE.v1") for t in terms) else {str(n_s)}
            )
            for key, module in projections.items():
                module.requires_grad_(key in used)
    if "student_logits" not in requires:  # no loss uses the MLM head: freeze it (DDP needs every
        head = set(new_head_parameter_names(model))  # trainable parameter to get a gradient)
        for name, param in model.named_parameters():
            if name in head:
                param.requires_grad_(False)
    max_pos = getattr(model.config, "max_position_embeddings", None)
    if max_pos and int(config["corpus"]["seq_len"]) > max_pos:
        raise ValueError(Errors.E522.format(seq_len=config["corpus"]["seq_len"], max_pos=max_pos, model=model_src))
    corpus = load_run_corpus(config, tokenizer, ctx)
    trainer = Trainer(
        ctx,
        TrainableModel(model, projections),
        teacher=teacher,
        teacher_has_head=teacher_has_head,
        terms=terms,
        corpus=corpus,
        config=config,
        output=output,
        layer_map=layer_map,
        new_parameters=new_params,
        mask_token_id=tokenizer.mask_token_id,
        vocab_size=min(len(tokenizer), model.config.vocab_size),
        progress=progress,
        callbacks=callbacks,
    )
    start_loss = None
    if resume:
        trainer.resume()
        first = [r for r in read_log(output / LOG_FILE) if r.get("label") == "start"]
        start_loss = first[0]["mlm_loss"] if first else None
    else:
        start_loss = trainer.evaluate("start")
    teacher_loss = None
    if teacher is not None and teacher_has_head and ctx.is_main:
        teacher_loss = trainer.heldout_mlm_loss(teacher)
    summary = trainer.train()
    end_loss = trainer.evaluate("end")
    diff = weights_max_difference(trainer.model, ctx)
    if diff > 0:
        raise RuntimeError(Errors.E527.format(diff=diff))
    result = {
        "kind": kind,
        **summary,
        "heldout_mlm_loss_start": start_loss,
        "heldout_mlm_loss_end": end_loss,
        "teacher_heldout_mlm_loss": teacher_loss,
        "world_size": ctx.world_size,
        "process_weights_max_difference": diff,
        "device": str(ctx.device),
        "mixed_precision": str(trainer.amp_dtype).replace("torch.", "") if trainer.amp_dtype else "no",
    }
    if ctx.is_main:
        model.config.update(original_dropout)
        _save_final(
            output,
            model,
            tokenizer,
            projections,
            kind=kind,
            model_src=model_src,
            config=config,
            layer_map=layer_map,
            terms=terms,
            corpus_info=corpus.info,
            result=result,
            teacher_src=teacher_src if kind == "distill" else None,
            started=started,
        )
        if kind == "distill" and config["distill"]["fidelity"]:
            from .fidelity import measure_fidelity

            report = measure_fidelity(
                teacher_src,
                str(output),
                corpus,
                config,
                device=ctx.device,
                batch_size=trainer.local_batch,
                max_sequences=int(training["eval_max_sequences"]),
            )
            write_json_atomic(output / "fidelity.json", report)
            meta = read_json(output / META_FILE)
            write_model_card(output, meta, config, fidelity=report)
            result["fidelity"] = report
    barrier(ctx)
    return result


def read_json(path: Path) -> Dict[str, Any]:
    import json

    return json.loads(Path(path).read_text(encoding="utf8"))


def _save_final(
    output: Path,
    model: torch.nn.Module,
    tokenizer: Any,
    projections: Optional[torch.nn.ModuleDict],
    *,
    kind: str,
    model_src: str,
    config: Config,
    layer_map: Optional[List[int]],
    terms: List[Any],
    corpus_info: Dict[str, Any],
    result: Dict[str, Any],
    teacher_src: Optional[str],
    started: float,
) -> None:
    """Write the Hugging Face folder (atomically, file by file) and the run's records."""
    tmp = Path(tempfile.mkdtemp(dir=output, prefix=".final-"))
    try:
        model.save_pretrained(str(tmp), safe_serialization=True)
        tokenizer.save_pretrained(str(tmp))
        if projections is not None:
            save_projections(projections, tmp / PROJECTIONS_FILE)
        for item in tmp.iterdir():
            set_default_permissions(item)
            os.replace(item, output / item.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    encoder_params = count_parameters(model.base_model)
    student_meta = read_student_meta(Path(model_src))
    if kind == "distill":
        student_meta.update({"layer_map": layer_map, "distilled_from": config["paths"]["teacher"]})
    if student_meta:
        write_json_atomic(output / STUDENT_META, student_meta)
    meta = {
        **result,
        "base_model": config["paths"].get("model") or config["paths"].get("student"),
        "teacher": config["paths"].get("teacher"),
        "losses": {t.key: {"loss": t.name, "weight": t.weight, **t.params} for t in terms},
        "layer_map": layer_map,
        "corpus": corpus_info,
        "encoder_parameters": encoder_params,
        "encoder_mb": round(megabytes(encoder_params), 2),
        "versions": package_versions(),
        "git_sha": git_sha(),
        "command": " ".join(Path(a).name if i == 0 else a for i, a in enumerate(sys.argv)),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    write_json_atomic(output / META_FILE, meta)
    plot_curves(output / LOG_FILE, output / PLOT_FILE, terms=[t.key for t in terms])
    write_model_card(output, meta, config)


def write_model_card(
    output: Path, meta: Dict[str, Any], config: Config, fidelity: Optional[Dict[str, Any]] = None
) -> None:
    corpus = meta.get("corpus", {})
    files = ", ".join(Path(f).name for f in corpus.get("files", []))
    start, end = meta.get("heldout_mlm_loss_start"), meta.get("heldout_mlm_loss_end")
    card = {
        "title": output.name,
        "summary": (
            "Continual masked-language-model pre-training."
            if meta["kind"] == "pretrain"
            else "A compact student distilled from its teacher."
        ),
        "kind": meta["kind"],
        "base_model": meta.get("base_model"),
        "teacher": meta.get("teacher"),
        "recipe": config["distill"]["recipe"] if "distill" in config else None,
        "losses": ", ".join(f"{k} ({v['weight']})" for k, v in meta["losses"].items()),
        "layer_map": ",".join(map(str, meta["layer_map"])) if meta.get("layer_map") else None,
        "data": (
            f"{files}: {corpus.get('train_documents')} training / {corpus.get('heldout_documents')} "
            f"held-out documents, {corpus.get('duplicates_dropped')} duplicates dropped"
        ),
        "steps": f"{meta['step']} (stopped by {meta['stop_reason']})",
        "batch": f"{config['training']['batch_size']} x {config['corpus']['seq_len']} tokens",
        "tokens_seen": f"{meta['tokens_seen']:,}",
        "world_size": meta["world_size"],
        "device": meta["device"],
        "heldout_mlm_loss": (
            f"{start:.3f} -> {end:.3f} (perplexity {math.exp(start):.1f} -> {math.exp(end):.1f})"
            if start is not None and end is not None
            else f"{end:.3f}"
            if end is not None
            else None
        ),
        "encoder_parameters": f"{meta['encoder_parameters']:,}",
        "encoder_mb": meta["encoder_mb"],
        "git_sha": meta.get("git_sha"),
    }
    write_text_atomic(output / "README.md", model_card(card, fidelity=fidelity))
