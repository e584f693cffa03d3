"""Task scores of a trained pipeline on its dev corpora.

Each clintiny head scores itself (spaCy's Scorer underneath) only over the examples whose
reference carries its annotation, so scoring the union of all dev corpora gives every task's
figures (the pipeline runs once per doc; per-corpus figures re-score the same predictions).
On top of that we add PHI token-level recall and precision, the figure de-identification is
judged by.
"""

import time
import warnings
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy
from spacy.language import Language
from spacy.scorer import Scorer
from spacy.tokens import Doc
from spacy.training import Example

from ..errors import Errors
from ..training.mixed_corpus import load_examples

NER_FACTORY = "clintiny_ner"
TEXTCAT_FACTORY = "clintiny_textcat"
REL_FACTORY = "clintiny_rel"


def head_tasks(nlp: Language) -> Dict[str, Dict[str, str]]:
    """Map each trained clintiny head to the score keys that describe it.

    RETURNS (Dict[str, Dict[str, str]]): task name -> {"main", "per_label", "kind", ...}.
    """
    tasks: Dict[str, Dict[str, str]] = {}
    for name in nlp.pipe_names:
        factory = nlp.get_pipe_meta(name).factory
        pipe = nlp.get_pipe(name)
        if factory == NER_FACTORY:
            key = pipe.cfg.get("spans_key", getattr(pipe, "spans_key", name))
            tasks[key] = {
                "kind": "ner",
                "component": name,
                "main": f"spans_{key}_f",
                "p": f"spans_{key}_p",
                "r": f"spans_{key}_r",
                "per_label": f"spans_{key}_per_type",
            }
        elif factory == TEXTCAT_FACTORY:
            tasks[name] = {
                "kind": "textcat",
                "component": name,
                "main": f"{name}_macro_f",
                "acc": f"{name}_acc",
                "micro_f": f"{name}_micro_f",
                "per_label": f"{name}_per_label",
            }
        elif factory == REL_FACTORY:
            tasks[name] = {
                "kind": "rel",
                "component": name,
                "main": f"{name}_rel_f",
                "p": f"{name}_rel_p",
                "r": f"{name}_rel_r",
                "per_label": f"{name}_rel_per_type",
            }
    return tasks


def predict(nlp: Language, examples: Sequence[Example], *, batch_size: int = 16) -> List[Example]:
    """Run the pipeline once over the reference texts; pair each prediction with its gold.

    nlp (Language): The pipeline to evaluate.
    examples (Sequence[Example]): Gold examples (only their references are read).
    batch_size (int): Batch size of ``nlp.pipe``.
    RETURNS (List[Example]): One example per input, in order: prediction and its gold.
    """
    docs = list(nlp.pipe((eg.reference.text for eg in examples), batch_size=batch_size))
    if len(docs) != len(examples):  # zip would silently drop the unpaired ones
        raise ValueError(Errors.E604.format(n_docs=len(docs), n_examples=len(examples)))
    return [Example(pred, eg.reference) for pred, eg in zip(docs, examples)]


def score_tasks(nlp: Language, predicted: Sequence[Example]) -> Dict[str, Any]:
    """Score every clintiny head on the predicted examples that carry its annotation.

    predicted (Sequence[Example]): Output of :func:`predict`.
    RETURNS (Dict[str, Any]): task name -> {"main": float, <other figures>, "per_label": {...}}.
    """
    with warnings.catch_warnings():
        # a corpus that does not annotate a head's task is expected here (W101)
        warnings.filterwarnings("ignore", message=r".*\[W101\]")
        scores = Scorer(nlp).score(list(predicted))
    out: Dict[str, Any] = {}
    for task, keys in head_tasks(nlp).items():
        entry: Dict[str, Any] = {"kind": keys["kind"], "component": keys["component"]}
        for figure, key in keys.items():
            if figure in ("kind", "component"):
                continue
            entry[figure] = scores.get(key)
        out[task] = entry
    return out


def char_mask(length: int, ranges: Iterable[Tuple[int, int]]) -> numpy.ndarray:
    """Which characters of a text of ``length`` characters lie inside any of the ranges.

    length (int): Length of the text.
    ranges (Iterable[Tuple[int, int]]): (start_char, end_char) ranges, in any order; they may
        overlap or reach past the text (clipped).
    RETURNS (numpy.ndarray): Boolean mask, shape (length,).
    """
    delta = numpy.zeros(length + 1, dtype=numpy.int64)
    for start, end in ranges:
        start, end = max(int(start), 0), min(int(end), length)
        if start < end:
            delta[start] += 1
            delta[end] -= 1
    return numpy.cumsum(delta[:length]) > 0


