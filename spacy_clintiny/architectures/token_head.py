"""Token-classification head: per-token tag probabilities over the shared encoder's output.

The head is a small thinc model: the ``tok2vec`` sublayer (normally a
``spacy-transformers.TransformerListener.v1`` that receives the shared encoder's output)
gives one vector per spaCy token, an optional hidden layer mixes them, and a softmax
layer gives a distribution over the BILUO/BIO tags. Tags and decoding live in the
``clintiny_ner`` component; this module only maps tokens to probabilities.
"""

from typing import Callable, Dict, List, Optional, Sequence, Tuple

from spacy.ml.models.tok2vec import BiLSTMEncoder, MaxoutWindowEncoder, MultiHashEmbed
from spacy.tokens import Doc
from thinc.api import Maxout, Model, Softmax, chain, with_array
from thinc.types import Floats2d

from ..errors import Errors
from ..registry import registry
from ._ops import with_blas_gemm
from .lexicon import lexicon_features


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
    return with_blas_gemm(model)


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


@registry.architectures("spacy-clintiny.TokenClassifier.v2")
def build_token_classifier_v2(
    tok2vec: Model[List[Doc], List[Floats2d]],
    *,
    n_layers: int = 1,
    surface_width: int = 96,
    surface_attrs: Sequence[str] = ("NORM", "PREFIX", "SUFFIX", "SHAPE"),
    surface_rows: Sequence[int] = (5000, 1000, 2500, 2500),
    width: int = 256,
    context: str = "cnn",
    depth: int = 2,
    window_size: int = 1,
    hidden_width: Optional[int] = None,
    maxout_pieces: int = 3,
    dropout: float = 0.1,
    nO: Optional[int] = None,
) -> Model[List[Doc], List[Floats2d]]:
    """Build a token classifier that adds what a fixed uncased encoder lacks: surface
    features of each token (case, shape, affixes) and context of its own.

    Per doc: the encoder's token vectors (a learned scalar mix when ``tok2vec`` gives
    ``n_layers`` layers side by side), concatenated with hashed embeddings of
    ``surface_attrs`` → Maxout projection to ``width`` → ``depth`` context layers (a residual
    Maxout window CNN, or a BiLSTM) → optional Maxout hidden layer → softmax over tags.

    tok2vec (Model[List[Doc], List[Floats2d]]): Token vectors, usually a listener to the
        shared encoder; with ``n_layers > 1`` each row holds that many layers side by side.
    n_layers (int): Layers per row of ``tok2vec``'s output, mixed with learned softmax
        weights and a scale (1: used as is).
    surface_width (int): Width of the surface-feature embedding (0: none).
    surface_attrs (Sequence[str]): Token attributes embedded by ``spacy.MultiHashEmbed``.
    surface_rows (Sequence[int]): Hash-table rows per attribute.
    width (int): Width of the projection and the context layers.
    context (str): "cnn" (spaCy's MaxoutWindowEncoder) or "lstm" (a BiLSTM).
    depth (int): Number of context layers (0: none).
    window_size (int): Tokens on each side per CNN layer.
    hidden_width (Optional[int]): Width of a Maxout layer before the softmax (null or 0: none).
    maxout_pieces (int): Pieces of the Maxout layers.
    dropout (float): Dropout after the projection and the hidden layer.
    nO (Optional[int]): Number of tags; ``clintiny_ner`` sets it at initialization.
    RETURNS (Model[List[Doc], List[Floats2d]]): One ``(n_tokens, n_tags)`` array of
        probabilities per doc.
    """
    return build_token_classifier_v3(
        tok2vec,
        n_layers=n_layers,
        surface_width=surface_width,
        surface_attrs=surface_attrs,
        surface_rows=surface_rows,
        lexicons=(),
        width=width,
        context=context,
        depth=depth,
        window_size=window_size,
        hidden_width=hidden_width,
        maxout_pieces=maxout_pieces,
        dropout=dropout,
        nO=nO,
    )


