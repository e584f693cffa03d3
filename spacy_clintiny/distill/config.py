"""Configs of ``pretrain`` and ``distill`` (thinc ``Config``), recipes and validation.

The defaults below are the package's; ``configs/pretrain.cfg`` and ``configs/distill.cfg``
in the project hold the same settings (a test keeps them in step). Dotted overrides from the
command line (``--training.lr 1e-4``) are applied last. Loss terms are sections of
``[losses]`` naming a registered loss (``loss = "spacy-clintiny.SoftTargetKL.v1"``), its
``weight`` and its own settings; a weight of 0 switches a term off. ``distill`` fills an
empty ``[losses]`` from the named recipe (``distill.recipe``).
"""

import inspect
from copy import deepcopy
from pathlib import Path
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence

from thinc.api import Config

from ..errors import Errors
from ..registry import distill_losses

COMMON_CONFIG_STR = """
[paths]
output = null

[corpus]
paths = []
format = "auto"
text_field = "text"
text_split = "blank-line"
seq_len = 128
heldout_fraction = 0.05
dedupe = true
cache_dir = null

[masking]
mlm_probability = 0.15
whole_word = false

[training]
seed = 0
batch_size = 16
max_steps = 1000
max_minutes = 0.0
lr = 0.00005
schedule = "linear"
warmup_steps = 0
head_warmup_steps = 0
new_lr = null
weight_decay = 0.01
adam_eps = 0.000001
max_grad_norm = 1.0
dropout = null
checkpoint_every = 100
keep_checkpoints = 2
log_every = 1
eval_every = 0
eval_max_sequences = 256
explode_factor = 100.0
mixed_precision = "auto"
device = "auto"
threads = 0
"""

PRETRAIN_CONFIG_STR = (
    COMMON_CONFIG_STR.replace("[paths]\n", "[paths]\nmodel = null\n")
    + """
[losses]

[losses.mlm]
loss = "spacy-clintiny.MaskedLM.v1"
weight = 1.0
"""
)

DISTILL_CONFIG_STR = (
    COMMON_CONFIG_STR.replace("[paths]\n", "[paths]\nteacher = null\nstudent = null\n").replace(
        "lr = 0.00005", "lr = 0.0001"
    )
    + """
[distill]
recipe = "compact"
layer_map = null
attention_dropout = 0.0
fidelity = true

[losses]
"""
)

RECIPES: Dict[str, Dict[str, Dict[str, Any]]] = {
    # DistilBERT's objective as the seed's DistilClinicalBERT used it
    "distilclinicalbert": {
        "mlm": {"loss": "spacy-clintiny.MaskedLM.v1", "weight": 2.0},
        "kl": {"loss": "spacy-clintiny.SoftTargetKL.v1", "weight": 5.0, "temperature": 2.0},
        "cosine": {"loss": "spacy-clintiny.HiddenCosine.v1", "weight": 1.0},
    },
    # TinyBERT's: attention MSE + hidden MSE through a projection + soft targets (T = 1)
    "tinyclinicalbert": {
        "attention": {"loss": "spacy-clintiny.AttentionMSE.v1", "weight": 1.0},
        "hidden": {"loss": "spacy-clintiny.HiddenMSE.v1", "weight": 1.0},
        "kl": {"loss": "spacy-clintiny.SoftTargetKL.v1", "weight": 1.0, "temperature": 1.0},
    },
    # for any teacher, with or without an MLM head (the default teacher has none): the
    # soft-target term is optional and used only when the teacher has an MLM head
    "compact": {
        "mlm": {"loss": "spacy-clintiny.MaskedLM.v1", "weight": 1.0},
        "kl": {"loss": "spacy-clintiny.SoftTargetKL.v1", "weight": 1.0, "temperature": 2.0, "optional": True},
        "cosine": {"loss": "spacy-clintiny.HiddenCosine.v1", "weight": 1.0},
        "hidden": {"loss": "spacy-clintiny.HiddenMSE.v1", "weight": 1.0},
        "attention": {"loss": "spacy-clintiny.AttentionKL.v1", "weight": 1.0},
    },
}

# settings that may differ when a run is resumed (they do not change its result)
RESUMABLE_CHANGES = (
    "training.max_minutes",
    "training.max_steps",
    "training.checkpoint_every",
    "training.keep_checkpoints",
    "training.log_every",
    "training.eval_every",
    "training.device",
    "training.threads",
    "corpus.cache_dir",
    "paths.output",
)
# keys the trainer passes to loss functions; everything else in a loss section is a setting
_TRAINER_KWARGS = ("mask", "denominator", "labels", "layer_map", "projections")


