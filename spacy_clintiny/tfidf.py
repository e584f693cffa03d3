"""TF-IDF + logistic regression (scikit-learn): the bag-of-words model of the report's baseline
(:mod:`spacy_clintiny.evaluation.baselines`) and the one ``TextClassifier.v3`` carries inside a
doc head.

One home for the model's definition: the feature sets, the vectorizer (``min_df=2``, float32),
liblinear's dual logistic regression (fast when there are far more n-grams than docs) and the
folds that keep each group (e.g. one PubMed abstract's sentences) on one side.

:func:`fit_tfidf_logits` fits one logistic regression per label on a shared vectorizer and
returns the fitted model as plain arrays (terms, idf, coefficients, intercepts), so a thinc
layer can hold it as parameters and compute the same logits without scikit-learn's pickles, and
the **out-of-fold** logits of the training docs: each doc's logits from the model fitted without
its fold. A head stacked on the model learns from those, because the full model's logits on its
own training docs are far more confident than on any new doc.
"""

import warnings
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy

# feature sets: (analyzer, min n, max n)
FEATURES = {"word 1-1": ("word", 1, 1), "word 1-2": ("word", 1, 2), "char_wb 2-5": ("char_wb", 2, 5)}
MIN_DF = 2
CLASS_WEIGHTS = (None, "balanced")
# rare labels absent from a fold's training part, and liblinear's iteration cap at a large C
QUIET = r".*(present in all training examples|failed to converge).*"


def tfidf_vectorizer(features: str = "word 1-1", *, sublinear_tf: bool = True) -> Any:
    """scikit-learn's ``TfidfVectorizer`` for one of ``FEATURES`` (lowercased, ``min_df=2``)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    analyzer, low, high = FEATURES[features]
    return TfidfVectorizer(
        analyzer=analyzer, ngram_range=(low, high), sublinear_tf=sublinear_tf, min_df=MIN_DF, dtype=numpy.float32
    )


def logistic_regression(C: float = 1.0, class_weight: Optional[str] = None) -> Any:
    """liblinear's dual L2 logistic regression (its coordinate descent order seeded)."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(
        solver="liblinear", dual=True, max_iter=1000, C=C, class_weight=class_weight, random_state=0
    )


def tfidf_logreg_pipeline(*, multi_label: bool, memory: Optional[str] = None) -> Any:
    """The baseline's scikit-learn pipeline (one-vs-rest when multi-label); its grid sets
    ``tfidf__analyzer``, ``tfidf__ngram_range``, ``tfidf__sublinear_tf`` and the classifier's
    ``C`` and ``class_weight``."""
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import Pipeline

    clf = logistic_regression()
    vectorizer = tfidf_vectorizer()
    return Pipeline([("tfidf", vectorizer), ("clf", OneVsRestClassifier(clf) if multi_label else clf)], memory=memory)


def fold_splitter(groups: Sequence[str], *, multi_label: bool, folds: int, seed: int) -> Any:
    """Folds that keep each group on one side: stratified for a yes/no label; for multi-label
    data shuffled k-fold when every doc is its own group, else GroupKFold."""
    from sklearn.model_selection import GroupKFold, KFold, StratifiedGroupKFold

    if not multi_label:
        return StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    if len(set(groups)) == len(groups):
        return KFold(n_splits=folds, shuffle=True, random_state=seed)
    return GroupKFold(n_splits=folds)


@dataclass
class TfidfLogits:
    """A fitted TF-IDF + logistic regression model as arrays: ``logits = tfidf(text) @ coef +
    intercept``, with ``tfidf`` = counts of ``terms`` (column order), ``1 + log`` when sublinear,
    times ``idf``, each row scaled to unit length (scikit-learn's ``TfidfVectorizer``)."""

    features: str
    sublinear_tf: bool
    terms: List[str]
    idf: numpy.ndarray  # (n_terms,)
    coef: numpy.ndarray  # (n_terms, n_labels)
    intercept: numpy.ndarray  # (n_labels,)


def count_vectorizer(features: str, terms: Sequence[str]) -> Any:
    """A ``CountVectorizer`` with a fixed vocabulary (no fitting): the counts of ``terms``."""
    from sklearn.feature_extraction.text import CountVectorizer

    analyzer, low, high = FEATURES[features]
    return CountVectorizer(
        analyzer=analyzer, ngram_range=(low, high), vocabulary={t: i for i, t in enumerate(terms)}, dtype=numpy.float32
    )


def tfidf_matrix(counts: Any, idf: numpy.ndarray, *, sublinear_tf: bool) -> Any:
    """``TfidfTransformer``'s arithmetic on a sparse count matrix (float32, rows of unit length)."""
    from sklearn.preprocessing import normalize

    counts = counts.tocsr().astype(numpy.float32)
    if sublinear_tf:
        numpy.log(counts.data, out=counts.data)
        counts.data += 1.0
    weighted = counts.multiply(idf.astype(numpy.float32)[None, :]).tocsr()
    return normalize(weighted, norm="l2", copy=False)


