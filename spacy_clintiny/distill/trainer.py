"""The training loop shared by ``pretrain`` (continual MLM) and ``distill``.

``Trainer`` stages: ``prepare_batch`` (the global batch of a step and its masks, sliced for
this process) -> ``step`` (forward, weighted loss terms, backward) -> ``optimize`` (clip,
optimizer and scheduler step) -> ``log`` -> ``save_checkpoint``. The teacher runs in
``eval()`` under ``no_grad``. Losses are divided by counts over the global batch and
gradients are averaged by DistributedDataParallel, so N processes compute the update of
one process with the same global batch. A non-finite or exploding loss stops the run with
an error naming the last good checkpoint; SIGINT/SIGTERM and ``max_minutes`` stop it
cleanly after a checkpoint.
"""

import inspect
import logging
import math
import signal
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, TypedDict

import torch
from torch import Tensor

from ..errors import Errors
from .checkpoint import latest_checkpoint, load_checkpoint, rng_state, save_checkpoint, set_rng_state
from .config import LossTerm
from .corpus import Corpus, global_batch_indices
from .distributed import DistContext, all_reduce_sum, any_process, barrier
from .heldout import heldout_mlm_loss
from .mlm import mask_tokens, masking_generator
from .runs import JsonlLog
from .trainable import TrainableModel, make_scheduler, parameter_groups, run_model
from .types import ModelOutputs

logger = logging.getLogger(__name__)


class Batch(TypedDict):
    """This process's slice of a global batch (tensors on the device)."""

    input_ids: Tensor  # (local_batch, seq) corrupted ids
    attention_mask: Tensor  # (local_batch, seq)
    labels: Tensor  # (local_batch, seq) original ids
    masked: Tensor  # (local_batch, seq) bool, positions chosen for MLM
    tokens: Tensor  # (local_batch, seq) bool, real tokens
    n_masked: int  # masked positions in the GLOBAL batch
    n_tokens: int  # real tokens in the GLOBAL batch


class StopTraining(RuntimeError):
    """Raised inside the loop to stop on NaN/explosion (carries the E514/E515 message)."""


