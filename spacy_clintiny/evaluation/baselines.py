"""Simple baselines on the pipeline's own dev splits: what the report compares the student with.

- **TF-IDF + logistic regression** (scikit-learn) for MTSamples specialty (multi-label: each
  distinct text has a SET of specialties, one-vs-rest) and for ADE sentences (one yes/no
  label). Hyper-parameters (features, sublinear tf, C, class weights) are chosen by
  cross-validation on the TRAINING split only, grouped by ``clintiny_source`` group so that
  sentences of one abstract never sit on both sides of a fold; the decision thresholds come
  from the chosen model's out-of-fold training predictions. The dev split is touched once, for
  the reported figures, which are computed with spaCy's ``Scorer.score_cats`` (the definition
  the ``clintiny_textcat`` heads report).
- **deid.pl**'s own output on the PhysioNet dev notes (the held-out patients), scored with the
  same PHI token definition as the pipeline (:func:`.scores.phi_token_scores`).
- **spaCy's CNN NER** trained on the same training splits (:mod:`.cnn_baseline`), on the
  concept corpora and the PhysioNet dev notes.

Words/s are prediction only (vectorize + predict, after a warm-up), in spaCy tokens that are not
whitespace, like :func:`.scores.words_per_second`.
"""

import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, TypeVar

import numpy
from spacy.language import Language
from spacy.scorer import Scorer
from spacy.training import Example

from ..converters.placement import SOURCE_KEY
from ..converters.splits import group_of
from ..errors import Errors
from ..tfidf import FEATURES, MIN_DF, QUIET, fold_splitter, tfidf_logreg_pipeline
from .scores import phi_token_scores
from .thresholds import decide

SPECIALTY_TASK = "textcat_specialty"
ADE_TASK = "textcat_ade"
PHI_TASK = "phi_tokens"
TFIDF_SYSTEM = "tfidf_logreg"
DEID_PL_SYSTEM = "deid_pl"
FORMAT_VERSION = 1
# The grids fit a CPU budget of a few minutes on one core. MTSamples notes are long:
# character n-grams of them cost minutes to vectorize, and sublinear tf is the standard choice
# for long documents, so the specialty grid keeps word n-grams with sublinear tf.
SPECIALTY_GRID = {
    "features": ("word 1-1", "word 1-2"),
    "sublinear_tf": (True,),
    "C": (1.0, 10.0, 100.0),
    "class_weight": (None, "balanced"),
}
ADE_GRID = {
    "features": ("word 1-1", "word 1-2", "char_wb 2-5"),
    "sublinear_tf": (True, False),
    "C": (1.0, 10.0, 100.0),
    "class_weight": (None, "balanced"),
}
GRID_KEYS = ("features", "sublinear_tf", "C", "class_weight")
THRESHOLDS = numpy.round(numpy.arange(0.05, 0.951, 0.05), 2)
T = TypeVar("T")