def fit_tfidf_logits(
    texts: Sequence[str],
    y: numpy.ndarray,
    mask: numpy.ndarray,
    groups: Sequence[str],
    *,
    features: str = "word 1-1",
    sublinear_tf: bool = True,
    C: float = 10.0,
    class_weight: Optional[str] = "balanced",
    folds: int = 5,
    seed: int = 0,
) -> Tuple[TfidfLogits, numpy.ndarray]:
    """Fit one logistic regression per label on TF-IDF features, and cross-fit it.

    texts (Sequence[str]): Training texts.
    y (numpy.ndarray): ``(n_docs, n_labels)`` targets, 1 for a positive.
    mask (numpy.ndarray): ``(n_docs, n_labels)``, 1 where the label is annotated for the doc;
        each label's regression is fitted on its annotated docs only.
    groups (Sequence[str]): Each doc's group; folds keep a group on one side.
    features, sublinear_tf, C, class_weight: The model's settings (see ``FEATURES``).
    folds (int): Folds of the out-of-fold logits (fewer when there are fewer groups; with
        fewer than 2 groups the out-of-fold logits are the full model's).
    seed (int): Seed of the folds.
    RETURNS (Tuple[TfidfLogits, numpy.ndarray]): The model fitted on all docs, and the
        ``(n_docs, n_labels)`` out-of-fold logits.
    """
    y = numpy.asarray(y, dtype="float32")
    mask = numpy.asarray(mask, dtype="float32")
    n_docs, n_labels = y.shape
    model = _fit(texts, y, mask, features=features, sublinear_tf=sublinear_tf, C=C, class_weight=class_weight)
    n_folds = min(folds, len(set(groups)))
    if n_folds < 2:
        return model, tfidf_logits(model, texts)
    oof = numpy.zeros((n_docs, n_labels), dtype="float32")  # every doc is in one fold's test part
    splitter = fold_splitter(groups, multi_label=n_labels > 1, folds=n_folds, seed=seed)
    strata = (y[:, 0] > 0).astype(int) if n_labels == 1 else None
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*least populated class.*")  # tiny data: fewer positives
        by_group = None if type(splitter).__name__ == "KFold" else list(groups)  # KFold warns when given groups
        splits = list(splitter.split(numpy.zeros(n_docs), strata, by_group))
    for train_idx, test_idx in splits:
        part = _fit(
            [texts[i] for i in train_idx],
            y[train_idx],
            mask[train_idx],
            features=features,
            sublinear_tf=sublinear_tf,
            C=C,
            class_weight=class_weight,
        )
        oof[test_idx] = tfidf_logits(part, [texts[i] for i in test_idx])
    return model, oof


def tfidf_logits(model: TfidfLogits, texts: Sequence[str], vectorizer: Any = None) -> numpy.ndarray:
    """The model's ``(n_texts, n_labels)`` logits (float32). ``vectorizer``: a cached
    :func:`count_vectorizer` of the model's terms."""
    n_labels = model.intercept.shape[0]
    if not model.terms:
        return numpy.tile(model.intercept.astype("float32"), (len(texts), 1))
    vectorizer = vectorizer or count_vectorizer(model.features, model.terms)
    X = tfidf_matrix(vectorizer.transform(list(texts)), model.idf, sublinear_tf=model.sublinear_tf)
    out = numpy.asarray(X @ model.coef, dtype="float32").reshape(len(texts), n_labels)
    return out + model.intercept.astype("float32")[None, :]


def _fit(
    texts: Sequence[str],
    y: numpy.ndarray,
    mask: numpy.ndarray,
    *,
    features: str,
    sublinear_tf: bool,
    C: float,
    class_weight: Optional[str],
) -> TfidfLogits:
    n_labels = y.shape[1]
    vectorizer = tfidf_vectorizer(features, sublinear_tf=sublinear_tf)
    try:
        X = vectorizer.fit_transform(list(texts))
    except ValueError:  # no term in two docs (tiny data): the model is its intercepts
        X = None
    n_terms = 0 if X is None else X.shape[1]
    coef = numpy.zeros((n_terms, n_labels), dtype="float32")
    intercept = numpy.zeros(n_labels, dtype="float32")
    for j in range(n_labels):
        rows = numpy.flatnonzero(mask[:, j] > 0)
        yj = (y[rows, j] > 0).astype(int)
        n_pos = int(yj.sum())
        if X is None or n_pos in (0, len(rows)):  # one class only: its smoothed log-odds
            intercept[j] = numpy.log((n_pos + 0.5) / (len(rows) - n_pos + 0.5))
            continue
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=QUIET)
            clf = logistic_regression(C=C, class_weight=class_weight).fit(X[rows], yj)
        coef[:, j] = clf.coef_[0]
        intercept[j] = clf.intercept_[0]
    terms = [] if X is None else [str(t) for t in vectorizer.get_feature_names_out()]
    idf = numpy.zeros(0, "float32") if X is None else vectorizer.idf_.astype("float32")
    return TfidfLogits(features, sublinear_tf, terms, idf, coef, intercept)


def check_settings(features: str, C: float, class_weight: Optional[str], folds: int) -> Optional[Dict[str, Any]]:
    """The first bad setting as ``{"setting", "value", "expected"}``, or None."""
    if features not in FEATURES:
        return {"setting": "features", "value": features, "expected": f"one of {list(FEATURES)}"}
    if isinstance(C, bool) or not isinstance(C, (int, float)) or not C > 0:
        return {"setting": "C", "value": C, "expected": "a number > 0"}
    if class_weight not in CLASS_WEIGHTS:
        return {"setting": "class_weight", "value": class_weight, "expected": f"one of {list(CLASS_WEIGHTS)}"}
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        return {"setting": "folds", "value": folds, "expected": "an integer >= 2"}
    return None