@registry.architectures("spacy-clintiny.TokenClassifier.v3")
def build_token_classifier_v3(
    tok2vec: Model[List[Doc], List[Floats2d]],
    *,
    n_layers: int = 1,
    surface_width: int = 96,
    surface_attrs: Sequence[str] = ("NORM", "PREFIX", "SUFFIX", "SHAPE"),
    surface_rows: Sequence[int] = (5000, 1000, 2500, 2500),
    lexicons: Sequence[str] = (),
    width: int = 256,
    context: str = "cnn",
    depth: int = 2,
    window_size: int = 1,
    hidden_width: Optional[int] = None,
    maxout_pieces: int = 3,
    dropout: float = 0.1,
    nO: Optional[int] = None,
) -> Model[List[Doc], List[Floats2d]]:
    """``TokenClassifier.v2`` with word-list membership features: for each name in
    ``lexicons`` (keys of ``architectures.lexicon.LEXICONS``: "first_name", "last_name",
    "english_name", "english", "town", "town_word", "hospital_word") a 0/1 column saying
    whether the token's lower-case text is in that list, beside the encoder and surface
    vectors. The other settings are v2's.
    """
    if context not in CONTEXT_ENCODERS:
        raise ValueError(Errors.E870.format(value=context, allowed=sorted(CONTEXT_ENCODERS)))
    if n_layers < 1:
        raise ValueError(Errors.E871.format(value=n_layers))
    if len(surface_attrs) != len(surface_rows):
        raise ValueError(Errors.E872.format(attrs=list(surface_attrs), rows=list(surface_rows)))
    encoder_vectors = chain(tok2vec, layer_mix(n_layers)) if n_layers > 1 else tok2vec
    if surface_width:
        surface = MultiHashEmbed(surface_width, list(surface_attrs), list(surface_rows), False)
        features = concat_tokens(encoder_vectors, surface)
    else:
        features = encoder_vectors
    if lexicons:
        features = concat_tokens(features, lexicon_features(lexicons))
    body = [with_array(Maxout(nO=width, nP=maxout_pieces, dropout=dropout, normalize=True))]
    if depth:
        body.append(CONTEXT_ENCODERS[context](width=width, depth=depth, window_size=window_size, pieces=maxout_pieces))
    output_layer = Softmax(nO=nO)
    if hidden_width:
        top = chain(Maxout(nO=hidden_width, nP=maxout_pieces, dropout=dropout, normalize=True), output_layer)
    else:
        top = output_layer
    body.append(with_array(top))
    model = chain(features, nonempty_docs(chain(*body)))
    model.set_ref("tok2vec", tok2vec)
    model.set_ref("output_layer", output_layer)
    return with_blas_gemm(model)


def _cnn(*, width: int, depth: int, window_size: int, pieces: int) -> Model[List[Floats2d], List[Floats2d]]:
    return MaxoutWindowEncoder(width=width, window_size=window_size, maxout_pieces=pieces, depth=depth)


def _lstm(*, width: int, depth: int, window_size: int, pieces: int) -> Model[List[Floats2d], List[Floats2d]]:
    return BiLSTMEncoder(width=width, depth=depth, dropout=0.0)


CONTEXT_ENCODERS: Dict[str, Callable[..., Model[List[Floats2d], List[Floats2d]]]] = {"cnn": _cnn, "lstm": _lstm}


def nonempty_docs(layer: Model[List[Floats2d], List[Floats2d]]) -> Model[List[Floats2d], List[Floats2d]]:
    """Run ``layer`` on the non-empty arrays of a batch only. Empty docs (whose encoder
    arrays come with width 0) get a ``(0, nO)`` output and a zero gradient of their shape.

    layer (Model[List[Floats2d], List[Floats2d]]): A layer over a batch of token arrays.
    RETURNS (Model[List[Floats2d], List[Floats2d]]): The wrapped layer.
    """
    return Model("nonempty_docs", _nonempty_forward, init=_nonempty_init, layers=[layer])


def _nonempty_forward(model: Model, Xs: List[Floats2d], is_train: bool) -> Tuple[List[Floats2d], Callable]:
    layer = model.layers[0]
    ops = model.ops
    keep = [i for i, X in enumerate(Xs) if X.shape[0]]
    Ys: List[Floats2d] = [ops.alloc2f(0, layer.get_dim("nO")) for _ in Xs]
    if not keep:
        return Ys, lambda dYs: [ops.alloc2f(*X.shape) for X in Xs]
    Y_kept, backprop_layer = layer([Xs[i] for i in keep], is_train)
    for i, Y in zip(keep, Y_kept):
        Ys[i] = Y

    def backprop(dYs: List[Floats2d]) -> List[Floats2d]:
        dX_kept = backprop_layer([dYs[i] for i in keep])
        dXs = [ops.alloc2f(*X.shape) for X in Xs]
        for i, dX in zip(keep, dX_kept):
            dXs[i] = dX
        return dXs

    return Ys, backprop


def _nonempty_init(model: Model, X: Optional[List[Floats2d]] = None, Y: Optional[List[Floats2d]] = None) -> None:
    X_kept = [x for x in X if x.shape[0]] if X is not None else None
    Y_kept = [y for y in Y if y.shape[0]] if Y is not None else None
    model.layers[0].initialize(X=X_kept or None, Y=Y_kept or None)


