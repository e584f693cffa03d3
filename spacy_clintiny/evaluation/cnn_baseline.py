"""The spaCy CNN baseline: spaCy's own NER recipe trained on the student's training data.

What a clinical NLP team would otherwise train: ``spacy init config -p ner --optimize
efficiency`` (a hash-embedding CNN ``tok2vec`` and the transition-based ``ner``), trained with
``spacy train`` for a fixed number of steps on the same training splits the student's heads
learn from, with the concept and PHI span groups as its entities (overlaps: the longest kept),
and the last checkpoint kept (nothing is chosen on a dev split). Unlike the clintiny heads it
cannot learn from partial annotation: an NCBI abstract's unlabelled drugs are negatives to it.

It is scored exactly as the student: each concept corpus's dev docs by strict span F1 on the
labels the corpus annotates (:func:`..components.ner.score_span_group`), the held-out PhysioNet
notes by PHI token recall and precision (:func:`.scores.phi_token_scores`), on the same docs
(``read_eval_sets`` with the evaluate step's ``limit``). Words/s are its own, on each task's
dev texts.
"""

import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from spacy.tokens import Doc, DocBin
from spacy.training import Example
from spacy.util import filter_spans

from ..errors import Errors
from ..fileio import write_json_atomic
from .baselines import PHI_TASK

CNN_SYSTEM = "spacy_cnn"
CNN_NAME = "spaCy CNN NER (tok2vec + ner, efficiency)"
# corpora whose training docs teach the CNN, and the span groups it learns as entities
TRAIN_CORPORA = ("synth", "ncbi", "bc5cdr", "ade", "physionet")
GROUPS = ("concepts", "phi")
# the report's concept tasks: corpus -> task name in the baselines file
CONCEPT_TASKS = {"ncbi": "concepts_ncbi", "bc5cdr": "concepts_bc5cdr", "ade": "concepts_ade"}
TRAINING_FILE = "training.json"


def as_entities(docs: Sequence[Doc], groups: Sequence[str] = GROUPS) -> List[Doc]:
    """``docs`` with ``doc.ents`` set to the spans of their ``groups`` (longest kept on overlap).

    docs (Sequence[Doc]): Docs with span groups; changed in place.
    groups (Sequence[str]): The span groups taken as entities.
    RETURNS (List[Doc]): The same docs.
    """
    for doc in docs:
        doc.ents = filter_spans([span for key in groups if key in doc.spans for span in doc.spans[key]])
    return list(docs)


def group_labels(corpus_dir: Path, corpora: Sequence[str] = TRAIN_CORPORA) -> Dict[str, List[str]]:
    """Span group -> the labels the training splits of ``corpora`` use in it (E798 when the
    groups share one: the CNN's entity label is all that tells a PHI span from a concept)."""
    import spacy

    vocab = spacy.blank("en").vocab
    docs: List[Doc] = []
    for name in corpora:
        path = Path(corpus_dir) / name / "train.spacy"
        if path.exists():
            docs += DocBin().from_disk(path).get_docs(vocab)
    return _labels_of(docs, corpus_dir)


def _labels_of(docs: Sequence[Doc], corpus_dir: Path) -> Dict[str, List[str]]:
    labels: Dict[str, set] = {key: set() for key in GROUPS}
    for doc in docs:
        for key in GROUPS:
            labels[key].update(span.label_ for span in doc.spans.get(key, []))
    shared = labels["concepts"] & labels["phi"]
    if shared:
        raise ValueError(Errors.E798.format(labels=", ".join(sorted(shared)), path=corpus_dir))
    return {key: sorted(values) for key, values in labels.items()}


