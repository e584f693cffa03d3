"""The text classification heads: pooled token vectors → optional hidden layer → logits
(v1), plus, in doc mode, a sparse linear model over hashed lowercase n-grams whose logits are
added (v2).

The input is the docs plus, for each doc, the token ranges to pool ("segments"), chosen by
the ``clintiny_textcat`` component: the whole doc in ``doc`` mode, or premise and hypothesis
in ``pair`` mode. With one segment per doc the feature vector is the pooled segment; with
two segments ``p`` and ``h`` it is ``[p, h, |p - h|, p * h]`` (the classic sentence-pair
features). Both segments come from the same encoder pass over the whole doc, so the
encoder's attention crosses premise and hypothesis.

Pooling covers every token of a long note: the listener returns one vector per doc token
whichever of the encoder's overlapping windows it came from (a token in two windows averages
both), so the mean and the max run over all windows of the doc.

v2 adds a bag of n-grams in the spirit of spaCy's ``TextCatBOW`` / ``TextCatEnsemble``: spaCy's
``extract_ngrams`` over ``LOWER`` (unigrams up to ``ngram_size``-grams, each with its count in
the doc) feeds thinc's ``SparseLinear`` (``bow_length`` hashed rows per label), and its logits are
summed with the encoder part's. A linear model over n-grams learns a class's key words in a
few steps, which a pooled vector from a fixed encoder may never separate; the encoder part adds
what the words' contexts say. In pair mode the head is v1's: the n-gram part is sized to one row
and skipped (premise and hypothesis share their words, so their bag says nothing about the
relation).
"""

import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy
from spacy.attrs import LOWER
from spacy.ml.extract_ngrams import extract_ngrams
from spacy.tokens import Doc, Span
from thinc.api import Maxout, Model, SparseLinear_v2, chain, with_array
from thinc.types import Floats2d

from ..errors import Errors
from ..registry import registry
from ..tfidf import TfidfLogits, check_settings, count_vectorizer, fit_tfidf_logits, tfidf_logits
from ._head import classifier_head, init_token_width
from ._ops import with_blas_gemm
from ._pooling import POOLINGS, pool_ranges, pooled_width
from .token_head import CONTEXT_ENCODERS, nonempty_docs

# (docs, segments per doc): every doc of a batch has the same number of segments (1 or 2).
TextInput = Tuple[List[Doc], List[List[Span]]]


@registry.architectures("spacy-clintiny.TextClassifier.v1")
def build_text_classifier_v1(
    tok2vec: Model[List[Doc], List[Floats2d]],
    *,
    pooling: str = "mean",
    hidden_width: Optional[int] = 64,
    dropout: float = 0.1,
    nO: Optional[int] = None,
) -> Model[TextInput, Floats2d]:
    """Build the text classification head.

    tok2vec (Model[List[Doc], List[Floats2d]]): Token vectors, usually a
        ``spacy-transformers.TransformerListener.v1`` to the shared encoder.
    pooling (str): "mean" or "mean_max" (mean and max concatenated).
    hidden_width (Optional[int]): Width of a ReLU hidden layer; null or 0 for none.
    dropout (float): Dropout before the output layer (on the hidden layer).
    nO (Optional[int]): Number of labels; set by the component from its labels.
    RETURNS (Model[TextInput, Floats2d]): Logits, ``(n_docs, n_labels)``. The component
        applies softmax (exclusive classes) or sigmoid (multi-label).
    """
    if pooling not in POOLINGS:
        raise ValueError(Errors.E201.format(pooling=pooling, allowed=list(POOLINGS)))
    pooler = segment_pooler(tok2vec, pooling=pooling)
    return classifier_head(tok2vec, pooler, features_ref="pooler", hidden_width=hidden_width, dropout=dropout, nO=nO)


