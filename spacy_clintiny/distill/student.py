"""``init-student``: build a compact student from a teacher's config.

* Depth: the student keeps ``layers`` transformer layers; the layer map (computed from the
  two layer counts, see :mod:`.layer_map`) says which teacher layer each one follows.
* Width: a student of the teacher's width is initialised from the teacher (embeddings,
  mapped layers and, when the teacher has one, the MLM head: DistilBERT-style). A narrower
  student is initialised at random (TinyBERT-style) and gets learned projections from its
  width to the teacher's, one per matched hidden state, stored in
  ``clintiny_projections.safetensors`` for the losses that compare hidden states.
* The tokenizer and vocabulary are the teacher's.

The student folder is a Hugging Face folder with an MLM head (``AutoModel`` loads its
encoder) plus ``clintiny_student.json``: the teacher, the layer map and how it was built.
"""

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

import torch

from ..errors import Errors
from ..fileio import atomic_path, write_json_atomic
from ..models import resolve_model_source
from .layer_map import hidden_state_pairs, resolve_layer_map
from .runs import prepare_output_dir

STUDENT_META = "clintiny_student.json"
PROJECTIONS_FILE = "clintiny_projections.safetensors"
_LAYER_KEY = re.compile(r"^(.*\.layers?\.)(\d+)(\..*)$")
_INTERMEDIATE_KEYS = ("intermediate_size", "hidden_dim", "ffn_dim")


@dataclass(frozen=True)
class StudentShape:
    """Size of a student. ``heads``/``intermediate`` None: the teacher's when the width is
    the teacher's, else ``hidden // 64`` heads (at least 1) and ``4 * hidden``."""

    layers: int
    hidden: Optional[int] = None
    heads: Optional[int] = None
    intermediate: Optional[int] = None


PRESETS: Dict[str, StudentShape] = {
    # the seed study's students of a base-size (12 x 768) teacher
    "distil": StudentShape(layers=6, hidden=768),
    "tiny": StudentShape(layers=4, hidden=312, heads=12, intermediate=1200),
    # sizes that suit the default teacher (all-MiniLM-L6-v2, 6 x 384, 12 heads)
    "l4-384": StudentShape(layers=4, hidden=384),
    "l2-384": StudentShape(layers=2, hidden=384),
    "l4-256": StudentShape(layers=4, hidden=256, heads=8, intermediate=1024),
}


