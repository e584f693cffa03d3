"""The shared compact encoder: a Hugging Face BERT-family model run by spacy-transformers.

We reuse spacy-transformers' ``TransformerModel`` (wordpiece alignment, mixed precision,
serialization of the Hugging Face weights into the pipeline) and add two things: model
sources are resolved offline-first (local folder, the bundled teacher, or an explicit hub id),
and long notes are covered by overlapping strided windows by default, so no token is left
unencoded and the end of a long note is encoded with the same context size as its start.
"""

import warnings
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy
import torch
from spacy.tokens import Doc
from spacy.util import SimpleFrozenDict
from spacy_transformers.align import get_alignment, get_alignment_via_offset_mapping
from spacy_transformers.architectures import TransformerModel
from spacy_transformers.data_classes import FullTransformerBatch, WordpieceBatch
from spacy_transformers.layers.transformer_model import huggingface_tokenize, set_pytorch_transformer
from spacy_transformers.span_getters import configure_strided_spans
from spacy_transformers.truncate import truncate_oversize_splits
from thinc.api import Model
from transformers.modeling_outputs import BaseModelOutput

from ..errors import Errors, Warnings
from ..models import resolve_model_source
from ..registry import registry


@registry.architectures("spacy-clintiny.Encoder.v1")
def build_encoder_v1(
    name: str,
    *,
    window: int = 128,
    stride: int = 96,
    tokenizer_config: Optional[Dict[str, Any]] = None,
    transformer_config: Dict[str, Any] = SimpleFrozenDict(),
    mixed_precision: bool = False,
    grad_scaler_config: Dict[str, Any] = SimpleFrozenDict(),
) -> Model:
    """Build the shared encoder.

    name (str): Local Hugging Face folder, 'default' (bundled all-MiniLM-L6-v2) or a hub id.
    window (int): Window length in spaCy tokens.
    stride (int): Step between windows; ``stride < window`` gives overlap so every token
        has left and right context. Overlapping wordpieces are averaged per token.
    RETURNS (Model[List[Doc], FullTransformerBatch]): The encoder.
    """
    if stride > window:
        warnings.warn(Warnings.W001.format(window=window, stride=stride), stacklevel=2)
    get_spans = configure_strided_spans(window=window, stride=stride)
    model = TransformerModel(
        name,
        get_spans=get_spans,
        tokenizer_config=dict(tokenizer_config) if tokenizer_config is not None else {"use_fast": True},
        transformer_config=dict(transformer_config),
        mixed_precision=mixed_precision,
        grad_scaler_config=dict(grad_scaler_config),
    )
    # Resolve the source only when weights are actually loaded from it (initialize). A saved
    # pipeline carries its weights, so spacy.load never needs the original folder to exist.
    load_weights = model.init

    def init(model: Model, X: Any = None, Y: Any = None) -> None:
        if not model.attrs["has_transformer"]:
            model.attrs["name"] = resolve_model_source(name)
        return load_weights(model, X, Y)

    model.init = init
    return model


# least fraction of an encoder call's padded wordpieces that are real (not padding)
MIN_FILL = 0.9