@registry.architectures("spacy-clintiny.TextClassifier.v2")
def build_text_classifier_v2(
    tok2vec: Model[List[Doc], List[Floats2d]],
    *,
    pooling: str = "mean_max",
    hidden_width: Optional[int] = 64,
    dropout: float = 0.1,
    ngram_size: int = 2,
    bow_length: int = 65536,
    ngram_weighting: str = "count",
    nO: Optional[int] = None,
) -> Model[TextInput, Floats2d]:
    """Build the text classification head with a bag of n-grams: the logits of v1's head
    (pooled encoder vectors) plus, in doc mode, those of a sparse linear model over hashed
    lowercase n-grams.

    tok2vec (Model[List[Doc], List[Floats2d]]): Token vectors, usually a
        ``spacy-transformers.TransformerListener.v1`` to the shared encoder.
    pooling (str): "mean" or "mean_max" (mean and max over every token of the doc).
    hidden_width (Optional[int]): Width of a ReLU hidden layer; null or 0 for none.
    dropout (float): Dropout on the hidden layer.
    ngram_size (int): Longest n-gram of the bag (2: unigrams and bigrams).
    bow_length (int): Hash rows per label of the n-gram model, rounded up to a power of two.
    ngram_weighting (str): Value of an n-gram in a doc's bag: "count" (spaCy's TextCatBOW),
        or "sublinear_l2" (``1 + log(count)``, then each doc's bag scaled to unit length, as
        scikit-learn's ``TfidfVectorizer(sublinear_tf=True)`` without the idf), so a long
        note's logits do not grow with its length.
    nO (Optional[int]): Number of labels; set by the component from its labels.
    RETURNS (Model[TextInput, Floats2d]): Logits, ``(n_docs, n_labels)``.
    """
    if isinstance(ngram_size, bool) or not isinstance(ngram_size, int) or ngram_size < 1:
        raise ValueError(
            Errors.E882.format(version="v2", setting="ngram_size", value=ngram_size, expected="an integer >= 1")
        )
    if isinstance(bow_length, bool) or not isinstance(bow_length, int) or bow_length < 1:
        raise ValueError(
            Errors.E882.format(version="v2", setting="bow_length", value=bow_length, expected="an integer >= 1")
        )
    if ngram_weighting not in NGRAM_WEIGHTINGS:
        raise ValueError(
            Errors.E882.format(
                version="v2", setting="ngram_weighting", value=ngram_weighting, expected=f"one of {NGRAM_WEIGHTINGS}"
            )
        )
    dense = build_text_classifier_v1(tok2vec, pooling=pooling, hidden_width=hidden_width, dropout=dropout, nO=nO)
    sparse = SparseLinear_v2(nO=nO, length=None)  # length is set at initialize: 1 in pair mode
    reweight = [sublinear_l2()] if ngram_weighting == "sublinear_l2" else []
    bow = chain(extract_ngrams(ngram_size, attr=LOWER), *reweight, sparse)
    return _ensemble(
        "clintiny_text_bow_ensemble",
        dense,
        bow,
        init=_ensemble_init,
        nO=nO,
        bow_ref=("bow_layer", sparse),
        attrs={"bow_length": 2 ** (bow_length - 1).bit_length()},
    )


