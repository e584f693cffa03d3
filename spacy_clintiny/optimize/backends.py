"""Inference runtimes for the shared encoder: torch dynamic int8 and ONNX Runtime (fp32 or int8).

Each runtime is a ``torch.nn.Module`` whose forward takes the Hugging Face inputs
(``input_ids``, ``attention_mask``, ``token_type_ids``) and returns an object with
``last_hidden_state`` like Hugging Face's output, so spacy-transformers' wordpiece alignment,
windows and listeners run unchanged on top of it. onnxruntime and onnx are imported only when
an ONNX runtime is built (``pip install spacy_clintiny[onnx]``).
"""

import copy
import io
import math
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import torch
from transformers.modeling_outputs import BaseModelOutput

from ..errors import Errors

BACKENDS = ("torch", "onnx")
QUANTIZE = (None, "int8")
ONNX_OPSET = 17
ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def check_backend(backend: str, quantize: Optional[str]) -> None:
    """Raise E820/E821 for a backend or quantization that does not exist."""
    if backend not in BACKENDS:
        raise ValueError(Errors.E820.format(value=backend, options=", ".join(BACKENDS)))
    if quantize not in QUANTIZE:
        raise ValueError(Errors.E821.format(value=quantize, options="null, int8"))


def quantize_torch_int8(model: torch.nn.Module) -> torch.nn.Module:
    """An int8 copy of ``model``: every ``nn.Linear`` replaced by a dynamically quantized one
    (int8 weights with one scale per output channel, activations quantized per batch).
    Deterministic, so quantizing the fp32 weights at load always gives the same model. The copy
    shares the fp32 model's other parameters (embeddings, layer norms), so it adds only the int8
    Linear weights in memory.

    model (torch.nn.Module): The fp32 Hugging Face encoder (left unchanged).
    RETURNS (torch.nn.Module): The quantized encoder, in eval mode.
    """
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    shared = {id(tensor): tensor for tensor in list(model.parameters()) + list(model.buffers())}
    qmodel = copy.deepcopy(model, memo=shared)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao deprecation notices: the API is what 2.x ships
        quantize_dynamic(qmodel, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8, inplace=True)
    return qmodel.eval()


# ONNX Runtime sessions a forked process inherited from its parent: kept alive in the child
# (copy-on-write memory, no threads), since destroying them there waits on the parent's threads.
_INHERITED_SESSIONS: List[Any] = []


class _LastHiddenState(torch.nn.Module):
    """The encoder's forward with the graph's inputs as positional arguments, returning
    only ``last_hidden_state`` (the pooler output is not used by any head)."""

    def __init__(self, model: torch.nn.Module, input_names: Tuple[str, ...]) -> None:
        super().__init__()
        self.model = model
        self.input_names = input_names

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.model(**dict(zip(self.input_names, inputs))).last_hidden_state


def export_onnx(model: torch.nn.Module, *, int8: bool = False) -> bytes:
    """Export a Hugging Face encoder to ONNX with dynamic batch and sequence axes.

    model (torch.nn.Module): The fp32 encoder (put back in eval mode afterwards).
    int8 (bool): Quantize the MatMul and embedding weights to int8 with ONNX Runtime's
        dynamic quantization.
    RETURNS (bytes): The serialized ONNX model.
    """
    _require_onnxruntime()
    accepted = _forward_arguments(model)
    names = tuple(name for name in ONNX_INPUTS if name in accepted)
    # a sample with padding, so the traced graph applies the attention mask
    input_ids = torch.full((2, 8), 5, dtype=torch.long)
    mask = torch.ones_like(input_ids)
    mask[1, 5:] = 0
    sample = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(input_ids)}
    axes = {name: {0: "batch", 1: "sequence"} for name in names + ("last_hidden_state",)}
    buffer = io.BytesIO()
    model.eval()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notices
            torch.onnx.export(
                _LastHiddenState(model, names).eval(),
                tuple(sample[name] for name in names),
                buffer,
                input_names=list(names),
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=ONNX_OPSET,
                do_constant_folding=True,
                dynamo=False,
            )
    except Exception as err:  # the exporter raises many types; name the model and the cause
        model_type = getattr(getattr(model, "config", None), "model_type", type(model).__name__)
        raise ValueError(Errors.E831.format(model_type=model_type, error=f"{type(err).__name__}: {err}")) from err
    finally:
        model.eval()  # export restores the wrapper's training flag on every submodule
    data = buffer.getvalue()
    return quantize_onnx_int8(data) if int8 else data


