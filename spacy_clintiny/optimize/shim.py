"""The thinc shim of ``spacy-clintiny.Encoder.v2``: spacy-transformers' ``HFShim`` with a
choice of inference runtime and the serialization each runtime needs.

What a pipeline folder holds (``encoder/model``, written by the component's ``to_disk``):

- backend ``torch`` (fp32 or int8): the fp32 weights, exactly as ``Encoder.v1`` writes them.
  int8 is applied at load (``quantize_torch_int8``, deterministic), so the file format stays
  spacy-transformers' own and the same folder also loads as fp32.
- backend ``onnx`` (fp32 or int8): the tokenizer, the Hugging Face config and the ONNX model
  bytes (key ``clintiny_encoder``), with no torch weights: the package is the size of the ONNX
  model (a quarter of fp32 with int8) and loading it builds no torch model.

An fp32 folder loaded with an ONNX config (what ``clintiny optimize --onnx`` does) is exported
at load and written back as ONNX by the next ``to_disk``.
"""

from typing import Any, Dict, Optional

import srsly
import torch
from spacy.util import SimpleFrozenDict
from spacy_transformers.data_classes import HFObjects
from spacy_transformers.layers.hf_shim import HFShim
from spacy_transformers.util import make_tempdir
from thinc.types import ArgsKwargs

from ..errors import Errors
from .backends import OnnxEncoder, check_backend, export_onnx, quantize_onnx_int8, quantize_torch_int8

SAVED_KEY = "clintiny_encoder"


class InferenceShim(HFShim):
    """``HFShim`` running the encoder with the chosen backend and quantization."""

    def __init__(
        self,
        hf_model: HFObjects,
        *,
        backend: str = "torch",
        quantize: Optional[str] = None,
        mixed_precision: bool = False,
        grad_scaler_config: Optional[Dict[str, Any]] = None,
    ) -> None:
        """hf_model (HFObjects): The (usually not yet loaded) Hugging Face objects.
        backend (str): "torch" or "onnx".
        quantize (Optional[str]): None (fp32) or "int8".
        """
        check_backend(backend, quantize)
        super().__init__(
            hf_model,
            mixed_precision=mixed_precision,
            grad_scaler_config=dict(grad_scaler_config or {}),
        )
        self.backend = backend
        self.quantize = quantize

    @property
    def inference_only(self) -> bool:
        """Whether the runtime is an inference path (int8 or ONNX) that cannot be trained."""
        return self.backend != "torch" or self.quantize is not None

    @property
    def description(self) -> str:
        return f"backend '{self.backend}', quantize '{self.quantize}'"

    def prepare(self) -> None:
        """Build the runtime from the fp32 Hugging Face model in ``_hfmodel.transformer``
        (no-op before the weights are loaded, and for an already built ONNX runtime)."""
        fp32 = self._hfmodel.transformer
        if fp32 is None or isinstance(fp32, OnnxEncoder):
            return
        if self.backend == "onnx":
            runtime = OnnxEncoder(export_onnx(fp32, int8=self.quantize == "int8"), fp32.config)
            self._hfmodel.transformer = runtime  # the ONNX model replaces the torch weights
        elif self.quantize == "int8":
            runtime = quantize_torch_int8(fp32)
        else:
            runtime = fp32
        self._model = runtime

    def quantize_int8(self) -> bool:
        """Switch the loaded fp32 runtime to int8 in memory, as ``clintiny optimize --int8``
        would have built it (ONNX Runtime or torch dynamic int8, deterministic); the folder on
        disk is untouched. RETURNS (bool): Whether it changed (False when already int8)."""
        if self.quantize == "int8":
            return False
        transformer = self._hfmodel.transformer
        if isinstance(transformer, OnnxEncoder):
            runtime = OnnxEncoder(quantize_onnx_int8(transformer.onnx_bytes), transformer.config)
            self._hfmodel.transformer = runtime
        elif transformer is not None:
            runtime = quantize_torch_int8(transformer)
        else:
            raise ValueError(Errors.E895.format(wanted=self.description))
        self._model = runtime
        self.quantize = "int8"
        return True

    def predict(self, inputs: ArgsKwargs) -> Any:
        """Run the runtime without gradients (and, unlike thinc's shim, without toggling
        autocast or leaving the model in train mode)."""
        if self._mixed_precision and not self.inference_only:
            return super().predict(inputs)
        self._model.eval()
        with torch.no_grad():
            return self._model(*inputs.args, **inputs.kwargs)

    def begin_update(self, inputs: ArgsKwargs) -> Any:
        if self.inference_only:
            raise ValueError(Errors.E823.format(name="clintiny_encoder", backend=self.backend, quantize=self.quantize))
        return super().begin_update(inputs)

    def to_bytes(self) -> bytes:
        transformer = self._hfmodel.transformer
        if isinstance(transformer, OnnxEncoder):
            msg = srsly.msgpack_loads(super().to_bytes())  # config and tokenizer; no torch weights
            msg["state"] = b""
            msg[SAVED_KEY] = {"backend": "onnx", "quantize": self.quantize, "onnx": transformer.onnx_bytes}
            return srsly.msgpack_dumps(msg)
        runtime = self._model
        if transformer is not None:
            self._model = transformer  # the fp32 weights go to disk; int8 is re-applied at load
        try:
            return super().to_bytes()
        finally:
            self._model = runtime

    def from_bytes(self, bytes_data: bytes) -> "InferenceShim":
        msg = srsly.msgpack_loads(bytes_data)
        saved = msg.get(SAVED_KEY)
        if saved is None:
            super().from_bytes(bytes_data)
            self.prepare()
            return self
        if self.backend != saved["backend"] or self.quantize != saved["quantize"]:
            raise ValueError(
                Errors.E824.format(
                    saved=f"backend '{saved['backend']}', quantize '{saved['quantize']}'", wanted=self.description
                )
            )
        tokenizer, vocab_file_contents = self._load_tokenizer(msg["tokenizer"])
        config = self._load_config(msg["config"])
        runtime = OnnxEncoder(saved["onnx"], config)
        self._hfmodel = HFObjects(tokenizer, runtime, vocab_file_contents, SimpleFrozenDict(), SimpleFrozenDict())
        self._model = runtime
        return self

    def _load_config(self, config_dict: Dict[str, Any]) -> Any:
        with make_tempdir() as temp_dir:
            srsly.write_json(temp_dir / "config.json", config_dict)
            return self.config_cls.from_pretrained(temp_dir / "config.json")

    def _load_tokenizer(self, tok_dict: Dict[str, Any]) -> Any:
        """The tokenizer and vocab file bytes, as ``HFShim.from_bytes`` reads them."""
        tok_dict = dict(tok_dict)
        tok_kwargs = tok_dict.pop("kwargs", {})
        with make_tempdir() as temp_dir:
            for name, data in tok_dict.items():
                (temp_dir / name).write_bytes(data)
            tokenizer = self.tokenizer_cls.from_pretrained(str(temp_dir.absolute()), **tok_kwargs)
            vocab_file_contents = None
            if hasattr(tokenizer, "vocab_file"):
                vocab_file_contents = (temp_dir / tokenizer.vocab_files_names["vocab_file"]).read_bytes()
        return tokenizer, vocab_file_contents
