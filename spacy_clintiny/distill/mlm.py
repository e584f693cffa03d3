"""Masked-language-model pieces: token masking (optionally whole-word) and loading any
model with an MLM head, adding one tied to the input embeddings when it has none.

Masks are drawn from a generator seeded by (seed, step) for the GLOBAL batch, so a run
resumed from a checkpoint, or split over several processes, masks exactly the same tokens
as an uninterrupted single-process run.
"""

import logging
from typing import Optional, Tuple

import torch
from torch import Tensor

logger = logging.getLogger(__name__)

IGNORE_INDEX = -100


def masking_generator(seed: int, step: int) -> torch.Generator:
    """A CPU generator determined by the run seed and the step only."""
    return torch.Generator().manual_seed((seed * 1_000_003 + step) % (2**63 - 1))


def mask_tokens(
    input_ids: Tensor,
    *,
    special: Tensor,
    word_start: Tensor,
    mask_token_id: int,
    vocab_size: int,
    generator: torch.Generator,
    mlm_probability: float = 0.15,
    whole_word: bool = False,
) -> Tuple[Tensor, Tensor]:
    """BERT masking: choose ``mlm_probability`` of the non-special tokens (or of the words,
    with ``whole_word``, masking every piece of a chosen word); replace 80% of the chosen
    tokens by [MASK], 10% by a random token and keep 10%.

    input_ids (Tensor): (batch, seq) token ids.
    special (Tensor): (batch, seq) bool, [CLS]/[SEP]/[PAD] positions that are never masked.
    word_start (Tensor): (batch, seq) bool, True where a word begins.
    RETURNS (Tuple[Tensor, Tensor]): The corrupted ids (batch, seq) and the bool mask of
        chosen positions (batch, seq); the original ids are the labels.
    """
    shape = input_ids.shape
    draw = torch.rand(shape, generator=generator)
    if whole_word:
        positions = torch.arange(shape[1]).expand(shape)
        starts = torch.where(word_start | special, positions, torch.zeros_like(positions))
        word_of = torch.cummax(starts, dim=1).values  # (batch, seq) start of each token's word
        draw = draw.gather(1, word_of)
    chosen = (draw < mlm_probability) & ~special
    action = torch.rand(shape, generator=generator)
    random_ids = torch.randint(vocab_size, shape, generator=generator)
    corrupted = input_ids.clone()
    corrupted[chosen & (action < 0.8)] = mask_token_id
    use_random = chosen & (action >= 0.8) & (action < 0.9)
    corrupted[use_random] = random_ids[use_random]
    return corrupted, chosen


def load_mlm_model(
    source: str,
    *,
    attn_implementation: Optional[str] = None,
    seed: int = 0,
) -> Tuple[torch.nn.Module, bool]:
    """Load ``source`` with a masked-language-model head.

    A model saved without one (the default teacher, all-MiniLM-L6-v2, is a plain BertModel)
    gets the family's MLM head: its transform initialised from ``seed``, its decoder tied to
    the input embeddings, its bias zero.

    source (str): Local folder or hub id (already resolved).
    attn_implementation (Optional[str]): "eager" when attention probabilities are needed.
    RETURNS (Tuple[torch.nn.Module, bool]): The model (in train mode) and whether the MLM
        head came from the checkpoint (False: newly initialised).
    """
    from transformers import AutoModelForMaskedLM
    from transformers.utils import logging as hf_logging

    kwargs = {"attn_implementation": attn_implementation} if attn_implementation else {}
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # we report a new head ourselves, once, below
    try:
        torch.manual_seed(seed)
        model, info = AutoModelForMaskedLM.from_pretrained(source, output_loading_info=True, **kwargs)
    finally:
        hf_logging.set_verbosity(verbosity)
    prefix = model.base_model_prefix + "."
    new_head = [k for k in info["missing_keys"] if not k.startswith(prefix)]
    if new_head:
        logger.info(
            "Model has no MLM head: initialised %d head tensors, decoder tied to input embeddings", len(new_head)
        )
    model.train()
    return model, not new_head


def new_head_parameter_names(model: torch.nn.Module) -> Tuple[str, ...]:
    """Names of the parameters of ``model`` that are not in its base model (the MLM head
    minus the tied decoder)."""
    base = {id(p) for p in model.base_model.parameters()}
    return tuple(name for name, p in model.named_parameters() if id(p) not in base)


def set_attention_dropout(model: torch.nn.Module, p: float) -> None:
    """Set the attention-probability dropout of every self-attention module to ``p``.

    In train mode, Hugging Face's eager attention returns the probabilities AFTER dropout,
    so an attention-matching loss needs ``p = 0`` on the student.
    """
    for module in model.modules():
        name = type(module).__name__
        if name.endswith("SelfAttention"):
            if isinstance(getattr(module, "dropout", None), torch.nn.Dropout):
                module.dropout.p = p
            if hasattr(module, "dropout_prob"):
                module.dropout_prob = p
    if hasattr(model.config, "attention_probs_dropout_prob"):
        model.config.attention_probs_dropout_prob = p


def set_dropout(model: torch.nn.Module, p: float) -> None:
    """Set every dropout probability of ``model`` (hidden and attention) to ``p``."""
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = p
    set_attention_dropout(model, p)
    if hasattr(model.config, "hidden_dropout_prob"):
        model.config.hidden_dropout_prob = p
