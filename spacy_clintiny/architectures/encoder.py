"""The shared compact encoder: a Hugging Face BERT-family model run by spacy-transformers.

We reuse spacy-transformers' ``TransformerModel`` (wordpiece alignment, mixed precision,
serialization of the Hugging Face weights into the pipeline) and add two things: model
sources are resolved offline-first (local folder, the bundled teacher, or an explicit hub id),
and long notes are covered by overlapping strided windows by default, so no token is left
unencoded and the end of a long note is encoded with the same context size as its start.
"""

import warnings
from typing import Any, Dict, Optional

from spacy.util import SimpleFrozenDict
from spacy_transformers.architectures import TransformerModel
from spacy_transformers.span_getters import configure_strided_spans
from thinc.api import Model

from ..errors import Warnings
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