def textcat_baseline(
    train: Sequence[Example],
    dev: Sequence[Example],
    *,
    task: str,
    labels: Sequence[str],
    grid: Dict[str, Sequence[Any]],
    folds: int = 3,
    seed: int = 0,
    source: str = "train",
    n_jobs: int = 1,
) -> Dict[str, Any]:
    """Tune, fit and score a TF-IDF + logistic regression text classifier.

    train (Sequence[Example]): Training examples (their references' text and cats are read).
    dev (Sequence[Example]): Dev examples, scored once.
    task (str): The pipeline task it is compared with (e.g. "textcat_specialty").
    labels (Sequence[str]): The labels. One label: a yes/no classifier scored by the F1 of the
        positive class. Several: multi-label, one-vs-rest, scored by top-1 accuracy (the
        top-scoring label is in the gold set) and macro-F1 over all the labels.
    grid (Dict[str, Sequence[Any]]): Values to try for "features" (keys of ``FEATURES``),
        "sublinear_tf", "C" and "class_weight".
    folds (int): Cross-validation folds on the training split.
    seed (int): Seed of the folds.
    source (str): Where the training examples come from, named in errors.
    n_jobs (int): Grid candidates fitted at the same time (scikit-learn's ``n_jobs``; one
        process each). The choice and every figure are the same for any value; words/s is
        timed after the search, in this process alone.
    RETURNS (Dict[str, Any]): Chosen parameters, cross-validation summary, thresholds, dev
        figures, words/s and seconds spent.
    """
    from sklearn.model_selection import GridSearchCV, cross_val_predict

    labels = list(labels)
    multi_label = len(labels) > 1
    _check_grid(grid, folds)
    texts, y, groups = _xy(train, labels, task=task, source=source, folds=folds, multi_label=multi_label)
    dev = [eg for eg in dev if any(label in eg.reference.cats for label in labels)]
    start = time.perf_counter()
    cv = fold_splitter(groups, multi_label=multi_label, folds=folds, seed=seed)
    cv_groups = None if type(cv).__name__ == "KFold" else groups  # KFold warns when given groups
    with tempfile.TemporaryDirectory(prefix="clintiny-baseline-") as cache, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=QUIET)
        search = GridSearchCV(
            tfidf_logreg_pipeline(multi_label=multi_label, memory=cache),
            _param_grid(grid, multi_label=multi_label),
            scoring=_top1_and_macro_f if multi_label else "f1",
            cv=cv,
            n_jobs=n_jobs,
            refit=True,
            error_score="raise",
        )
        search.fit(texts, y, groups=cv_groups)
        oof = cross_val_predict(search.best_estimator_, texts, y, groups=cv_groups, cv=cv, method="predict_proba")
    if n_jobs != 1:  # joblib keeps its worker processes for reuse: stop them before words/s is timed
        from joblib.externals.loky import get_reusable_executor

        get_reusable_executor().shutdown(wait=True)
    fit_seconds = time.perf_counter() - start
    oof = oof if multi_label else oof[:, 1:]
    y2d = y if multi_label else y[:, None]
    thresholds = [best_threshold(y2d[:, j], oof[:, j]) for j in range(len(labels))]
    model = search.best_estimator_
    dev_texts = [eg.reference.text for eg in dev]

    def predict_proba(batch: List[str]) -> numpy.ndarray:
        probs = model.predict_proba(batch)
        return probs if multi_label else probs[:, 1:]

    probs = predict_proba(dev_texts) if dev else numpy.zeros((0, len(labels)))
    n_words = sum(sum(not t.is_space for t in eg.predicted) for eg in dev)
    result: Dict[str, Any] = {
        "system": TFIDF_SYSTEM,
        "name": "TF-IDF + logistic regression",
        "task": task,
        "labels": len(labels),
        "train_docs": len(texts),
        "dev_docs": len(dev),
        "dev_words": n_words,
        "params": _chosen(search.best_params_),
        "cv": {
            "splitter": type(cv).__name__,
            "folds": folds,
            "seed": seed,
            "candidates": len(search.cv_results_["params"]),
            "score": (
                "mean of top-1 accuracy and macro-F1 (top label + labels >= 0.5)"
                if multi_label
                else "F1 of the positive class at 0.5"
            ),
            "best_score": float(search.best_score_),
        },
        "fixed": {"min_df": MIN_DF, "solver": "liblinear (dual)", "one_vs_rest": multi_label},
        "fit_seconds": fit_seconds,
        "words_per_s": _words_per_second(predict_proba, dev_texts, n_words) if dev else None,
    }
    if multi_label:
        result["decision"] = (
            "a label is predicted when its probability reaches its own threshold (chosen "
            "for F1 on out-of-fold training predictions), and the top label always is"
        )
        result["thresholds"] = dict(zip(labels, thresholds))
        tuned = _cats_scores(dev, labels, decide(probs, numpy.array(thresholds), always_top=True))
        default = _cats_scores(dev, labels, decide(probs, numpy.full(len(labels), 0.5), always_top=True))
        gold = _gold_matrix(dev, labels)
        present = [label for label, n in zip(labels, gold.sum(axis=0)) if n]
        result["top1"] = top1_accuracy(gold, probs)
        result["macro_f"] = tuned["cats_macro_f"]
        # spaCy's macro-F1 counts a label without dev positives as 0: the same average over the others
        result["dev_labels_present"] = len(present)
        result["macro_f_present_labels"] = (
            sum(tuned["cats_f_per_type"][label]["f"] for label in present) / len(present) if present else None
        )
        result["micro_f"] = tuned["cats_micro_f"]
        result["macro_f_at_0_5"] = default["cats_macro_f"]
        result["per_label"] = tuned["cats_f_per_type"]
    else:
        result["decision"] = (
            "positive when the probability reaches the threshold chosen for F1 on out-of-fold training predictions"
        )
        result["threshold"] = thresholds[0]
        tuned = _cats_scores(dev, labels, probs >= thresholds[0])
        fig = tuned["cats_f_per_type"][labels[0]]
        result.update({"f": fig["f"], "p": fig["p"], "r": fig["r"]})
        result["f_at_0_5"] = _cats_scores(dev, labels, probs >= 0.5)["cats_f_per_type"][labels[0]]["f"]
    return result