@registry.architectures("spacy-clintiny.Encoder.v2")
def build_encoder_v2(
    name: str,
    *,
    window: int = 128,
    stride: int = 96,
    backend: str = "torch",
    quantize: Optional[str] = None,
    batch_wordpieces: int = 4096,
    tokenizer_config: Optional[Dict[str, Any]] = None,
    transformer_config: Dict[str, Any] = SimpleFrozenDict(),
    mixed_precision: bool = False,
    grad_scaler_config: Dict[str, Any] = SimpleFrozenDict(),
) -> Model:
    """Build the shared encoder with a choice of inference runtime. Same weights, windows,
    alignment and output as v1; at inference the windows of a batch are sorted by wordpiece
    length and encoded in groups padded only to their own longest window.

    name (str): Local Hugging Face folder, 'default' (bundled all-MiniLM-L6-v2) or a hub id.
    window (int): Window length in spaCy tokens.
    stride (int): Step between windows (``stride < window`` gives overlap).
    backend (str): "torch" (Hugging Face model) or "onnx" (ONNX Runtime, needs
        ``pip install spacy_clintiny[onnx]``).
    quantize (Optional[str]): None (fp32) or "int8" (dynamic int8: torch quantizes the Linear
        layers at load; ONNX Runtime stores an int8 model). int8 and ONNX are inference paths:
        training through them raises E823.
    batch_wordpieces (int): Most padded wordpieces (windows x longest window) per encoder call.
    RETURNS (Model[List[Doc], FullTransformerBatch]): The encoder.
    """
    from ..optimize.shim import InferenceShim

    model = build_encoder_v1(
        name,
        window=window,
        stride=stride,
        tokenizer_config=tokenizer_config,
        transformer_config=transformer_config,
        mixed_precision=mixed_precision,
        grad_scaler_config=grad_scaler_config,
    )
    wrapper = model.layers[0]
    wrapper.shims[0] = InferenceShim(
        wrapper.shims[0]._hfmodel,
        backend=backend,
        quantize=quantize,
        mixed_precision=mixed_precision,
        grad_scaler_config=dict(grad_scaler_config),
    )

    def set_transformer(model: Model, hf_model: Any) -> None:
        set_pytorch_transformer(model, hf_model)
        model.layers[0].shims[0].prepare()

    model.attrs["set_transformer"] = set_transformer
    model.attrs["batch_wordpieces"] = batch_wordpieces
    model._func = _forward_by_length
    return model


def check_trainable(model: Model, name: str) -> None:
    """Raise E823 if ``model`` is an encoder with an inference-only runtime (int8 or ONNX).

    model (Model): The encoder component's model.
    name (str): The component's name, for the message.
    """
    for node in model.walk():
        for shim in node.shims:
            if getattr(shim, "inference_only", False):
                raise ValueError(Errors.E823.format(name=name, backend=shim.backend, quantize=shim.quantize))


def _forward_by_length(
    model: TransformerModel, docs: List[Doc], is_train: bool
) -> Tuple[FullTransformerBatch, Callable]:
    """spacy-transformers' forward (tokenize the windows, align, run the model), with the
    windows encoded in length-sorted groups at inference."""
    tokenizer = model.tokenizer
    nested_spans = model.attrs["get_spans"](docs)
    flat_spans = [span for doc_spans in nested_spans for span in doc_spans]
    batch_encoding = huggingface_tokenize(tokenizer, [span.text for span in flat_spans])
    wordpieces = WordpieceBatch.from_batch_encoding(batch_encoding)
    if "offset_mapping" in batch_encoding:
        align = get_alignment_via_offset_mapping(flat_spans, batch_encoding["offset_mapping"])
    else:
        align = get_alignment(flat_spans, wordpieces.strings, tokenizer.all_special_tokens)
    wordpieces, align = truncate_oversize_splits(wordpieces, align, tokenizer.model_max_length)
    if is_train:
        check_trainable(model, "clintiny_encoder")
        model_output, backprop_tensors = model.layers[0](wordpieces, is_train)
    else:
        parts = _doc_rows(nested_spans) if _quantized(model) else None
        model_output = predict_by_length(
            model.layers[0], wordpieces, budget=int(model.attrs["batch_wordpieces"]), parts=parts
        )
        backprop_tensors = None
    output = FullTransformerBatch(spans=nested_spans, wordpieces=wordpieces, model_output=model_output, align=align)

    def backprop(d_output: FullTransformerBatch) -> List[Doc]:
        backprop_tensors(d_output.model_output)
        return docs

    return output, backprop


def _quantized(model: TransformerModel) -> bool:
    return getattr(model.layers[0].shims[0], "quantize", None) is not None