@registry.architectures("spacy-clintiny.TextClassifier.v3")
def build_text_classifier_v3(
    tok2vec: Model[List[Doc], List[Floats2d]],
    *,
    pooling: str = "mean_max",
    hidden_width: Optional[int] = 64,
    dropout: float = 0.1,
    features: str = "word 1-1",
    sublinear_tf: bool = True,
    C: float = 10.0,
    class_weight: Optional[str] = "balanced",
    folds: int = 5,
    nO: Optional[int] = None,
) -> Model[TextInput, Floats2d]:
    """Build the text classification head stacked on a TF-IDF + logistic regression: the logits
    of v1's head (pooled encoder vectors) plus, in doc mode, those of a scikit-learn TF-IDF +
    logistic regression fitted on the training docs when the component is initialized, each
    label's logit scaled by a learned factor (starting at 1).

    The regression is the report's baseline model, so the head starts where the baseline is
    and the encoder part learns what the bag of words gets wrong. While training, each
    training doc gets its **out-of-fold** logits (from the regression fitted without its fold,
    groups kept on one side): the full regression's logits on its own training docs are far
    more confident than on new docs, and a head stacked on them would learn to trust them too
    much. The regression's weights are fixed after the fit and saved with the pipeline as
    arrays (terms, idf, coefficients); predicting needs scikit-learn's ``CountVectorizer`` only.
    In pair mode the head is v1's.

    tok2vec (Model[List[Doc], List[Floats2d]]): Token vectors, usually a
        ``spacy-transformers.TransformerListener.v1`` to the shared encoder.
    pooling (str): "mean" or "mean_max" (mean and max over every token of the doc).
    hidden_width (Optional[int]): Width of a ReLU hidden layer; null or 0 for none.
    dropout (float): Dropout on the hidden layer.
    features (str): "word 1-1", "word 1-2" or "char_wb 2-5" (analyzer and n-gram range of
        scikit-learn's ``TfidfVectorizer``, lowercased, terms in at least 2 docs).
    sublinear_tf (bool): ``1 + log(count)`` instead of the count.
    C (float): Inverse L2 regularization strength of the regression (liblinear).
    class_weight (Optional[str]): "balanced" or null.
    folds (int): Folds of the out-of-fold training logits.
    nO (Optional[int]): Number of labels; set by the component from its labels.
    RETURNS (Model[TextInput, Floats2d]): Logits, ``(n_docs, n_labels)``.
    """
    problem = check_settings(features, C, class_weight, folds)
    if problem:
        raise ValueError(Errors.E882.format(version="v3", **problem))
    dense = build_text_classifier_v1(tok2vec, pooling=pooling, hidden_width=hidden_width, dropout=dropout, nO=nO)
    bow = tfidf_logits_layer(features=features, sublinear_tf=sublinear_tf, C=C, class_weight=class_weight, folds=folds)
    return _ensemble(
        "clintiny_text_tfidf_ensemble", dense, bow, init=_tfidf_ensemble_init, nO=nO, bow_ref=("tfidf", bow)
    )


@registry.architectures("spacy-clintiny.TextClassifier.v4")
def build_text_classifier_v4(
    tok2vec: Model[List[Doc], List[Floats2d]],
    *,
    context: str = "lstm",
    context_width: int = 256,
    context_depth: int = 1,
    pooling: str = "mean_max",
    hidden_width: Optional[int] = 64,
    dropout: float = 0.1,
    features: Optional[str] = "word 1-1",
    sublinear_tf: bool = True,
    C: float = 10.0,
    class_weight: Optional[str] = "balanced",
    folds: int = 5,
    nO: Optional[int] = None,
) -> Model[TextInput, Floats2d]:
    """``TextClassifier.v3`` with context of its own: before pooling, the token vectors go
    through a Maxout projection to ``context_width`` and a context encoder, a BiLSTM
    (``"lstm"``, spaCy's ``BiLSTMEncoder``) or a window CNN (``"cnn"``, ``MaxoutWindowEncoder``).
    On a fixed encoder, pooled vectors say which words a sentence holds; the context layer lets
    the head see how they relate (a BiLSTM over the fixed student lifted ADE sentence F1 on the
    calibration slice from 69.8 to 75-79: ``bench/results/doccat_recipe.md``). The other settings
    are v3's; ``context_depth`` is the number of context layers; ``features`` null drops the
    TF-IDF regression (the context head alone).
    """
    if context not in CONTEXT_ENCODERS:
        raise ValueError(Errors.E870.format(value=context, allowed=sorted(CONTEXT_ENCODERS)))
    problem = check_settings(features, C, class_weight, folds) if features else None
    if problem:
        raise ValueError(Errors.E882.format(version="v4", **problem))
    if pooling not in POOLINGS:
        raise ValueError(Errors.E201.format(pooling=pooling, allowed=list(POOLINGS)))
    encoder = CONTEXT_ENCODERS[context](width=context_width, depth=context_depth, window_size=1, pieces=3)
    project = with_array(Maxout(nO=context_width, nP=3, dropout=dropout, normalize=True))
    contextual = chain(tok2vec, nonempty_docs(chain(project, encoder)))
    pooler = segment_pooler(contextual, pooling=pooling)
    dense = classifier_head(tok2vec, pooler, features_ref="pooler", hidden_width=hidden_width, dropout=dropout, nO=nO)
    if not features:
        return dense
    bow = tfidf_logits_layer(features=features, sublinear_tf=sublinear_tf, C=C, class_weight=class_weight, folds=folds)
    return _ensemble(
        "clintiny_text_tfidf_ensemble", dense, bow, init=_tfidf_ensemble_init, nO=nO, bow_ref=("tfidf", bow)
    )