def deid_pl_baseline(
    dev: Sequence[Example],
    detections: Dict[Tuple[str, str], List[Tuple[int, int]]],
    *,
    output_path: Path,
    docs_path: Path,
    spans_key: str = "phi",
) -> Dict[str, Any]:
    """Score deid.pl's detections on the dev notes with the pipeline's PHI token definition.

    dev (Sequence[Example]): The PhysioNet dev notes (gold PHI in the references); their
        predicted docs receive deid.pl's detections in ``spans[spans_key]``.
    detections (Dict[Tuple[str, str], List[Tuple[int, int]]]): (patient, note) -> character
        offsets, as ``converters.physionet.read_deid_pl_output`` returns them.
    output_path (Path): The deid.pl output file, named in errors.
    docs_path (Path): The dev notes' DocBin, named in errors.
    spans_key (str): The PHI span group.
    RETURNS (Dict[str, Any]): token recall and precision, gold tokens, docs, patients, and the
        number of dev notes the output does not list.
    """
    keys = []
    for i, eg in enumerate(dev):
        doc_id = str((eg.reference.user_data.get(SOURCE_KEY) or {}).get("doc_id", ""))
        pid, _, note = doc_id.partition("-")
        if not (pid.isdigit() and note.isdigit()):
            raise ValueError(Errors.E795.format(i=i, path=docs_path, value=doc_id))
        keys.append((pid, note))
    if keys and not any(key in detections for key in keys):
        seen = "-".join(next(iter(detections))) if detections else "none"
        raise ValueError(
            Errors.E793.format(path=output_path, n=len(keys), docs=docs_path, first="-".join(keys[0]), seen=seen)
        )
    for eg, key in zip(dev, keys):
        pred = eg.predicted
        spans = []
        for start, end in detections.get(key, []):
            if end > len(pred.text):
                raise ValueError(
                    Errors.E794.format(
                        path=output_path,
                        note="-".join(key),
                        start=start,
                        end=end,
                        length=len(pred.text),
                        docs=docs_path,
                    )
                )
            span = pred.char_span(start, end, alignment_mode="expand")
            if span is not None:  # None: the range covers whitespace only, so no token
                spans.append(span)
        pred.spans[spans_key] = spans
    result: Dict[str, Any] = {"system": DEID_PL_SYSTEM, "name": "deid.pl (PhysioNet deid 1.1)", "task": PHI_TASK}
    result.update(phi_token_scores(dev, spans_key=spans_key))
    result["dev_docs"] = result.pop("docs")
    result["patients"] = len({key[0] for key in keys})
    result["notes_not_in_output"] = sum(key not in detections for key in keys)
    result["words_per_s"] = None
    result["speed"] = "not timed: deid.pl's output is read from its file"
    return result


