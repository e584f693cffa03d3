"""Distillation loss terms: small pure functions registered in ``distill_losses``.

Every term has the signature ``(student, teacher, *, mask, denominator=None, ...) -> Tensor``
where ``student`` and ``teacher`` are :class:`ModelOutputs`. ``mask`` (batch, seq) says which
positions count: the masked positions for the MLM-style terms (``mask_kind = "masked"``) and
all real tokens for the others (``mask_kind = "tokens"``). Terms are averaged over the counted
positions; ``denominator`` lets the trainer divide by the count over ALL processes, so the
gradient of a run on several processes equals that of one process with the same global batch.
Comparison terms are zero when student and teacher outputs are identical, and values at
positions outside ``mask`` never change them (both are tested).

The trainer reads two attributes set by :func:`register_loss`: ``mask_kind`` and
``requires`` (which outputs must be computed: ``student_logits``, ``teacher_logits``,
``hidden_states``, ``attentions``, ``teacher``).
"""

from typing import Callable, Optional, Sequence, Tuple

import torch
from torch import Tensor
from torch.nn import functional as F

from ..registry import distill_losses
from .layer_map import hidden_state_pairs
from .types import ModelOutputs, Projections

_EPS = 1e-12


def register_loss(name: str, *, mask_kind: str, requires: Tuple[str, ...]) -> Callable:
    """Register a loss term under ``name`` with what the trainer must provide for it."""

    def decorator(func: Callable) -> Callable:
        func.mask_kind = mask_kind  # type: ignore[attr-defined]
        func.requires = requires  # type: ignore[attr-defined]
        func.registered_name = name  # type: ignore[attr-defined]
        distill_losses.register(name, func=func)
        return func

    return decorator


def logits_at(out: ModelOutputs, mask: Tensor) -> Tensor:
    """(n_masked, vocab) logits at ``mask``, from ``masked_logits`` when computed."""
    return out.masked_logits if out.masked_logits is not None else out.logits[mask]


def _normalise(total: Tensor, mask: Tensor, denominator: Optional[float]) -> Tensor:
    count = mask.sum().clamp(min=1) if denominator is None else max(float(denominator), 1.0)
    return total / count


@register_loss("spacy-clintiny.MaskedLM.v1", mask_kind="masked", requires=("student_logits",))
def masked_lm(
    student: ModelOutputs,
    teacher: Optional[ModelOutputs],
    *,
    mask: Tensor,
    labels: Tensor,
    denominator: Optional[float] = None,
) -> Tensor:
    """The student's own masked-language-model loss (cross-entropy on masked tokens).

    mask (Tensor): (batch, seq) bool, the masked positions.
    labels (Tensor): (batch, seq) original token ids (any value outside ``mask``).
    RETURNS (Tensor): Scalar, mean cross-entropy per masked token.
    """
    logits = logits_at(student, mask).float()  # (n_masked, vocab)
    total = F.cross_entropy(logits, labels[mask], reduction="sum")
    return _normalise(total, mask, denominator)


@register_loss(
    "spacy-clintiny.SoftTargetKL.v1",
    mask_kind="masked",
    requires=("student_logits", "teacher_logits", "teacher"),
)
def soft_target_kl(
    student: ModelOutputs,
    teacher: ModelOutputs,
    *,
    mask: Tensor,
    temperature: float = 2.0,
    denominator: Optional[float] = None,
) -> Tensor:
    """KL(teacher || student) between MLM distributions softened by ``temperature``,
    scaled by T² (Hinton et al.; DistilBERT) so its gradient keeps its size as T changes.
    With T = 1 it has the gradient of TinyBERT's soft cross-entropy and differs from it
    only by the teacher's entropy, a constant, so it is zero at identity.

    mask (Tensor): (batch, seq) bool, the masked positions.
    RETURNS (Tensor): Scalar, mean KL per masked token × T².
    """
    s = F.log_softmax(logits_at(student, mask).float() / temperature, dim=-1)  # (n, vocab)
    t = F.log_softmax(logits_at(teacher, mask).float() / temperature, dim=-1)
    total = F.kl_div(s, t, log_target=True, reduction="sum")
    return _normalise(total, mask, denominator) * temperature**2


def _project(hidden: Tensor, projections: Optional[Projections], index: int) -> Tensor:
    if projections is not None and index in projections:
        return projections[index](hidden)
    return hidden


