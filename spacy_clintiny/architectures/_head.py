"""What the text and relation heads share: features from token vectors → optional ReLU
hidden layer → linear logits, and the token-vector width read from the first batch."""

from typing import List, Optional

from spacy.tokens import Doc
from thinc.api import Linear, Model, Relu, chain
from thinc.types import Floats2d

from ..errors import Errors
from ._ops import with_blas_gemm


def classifier_head(
    tok2vec: Model[List[Doc], List[Floats2d]],
    features: Model,
    *,
    features_ref: str,
    hidden_width: Optional[int],
    dropout: float,
    nO: Optional[int],
) -> Model:
    """Chain ``features`` (which runs ``tok2vec``) to an optional hidden layer and the
    output layer, with refs "tok2vec", ``features_ref`` and "output_layer".

    tok2vec (Model[List[Doc], List[Floats2d]]): Token vectors (a layer of ``features``).
    features (Model): Feature rows from the head's input.
    features_ref (str): Name of the ref to ``features``.
    hidden_width (Optional[int]): Width of a ReLU hidden layer; null or 0 for none.
    dropout (float): Dropout on the hidden layer.
    nO (Optional[int]): Number of labels.
    RETURNS (Model): Logits, one row per feature row.
    """
    output_layer = Linear(nO=nO)
    if hidden_width:
        model = chain(features, Relu(nO=hidden_width, dropout=dropout), output_layer)
    else:
        model = chain(features, output_layer)
    model.set_ref("tok2vec", tok2vec)
    model.set_ref(features_ref, features)
    model.set_ref("output_layer", output_layer)
    return with_blas_gemm(model)


def init_token_width(model: Model, docs: List[Doc]) -> None:
    """Initialize ``model.layers[0]`` (the tok2vec) on ``docs`` and, unless set, set the
    model's "nI" to the width of its token vectors (error E213 when all docs are empty)."""
    tok2vec = model.layers[0]
    tok2vec.initialize(X=docs)
    if not model.has_dim("nI"):
        widths = [int(V.shape[1]) for V in tok2vec.predict(docs) if V.shape[0]]
        if not widths:
            raise ValueError(Errors.E213)
        model.set_dim("nI", widths[0])