class LossTerm(NamedTuple):
    """A resolved loss term."""

    key: str
    name: str
    func: Any
    weight: float
    params: Dict[str, Any]
    optional: bool


def default_config(kind: str) -> Config:
    """The package default config of ``kind`` ("pretrain" or "distill")."""
    text = {"pretrain": PRETRAIN_CONFIG_STR, "distill": DISTILL_CONFIG_STR}[kind]
    return Config().from_str(text)


def _set_dotted(data: Dict[str, Any], key: str, value: Any, reference: Mapping[str, Any]) -> None:
    parts = key.split(".")
    node, ref = data, reference
    for i, part in enumerate(parts[:-1]):
        allowed_new = parts[0] == "losses"  # a new loss term section may be added
        if part not in node:
            if not allowed_new:
                raise ValueError(
                    Errors.E520.format(key=key, section=".".join(parts[:i]) or "root", allowed=", ".join(sorted(node)))
                )
            node[part] = {}
        node, ref = node[part], (ref.get(part, {}) if isinstance(ref, Mapping) else {})
    last = parts[-1]
    if last not in node and parts[0] != "losses":
        raise ValueError(Errors.E520.format(key=key, section=".".join(parts[:-1]), allowed=", ".join(sorted(node))))
    node[last] = value


def load_config(
    kind: str,
    *,
    path: Optional[Path] = None,
    overrides: Optional[Mapping[str, Any]] = None,
    recipe: Optional[str] = None,
) -> Config:
    """Default (or ``path``) config, recipe expanded, overrides applied, validated.

    kind (str): "pretrain" or "distill".
    path (Optional[Path]): A config file to start from instead of the package default.
    overrides (Optional[Mapping[str, Any]]): Dotted keys -> values.
    recipe (Optional[str]): Distillation recipe; replaces ``distill.recipe``.
    RETURNS (Config): The resolved config (plain values, no registry references).
    """
    base = default_config(kind)
    data = deepcopy(dict(Config().from_disk(path) if path else base))
    for section, values in base.items():  # fill sections a user's file left out
        data.setdefault(section, deepcopy(values))
    if kind == "distill":
        if recipe is not None:
            data["distill"]["recipe"] = recipe
            data["losses"] = {}
        if not data.get("losses"):
            name = data["distill"]["recipe"]
            if name not in RECIPES:
                raise ValueError(Errors.E509.format(name=name, names=", ".join(RECIPES)))
            data["losses"] = deepcopy(RECIPES[name])
    for key, value in (overrides or {}).items():
        _set_dotted(data, key, value, base)
    config = Config(data)
    validate_config(config, base)
    return config


def validate_config(config: Mapping[str, Any], reference: Mapping[str, Any]) -> None:
    """Reject unknown sections/settings (listing the allowed ones) and check loss terms."""
    for section, values in config.items():
        if section not in reference:
            raise ValueError(Errors.E520.format(key=section, section="root", allowed=", ".join(sorted(reference))))
        if section == "losses":
            continue
        for key in values:
            if key not in reference[section]:
                raise ValueError(
                    Errors.E520.format(
                        key=f"{section}.{key}", section=section, allowed=", ".join(sorted(reference[section]))
                    )
                )
    training = config["training"]
    if training["schedule"] not in ("linear", "constant"):
        raise ValueError(
            Errors.E521.format(
                name="training.schedule",
                value=training["schedule"],
                hint="use 'linear' (warmup, then linear decay to 0 at max_steps) or 'constant' (warmup, then constant)",
            )
        )
    if training["mixed_precision"] not in ("auto", "no", "fp16", "bf16"):
        raise ValueError(
            Errors.E521.format(
                name="training.mixed_precision",
                value=training["mixed_precision"],
                hint="use 'auto', 'no', 'fp16' or 'bf16'",
            )
        )
    _check_numbers(config, reference)
    if int(training["max_steps"]) < 1:
        raise ValueError(
            Errors.E521.format(
                name="training.max_steps",
                value=training["max_steps"],
                hint="use a positive number of steps; bound the time with training.max_minutes",
            )
        )
    resolve_losses(config["losses"])