def quantize_onnx_int8(data: bytes, *, nodes_to_exclude: Optional[List[str]] = None) -> bytes:
    """ONNX Runtime dynamic int8 quantization of an ONNX model: int8 weights with one scale per
    output channel (per tensor doubles the encoder's output error on clinical notes, at the same
    speed), uint8 activations quantized per call.

    data (bytes): An fp32 ONNX model.
    nodes_to_exclude (Optional[List[str]]): Graph nodes left in fp32 (bench/int8_partial.py).
    RETURNS (bytes): The quantized model.
    """
    import logging

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # "consider pre-processing" advice printed through the root logger
    try:
        with tempfile.TemporaryDirectory() as tmp:
            src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
            src.write_bytes(data)
            quantize_dynamic(
                src,
                dst,
                weight_type=QuantType.QInt8,
                per_channel=True,
                nodes_to_exclude=nodes_to_exclude,
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            )
            return dst.read_bytes()
    finally:
        root.setLevel(level)


class OnnxEncoder(torch.nn.Module):
    """An ONNX Runtime session in the place of the Hugging Face encoder.

    The session runs sequentially with as many intra-op threads as torch is set to use
    (``torch.set_num_threads``); it is rebuilt when that setting or the process changes (a
    forked ``nlp.pipe(n_process=...)`` worker gets its own session).
    """

    def __init__(self, data: bytes, config: Any) -> None:
        """data (bytes): The ONNX model. config (PretrainedConfig): The encoder's config."""
        super().__init__()
        _require_onnxruntime()
        self.onnx_bytes = data
        self.config = config
        self._sessions: Dict[Tuple[int, int], Any] = {}
        self._input_names: List[str] = []

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    @property
    def session(self) -> Any:
        """The ``onnxruntime.InferenceSession`` for this process and thread setting (kept for
        each setting used: the encoder's ``overlap`` pipe runs with half the threads)."""
        key = (os.getpid(), torch.get_num_threads())
        session = self._sessions.get(key)
        if session is None:
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = key[1]
            options.inter_op_num_threads = 1
            options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
            options.log_severity_level = 3
            # idle threads sleep instead of spinning: between encoder calls the CPU goes to the
            # heads and rules (the encoder's ``overlap`` thread runs them side by side)
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            session = onnxruntime.InferenceSession(self.onnx_bytes, options, providers=["CPUExecutionProvider"])
            # a forked process's sessions belong to its parent. They are set aside, never freed:
            # freeing one joins its thread pool's threads, which do not exist in the child, and
            # the worker hung for good (nlp.pipe(n_process=2) after the parent had run nlp(text))
            _INHERITED_SESSIONS.extend(v for k, v in self._sessions.items() if k[0] != key[0])
            self._sessions = {k: v for k, v in self._sessions.items() if k[0] == key[0]}
            self._sessions[key] = session
            self._input_names = [node.name for node in session.get_inputs()]
        return session

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: Optional[torch.Tensor] = None,
        **kwargs: Any,
    ) -> BaseModelOutput:
        """Run the session.

        input_ids (torch.Tensor): (batch, seq) wordpiece ids.
        attention_mask (torch.Tensor): (batch, seq) 1 for wordpieces, 0 for padding.
        token_type_ids (Optional[torch.Tensor]): (batch, seq) segment ids, if the model has them.
        RETURNS (BaseModelOutput): ``last_hidden_state`` (batch, seq, width).
        """
        session = self.session
        given = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
        feed = {}
        for name in self._input_names:
            value = given.get(name)
            if value is None:
                value = torch.zeros_like(input_ids)
            feed[name] = value.detach().cpu().numpy().astype("int64", copy=False)
        (hidden,) = session.run(["last_hidden_state"], feed)
        return BaseModelOutput(last_hidden_state=torch.from_numpy(hidden))

    def weight_count(self) -> int:
        """Elements of the graph's weight tensors (float or int8 initializers, without the
        quantization scales and zero points): the encoder's parameter count, as torch's
        ``sum(p.numel() for p in model.parameters())`` gives it for the fp32 model."""
        import onnx

        kinds = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.INT8, onnx.TensorProto.UINT8}
        graph = onnx.load_from_string(self.onnx_bytes).graph
        total = 0
        for tensor in graph.initializer:
            if tensor.data_type in kinds and not tensor.name.endswith(("_scale", "_zero_point")):
                total += math.prod(tensor.dims)
        return total

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_sessions"] = {}  # sessions cannot be pickled; rebuilt on first use
        return state


def _forward_arguments(model: torch.nn.Module) -> List[str]:
    import inspect

    return list(inspect.signature(model.forward).parameters)


def _require_onnxruntime() -> None:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as err:
        raise ImportError(Errors.E822.format(error=err)) from None
