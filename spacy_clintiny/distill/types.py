"""Named types shared by the distillation modules."""

from typing import Callable, Mapping, NamedTuple, Optional, Tuple

from torch import Tensor

# Student hidden-state index -> module mapping student width to teacher width.
Projections = Mapping[int, Callable[[Tensor], Tensor]]


class ModelOutputs(NamedTuple):
    """What the losses see of one model's forward pass.

    hidden_states (Tuple[Tensor, ...]): Embedding output then every layer's output,
        each (batch, seq, width).
    attentions (Optional[Tuple[Tensor, ...]]): Per layer attention probabilities,
        (batch, heads, seq, seq); None when no loss needs them.
    logits (Optional[Tensor]): MLM logits (batch, seq, vocab); None when the model has no
        MLM head or no loss needs them.
    masked_logits (Optional[Tensor]): MLM logits at the masked positions only,
        (n_masked, vocab) in ``tensor[mask]`` order: the trainer computes these instead of
        ``logits`` to skip the vocabulary projection of the 85% of tokens no loss looks at.
    """

    hidden_states: Tuple[Tensor, ...]
    attentions: Optional[Tuple[Tensor, ...]] = None
    logits: Optional[Tensor] = None
    masked_logits: Optional[Tensor] = None
