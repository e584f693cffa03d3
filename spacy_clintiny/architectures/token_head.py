"""Token-classification head: per-token tag probabilities over the shared encoder's output.

The head is a small thinc model: the ``tok2vec`` sublayer (normally a
``spacy-transformers.TransformerListener.v1`` that receives the shared encoder's output)
gives one vector per spaCy token, an optional hidden layer mixes them, and a softmax
layer gives a distribution over the BILUO/BIO tags. Tags and decoding live in the
``clintiny_ner`` component; this module only maps tokens to probabilities.
"""

from typing import Callable, List, Optional, Tuple

from spacy.tokens import Doc
from thinc.api import Maxout, Model, Softmax, chain
from thinc.types import Floats2d

from ..registry import registry


@registry.architectures("spacy-clintiny.TokenClassifier.v1")
def build_token_classifier_v1(
    tok2vec: Model[List[Doc], List[Floats2d]],
    *,
    hidden_width: Optional[int] = None,
    maxout_pieces: int = 2,
    dropout: float = 0.1,
    nO: Optional[int] = None,
) -> Model[List[Doc], List[Floats2d]]:
    """Build the token classifier.

    tok2vec (Model[List[Doc], List[Floats2d]]): Token vectors, usually a listener to the
        shared encoder.
    hidden_width (Optional[int]): Width of an optional Maxout hidden layer; ``None`` or 0
        puts the softmax directly on the encoder output.
    maxout_pieces (int): Pieces of the Maxout hidden layer.
    dropout (float): Dropout before the output layer (only with a hidden layer).
    nO (Optional[int]): Number of tags. Leave ``None``: ``clintiny_ner`` sets it from its
        labels and scheme at initialization.
    RETURNS (Model[List[Doc], List[Floats2d]]): One ``(n_tokens, n_tags)`` array of
        probabilities per doc.
    """
    output_layer = Softmax(nO=nO)
    if hidden_width:
        hidden = Maxout(nO=hidden_width, nP=maxout_pieces, dropout=dropout, normalize=True)
        head = chain(hidden, output_layer)
    else:
        head = output_layer
    model = chain(tok2vec, with_flat_tokens(head))
    model.set_ref("tok2vec", tok2vec)
    model.set_ref("output_layer", output_layer)
    return model


def with_flat_tokens(layer: Model[Floats2d, Floats2d]) -> Model[List[Floats2d], List[Floats2d]]:
    """Run ``layer`` once over the tokens of all docs in a batch.

    Unlike thinc's ``with_array`` this tolerates empty docs, whose token arrays come from
    spacy-transformers with width 0: they are skipped and get a ``(0, nO)`` output and a
    zero gradient of their own shape.

    layer (Model[Floats2d, Floats2d]): The per-token layer.
    RETURNS (Model[List[Floats2d], List[Floats2d]]): The wrapped layer.
    """
    return Model("with_flat_tokens", _flat_forward, init=_flat_init, layers=[layer])


def _flat_forward(model: Model, Xs: List[Floats2d], is_train: bool) -> Tuple[List[Floats2d], Callable]:
    layer = model.layers[0]
    ops = model.ops
    lengths = [X.shape[0] for X in Xs]
    nonempty = [i for i, n in enumerate(lengths) if n]
    nO = layer.get_dim("nO")
    if not nonempty:
        Ys = [ops.alloc2f(0, nO) for _ in Xs]

        def backprop_empty(dYs: List[Floats2d]) -> List[Floats2d]:
            return [ops.alloc2f(*X.shape) for X in Xs]

        return Ys, backprop_empty
    X_flat = ops.xp.concatenate([Xs[i] for i in nonempty], axis=0)  # (n_tokens, width)
    Y_flat, backprop_layer = layer(X_flat, is_train)  # (n_tokens, nO)
    Ys: List[Floats2d] = [ops.alloc2f(0, nO) for _ in Xs]
    start = 0
    for i in nonempty:
        Ys[i] = Y_flat[start : start + lengths[i]]
        start += lengths[i]

    def backprop(dYs: List[Floats2d]) -> List[Floats2d]:
        dY_flat = ops.xp.concatenate([dYs[i] for i in nonempty], axis=0)
        dX_flat = backprop_layer(dY_flat)
        dXs = [ops.alloc2f(*X.shape) for X in Xs]
        start = 0
        for i in nonempty:
            dXs[i] = dX_flat[start : start + lengths[i]]
            start += lengths[i]
        return dXs

    return Ys, backprop


def _flat_init(model: Model, X: Optional[List[Floats2d]] = None, Y: Optional[List[Floats2d]] = None) -> None:
    layer = model.layers[0]
    X_flat = None
    if X is not None:
        nonempty = [x for x in X if x.shape[0] and x.shape[1]]
        if nonempty:
            X_flat = model.ops.xp.concatenate(nonempty, axis=0)
    Y_flat = None
    if Y is not None:
        nonempty_y = [y for y in Y if y.shape[0]]
        if nonempty_y:
            Y_flat = model.ops.xp.concatenate(nonempty_y, axis=0)
    layer.initialize(X=X_flat, Y=Y_flat)