def count_parameters(model: torch.nn.Module) -> int:
    """Number of distinct parameters (tied weights counted once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


def megabytes(n_parameters: int, *, bytes_per_parameter: int = 4) -> float:
    """Size in MB (10^6 bytes) of ``n_parameters`` float32 weights."""
    return n_parameters * bytes_per_parameter / 1e6


def resolve_shape(
    preset: Optional[str],
    *,
    layers: Optional[int],
    hidden: Optional[int],
    heads: Optional[int],
    intermediate: Optional[int],
) -> StudentShape:
    """A preset, with any explicitly given size overriding it."""
    sizes = (("--layers", layers), ("--hidden", hidden), ("--heads", heads), ("--intermediate", intermediate))
    for name, value in sizes:
        if value is not None and value < 1:
            raise ValueError(Errors.E521.format(name=name, value=value, hint="use a positive integer"))
    if preset is not None:
        if preset not in PRESETS:
            raise ValueError(Errors.E503.format(name=preset, names=", ".join(PRESETS)))
        base = PRESETS[preset]
    else:
        if layers is None:
            raise ValueError(Errors.E521.format(name="layers", value=None, hint="pass --preset or --layers"))
        base = StudentShape(layers=layers)
    return StudentShape(
        layers=layers if layers is not None else base.layers,
        hidden=hidden if hidden is not None else base.hidden,
        heads=heads if heads is not None else base.heads,
        intermediate=intermediate if intermediate is not None else base.intermediate,
    )


def student_config(teacher_config: Any, shape: StudentShape, *, attention_dropout: Optional[float] = None) -> Any:
    """The teacher's config with the student's depth and width."""
    config = copy.deepcopy(teacher_config)
    t_hidden = teacher_config.hidden_size
    hidden = shape.hidden or t_hidden
    if hidden > t_hidden:
        fitting = [
            n
            for n, s in PRESETS.items()
            if (s.hidden or t_hidden) <= t_hidden and s.layers <= teacher_config.num_hidden_layers
        ]
        raise ValueError(Errors.E504.format(hidden=hidden, teacher_hidden=t_hidden, suggest=", ".join(fitting)))
    if shape.layers < 1 or shape.layers > teacher_config.num_hidden_layers:
        raise ValueError(Errors.E502.format(n_student=shape.layers, n_teacher=teacher_config.num_hidden_layers))
    same_width = hidden == t_hidden
    heads = shape.heads or (teacher_config.num_attention_heads if same_width else max(1, hidden // 64))
    if hidden % heads:
        raise ValueError(Errors.E505.format(hidden=hidden, heads=heads))
    config.num_hidden_layers = shape.layers
    config.hidden_size = hidden
    config.num_attention_heads = heads
    for key in _INTERMEDIATE_KEYS:
        if hasattr(config, key):
            teacher_value = getattr(teacher_config, key)
            setattr(config, key, shape.intermediate or (teacher_value if same_width else 4 * hidden))
            break
    if attention_dropout is not None and not 0.0 <= attention_dropout < 1.0:
        raise ValueError(Errors.E521.format(name="--attention-dropout", value=attention_dropout, hint="use 0 <= p < 1"))
    if attention_dropout is not None and hasattr(config, "attention_probs_dropout_prob"):
        config.attention_probs_dropout_prob = attention_dropout
    return config


def copy_teacher_weights(
    student: torch.nn.Module, teacher_state: Dict[str, torch.Tensor], layer_map: List[int]
) -> List[str]:
    """Copy teacher tensors into the student: layer ``j`` from teacher layer
    ``layer_map[j]``, everything else (embeddings, MLM head) by name, when shapes match.

    RETURNS (List[str]): Student parameter names that were NOT copied.
    """
    state = student.state_dict()
    not_copied = []
    with torch.no_grad():
        for name, tensor in state.items():
            source = name
            match = _LAYER_KEY.match(name)
            if match:
                source = f"{match.group(1)}{layer_map[int(match.group(2))]}{match.group(3)}"
            value = teacher_state.get(source)
            if value is not None and value.shape == tensor.shape:
                tensor.copy_(value)
            else:
                not_copied.append(name)
    return not_copied


def make_projections(
    student_hidden: int, teacher_hidden: int, n_student_layers: int, *, seed: int
) -> torch.nn.ModuleDict:
    """One ``Linear(student_hidden -> teacher_hidden)`` per student hidden state
    (embeddings and each layer), keyed by the hidden-state index as a string."""
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    projections = torch.nn.ModuleDict(
        {
            str(s_index): torch.nn.Linear(student_hidden, teacher_hidden)
            for s_index, _ in hidden_state_pairs(list(range(n_student_layers)))
        }
    )
    torch.random.set_rng_state(generator_state)
    return projections


def save_projections(projections: torch.nn.ModuleDict, path: Path) -> None:
    from safetensors.torch import save_file

    with atomic_path(path) as tmp:
        save_file({k: v.detach().contiguous().cpu() for k, v in projections.state_dict().items()}, str(tmp))


def load_projections(
    folder: Path, student_hidden: int, teacher_hidden: int, n_student_layers: int, *, seed: int
) -> torch.nn.ModuleDict:
    """The student's projections from ``folder``, or new ones (seeded) if it has none."""
    projections = make_projections(student_hidden, teacher_hidden, n_student_layers, seed=seed)
    path = Path(folder) / PROJECTIONS_FILE
    if path.exists():
        from safetensors.torch import load_file

        projections.load_state_dict(load_file(str(path)))
    return projections


def read_student_meta(folder: Path) -> Dict[str, Any]:
    """``clintiny_student.json`` of a student folder, or {} if it has none."""
    path = Path(folder) / STUDENT_META
    return json.loads(path.read_text(encoding="utf8")) if path.exists() else {}