# Settings that must be numbers in a range: (section.key, lowest, lowest allowed?, highest, highest allowed?)
NUMBER_RANGES = {
    "corpus.seq_len": (8, True, None, True),
    "corpus.heldout_fraction": (0.0, True, 1.0, False),
    "masking.mlm_probability": (0.0, False, 1.0, False),
    "training.batch_size": (1, True, None, True),
    "training.max_minutes": (0.0, True, None, True),
    "training.lr": (0.0, False, None, True),
    "training.warmup_steps": (0, True, None, True),
    "training.head_warmup_steps": (0, True, None, True),
    "training.weight_decay": (0.0, True, None, True),
    "training.adam_eps": (0.0, False, None, True),
    "training.max_grad_norm": (0.0, True, None, True),
    "training.checkpoint_every": (1, True, None, True),
    "training.keep_checkpoints": (1, True, None, True),
    "training.log_every": (1, True, None, True),
    "training.eval_every": (0, True, None, True),
    "training.eval_max_sequences": (1, True, None, True),
    "training.explode_factor": (0.0, False, None, True),
    "training.threads": (0, True, None, True),
}


def _check_numbers(config: Mapping[str, Any], reference: Mapping[str, Any]) -> None:
    """Every number of the reference config must stay a number of its kind (an int where the
    reference holds an int; ``--training.lr`` without a value gives ``true``), in its range."""
    for section in ("corpus", "masking", "training"):
        for key, default in reference[section].items():
            value = config[section].get(key, default)
            if isinstance(default, bool) or not isinstance(default, (int, float)) or value is None:
                continue
            kind = "an integer" if isinstance(default, int) else "a number"
            ok = isinstance(value, int) if isinstance(default, int) else isinstance(value, (int, float))
            if not ok or isinstance(value, bool):
                raise ValueError(Errors.E521.format(name=f"{section}.{key}", value=value, hint=f"use {kind}"))
            bounds = NUMBER_RANGES.get(f"{section}.{key}")
            if bounds is None:
                continue
            low, low_in, high, high_in = bounds
            too_low = value < low if low_in else value <= low
            too_high = high is not None and (value > high if high_in else value >= high)
            if too_low or too_high:
                lo = f"{'>=' if low_in else '>'} {low}"
                hint = f"use {kind} {lo}" + (f" and {'<=' if high_in else '<'} {high}" if high is not None else "")
                raise ValueError(Errors.E521.format(name=f"{section}.{key}", value=value, hint=hint))
    device = config["training"].get("device", "auto")
    if device not in ("auto", "cpu", "cuda", "mps") and not str(device).startswith("cuda:"):
        raise ValueError(Errors.E521.format(name="training.device", value=device, hint="use auto, cpu, cuda or mps"))


def resolve_losses(losses: Mapping[str, Mapping[str, Any]]) -> List[LossTerm]:
    """Look up each ``[losses.*]`` term in the registry and check its settings.

    RETURNS (List[LossTerm]): Terms with a non-zero weight, in config order.
    """
    names = sorted(distill_losses.get_all())
    terms = []
    for key, section in losses.items():
        section = dict(section)
        name = section.pop("loss", None)
        if name is None or name not in names:
            raise ValueError(Errors.E506.format(name=name, key=key, names=", ".join(names)))
        func = distill_losses.get(name)
        weight = float(section.pop("weight", 1.0))
        optional = bool(section.pop("optional", False))
        signature = inspect.signature(func)
        allowed = [p for p in signature.parameters if p not in _TRAINER_KWARGS][2:]
        unknown = [k for k in section if k not in allowed]
        if unknown:
            raise ValueError(
                Errors.E507.format(
                    key=key, name=name, unknown=unknown, allowed=["loss", "weight", "optional"] + allowed
                )
            )
        if weight != 0.0:
            terms.append(LossTerm(key, name, func, weight, section, optional))
    return terms


def config_differences(
    old: Mapping[str, Any], new: Mapping[str, Any], *, ignore: Sequence[str] = RESUMABLE_CHANGES, prefix: str = ""
) -> List[str]:
    """Dotted keys whose values differ between two configs, except ``ignore``."""
    keys = []
    for key in sorted(set(old) | set(new)):
        dotted = f"{prefix}{key}"
        if dotted in ignore:
            continue
        a, b = old.get(key), new.get(key)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            keys.extend(config_differences(a, b, ignore=ignore, prefix=dotted + "."))
        elif a != b:
            keys.append(dotted)
    return keys