def run_baselines(
    corpus_dir: Path,
    *,
    nlp: Language,
    deid_pl: Optional[Path] = None,
    seed: int = 0,
    folds: int = 3,
    limit: int = 0,
    specialty_corpus: str = "mtsamples",
    ade_corpus: str = "ade",
    phi_corpus: str = "physionet",
    grids: Optional[Dict[str, Dict[str, Sequence[Any]]]] = None,
    cnn: Optional[Path] = None,
    progress: Optional[Callable[[str], None]] = None,
    n_jobs: int = 1,
) -> Dict[str, Any]:
    """Every baseline whose corpus is present, as one JSON-serialisable dict.

    corpus_dir (Path): Folder with ``<corpus>/train.spacy`` and ``<corpus>/dev.spacy``.
    nlp (Language): Tokenizes the texts for word counts (``spacy.blank("en")``).
    deid_pl (Optional[Path]): deid.pl's output on the PhysioNet notes; None skips it.
    seed (int): Seed of the cross-validation folds.
    folds (int): Cross-validation folds on the training splits.
    limit (int): At most this many dev docs per text classification corpus (0 = all), the
        evaluate step's ``--limit``, so both score the same docs. PhysioNet is scored in full.
    grids (Optional[Dict[str, Dict[str, Sequence[Any]]]]): Task -> grid, replacing the default
        ``SPECIALTY_GRID`` / ``ADE_GRID``.
    cnn (Optional[Path]): A spaCy CNN NER baseline (``clintiny train-cnn``'s ``model-last``),
        scored on each concept corpus's dev docs and the PhysioNet dev notes (:mod:`.cnn_baseline`).
    progress (Optional[Callable[[str], None]]): Called with a line before each baseline.
    n_jobs (int): Processes for the TF-IDF grid searches (:func:`textcat_baseline`).
    RETURNS (Dict[str, Any]): {"version", "seed", "folds", "limit", "seconds", "tasks": {task:
        {system: figures}}}.
    """
    from ..converters.physionet import read_deid_pl_output
    from ..training.mixed_corpus import load_examples

    grids = dict(grids or {})
    say = progress or (lambda line: None)
    start = time.perf_counter()
    out: Dict[str, Any] = {
        "version": FORMAT_VERSION,
        "seed": seed,
        "folds": folds,
        "limit": limit,
        "corpus_dir": str(corpus_dir),
        "tasks": {},
    }
    specs = ((SPECIALTY_TASK, specialty_corpus, SPECIALTY_GRID), (ADE_TASK, ade_corpus, ADE_GRID))
    for task, corpus, default_grid in specs:
        train_path, dev_path = corpus_dir / corpus / "train.spacy", corpus_dir / corpus / "dev.spacy"
        if not (train_path.exists() and dev_path.exists()):
            say(f"{task}: no {corpus} train/dev split in {corpus_dir}, skipped")
            continue
        say(f"{task}: TF-IDF + logistic regression on {corpus}")
        train = load_examples(nlp, train_path)
        dev = spread_subset(load_examples(nlp, dev_path), limit)
        labels = sorted({label for eg in train for label in eg.reference.cats})
        try:
            entry = textcat_baseline(
                train,
                dev,
                task=task,
                labels=labels,
                grid=grids.get(task, default_grid),
                folds=folds,
                seed=seed,
                source=str(train_path),
                n_jobs=n_jobs,
            )
        except ValueError as err:
            if "[E791]" not in str(err):
                raise
            # too little or one-sided training data (e.g. a smoke-size corpus): no baseline
            say(f"{task}: skipped: {err}")
            out.setdefault("skipped", {})[task] = str(err)
            continue
        entry["corpus"] = corpus
        out["tasks"][task] = {TFIDF_SYSTEM: entry}
    if deid_pl is not None:
        dev_path = corpus_dir / phi_corpus / "dev.spacy"
        say(f"{PHI_TASK}: deid.pl output on {phi_corpus} dev")
        dev = load_examples(nlp, dev_path)
        entry = deid_pl_baseline(dev, read_deid_pl_output(deid_pl), output_path=deid_pl, docs_path=dev_path)
        entry["corpus"] = phi_corpus
        out["tasks"][PHI_TASK] = {DEID_PL_SYSTEM: entry}
    if cnn is not None:
        from .cnn_baseline import CNN_SYSTEM, cnn_baseline

        say(f"spaCy CNN NER baseline {cnn} on the concept corpora and {phi_corpus} dev")
        phi_dev = corpus_dir / phi_corpus / "dev.spacy"
        phi_docs = phi_dev if phi_dev.exists() else None  # scored in full, as evaluate --phi-docs
        for task, entry in cnn_baseline(cnn, corpus_dir, phi_docs=phi_docs, limit=limit).items():
            out["tasks"].setdefault(task, {})[CNN_SYSTEM] = entry
    out["seconds"] = time.perf_counter() - start
    return out