def _ensemble(
    name: str,
    dense: Model[TextInput, Floats2d],
    bow: Model[List[Doc], Floats2d],
    *,
    init: Callable,
    nO: Optional[int],
    bow_ref: Tuple[str, Model],
    attrs: Optional[Dict[str, Any]] = None,
) -> Model[TextInput, Floats2d]:
    """v1's head ``dense`` plus, in doc mode, the bag-of-words model ``bow`` (logits summed), with
    the dense head's refs ("tok2vec", "pooler", "output_layer") and ``bow_ref`` (name, node)."""
    model = Model(
        name,
        _ensemble_forward,
        init=init,
        layers=[dense, bow],
        dims={"nO": nO},
        attrs={"use_bow": True, **(attrs or {})},
    )
    for ref in ("tok2vec", "pooler", "output_layer"):
        model.set_ref(ref, dense.get_ref(ref))
    model.set_ref(*bow_ref)
    return with_blas_gemm(model)


def tfidf_logits_layer(
    *, features: str, sublinear_tf: bool, C: float, class_weight: Optional[str], folds: int, seed: int = 0
) -> Model[List[Doc], Floats2d]:
    """Docs → the logits of a fitted TF-IDF + logistic regression (:mod:`spacy_clintiny.tfidf`),
    times a learned per-label ``scale``. Unfitted, every logit is 0. Fit it with
    :func:`fit_tfidf_layer`. Params "W" (terms × labels), "b" and "idf" are fixed; only
    "scale" learns."""
    return Model(
        "clintiny_tfidf_logits",
        _tfidf_forward,
        init=_tfidf_init,
        dims={"nO": None},
        params={"W": None, "b": None, "idf": None, "scale": None},
        attrs={
            "features": features,
            "sublinear_tf": sublinear_tf,
            "C": float(C),
            "class_weight": class_weight,
            "folds": folds,
            "seed": seed,
            "terms": [],
        },
    )


TFIDF_SETTINGS = ("features", "sublinear_tf", "C", "class_weight", "folds", "seed")


def tfidf_settings(model: Model) -> Dict[str, Any]:
    """RETURNS (Dict[str, Any]): A ``tfidf_logits_layer``'s regression settings, as
    :func:`spacy_clintiny.tfidf.fit_tfidf_logits` takes them."""
    return {key: model.attrs[key] for key in TFIDF_SETTINGS}


class _Fitted:
    """What a fitted TF-IDF layer keeps in this process only (never serialized): its
    scikit-learn vectorizer, built once from the terms, and the out-of-fold logits of the
    training docs by text."""

    def __init__(self) -> None:
        self.terms: Optional[List[str]] = None
        self.vectorizer: Any = None
        self.training_logits: Dict[str, Any] = {}


_RUNTIME: Dict[int, _Fitted] = {}  # Model.id -> its runtime state (thinc Models take no weakrefs)