class Trainer:
    """Runs the optimisation of one model, with or without a teacher.

    ctx (DistContext): Process and device.
    model (TrainableModel): The trained model (+ projections); wrapped in DDP here if needed.
    teacher (Optional[torch.nn.Module]): Frozen teacher (MLM model or base encoder).
    teacher_has_head (bool): Whether ``teacher`` returns MLM logits.
    terms (List[LossTerm]): The active loss terms.
    corpus (Corpus): Packed training and held-out sequences.
    config (Dict[str, Any]): The resolved config.
    output (Path): Run folder.
    layer_map (Optional[List[int]]): Teacher layer per student layer.
    new_parameters (Sequence[str]): Names (in ``model``) of newly initialised tensors.
    mask_token_id (int), vocab_size (int): For masking.
    callbacks (Sequence[Callable[[Trainer, int], None]]): Called before every step (tests
        use them to inject a NaN or a crash).
    """

    def __init__(
        self,
        ctx: DistContext,
        model: TrainableModel,
        *,
        teacher: Optional[torch.nn.Module],
        teacher_has_head: bool,
        terms: List[LossTerm],
        corpus: Corpus,
        config: Dict[str, Any],
        output: Path,
        layer_map: Optional[List[int]],
        new_parameters: Sequence[str],
        mask_token_id: int,
        vocab_size: int,
        progress: bool = True,
        callbacks: Sequence[Callable[["Trainer", int], None]] = (),
    ) -> None:
        self.ctx = ctx
        self.cfg = config
        self.training = config["training"]
        self.output = Path(output)
        self.terms = terms
        self.corpus = corpus
        self.layer_map = layer_map
        self.teacher = teacher
        self.teacher_has_head = teacher_has_head
        self.mask_token_id = mask_token_id
        self.vocab_size = vocab_size
        self.callbacks = list(callbacks)
        self.progress = progress and ctx.is_main
        self.seed = int(self.training["seed"])
        self.batch_size = int(self.training["batch_size"])
        if self.batch_size % ctx.world_size:
            raise ValueError(Errors.E519.format(batch_size=self.batch_size, world_size=ctx.world_size))
        self.local_batch = self.batch_size // ctx.world_size
        requires = {r for t in terms for r in t.func.requires}
        self.need_logits = "student_logits" in requires
        self.need_teacher_logits = "teacher_logits" in requires
        self.need_hidden = "hidden_states" in requires
        self.need_attentions = "attentions" in requires
        self.model = model.to(ctx.device)
        if teacher is not None:
            self.teacher = teacher.to(ctx.device)
        self.module = self.model
        if ctx.distributed:
            ids = [ctx.device.index] if ctx.device.type == "cuda" else None
            self.module = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        self.optimizer = torch.optim.AdamW(
            parameter_groups(
                self.model,
                new_parameters=new_parameters,
                weight_decay=float(self.training["weight_decay"]),
                lr=float(self.training["lr"]),
                new_lr=None if self.training["new_lr"] is None else float(self.training["new_lr"]),
            ),
            lr=float(self.training["lr"]),
            eps=float(self.training["adam_eps"]),
        )
        self.scheduler = make_scheduler(
            self.optimizer,
            schedule=self.training["schedule"],
            warmup=int(self.training["warmup_steps"]),
            total=int(self.training["max_steps"]),
            head_warmup=int(self.training["head_warmup_steps"]),
        )
        self.amp_dtype, self.scaler = self._mixed_precision(self.training["mixed_precision"])
        self.log_file = JsonlLog(self.output / "train_log.jsonl", enabled=ctx.is_main)
        self.step_no = 0
        self.tokens_seen = 0
        self.loss_average: Optional[float] = None
        self.last_checkpoint: Optional[Path] = None
        self.stop_reason = "max_steps"
        self._stop_requested = False
        self._kwargs = [set(inspect.signature(t.func).parameters) for t in terms]

    # ----------------------------------------------------------------- setup helpers
    def _mixed_precision(self, setting: str):
        if self.ctx.device.type != "cuda" or setting == "no":
            return (torch.bfloat16 if setting == "bf16" and self.ctx.device.type == "cuda" else None), None
        if setting == "auto":
            setting = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        if setting == "bf16":
            return torch.bfloat16, None
        return torch.float16, torch.amp.GradScaler("cuda")

    def _autocast(self):
        if self.amp_dtype is None:
            return torch.autocast(self.ctx.device.type, enabled=False)
        return torch.autocast(self.ctx.device.type, dtype=self.amp_dtype)

    # ----------------------------------------------------------------- stages
    def prepare_batch(self, step: int) -> Batch:
        """The global batch of ``step`` (a function of the seed and step only), masked with
        the step's generator, then this process's slice of it."""
        train = self.corpus.train
        index = global_batch_indices(len(train), batch_size=self.batch_size, step=step, seed=self.seed)
        seqs = train.select(index)
        masking = self.cfg["masking"]
        corrupted, chosen = mask_tokens(
            seqs.input_ids,
            special=seqs.special,
            word_start=seqs.word_start,
            mask_token_id=self.mask_token_id,
            vocab_size=self.vocab_size,
            generator=masking_generator(self.seed, step),
            mlm_probability=float(masking["mlm_probability"]),
            whole_word=bool(masking["whole_word"]),
        )
        mine = slice(self.ctx.rank * self.local_batch, (self.ctx.rank + 1) * self.local_batch)
        dev = self.ctx.device
        return Batch(
            input_ids=corrupted[mine].to(dev),
            attention_mask=seqs.attention_mask[mine].to(dev),
            labels=seqs.input_ids[mine].to(dev),
            masked=chosen[mine].to(dev),
            tokens=seqs.attention_mask[mine].bool().to(dev),
            n_masked=int(chosen.sum()),
            n_tokens=int(seqs.attention_mask.sum()),
        )

    def forward_teacher(self, batch: Batch) -> Optional[ModelOutputs]:
        if self.teacher is None:
            return None
        with torch.no_grad():
            return run_model(
                self.teacher,
                batch["input_ids"],
                batch["attention_mask"],
                logits=self.need_teacher_logits and self.teacher_has_head,
                hidden=self.need_hidden,
                attentions=self.need_attentions,
                positions=batch["masked"],
            )

    def step(self, batch: Batch) -> Dict[str, float]:
        """Forward both models, add the weighted loss terms, backpropagate.

        RETURNS (Dict[str, float]): The global value of each term and of the total ("loss").
        """
        with self._autocast():
            student = self.module(
                batch["input_ids"],
                batch["attention_mask"],
                logits=self.need_logits,
                hidden=self.need_hidden,
                attentions=self.need_attentions,
                positions=batch["masked"],
            )
            teacher = self.forward_teacher(batch)
            available = {
                "labels": batch["labels"],
                "layer_map": self.layer_map,
                "projections": self.model.projection_map() or None,
            }
            total = None
            values = []
            for term, accepted in zip(self.terms, self._kwargs):
                masked = term.func.mask_kind == "masked"
                kwargs = {k: v for k, v in available.items() if k in accepted}
                value = term.func(
                    student,
                    teacher,
                    mask=batch["masked"] if masked else batch["tokens"],
                    denominator=batch["n_masked"] if masked else batch["n_tokens"],
                    **kwargs,
                    **term.params,
                )
                values.append(value)
                total = term.weight * value if total is None else total + term.weight * value
        # DDP averages gradients over processes; the terms are already global means
        scaled = total * self.ctx.world_size
        (self.scaler.scale(scaled) if self.scaler else scaled).backward()
        report = torch.stack([v.detach().float() for v in values] + [total.detach().float()])
        report = all_reduce_sum(report, self.ctx).tolist()
        result = {f"loss_{t.key}": v for t, v in zip(self.terms, report)}
        result["loss"] = report[-1]
        return result

    def check_loss(self, values: Dict[str, float]) -> None:
        """Stop on a non-finite loss term, or a total far above its running average."""
        bad = {k: v for k, v in values.items() if not math.isfinite(v)}
        if bad:
            raise StopTraining(
                Errors.E514.format(
                    step=self.step_no + 1,
                    terms=", ".join(sorted(bad)),
                    values=", ".join(f"{k}={v}" for k, v in sorted(bad.items())),
                    checkpoint=self.last_checkpoint or "none (no checkpoint was written yet)",
                    lr=self.training["lr"],
                )
            )
        loss = values["loss"]
        factor = float(self.training["explode_factor"])
        if (
            self.loss_average is not None
            and factor > 0
            and self.step_no >= 20
            and loss > factor * max(self.loss_average, 1e-6)
        ):
            raise StopTraining(
                Errors.E515.format(
                    step=self.step_no + 1,
                    loss=loss,
                    factor=factor,
                    average=self.loss_average,
                    checkpoint=self.last_checkpoint or "none (no checkpoint was written yet)",
                    lr=self.training["lr"],
                )
            )
        self.loss_average = loss if self.loss_average is None else 0.95 * self.loss_average + 0.05 * loss

    def optimize(self) -> float:
        """Clip gradients, step the optimizer and scheduler. RETURNS (float): grad norm."""
        if self.scaler:
            self.scaler.unscale_(self.optimizer)
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        max_norm = self.training["max_grad_norm"]
        norm = torch.nn.utils.clip_grad_norm_(params, float(max_norm) if max_norm else float("inf"))
        if not self.scaler and not torch.isfinite(norm):
            raise StopTraining(
                Errors.E514.format(
                    step=self.step_no + 1,
                    terms="gradient norm",
                    values=f"grad_norm={float(norm)}",
                    checkpoint=self.last_checkpoint or "none (no checkpoint was written yet)",
                    lr=self.training["lr"],
                )
            )
        if self.scaler:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return float(norm)

    def log(self, values: Dict[str, float], *, grad_norm: float, tokens_per_s: float, elapsed: float) -> None:
        every = int(self.training["log_every"])
        if every and self.step_no % every == 0:
            record = {
                "split": "train",
                "step": self.step_no,
                **{k: round(v, 6) for k, v in values.items()},
                "lr": self.scheduler.get_last_lr()[0],
                **self._new_lr(),
                "grad_norm": round(grad_norm, 4),
                "tokens": self.tokens_seen,
                "tokens_per_s": round(tokens_per_s, 1),
                "elapsed_s": round(elapsed, 2),
            }
            self.log_file.write(record)

    def _new_lr(self) -> Dict[str, float]:
        rates = [lr for g, lr in zip(self.optimizer.param_groups, self.scheduler.get_last_lr()) if g["is_new"]]
        return {"lr_new": rates[0]} if rates else {}

    # ----------------------------------------------------------------- state
    def trainer_state(self) -> Dict[str, Any]:
        return {
            "step": self.step_no,
            "tokens_seen": self.tokens_seen,
            "loss_average": self.loss_average,
            "world_size": self.ctx.world_size,
            "batch_size": self.batch_size,
            "next_sample": self.step_no * self.batch_size,
        }

    def save_checkpoint(self) -> None:
        rngs = [rng_state()]
        if self.ctx.distributed:
            gathered: List[Any] = [None] * self.ctx.world_size
            torch.distributed.all_gather_object(gathered, rngs[0])
            rngs = gathered
        if self.ctx.is_main:
            self.last_checkpoint = save_checkpoint(
                self.output,
                self.step_no,
                model_state=self.model.state_dict(),
                optimizer=self.optimizer,
                scheduler=self.scheduler,
                scaler=self.scaler,
                rng_states=rngs,
                trainer_state=self.trainer_state(),
                keep=int(self.training["keep_checkpoints"]),
            )
        barrier(self.ctx)

    def resume(self) -> None:
        """Load the latest checkpoint of the run folder."""
        path = latest_checkpoint(self.output)
        if path is None:
            raise ValueError(Errors.E512.format(path=self.output))
        data = load_checkpoint(path, map_location=self.ctx.device)
        self.model.load_state_dict(data["model"])
        self.optimizer.load_state_dict(data["optimizer"])
        self.scheduler.load_state_dict(data["scheduler"])
        if self.scaler is not None and "scaler" in data:
            self.scaler.load_state_dict(data["scaler"])
        rngs = data["rng"]
        set_rng_state(rngs[self.ctx.rank] if self.ctx.rank < len(rngs) else rngs[0])
        state = data["state"]
        self.step_no = int(state["step"])
        self.tokens_seen = int(state["tokens_seen"])
        self.loss_average = state["loss_average"]
        self.last_checkpoint = path
        self.log_file.truncate_after(self.step_no)

    # ----------------------------------------------------------------- evaluation
    def heldout_mlm_loss(self, model: Optional[torch.nn.Module] = None) -> Optional[float]:
        """Mean MLM loss per masked token on held-out sequences, with fixed masks (main
        process; others return None)."""
        model = model if model is not None else self.model.model
        if not self.ctx.is_main or len(self.corpus.heldout) == 0:
            return None
        return heldout_mlm_loss(
            model,
            self.corpus,
            self.cfg,
            device=self.ctx.device,
            mask_token_id=self.mask_token_id,
            vocab_size=self.vocab_size,
            batch_size=self.local_batch,
            autocast=self._autocast,
        )

    def evaluate(self, label: str = "") -> Optional[float]:
        loss = self.heldout_mlm_loss()
        if loss is not None:
            self.log_file.write(
                {
                    "split": "heldout",
                    "step": self.step_no,
                    "mlm_loss": round(loss, 6),
                    "perplexity": round(math.exp(min(loss, 50.0)), 4),
                    "label": label,
                }
            )
        barrier(self.ctx)
        return loss

    # ----------------------------------------------------------------- loop
    def _install_signal_handlers(self) -> Dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        previous = {}

        def request_stop(signum, frame):  # noqa: ARG001
            if self._stop_requested:
                raise KeyboardInterrupt
            self._stop_requested = True

        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, request_stop)
        return previous

    def train(self) -> Dict[str, Any]:
        """Run until ``max_steps``, ``max_minutes`` or a stop signal; checkpoint on the way.

        RETURNS (Dict[str, Any]): step reached, why it stopped, tokens, seconds, tokens/s.
        """
        from tqdm import tqdm

        max_steps = int(self.training["max_steps"])
        budget = float(self.training["max_minutes"]) * 60.0
        every = int(self.training["checkpoint_every"])
        eval_every = int(self.training["eval_every"])
        head_warmup = int(self.training["head_warmup_steps"])
        previous = self._install_signal_handlers()
        bar = tqdm(total=max_steps, initial=self.step_no, disable=not self.progress, unit="step", dynamic_ncols=True)
        start = time.perf_counter()
        start_tokens = self.tokens_seen
        steps_here = 0
        try:
            while self.step_no < max_steps:
                for callback in self.callbacks:
                    callback(self, self.step_no)
                batch = self.prepare_batch(self.step_no)
                values = self.step(batch)
                self.check_loss(values)
                grad_norm = self.optimize()
                self.step_no += 1
                steps_here += 1
                self.tokens_seen += batch["n_tokens"]
                elapsed = time.perf_counter() - start
                speed = (self.tokens_seen - start_tokens) / max(elapsed, 1e-9)
                self.log(values, grad_norm=grad_norm, tokens_per_s=speed, elapsed=elapsed)
                bar.update(1)
                bar.set_postfix(loss=f"{values['loss']:.4f}", tok_s=f"{speed:,.0f}")
                out_of_time = budget > 0 and elapsed >= budget
                stop = any_process(out_of_time or self._stop_requested, self.ctx)
                if stop:
                    self.stop_reason = "max_minutes" if out_of_time else "signal"
                if (every and self.step_no % every == 0) or stop or self.step_no == max_steps:
                    self.save_checkpoint()
                if (eval_every and self.step_no % eval_every == 0) or (head_warmup and self.step_no == head_warmup):
                    self.evaluate("head_warmup_end" if self.step_no == head_warmup else "")
                if stop:
                    break
        finally:
            bar.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        elapsed = time.perf_counter() - start
        return {
            "step": self.step_no,
            "stop_reason": self.stop_reason,
            "steps_this_run": steps_here,
            "tokens_seen": self.tokens_seen,
            "seconds_this_run": round(elapsed, 2),
            "tokens_per_s": round((self.tokens_seen - start_tokens) / max(elapsed, 1e-9), 1),
            "seconds_per_step": round(elapsed / max(steps_here, 1), 4),
        }


__all__ = ["Trainer", "Batch", "StopTraining"]