def train_cnn_baseline(
    corpus_dir: Path, output: Path, *, max_steps: int, seed: int = 0, corpora: Sequence[str] = TRAIN_CORPORA
) -> Dict[str, Any]:
    """Train spaCy's efficiency NER recipe on the training splits of ``corpora``.

    corpus_dir (Path): Folder with ``<corpus>/train.spacy`` (and ``synth/dev.spacy``, the only
        dev docs spaCy's training loop evaluates on; nothing is chosen on them).
    output (Path): Output folder: ``model-last``, ``config.cfg``, ``data/`` and ``training.json``
        (steps, minutes, training docs, each span group's labels).
    max_steps (int): Training steps (> 0).
    seed (int): spaCy's seed.
    corpora (Sequence[str]): The training corpora (missing ones are skipped).
    RETURNS (Dict[str, Any]): What ``training.json`` holds.
    """
    import spacy
    from spacy.cli.init_config import init_config
    from spacy.cli.train import train

    if max_steps <= 0:
        raise ValueError(Errors.E799.format(problem=f"max_steps = {max_steps!r} must be at least 1"))
    corpus_dir, output = Path(corpus_dir), Path(output)
    vocab = spacy.blank("en").vocab
    data = output / "data"
    data.mkdir(parents=True, exist_ok=True)
    train_docs: List[Doc] = []
    used = []
    for name in corpora:
        path = corpus_dir / name / "train.spacy"
        if path.exists():
            train_docs += DocBin().from_disk(path).get_docs(vocab)
            used.append(name)
    if not train_docs:
        problem = f"no training split of {', '.join(corpora)} in '{corpus_dir}'"
        raise ValueError(Errors.E799.format(problem=problem))
    labels = _labels_of(train_docs, corpus_dir)  # before training: a label clash fails at once
    as_entities(train_docs)
    dev_path = corpus_dir / "synth" / "dev.spacy"
    dev_docs = as_entities(list(DocBin().from_disk(dev_path).get_docs(vocab))) if dev_path.exists() else train_docs[:20]
    DocBin(docs=train_docs).to_disk(data / "train.spacy")
    DocBin(docs=dev_docs).to_disk(data / "dev.spacy")
    config = init_config(lang="en", pipeline=["ner"], optimize="efficiency", gpu=False)
    config["paths"]["train"] = str(data / "train.spacy")
    config["paths"]["dev"] = str(data / "dev.spacy")
    config["training"]["max_steps"] = max_steps
    config["training"]["eval_frequency"] = max_steps  # one evaluation, at the end: nothing to choose
    config["training"]["patience"] = 0  # no early stop: with one evaluation it would stop at step 1,600
    config["system"]["seed"] = seed
    config.to_disk(output / "config.cfg")
    start = time.perf_counter()
    train(output / "config.cfg", output, use_gpu=-1)
    info = {
        "system": CNN_SYSTEM,
        "max_steps": max_steps,
        "seed": seed,
        "minutes": round((time.perf_counter() - start) / 60, 2),
        "train_docs": len(train_docs),
        "corpora": used,
        "labels": labels,
    }
    write_json_atomic(output / TRAINING_FILE, info)
    return info


def cnn_baseline(
    model_path: Path,
    corpus_dir: Path,
    *,
    phi_docs: Optional[Path] = None,
    limit: int = 0,
    labels: Optional[Dict[str, List[str]]] = None,
    batch_size: int = 64,
) -> Dict[str, Dict[str, Any]]:
    """Score a trained CNN baseline on the evaluate step's dev docs.

    model_path (Path): The trained pipeline (``OUTPUT/model-last`` of :func:`train_cnn_baseline`).
    corpus_dir (Path): The corpus folder (dev splits).
    phi_docs (Optional[Path]): Real notes with gold PHI (the held-out PhysioNet patients), scored
        in full; None: ``corpus_dir/physionet/dev.spacy`` when present.
    limit (int): At most this many dev docs per corpus (0 = all), as ``clintiny evaluate --limit``.
    labels (Optional[Dict[str, List[str]]]): Span group -> labels (default: those the training
        recorded in ``training.json``; for a CNN trained elsewhere, :func:`group_labels`).
    batch_size (int): Batch size of ``nlp.pipe``.
    RETURNS (Dict[str, Dict[str, Any]]): Baselines-file task -> its entry (figures, words/s,
        dev docs, corpus, name), for the concept corpora and PHI tokens present.
    """
    import spacy

    from ..components.ner import score_span_group
    from . import PHI_CORPUS, read_eval_sets
    from .scores import phi_token_scores, predict, words_per_second

    training = _read_training(Path(model_path).parent / TRAINING_FILE)
    labels = labels or training.get("labels") or group_labels(corpus_dir)
    nlp = spacy.load(model_path)
    dev_sets = read_eval_sets(corpus_dir, phi_docs=phi_docs, limit=limit)
    out: Dict[str, Dict[str, Any]] = {}
    for corpus, egs in sorted(dev_sets.items()):
        task = CONCEPT_TASKS.get(corpus) or (PHI_TASK if corpus == PHI_CORPUS else None)
        if task is None or not egs:
            continue
        predicted = [_as_groups(eg, labels) for eg in predict(nlp, egs, batch_size=batch_size)]
        if task == PHI_TASK:
            figures: Dict[str, Any] = dict(phi_token_scores(predicted))
            figures["dev_docs"] = figures.pop("docs")
        else:
            scores = score_span_group(predicted, "concepts", labels["concepts"])
            figures = {k: scores[f"spans_concepts_{k}"] for k in ("p", "r", "f")}
            figures["dev_docs"] = len(egs)
        texts = [eg.reference.text for eg in egs]
        figures.update(
            system=CNN_SYSTEM,
            name=CNN_NAME,
            task=task,
            corpus=corpus,
            params={"steps": training.get("max_steps"), "minutes": training.get("minutes")},
            words_per_s=words_per_second(nlp, texts, batch_size=batch_size),
        )
        out[task] = figures
    return out


def _as_groups(example: Example, labels: Dict[str, List[str]]) -> Example:
    """The example with the CNN's entities moved into the span groups their labels belong to."""
    pred = example.predicted
    for key, names in labels.items():
        keep = set(names)
        pred.spans[key] = [ent for ent in pred.ents if ent.label_ in keep]
    return example


def _read_training(path: Path) -> Dict[str, Any]:
    import json

    try:
        return json.loads(path.read_text(encoding="utf8"))
    except (OSError, ValueError):
        return {}  # a CNN pipeline trained elsewhere: its steps and minutes are unknown
