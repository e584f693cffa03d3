"""Inference paths for the shared encoder: torch dynamic int8 and ONNX Runtime (fp32 or int8),
chosen by ``spacy-clintiny.Encoder.v2``'s ``backend`` and ``quantize`` or written by
``clintiny optimize`` (see docs/speed.md)."""

from .backends import BACKENDS, QUANTIZE, OnnxEncoder, export_onnx, quantize_onnx_int8, quantize_torch_int8

__all__ = ["BACKENDS", "QUANTIZE", "OnnxEncoder", "export_onnx", "quantize_onnx_int8", "quantize_torch_int8"]
