"""The models of a run: the trained model (+ projections) as one module, the frozen teacher,
the optimizer's parameter groups and the learning-rate schedule."""

from typing import Any, Callable, Dict, List, Optional, Sequence

import torch
from torch import Tensor

from .types import ModelOutputs

_NO_DECAY = ("bias", "LayerNorm.weight", "layer_norm.weight", "norm.weight")


class TrainableModel(torch.nn.Module):
    """The trained model and its projections in one module, so DistributedDataParallel
    synchronises the gradients of both.

    model (torch.nn.Module): A Hugging Face model with an MLM head.
    projections (Optional[torch.nn.ModuleDict]): Student -> teacher width projections.
    """

    def __init__(self, model: torch.nn.Module, projections: Optional[torch.nn.ModuleDict] = None) -> None:
        super().__init__()
        self.model = model
        self.projections = projections if projections is not None else torch.nn.ModuleDict()

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor,
        *,
        logits: bool = True,
        hidden: bool = False,
        attentions: bool = False,
        positions: Optional[Tensor] = None,
    ) -> ModelOutputs:
        return run_model(
            self.model,
            input_ids,
            attention_mask,
            logits=logits,
            hidden=hidden,
            attentions=attentions,
            positions=positions,
        )

    def projection_map(self) -> Dict[int, torch.nn.Module]:
        return {int(k): v for k, v in self.projections.items()}


def mlm_head(model: torch.nn.Module) -> Optional[torch.nn.Module]:
    """The module mapping hidden states to vocabulary logits (BERT ``cls``, RoBERTa-style
    ``lm_head``), or None for families where it is not one module."""
    head = getattr(model, "cls", None) or getattr(model, "lm_head", None)
    return head if isinstance(head, torch.nn.Module) else None


def run_model(
    model: torch.nn.Module,
    input_ids: Tensor,
    attention_mask: Tensor,
    *,
    logits: bool,
    hidden: bool,
    attentions: bool,
    positions: Optional[Tensor] = None,
) -> ModelOutputs:
    """Forward pass returning only what the losses need. Without ``logits`` the MLM head
    (a vocabulary-sized projection per token) is skipped; with ``positions`` (bool,
    (batch, seq)) it runs only there and fills ``masked_logits``."""
    head = mlm_head(model) if logits and positions is not None else None
    net = model if logits and head is None else model.base_model
    out = net(
        input_ids=input_ids,
        attention_mask=attention_mask,
        output_hidden_states=hidden,
        output_attentions=attentions,
        return_dict=True,
    )
    hidden_states = out.hidden_states if hidden else ()
    if not hidden_states and not logits:
        hidden_states = (out.last_hidden_state,)
    masked = head(out.last_hidden_state[positions]) if head is not None else None
    full = out.logits if logits and head is None else None
    return ModelOutputs(tuple(hidden_states), out.attentions if attentions else None, full, masked)


def parameter_groups(
    trainable: torch.nn.Module,
    *,
    new_parameters: Sequence[str],
    weight_decay: float,
    lr: float,
    new_lr: Optional[float] = None,
) -> List[Dict[str, Any]]:
    """AdamW groups: {pretrained, new} x {decay, no decay}. "new" are the newly initialised
    MLM head tensors and the projections: they may train alone during head warm-up, at
    their own learning rate ``new_lr`` (default ``lr``)."""
    groups: Dict[tuple, List[torch.nn.Parameter]] = {}
    new = set(new_parameters)
    for name, param in trainable.named_parameters():
        if not param.requires_grad:
            continue
        is_new = name in new or name.startswith("projections.")
        decay = not any(name.endswith(suffix) for suffix in _NO_DECAY)
        groups.setdefault((is_new, decay), []).append(param)
    return [
        {
            "params": params,
            "weight_decay": weight_decay if decay else 0.0,
            "is_new": is_new,
            "lr": new_lr if is_new and new_lr is not None else lr,
        }
        for (is_new, decay), params in sorted(groups.items())
    ]


def lr_lambda(schedule: str, *, warmup: int, total: int, delay: int = 0) -> Callable[[int], float]:
    """Multiplier of the base learning rate at a step: 0 for ``delay`` steps (head warm-up),
    then linear warm-up over ``warmup`` steps, then constant or linear decay to 0 at ``total``."""

    def factor(step: int) -> float:
        if step < delay:
            return 0.0
        step -= delay
        span = max(1, total - delay)
        if warmup and step < warmup:
            return (step + 1) / warmup
        if schedule == "constant":
            return 1.0
        return max(0.0, (span - step) / max(1, span - warmup))

    return factor


def make_scheduler(
    optimizer: torch.optim.Optimizer, *, schedule: str, warmup: int, total: int, head_warmup: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-group schedules: pretrained weights wait ``head_warmup`` steps, new ones do not."""
    lambdas = [
        lr_lambda(schedule, warmup=warmup, total=total, delay=0 if g["is_new"] else head_warmup)
        for g in optimizer.param_groups
    ]
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambdas)


def freeze(module: torch.nn.Module) -> torch.nn.Module:
    module.eval()
    for param in module.parameters():
        param.requires_grad_(False)
    return module