def fit_tfidf_layer(
    model: Model, texts: Sequence[str], y: Any, mask: Any, groups: Sequence[str]
) -> Tuple[Dict[str, Any], numpy.ndarray]:
    """Fit the layer's regression on the training docs and keep their out-of-fold logits for
    training updates in this process.

    model (Model): A ``tfidf_logits_layer``, initialized (its "nO" set).
    texts (Sequence[str]): The annotated training docs' texts.
    y, mask: ``(n_docs, n_labels)`` targets and annotation mask (see :func:`fit_tfidf_logits`).
    groups (Sequence[str]): Each doc's group, kept on one side of the folds.
    RETURNS (Tuple[Dict[str, Any], numpy.ndarray]): Terms, docs and seconds, for the training
        log; and the ``(n_docs, n_labels)`` out-of-fold logits.
    """
    start = time.perf_counter()
    fitted, oof = fit_tfidf_logits(texts, y, mask, groups, **tfidf_settings(model))
    model.attrs["terms"] = fitted.terms
    model.set_param("W", fitted.coef)
    model.set_param("b", fitted.intercept)
    model.set_param("idf", fitted.idf)
    model.set_param("scale", model.ops.xp.ones(model.get_dim("nO"), dtype="float32"))
    state = _RUNTIME.setdefault(model.id, _Fitted())
    state.training_logits = {text: row for text, row in zip(texts, oof)}
    info = {"terms": len(fitted.terms), "docs": len(texts), "seconds": round(time.perf_counter() - start, 1)}
    return info, oof


def _tfidf_init(model: Model, X: Optional[List[Doc]] = None, Y: Optional[Floats2d] = None) -> None:
    n_out = model.get_dim("nO")
    if model.has_param("b") and model.get_param("b").shape == (n_out,):
        return  # fitted or loaded for this label set: keep it
    model.attrs["terms"] = []
    model.set_param("W", model.ops.alloc2f(0, n_out))
    model.set_param("b", model.ops.alloc1f(n_out))
    model.set_param("idf", model.ops.alloc1f(0))
    model.set_param("scale", model.ops.xp.ones(n_out, dtype="float32"))
    _RUNTIME.pop(model.id, None)


def _tfidf_raw_logits(model: Model, docs: List[Doc], is_train: bool) -> Floats2d:
    terms = model.attrs["terms"]
    state = _RUNTIME.setdefault(model.id, _Fitted())
    logits = model.ops.alloc2f(len(docs), model.get_dim("nO"))
    todo = []
    for i, doc in enumerate(docs):
        row = state.training_logits.get(doc.text) if is_train else None
        if row is None:
            todo.append(i)
        else:
            logits[i] = row
    if todo:
        if terms and state.terms is not terms:
            state.terms, state.vectorizer = terms, count_vectorizer(model.attrs["features"], terms)
        fitted = TfidfLogits(
            model.attrs["features"],
            model.attrs["sublinear_tf"],
            terms,
            model.get_param("idf"),
            model.get_param("W"),
            model.get_param("b"),
        )
        logits[todo] = tfidf_logits(fitted, [docs[i].text for i in todo], state.vectorizer if terms else None)
    return logits


def _tfidf_forward(model: Model, docs: List[Doc], is_train: bool) -> Tuple[Floats2d, Callable]:
    raw = _tfidf_raw_logits(model, docs, is_train)
    scale = model.get_param("scale")

    def backprop(d_logits: Floats2d) -> List[Doc]:
        model.inc_grad("scale", (d_logits * raw).sum(axis=0))
        return docs  # nothing upstream learns from the bag of words

    return raw * scale[None, :], backprop


def _tfidf_ensemble_init(model: Model, X: Optional[TextInput] = None, Y: Optional[Floats2d] = None) -> None:
    dense, bow = model.layers
    dense.initialize(X=X)
    n_out = model.get_ref("output_layer").get_dim("nO")  # the component sized it from its labels
    if bow.has_dim("nO") and bow.get_dim("nO") != n_out:
        # initialized again with another label set: thinc cannot resize a layer with weights
        fresh = tfidf_logits_layer(**tfidf_settings(bow))
        model.replace_node(bow, fresh)
        model.set_ref("tfidf", fresh)
        _RUNTIME.pop(bow.id, None)
        bow = fresh
    bow.set_dim("nO", n_out)
    bow.initialize()
    model.attrs["use_bow"] = not (X is not None and _n_segments(X[1]) == 2)
    model.set_dim("nO", n_out, force=True)