def init_student(
    teacher: str,
    output: Path,
    *,
    preset: Optional[str] = None,
    layers: Optional[int] = None,
    hidden: Optional[int] = None,
    heads: Optional[int] = None,
    intermediate: Optional[int] = None,
    layer_map: Optional[str] = None,
    attention_dropout: Optional[float] = None,
    seed: int = 0,
    force: bool = False,
) -> Dict[str, Any]:
    """Build a student from ``teacher`` and save it to ``output``.

    teacher (str): Local folder, 'default' or a hub id.
    output (Path): New Hugging Face folder for the student.
    preset (Optional[str]): One of :data:`PRESETS`; sizes given explicitly override it.
    layer_map (Optional[str]): e.g. "0,2,4"; default uniform (see :mod:`.layer_map`).
    attention_dropout (Optional[float]): Student attention dropout (None: the teacher's;
        distillation sets it to 0 while attention losses are on).
    RETURNS (Dict[str, Any]): What was built: sizes, layer map, parameters and MB.
    """
    from transformers import AutoConfig, AutoModelForMaskedLM, AutoTokenizer

    from .mlm import load_mlm_model

    source = resolve_model_source(teacher)
    output = Path(output)
    prepare_output_dir(output, force=force, resume=False, inputs={"teacher": source})
    shape = resolve_shape(preset, layers=layers, hidden=hidden, heads=heads, intermediate=intermediate)
    t_config = AutoConfig.from_pretrained(source)
    config = student_config(t_config, shape, attention_dropout=attention_dropout)
    lmap = resolve_layer_map(layer_map, n_teacher=t_config.num_hidden_layers, n_student=config.num_hidden_layers)
    t_model, teacher_has_head = load_mlm_model(source, seed=seed)
    tokenizer = AutoTokenizer.from_pretrained(source)
    torch.manual_seed(seed)
    config.architectures = [AutoModelForMaskedLM._model_mapping[type(config)].__name__]
    student = AutoModelForMaskedLM.from_config(config)
    same_width = config.hidden_size == t_config.hidden_size
    if same_width:
        teacher_state = t_model.state_dict()
        if not teacher_has_head:
            base = {f"{t_model.base_model_prefix}.{k}" for k in t_model.base_model.state_dict()}
            teacher_state = {k: v for k, v in teacher_state.items() if k in base}
        not_copied = copy_teacher_weights(student, teacher_state, lmap)
        student.tie_weights()
        init = "teacher layers " + ",".join(map(str, lmap))
    else:
        not_copied = list(student.state_dict())
        init = "random (narrower than the teacher)"
    output.mkdir(parents=True, exist_ok=True)
    student.save_pretrained(str(output))
    tokenizer.save_pretrained(str(output))
    n_projection = 0
    if not same_width:
        projections = make_projections(config.hidden_size, t_config.hidden_size, config.num_hidden_layers, seed=seed)
        n_projection = count_parameters(projections)
        save_projections(projections, output / PROJECTIONS_FILE)
    encoder_params = count_parameters(student.base_model)
    teacher_params = count_parameters(t_model.base_model)
    info = {
        "teacher": teacher if not Path(teacher).exists() else str(Path(source)),
        "teacher_layers": t_config.num_hidden_layers,
        "teacher_hidden": t_config.hidden_size,
        "teacher_has_mlm_head": teacher_has_head,
        "preset": preset,
        "layers": config.num_hidden_layers,
        "hidden": config.hidden_size,
        "heads": config.num_attention_heads,
        "intermediate": getattr(config, "intermediate_size", None),
        "layer_map": lmap,
        "init": init,
        "tensors_not_copied": len(not_copied),
        "mlm_head_from_teacher": same_width and teacher_has_head,
        "projection_parameters": n_projection,
        "seed": seed,
        "encoder_parameters": encoder_params,
        "encoder_mb": round(megabytes(encoder_params), 2),
        "teacher_encoder_parameters": teacher_params,
        "teacher_encoder_mb": round(megabytes(teacher_params), 2),
    }
    write_json_atomic(output / STUDENT_META, info)
    return info