@register_loss("spacy-clintiny.HiddenCosine.v1", mask_kind="tokens", requires=("hidden_states", "teacher"))
def hidden_cosine(
    student: ModelOutputs,
    teacher: ModelOutputs,
    *,
    mask: Tensor,
    projections: Optional[Projections] = None,
    denominator: Optional[float] = None,
) -> Tensor:
    """1 - cosine similarity of the last hidden states, per token (DistilBERT's cosine
    embedding loss). A narrower student is projected to the teacher's width first.

    mask (Tensor): (batch, seq) bool, real (non-padding) tokens.
    RETURNS (Tensor): Scalar, mean (1 - cos) per token.
    """
    last = len(student.hidden_states) - 1
    s = _project(student.hidden_states[-1], projections, last).float()  # (batch, seq, width)
    t = teacher.hidden_states[-1].float()
    dist = 1.0 - F.cosine_similarity(s, t, dim=-1, eps=1e-8)  # (batch, seq)
    total = (dist * mask).sum()
    return _normalise(total, mask, denominator)


@register_loss("spacy-clintiny.HiddenMSE.v1", mask_kind="tokens", requires=("hidden_states", "teacher"))
def hidden_mse(
    student: ModelOutputs,
    teacher: ModelOutputs,
    *,
    mask: Tensor,
    layer_map: Sequence[int],
    projections: Optional[Projections] = None,
    denominator: Optional[float] = None,
) -> Tensor:
    """Mean squared error between hidden states of mapped layers (TinyBERT), embeddings
    included, through the learned projections when the student is narrower.

    mask (Tensor): (batch, seq) bool, real tokens.
    layer_map (Sequence[int]): Teacher layer for each student layer.
    RETURNS (Tensor): Scalar, per-token MSE (mean over width) averaged over mapped layers.
    """
    pairs = hidden_state_pairs(layer_map)
    total = student.hidden_states[0].new_zeros((), dtype=torch.float32)
    for s_index, t_index in pairs:
        s = _project(student.hidden_states[s_index], projections, s_index).float()
        t = teacher.hidden_states[t_index].float()
        per_token = (s - t).pow(2).mean(dim=-1)  # (batch, seq)
        total = total + (per_token * mask).sum()
    return _normalise(total, mask, denominator) / len(pairs)


def _head_align(s: Tensor, t: Tensor) -> Tuple[Tensor, Tensor]:
    # (batch, heads, q, k); average over heads when the head counts differ
    if s.shape[1] != t.shape[1]:
        return s.mean(dim=1, keepdim=True), t.mean(dim=1, keepdim=True)
    return s, t


def _attention_term(
    student: ModelOutputs,
    teacher: ModelOutputs,
    mask: Tensor,
    layer_map: Sequence[int],
    denominator: Optional[float],
    row_loss: Callable[[Tensor, Tensor], Tensor],
) -> Tensor:
    keys = mask[:, None, None, :].float()  # (batch, 1, 1, k)
    total = student.attentions[0].new_zeros((), dtype=torch.float32)
    for s_layer, t_layer in enumerate(layer_map):
        s, t = _head_align(student.attentions[s_layer].float(), teacher.attentions[t_layer].float())
        per_row = (row_loss(s, t) * keys).sum(dim=-1).mean(dim=1)  # (batch, q)
        total = total + (per_row * mask).sum()
    return _normalise(total, mask, denominator) / len(layer_map)


@register_loss("spacy-clintiny.AttentionKL.v1", mask_kind="tokens", requires=("attentions", "teacher"))
def attention_kl(
    student: ModelOutputs,
    teacher: ModelOutputs,
    *,
    mask: Tensor,
    layer_map: Sequence[int],
    denominator: Optional[float] = None,
) -> Tensor:
    """KL(teacher || student) between the attention distributions of mapped layers, per
    head and query token (MiniLM-style). Heads are averaged when their counts differ.

    mask (Tensor): (batch, seq) bool, real tokens (queries and keys).
    RETURNS (Tensor): Scalar, mean KL per query row, averaged over heads and layers.
    """

    def row_loss(s: Tensor, t: Tensor) -> Tensor:
        return t * (torch.log(t + _EPS) - torch.log(s + _EPS))

    return _attention_term(student, teacher, mask, layer_map, denominator, row_loss)


@register_loss("spacy-clintiny.AttentionMSE.v1", mask_kind="tokens", requires=("attentions", "teacher"))
def attention_mse(
    student: ModelOutputs,
    teacher: ModelOutputs,
    *,
    mask: Tensor,
    layer_map: Sequence[int],
    denominator: Optional[float] = None,
) -> Tensor:
    """Squared error between attention probabilities of mapped layers (TinyBERT), summed
    over keys. TinyBERT matched pre-softmax scores; Hugging Face models expose only the
    probabilities, which carry the same information and are bounded.

    mask (Tensor): (batch, seq) bool, real tokens (queries and keys).
    RETURNS (Tensor): Scalar, mean squared error per query row, averaged over heads and layers.
    """

    def row_loss(s: Tensor, t: Tensor) -> Tensor:
        return (s - t).pow(2)

    return _attention_term(student, teacher, mask, layer_map, denominator, row_loss)