NGRAM_WEIGHTINGS = ("count", "sublinear_l2")


def sublinear_l2() -> Model[Tuple[Any, Any, Any], Tuple[Any, Any, Any]]:
    """Reweight ``extract_ngrams``' (keys, counts, lengths): each count ``c`` becomes
    ``1 + log(c)`` and each doc's values are divided by their Euclidean norm. No weights; the
    backward pass hands the gradient through (nothing upstream learns from it)."""
    return Model("sublinear_l2", _sublinear_l2_forward)


def _sublinear_l2_forward(model: Model, X: Tuple[Any, Any, Any], is_train: bool) -> Tuple[Any, Callable]:
    keys, values, lengths = X
    xp = model.ops.xp
    weighted = 1.0 + xp.log(xp.maximum(values, 1.0))
    doc_index = xp.repeat(xp.arange(len(lengths)), lengths.astype("int64"))
    norms = xp.sqrt(xp.bincount(doc_index, weights=weighted * weighted, minlength=len(lengths)))
    weighted = (weighted / xp.maximum(norms, 1e-12)[doc_index]).astype(values.dtype)
    return (keys, weighted, lengths), lambda dY: dY


def _ensemble_init(model: Model, X: Optional[TextInput] = None, Y: Optional[Floats2d] = None) -> None:
    dense, bow = model.layers
    dense.initialize(X=X)
    n_out = model.get_ref("output_layer").get_dim("nO")  # the component sized it from its labels
    sparse = model.get_ref("bow_layer")
    pair_mode = X is not None and _n_segments(X[1]) == 2
    length = 1 if pair_mode else model.attrs["bow_length"]
    if sparse.has_dim("nO") and (sparse.get_dim("nO"), sparse.get_dim("length")) != (n_out, length):
        # initialized again with another label set: thinc cannot resize a layer with weights
        fresh = SparseLinear_v2(nO=None, length=None)
        model.replace_node(sparse, fresh)
        model.set_ref("bow_layer", fresh)
        sparse = fresh
    if not sparse.has_dim("nO"):
        sparse.set_dim("nO", n_out)
        sparse.set_dim("length", length)
    model.attrs["use_bow"] = not pair_mode
    sparse.initialize()
    model.set_dim("nO", n_out, force=True)


def _ensemble_forward(model: Model, X: TextInput, is_train: bool) -> Tuple[Floats2d, Callable]:
    dense, bow = model.layers
    logits, bp_dense = dense(X, is_train)  # (n_docs, n_labels)
    docs, segments = X
    if not (model.attrs["use_bow"] and docs and _n_segments(segments) == 1):
        return logits, bp_dense
    bow_logits, bp_bow = bow(docs, is_train)  # (n_docs, n_labels)

    def backprop(d_logits: Floats2d) -> Any:
        bp_bow(d_logits)
        return bp_dense(d_logits)

    return logits + bow_logits, backprop


def segment_pooler(tok2vec: Model[List[Doc], List[Floats2d]], *, pooling: str) -> Model[TextInput, Floats2d]:
    """Run ``tok2vec`` on the docs and pool each doc's segments into one feature row.

    tok2vec (Model[List[Doc], List[Floats2d]]): Token vectors.
    pooling (str): "mean" or "mean_max".
    RETURNS (Model[TextInput, Floats2d]): ``(n_docs, n_features)``.
    """
    return Model(
        "clintiny_segment_pool",
        _pool_forward,
        init=_pool_init,
        layers=[tok2vec],
        dims={"nI": None, "nO": None},
        attrs={"pooling": pooling},
    )


def _n_segments(segments: List[List[Span]]) -> int:
    counts = {len(segs) for segs in segments}
    if len(counts) != 1 or counts.pop() not in (1, 2):
        raise ValueError(Errors.E212.format(counts=sorted({len(segs) for segs in segments})))
    return len(segments[0])


