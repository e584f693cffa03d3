"""Adam with a learning rate per parameter group, for fine-tuning the encoder with its heads.

thinc's ``Adam.v1`` has one learning rate for every parameter. Fine-tuning a pre-trained
encoder together with freshly initialised heads wants two: the heads learn at about 1e-3, a rate
that wrecks the encoder's weights, which want about 5e-5. ``spacy-clintiny.Adam.v1`` is thinc's
optimizer (same moments, clipping, weight decay and schedules) with named groups of their own
rate or schedule::

    [training.optimizer]
    @optimizers = "spacy-clintiny.Adam.v1"

    [training.optimizer.learn_rate]          # the heads
    @schedules = "warmup_linear.v1"
    warmup_steps = 50
    total_steps = 2000
    initial_rate = 1e-3

    [training.optimizer.encoder_learn_rate]  # the clintiny_encoder's weights
    @schedules = "warmup_linear.v1"
    warmup_steps = 50
    total_steps = 2000
    initial_rate = 5e-5

A component puts its parameters in a group by updating them through :func:`param_group`
(``clintiny_encoder`` does, for the group ``"encoder"``); with any other optimizer, or a group
without a rate of its own, that is the optimizer itself, so nothing changes.
"""

from typing import Any, Dict, Optional, Tuple, Union

from thinc.api import Optimizer
from thinc.optimizers import ADAM_DEFAULTS, FloatOrSeq
from thinc.types import FloatsXd

from ..errors import Errors
from ..registry import registry

KeyT = Tuple[int, str]


class GroupedOptimizer(Optimizer):
    """thinc's ``Optimizer`` with named parameter groups that have their own learning rate
    (a float or a schedule). A group's rate is one more of thinc's scheduled attributes
    (``<group>_learn_rate``), so ``step_schedules`` steps it with the others. The optimizer's
    state (moments, update counts, averages) stays one, keyed by parameter as in thinc."""

    def __init__(self, learn_rate: FloatOrSeq, *, group_learn_rates: Dict[str, FloatOrSeq], **kwargs: Any) -> None:
        super().__init__(learn_rate, **kwargs)
        self.groups = tuple(group_learn_rates)
        for group, rate in group_learn_rates.items():
            try:
                self._set_attr_or_schedule(_rate_attr(group), rate)
            except ValueError as err:
                raise ValueError(Errors.E006.format(group=group, type=type(rate).__name__, err=err)) from err

    @property
    def group_rates(self) -> Dict[str, float]:
        """Each group's current learning rate."""
        return {group: getattr(self, _rate_attr(group)) for group in self.groups}

    def update_in_group(
        self, group: str, key: KeyT, weights: FloatsXd, gradient: FloatsXd, *, lr_scale: float = 1.0
    ) -> Tuple[FloatsXd, FloatsXd]:
        """One parameter's update at its group's current learning rate."""
        base = self.learn_rate
        self.learn_rate = getattr(self, _rate_attr(group))
        try:
            return self(key, weights, gradient, lr_scale=lr_scale)
        finally:
            self.learn_rate = base


def _rate_attr(group: str) -> str:
    return f"{group}_learn_rate"


class _GroupView:
    """What a component's ``finish_update`` receives for its group: called like an optimizer,
    it updates each parameter at the group's rate through the one shared optimizer."""

    def __init__(self, optimizer: GroupedOptimizer, group: str) -> None:
        self.optimizer = optimizer
        self.group = group

    def __call__(
        self, key: KeyT, weights: FloatsXd, gradient: FloatsXd, *, lr_scale: float = 1.0
    ) -> Tuple[FloatsXd, FloatsXd]:
        return self.optimizer.update_in_group(self.group, key, weights, gradient, lr_scale=lr_scale)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.optimizer, name)


def param_group(optimizer: Optional[Optimizer], group: str) -> Union[Optimizer, _GroupView, None]:
    """The optimizer to update a group's parameters with: a view at the group's own rate if
    ``optimizer`` has one for ``group``, else ``optimizer`` itself (also ``None``)."""
    if isinstance(optimizer, GroupedOptimizer) and group in optimizer.groups:
        return _GroupView(optimizer, group)
    return optimizer


@registry.optimizers("spacy-clintiny.Adam.v1")
def build_grouped_adam_v1(
    learn_rate: FloatOrSeq = ADAM_DEFAULTS["learn_rate"],
    *,
    encoder_learn_rate: Optional[FloatOrSeq] = None,
    L2: FloatOrSeq = ADAM_DEFAULTS["L2"],
    beta1: FloatOrSeq = ADAM_DEFAULTS["beta1"],
    beta2: FloatOrSeq = ADAM_DEFAULTS["beta2"],
    eps: FloatOrSeq = ADAM_DEFAULTS["eps"],
    grad_clip: FloatOrSeq = ADAM_DEFAULTS["grad_clip"],
    L2_is_weight_decay: bool = True,
    use_averages: bool = True,
) -> GroupedOptimizer:
    """thinc's ``Adam.v1`` with ``encoder_learn_rate`` (a float or a schedule) for the
    ``clintiny_encoder``'s weights; ``learn_rate`` is every other parameter's (the heads').
    Without ``encoder_learn_rate`` it is ``Adam.v1``."""
    groups = {} if encoder_learn_rate is None else {"encoder": encoder_learn_rate}
    return GroupedOptimizer(
        learn_rate,
        group_learn_rates=groups,
        L2=L2,
        beta1=beta1,
        beta2=beta2,
        eps=eps,
        grad_clip=grad_clip,
        L2_is_weight_decay=L2_is_weight_decay,
        use_averages=use_averages,
        use_radam=False,
    )