def token_flags(doc: Doc, ranges: Iterable[Tuple[int, int]]) -> List[bool]:
    """Which tokens of ``doc`` overlap (share a character with) any of the ranges. Whitespace
    tokens (a line break or the second space of a double space inside a span) are never
    flagged: they are not PHI, and the leak rate and word counts skip them too.

    doc (Doc): The tokens.
    ranges (Iterable[Tuple[int, int]]): (start_char, end_char) ranges, in any order.
    RETURNS (List[bool]): One flag per token.
    """
    covered = numpy.concatenate(([0], numpy.cumsum(char_mask(len(doc.text), ranges))))
    return [not t.is_space and bool(covered[t.idx + len(t)] > covered[t.idx]) for t in doc]


def token_confusion(
    doc: Doc, gold: Iterable[Tuple[int, int]], predicted: Iterable[Tuple[int, int]]
) -> Tuple[int, int, int]:
    """Token-level binary PHI counts: a token is PHI when it overlaps a gold range, predicted
    when it overlaps a predicted range (the standard de-identification measure).

    doc (Doc): The tokens (the blank English tokenizer's, for comparable figures).
    gold (Iterable[Tuple[int, int]]): Gold PHI (start_char, end_char) ranges.
    predicted (Iterable[Tuple[int, int]]): Predicted (start_char, end_char) ranges.
    RETURNS (Tuple[int, int, int]): True positives, false positives, false negatives.
    """
    tp = fp = fn = 0
    for g, p in zip(token_flags(doc, gold), token_flags(doc, predicted)):
        tp += g and p
        fp += p and not g
        fn += g and not p
    return tp, fp, fn


def phi_token_scores(predicted: Sequence[Example], *, spans_key: str = "phi") -> Dict[str, float]:
    """PHI token-level recall and precision: a token is PHI when it overlaps a PHI span.

    Recall is what de-identification is judged by (a missed PHI token leaks); precision
    says how much non-PHI text would be redacted. Counted by :func:`token_confusion` on the
    predicted doc's tokens.

    predicted (Sequence[Example]): Output of :func:`predict`.
    """
    predicted = [eg for eg in predicted if spans_key in eg.reference.spans]
    tp = fp = fn = 0
    for eg in predicted:
        pred = eg.predicted
        gold = [(s.start_char, s.end_char) for s in eg.reference.spans[spans_key]]
        guess = [(s.start_char, s.end_char) for s in pred.spans.get(spans_key, [])]
        counts = token_confusion(pred, gold, guess)
        tp, fp, fn = tp + counts[0], fp + counts[1], fn + counts[2]
    return {
        "token_recall": tp / (tp + fn) if tp + fn else 0.0,
        "token_precision": tp / (tp + fp) if tp + fp else 0.0,
        "gold_tokens": tp + fn,
        "docs": len(predicted),
    }


def words_per_second(
    nlp: Language, texts: Sequence[str], *, batch_size: int = 16, repeats: int = 1, disable: Sequence[str] = ()
) -> float:
    """Throughput of ``nlp.pipe`` in words (spaCy tokens that are not whitespace) per second,
    after one warm-up batch."""
    with nlp.select_pipes(disable=list(disable)):
        list(nlp.pipe(texts[:batch_size], batch_size=batch_size))
        n_words = 0
        start = time.perf_counter()
        for _ in range(repeats):
            for doc in nlp.pipe(texts, batch_size=batch_size):
                n_words += sum(not t.is_space for t in doc)
        elapsed = time.perf_counter() - start
    return n_words / elapsed if elapsed else 0.0


def encoder_size(nlp: Language) -> Dict[str, float]:
    """Parameters of the pipeline's Hugging Face encoder(s) and their float32 size in MB (an
    ONNX Runtime encoder counts the weights of its graph)."""
    from spacy_transformers.pipeline_component import Transformer

    params = 0
    for _, pipe in nlp.pipeline:
        if isinstance(pipe, Transformer):
            model = pipe.model.transformer
            count = getattr(model, "weight_count", None)
            params += count() if callable(count) else sum(p.numel() for p in model.parameters())
    return {"params": params, "encoder_mb": params * 4 / 2**20}


def dir_size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file()) / 2**20


def read_dev_sets(nlp: Language, paths: Dict[str, Path], *, limit: int = 0) -> Dict[str, List[Example]]:
    """corpus name -> its dev examples."""
    return {name: load_examples(nlp, Path(path), limit=limit) for name, path in paths.items()}


def kept_fraction(student: Optional[float], teacher: Optional[float]) -> Optional[float]:
    if student is None or teacher is None or not teacher:
        return None
    return student / teacher