def _doc_rows(nested_spans: List[List[Any]]) -> List[numpy.ndarray]:
    """The window rows of each doc, for a dynamically quantized encoder (int8, torch or ONNX): it
    scales its activations per call, over every window in it and their padding, so a note's
    output would depend on the notes batched with it (a name found alone, missed in a batch of
    eight). Calls that hold the windows of one doc only make a doc's output depend on itself
    alone. Against groups across notes, on 500 PhysioNet notes (``bench/int8_batching.py``, a
    shared 2-core machine): 0.94x the speed for a note a call, 0.87x-1.15x in three runs for a
    window a call; the run-to-run noise is of that size."""
    bounds = numpy.cumsum([0] + [len(doc_spans) for doc_spans in nested_spans])
    return [numpy.arange(start, end) for start, end in zip(bounds[:-1], bounds[1:])]


def length_groups(lengths: numpy.ndarray, budget: int, *, min_fill: float = MIN_FILL) -> List[numpy.ndarray]:
    """Split window indices, sorted by length, into groups whose padded size
    (windows x longest window) stays within ``budget`` and whose real wordpieces fill at
    least ``min_fill`` of it (a window longer than the budget goes alone).

    lengths (numpy.ndarray): (n_windows,) wordpieces per window, padding excluded.
    budget (int): Most padded wordpieces per group.
    min_fill (float): Least fraction of a group's padded size that is real wordpieces.
    RETURNS (List[numpy.ndarray]): Index arrays, shortest windows first.
    """
    order = numpy.argsort(lengths, kind="stable")
    groups, start = [], 0
    while start < len(order):
        end, total = start + 1, int(lengths[order[start]])
        while end < len(order):
            longest, count = int(lengths[order[end]]), end - start + 1
            if longest * count > budget or total + longest < min_fill * longest * count:
                break
            total += longest
            end += 1
        groups.append(order[start:end])
        start = end
    return groups


def predict_by_length(
    wrapper: Model, wordpieces: WordpieceBatch, *, budget: int, parts: Optional[List[numpy.ndarray]] = None
) -> BaseModelOutput:
    """Encode the windows in length-sorted groups, each padded to its own longest window,
    and put the outputs back in the batch's order and padded shape.

    wrapper (Model): spacy-transformers' HFWrapper layer.
    wordpieces (WordpieceBatch): (n_windows, seq) padded wordpieces of the batch.
    budget (int): Most padded wordpieces per encoder call.
    parts (Optional[List[numpy.ndarray]]): Rows that may share a call (``_doc_rows``: one doc's
        windows), each split in ``length_groups`` of its own; None: the whole batch may.
    RETURNS (BaseModelOutput): ``last_hidden_state`` (n_windows, seq, width); padding rows are 0.
    """
    lengths = numpy.asarray(wordpieces.attention_mask).sum(axis=1).astype("int64")
    n_windows, seq_len = wordpieces.input_ids.shape
    hidden = None
    parts = [numpy.arange(n_windows)] if parts is None else parts
    groups = (rows[part] for rows in parts for part in length_groups(lengths[rows], budget))
    for idx in groups:
        longest = max(int(lengths[idx[-1]]), 1)
        group = WordpieceBatch(
            strings=[wordpieces.strings[i] for i in idx],
            input_ids=wordpieces.input_ids[idx, :longest],
            attention_mask=wordpieces.attention_mask[idx, :longest],
            lengths=[int(lengths[i]) for i in idx],
            token_type_ids=None if wordpieces.token_type_ids is None else wordpieces.token_type_ids[idx, :longest],
        )
        output, _ = wrapper(group, False)
        state = output.last_hidden_state  # (len(idx), longest, width)
        if hidden is None:
            hidden = torch.zeros((n_windows, seq_len, state.shape[-1]), dtype=state.dtype)
        hidden[torch.from_numpy(idx), :longest] = state
    return BaseModelOutput(last_hidden_state=hidden)