def _pool_init(model: Model, X: Optional[TextInput] = None, Y: Optional[Floats2d] = None) -> None:
    if X is None:
        return
    docs, segments = X
    init_token_width(model, docs)
    width = pooled_width(model.get_dim("nI"), model.attrs["pooling"])
    n_segments = _n_segments(segments)
    model.set_dim("nO", width if n_segments == 1 else 4 * width, force=True)


def _pool_forward(model: Model, X: TextInput, is_train: bool) -> Tuple[Floats2d, Callable]:
    docs, segments = X
    tok2vec = model.layers[0]
    ops = model.ops
    width = model.get_dim("nI")
    if any(len(doc) for doc in docs):
        Xs, bp_tok2vec = tok2vec(docs, is_train)
    else:  # spacy-transformers cannot pool a batch of empty docs; nothing to encode anyway
        Xs, bp_tok2vec = [ops.alloc2f(0, width) for _ in docs], lambda dXs: []
    n_segments = _n_segments(segments)
    # a segment that is its whole doc pools every row (wordpiece listeners give more rows than tokens)
    for i, segs in enumerate(segments):
        if len(Xs[i]) != len(docs[i]) and any((span.start, span.end) != (0, len(docs[i])) for span in segs):
            raise ValueError(Errors.E897.format(rows=len(Xs[i]), tokens=len(docs[i])))
    ranges = [
        (i, 0, len(Xs[i])) if (span.start, span.end) == (0, len(docs[i])) else (i, span.start, span.end)
        for i, segs in enumerate(segments)
        for span in segs
    ]
    pooled, bp_pool = pool_ranges(ops, Xs, ranges, pooling=model.attrs["pooling"], width=width)
    if n_segments == 1:
        output = pooled  # (n_docs, P)
    else:
        prem = pooled[0::2]  # (n_docs, P)
        hyp = pooled[1::2]  # (n_docs, P)
        diff = prem - hyp
        output = ops.xp.hstack([prem, hyp, ops.xp.abs(diff), prem * hyp])  # (n_docs, 4P)

    def backprop(d_output: Floats2d) -> List[Doc]:
        if n_segments == 1:
            d_pooled = d_output
        else:
            P = prem.shape[1]
            d_p, d_h, d_abs, d_prod = (d_output[:, k * P : (k + 1) * P] for k in range(4))
            sign = ops.xp.sign(diff)
            d_pooled = ops.alloc2f(*pooled.shape)
            d_pooled[0::2] = d_p + sign * d_abs + hyp * d_prod
            d_pooled[1::2] = d_h - sign * d_abs + prem * d_prod
        return bp_tok2vec(bp_pool(d_pooled))

    return output, backprop


@registry.architectures("spacy-clintiny.WordpieceListener.v1")
def build_wordpiece_listener(upstream: str = "*") -> Model[List[Doc], List[Floats2d]]:
    """The encoder's output for each doc as its wordpiece vectors (the real wordpieces of every
    window, [CLS] and [SEP] included), not token means: what the prototype context head read
    (``bench/doc_context_head.py``, 1.5-4 F1 above token means on ADE sentences). For doc-level
    heads over a fixed encoder only: it passes no gradient back.
    """
    from spacy_transformers.layers import TransformerListener

    return chain(TransformerListener(upstream_name=upstream), Model("wordpieces", _wordpieces_forward))


def _wordpieces_forward(model: Model, trf_datas: List[Any], is_train: bool) -> Tuple[List[Floats2d], Callable]:
    ops = model.ops
    out = []
    for trf in trf_datas:
        hidden = trf.model_output.last_hidden_state if trf.model_output else None
        if hidden is None or not hasattr(hidden, "shape") or hidden.size == 0:
            out.append(ops.alloc2f(0, 0))
            continue
        hidden = ops.asarray(hidden)
        mask = ops.xp.asarray(trf.wordpieces.attention_mask, dtype=bool)
        out.append(ops.asarray2f(hidden[mask].astype("float32")))
    return out, lambda dXs: []
