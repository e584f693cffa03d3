"""Write an optimized copy of a trained pipeline: its ``clintiny_encoder`` components switched to
``spacy-clintiny.Encoder.v2`` with an int8 and/or ONNX Runtime runtime, everything else as is."""

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional

from ..errors import Errors

ENCODER_FACTORY = "clintiny_encoder"
ARCH_V1 = "spacy-clintiny.Encoder.v1"
ARCH_V2 = "spacy-clintiny.Encoder.v2"
ONNX_REQUIREMENT = "onnxruntime>=1.17"


def encoder_overrides(config: Dict[str, Any], *, path: Path, int8: bool, onnx: bool) -> Dict[str, Any]:
    """The dotted config overrides that put every clintiny encoder of ``config`` on the
    chosen runtime.

    config (Dict[str, Any]): The pipeline's config (not interpolated).
    path (Path): The pipeline folder, for messages.
    int8 (bool): Quantize to int8.
    onnx (bool): Run the encoder with ONNX Runtime.
    RETURNS (Dict[str, Any]): ``{"components.<name>.model.backend": ..., ...}``.
    """
    if not int8 and not onnx:
        raise ValueError(Errors.E828)
    components = config.get("components", {})
    names = [name for name, block in components.items() if block.get("factory") == ENCODER_FACTORY]
    if not names:
        factories = {name: block.get("factory", block.get("source")) for name, block in components.items()}
        raise ValueError(Errors.E827.format(path=path, factories=factories))
    overrides: Dict[str, Any] = {}
    for name in names:
        prefix = f"components.{name}.model"
        overrides[f"{prefix}.@architectures"] = ARCH_V2
        overrides[f"{prefix}.backend"] = "onnx" if onnx else "torch"
        overrides[f"{prefix}.quantize"] = "int8" if int8 else None
    return overrides


def check_paths(input_path: Path, output_path: Path, *, force: bool = False) -> None:
    """Raise E825/E826/E829 for a missing input, an output inside the input or the input
    inside the output, or an existing non-empty output without ``force``."""
    if not input_path.is_dir():
        raise ValueError(Errors.E825.format(path=input_path, problem="no such folder"))
    if not (input_path / "config.cfg").is_file():
        raise ValueError(Errors.E825.format(path=input_path, problem="no config.cfg"))
    src, dst = input_path.resolve(), output_path.resolve()
    if dst == src:
        raise ValueError(Errors.E826.format(output=output_path, problem="is the", path=input_path))
    if src in dst.parents:
        raise ValueError(Errors.E826.format(output=output_path, problem="lies inside the", path=input_path))
    if dst in src.parents:
        raise ValueError(Errors.E826.format(output=output_path, problem="contains the", path=input_path))
    if output_path.exists() and (not output_path.is_dir() or any(output_path.iterdir())) and not force:
        raise ValueError(Errors.E829.format(output=output_path))


def optimize_pipeline(
    input_path: Path,
    output_path: Path,
    *,
    int8: bool = False,
    onnx: bool = False,
    force: bool = False,
) -> List[str]:
    """Load ``input_path``, switch its clintiny encoders to int8 and/or ONNX Runtime and save
    the result to ``output_path`` (a folder that ``spacy.load`` and ``spacy package`` take like
    any other; ONNX pipelines list onnxruntime in meta.json's requirements).

    input_path (Path): A trained fp32 pipeline folder.
    output_path (Path): Where the optimized pipeline goes (outside the input).
    int8 (bool): Dynamic int8 quantization.
    onnx (bool): ONNX Runtime encoder (with ``int8``: ONNX Runtime int8).
    force (bool): Replace a non-empty ``output_path``.
    RETURNS (List[str]): The optimized encoder components.
    """
    import spacy
    from spacy.util import load_config

    input_path, output_path = Path(input_path), Path(output_path)
    check_paths(input_path, output_path, force=force)
    config = load_config(input_path / "config.cfg", interpolate=False)
    overrides = encoder_overrides(config, path=input_path, int8=int8, onnx=onnx)
    names = sorted({key.split(".")[1] for key in overrides})
    for name in names:
        model_cfg = config["components"][name]["model"]
        if model_cfg.get("@architectures") == ARCH_V2 and model_cfg.get("backend") == "onnx":
            raise ValueError(Errors.E830.format(name=name, path=input_path))
    nlp = spacy.load(input_path, config=overrides)
    if onnx:
        requirements: List[str] = list(nlp.meta.get("requirements", []))
        if not any(req.split(">")[0].split("=")[0].strip() == "onnxruntime" for req in requirements):
            requirements.append(ONNX_REQUIREMENT)
        nlp.meta["requirements"] = requirements
    write_pipeline_atomic(nlp, output_path)
    return names


def write_pipeline_atomic(nlp: Any, output_path: Path) -> None:
    """``nlp.to_disk`` into a temporary sibling folder renamed onto ``output_path`` when
    complete, so an interrupted run never leaves a half-written pipeline (an existing
    ``output_path`` is replaced)."""
    output_path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output_path.name}.", dir=output_path.parent))
    try:
        os.chmod(staging, 0o755)
        nlp.to_disk(staging)
        replace_folder(staging, output_path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def replace_folder(staging: Path, output_path: Path) -> None:
    """Rename the finished folder ``staging`` (a sibling of ``output_path``) onto
    ``output_path``, replacing what is there."""
    if output_path.is_dir():
        shutil.rmtree(output_path)
    elif output_path.exists():
        output_path.unlink()
    staging.rename(output_path)


def describe(path: Path) -> Optional[str]:
    """The encoder runtime a pipeline folder's config asks for ("torch fp32", "onnx int8", ...),
    or None when it has no clintiny encoder."""
    from spacy.util import load_config

    config = load_config(Path(path) / "config.cfg", interpolate=False)
    for block in config.get("components", {}).values():
        if block.get("factory") == ENCODER_FACTORY:
            model = block.get("model", {})
            backend = model.get("backend", "torch")
            return f"{backend} {model.get('quantize') or 'fp32'}"
    return None