def read_baselines(path: Path) -> Dict[str, Any]:
    """Read and check a file written by ``clintiny baselines``.

    path (Path): The JSON file.
    RETURNS (Dict[str, Any]): Its content.
    """
    import json

    try:
        data = json.loads(Path(path).read_text(encoding="utf8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(Errors.E796.format(path=path, problem=f"unreadable: {type(err).__name__}")) from None
    if not isinstance(data, dict) or not isinstance(data.get("tasks"), dict):
        raise ValueError(Errors.E796.format(path=path, problem="no 'tasks' object"))
    if data.get("version") != FORMAT_VERSION:
        raise ValueError(
            Errors.E796.format(path=path, problem=f"version {data.get('version')!r}, expected {FORMAT_VERSION}")
        )
    for task, systems in data["tasks"].items():
        if not isinstance(systems, dict) or not all(isinstance(e, dict) for e in systems.values()):
            raise ValueError(Errors.E796.format(path=path, problem=f"task {task!r} is not {{system: figures}}"))
    return data


def spread_subset(items: Sequence[T], limit: int) -> List[T]:
    """At most ``limit`` items, evenly spaced over the sequence (all of them when ``limit`` is 0):
    the dev docs both the evaluate step and the baselines score. A corpus file written in
    blocks keeps its mix (ADE's dev file holds 300 of its 305 positive sentences first: its first
    300 docs would all be positive).

    items (Sequence[T]): The items, in file order.
    limit (int): The most to keep (0 = all).
    RETURNS (List[T]): The kept items, in order.
    """
    n = len(items)
    if limit <= 0 or limit >= n:
        return list(items)
    return [items[(i * n) // limit] for i in range(limit)]


def best_threshold(y_true: numpy.ndarray, probs: numpy.ndarray, *, candidates: numpy.ndarray = THRESHOLDS) -> float:
    """The candidate threshold with the highest F1 (the one nearest 0.5 among ties); 0.5 when
    there is no positive.

    y_true (numpy.ndarray): 0/1 gold, ``(n,)``.
    probs (numpy.ndarray): Probabilities, ``(n,)``.
    RETURNS (float): The threshold.
    """
    y_true = numpy.asarray(y_true).astype(bool)
    if not y_true.any():
        return 0.5
    guess = numpy.asarray(probs)[None, :] >= numpy.asarray(candidates)[:, None]  # (n_candidates, n)
    tp = (guess & y_true).sum(axis=1)
    f1 = 2 * tp / (guess.sum(axis=1) + y_true.sum())
    best = numpy.flatnonzero(numpy.isclose(f1, f1.max()))
    return float(candidates[best[numpy.argmin(numpy.abs(candidates[best] - 0.5))]])


def top1_accuracy(gold: numpy.ndarray, probs: numpy.ndarray) -> Optional[float]:
    """Fraction of the docs with a gold label whose top-scoring label is gold.

    gold (numpy.ndarray): 0/1, ``(n_docs, n_labels)``.
    probs (numpy.ndarray): Scores, ``(n_docs, n_labels)``.
    RETURNS (Optional[float]): The accuracy; None without a doc with a gold label.
    """
    has_gold = gold.any(axis=1)
    if not has_gold.any():
        return None
    top = probs.argmax(axis=1)
    return float(gold[numpy.arange(len(gold)), top][has_gold].mean())


def _top1_and_macro_f(estimator: Any, texts: List[str], y: numpy.ndarray) -> float:
    """Cross-validation score of a multi-label candidate: mean of top-1 accuracy and macro-F1
    (top label + labels >= 0.5), over the labels with a positive in the fold."""
    from sklearn.metrics import f1_score

    probs = estimator.predict_proba(texts)
    present = y.any(axis=0)
    decisions = decide(probs, numpy.full(y.shape[1], 0.5), always_top=True)
    macro_f = f1_score(y[:, present], decisions[:, present], average="macro", zero_division=0)
    return (top1_accuracy(y, probs) + macro_f) / 2


def _cats_scores(dev: Sequence[Example], labels: List[str], decisions: numpy.ndarray) -> Dict[str, Any]:
    """spaCy's ``Scorer.score_cats`` of 0/1 decisions (the clintiny_textcat heads' definition:
    macro-F1 averages over every label, one without dev positives and predictions counts 0)."""
    examples = []
    for eg, row in zip(dev, decisions.reshape(len(dev), len(labels))):
        pred = eg.predicted.copy()
        pred.cats = {label: float(flag) for label, flag in zip(labels, row)}
        examples.append(Example(pred, eg.reference))
    return Scorer.score_cats(examples, "cats", labels=labels, multi_label=True, threshold=0.5)


def _gold_matrix(examples: Sequence[Example], labels: List[str]) -> numpy.ndarray:
    return numpy.array(
        [[eg.reference.cats.get(label, 0.0) >= 0.5 for label in labels] for eg in examples], dtype=int
    ).reshape(len(examples), len(labels))


def _xy(
    train: Sequence[Example], labels: List[str], *, task: str, source: str, folds: int, multi_label: bool
) -> Tuple[List[str], numpy.ndarray, List[str]]:
    annotated = [eg for eg in train if any(label in eg.reference.cats for label in labels)]
    if not annotated:
        raise ValueError(Errors.E790.format(task=task, n=len(train), path=source, labels=labels))
    y = _gold_matrix(annotated, labels)
    problem = None
    if len(annotated) < folds:
        problem = f"{len(annotated)} doc(s) for {folds} folds"
    elif not multi_label and len(set(y[:, 0])) < 2:
        problem = f"only {'positive' if y[0, 0] else 'negative'} docs for '{labels[0]}'"
    if problem:
        raise ValueError(Errors.E791.format(task=task, problem=problem, path=source, n=len(annotated), folds=folds))
    texts = [eg.reference.text for eg in annotated]
    groups = [group_of(eg.reference) or str(i) for i, eg in enumerate(annotated)]
    return texts, (y if multi_label else y[:, 0]), groups


def _param_grid(grid: Dict[str, Sequence[Any]], *, multi_label: bool) -> List[Dict[str, List[Any]]]:
    clf = "clf__estimator__" if multi_label else "clf__"
    return [
        {
            "tfidf__analyzer": [FEATURES[name][0]],
            "tfidf__ngram_range": [FEATURES[name][1:]],
            "tfidf__sublinear_tf": list(grid["sublinear_tf"]),
            f"{clf}C": list(grid["C"]),
            f"{clf}class_weight": list(grid["class_weight"]),
        }
        for name in grid["features"]
    ]


def _chosen(best: Dict[str, Any]) -> Dict[str, Any]:
    """sklearn's best_params_ in the grid's own terms."""
    short = {key.rsplit("__", 1)[-1]: value for key, value in best.items()}
    features = next(name for name, spec in FEATURES.items() if spec == (short["analyzer"], *short["ngram_range"]))
    return {
        "features": features,
        "sublinear_tf": short["sublinear_tf"],
        "C": short["C"],
        "class_weight": short["class_weight"],
    }


def _check_grid(grid: Dict[str, Sequence[Any]], folds: int) -> None:
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise ValueError(Errors.E792.format(setting="folds", value=folds, expected="an integer >= 2"))
    if sorted(grid) != sorted(GRID_KEYS) or not all(len(grid[key]) for key in GRID_KEYS):
        raise ValueError(
            Errors.E792.format(
                setting="grid keys", value=sorted(grid), expected=f"a non-empty list for each of {list(GRID_KEYS)}"
            )
        )
    unknown = [name for name in grid["features"] if name not in FEATURES]
    if unknown:
        raise ValueError(Errors.E792.format(setting="features", value=unknown, expected=f"names from {list(FEATURES)}"))


def _words_per_second(
    predict: Callable[[List[str]], Any], texts: List[str], n_words: int, *, min_seconds: float = 1.0
) -> float:
    """Prediction throughput over ``texts`` (repeated until ``min_seconds`` have passed)."""
    predict(texts[:16])  # warm-up
    runs, start = 0, time.perf_counter()
    while True:
        predict(texts)
        runs += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return runs * n_words / elapsed