def concat_tokens(
    first: Model[List[Doc], List[Floats2d]], second: Model[List[Doc], List[Floats2d]]
) -> Model[List[Doc], List[Floats2d]]:
    """Per doc, the token vectors of ``first`` and ``second`` side by side. Unlike thinc's
    ``concatenate``, an empty doc (width 0 from the encoder listener) gives ``(0, 0)``.

    RETURNS (Model[List[Doc], List[Floats2d]]): The concatenation.
    """
    return Model("concat_tokens", _concat_forward, init=_concat_init, layers=[first, second])


def _concat_forward(model: Model, docs: List[Doc], is_train: bool) -> Tuple[List[Floats2d], Callable]:
    ops = model.ops
    A, backprop_a = model.layers[0](docs, is_train)
    B, backprop_b = model.layers[1](docs, is_train)
    widths = [(a.shape[1], b.shape[1]) for a, b in zip(A, B)]
    Ys = [ops.xp.hstack((a, b)) if a.shape[0] else ops.alloc2f(0, 0) for a, b in zip(A, B)]

    def backprop(dYs: List[Floats2d]) -> List[Doc]:
        dA, dB = [], []
        for dY, a, b, (wa, wb) in zip(dYs, A, B, widths):
            if a.shape[0]:
                dA.append(ops.as_contig(dY[:, :wa]))
                dB.append(ops.as_contig(dY[:, wa : wa + wb]))
            else:
                dA.append(ops.alloc2f(*a.shape))
                dB.append(ops.alloc2f(*b.shape))
        backprop_a(dA)
        backprop_b(dB)
        return []

    return Ys, backprop


def _concat_init(model: Model, X: Optional[List[Doc]] = None, Y: Optional[List[Floats2d]] = None) -> None:
    for layer in model.layers:
        layer.initialize(X=X)


def layer_mix(n_layers: int) -> Model[List[Floats2d], List[Floats2d]]:
    """A learned scalar mix of ``n_layers`` encoder layers (ELMo's): rows hold the layers
    side by side, ``(n_tokens, n_layers * width)`` → ``gamma * sum_l softmax(s)_l * layer_l``.

    n_layers (int): Number of layers per row.
    RETURNS (Model[List[Floats2d], List[Floats2d]]): The mix.
    """
    return Model(
        "layer_mix", _mix_forward, init=_mix_init, params={"s": None, "gamma": None}, attrs={"n_layers": n_layers}
    )


def _mix_init(model: Model, X: Optional[List[Floats2d]] = None, Y: Optional[List[Floats2d]] = None) -> None:
    n_layers = model.attrs["n_layers"]
    model.set_param("s", model.ops.alloc1f(n_layers))
    gamma = model.ops.alloc1f(1)
    gamma[0] = 1.0
    model.set_param("gamma", gamma)


def _mix_forward(model: Model, Xs: List[Floats2d], is_train: bool) -> Tuple[List[Floats2d], Callable]:
    ops = model.ops
    n_layers = model.attrs["n_layers"]
    s, gamma = model.get_param("s"), model.get_param("gamma")
    weights = ops.softmax(s)  # (n_layers,)
    stacked = [X.reshape(X.shape[0], n_layers, -1) if X.shape[0] else X for X in Xs]  # (n_tokens, n_layers, width)
    mixed = [(S * weights[None, :, None]).sum(axis=1) if S.shape[0] else S for S in stacked]  # (n_tokens, width)
    Ys = [gamma[0] * M for M in mixed]

    def backprop(dYs: List[Floats2d]) -> List[Floats2d]:
        d_weights = ops.alloc1f(n_layers)
        d_gamma = ops.alloc1f(1)
        dXs = []
        for S, M, dY in zip(stacked, mixed, dYs):
            if not S.shape[0]:
                dXs.append(ops.alloc2f(*S.shape))
                continue
            d_weights += gamma[0] * (S * dY[:, None, :]).sum(axis=(0, 2))
            d_gamma[0] += (M * dY).sum()
            dXs.append((gamma[0] * weights[None, :, None] * dY[:, None, :]).reshape(S.shape[0], -1))
        # softmax Jacobian: ds_i = w_i * (dw_i - sum_j w_j dw_j)
        model.inc_grad("s", weights * (d_weights - (weights * d_weights).sum()))
        model.inc_grad("gamma", d_gamma)
        return dXs

    return Ys, backprop
