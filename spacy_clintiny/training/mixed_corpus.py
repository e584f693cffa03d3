"""``spacy-clintiny.MixedCorpus.v1``: an endless, seeded stream of training examples drawn from
several DocBins with per-corpus weights, served in "epochs" of a fixed size.

Multi-task training on partially annotated corpora needs balance: the MTSamples specialty
notes are a thousand words each, the ADE sentences twenty. Sampling corpora by weight (and
not by size) keeps every head learning. Use it with ``[training] max_epochs = -1`` and a
``max_steps`` budget: spaCy then calls the reader once per epoch (and once for
``initialize``, which collects labels from a pass), so each call yields ``epoch_size``
examples and the sampling order carries over from one call to the next.
"""

import random
import weakref
from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Tuple

from spacy.language import Language
from spacy.tokens import DocBin
from spacy.training import Example

from ..errors import Errors
from ..registry import registry


def _docbin_paths(path: Path) -> List[Path]:
    if path.is_dir():
        return sorted(path.rglob("*.spacy"))
    return [path]


def load_examples(nlp: Language, path: Path, *, limit: int = 0) -> List[Example]:
    """Read a DocBin (or a folder of them) into Examples whose predicted side is re-tokenized
    with ``nlp``'s tokenizer only when the text differs from the reference tokens."""
    if not path.exists():
        raise ValueError(Errors.E601.format(path=path))
    examples: List[Example] = []
    for p in _docbin_paths(path):
        for doc in DocBin().from_disk(p).get_docs(nlp.vocab):
            examples.append(Example(nlp.make_doc(doc.text), doc))
            if limit and len(examples) >= limit:
                return examples
    return examples


# nlp -> {(file key, limit): examples}: `spacy train` builds its training reader twice (once to
# initialize, once for the loop) and the doc heads read their corpus at initialize too; the
# readers of one pipeline share what they load instead of decoding the same DocBins again.
_SHARED: "weakref.WeakKeyDictionary[Language, Dict[Tuple, List[Example]]]" = weakref.WeakKeyDictionary()


def _file_key(path: Path) -> Tuple:
    return tuple((str(p.resolve()), p.stat().st_mtime_ns, p.stat().st_size) for p in _docbin_paths(path))


def shared_examples(nlp: Language, path: Path, *, limit: int = 0) -> List[Example]:
    """``load_examples``, read once per pipeline object and file version: later readers of
    the same ``nlp`` get the same Example objects (they are read, never modified, by
    training and initialization)."""
    if not path.exists():
        raise ValueError(Errors.E601.format(path=path))
    loaded = _SHARED.setdefault(nlp, {})
    key = (_file_key(path), limit)
    if key not in loaded:
        loaded[key] = load_examples(nlp, path, limit=limit)
    return loaded[key]


@registry.readers("spacy-clintiny.MixedCorpus.v1")
def build_mixed_corpus_v1(
    paths: Dict[str, str],
    *,
    weights: Optional[Dict[str, float]] = None,
    seed: int = 0,
    limit: int = 0,
    epoch_size: int = 0,
    sample: bool = True,
    augmenter: Optional[Callable[[Language, Example], Iterable[Example]]] = None,
) -> Callable[[Language], Iterator[Example]]:
    """Create a weighted stream over several corpora, served an epoch per call.

    paths (Dict[str, str]): Corpus name -> DocBin file or folder of DocBins.
    weights (Optional[Dict[str, float]]): Corpus name -> sampling weight (default 1.0 each).
        A corpus with weight 0 is skipped.
    seed (int): Seed of the sampling order.
    limit (int): Read at most this many docs per corpus (0 = all).
    epoch_size (int): Examples per call (0 = as many as all corpora hold together).
    sample (bool): Draw by weight (training). False yields every doc of every corpus once
        per call, in file order: a fixed dev set (with ``limit`` docs per corpus).
    augmenter (Optional[Callable[[Language, Example], Iterable[Example]]]): Applied to each
        drawn training example (``sample = true``; a fixed dev set is served as it is), as
        spaCy's ``Corpus`` does (e.g. ``spacy-clintiny.CaseVariants.v1``);
        what it yields is served in the example's place.
    RETURNS (Callable[[Language], Iterator[Example]]): The reader.
    """
    weights = dict(weights or {})
    unknown = sorted(set(weights) - set(paths))
    if unknown:
        raise ValueError(Errors.E602.format(names=unknown, known=sorted(paths)))

    rng = random.Random(seed)
    pools: Dict[str, List[Example]] = {}
    orders: Dict[str, List[int]] = {}

    def read(nlp: Language) -> Iterator[Example]:
        if not pools:
            for name, path in paths.items():
                if weights.get(name, 1.0) <= 0:
                    continue
                pools[name] = shared_examples(nlp, Path(path), limit=limit)
                if not pools[name]:
                    raise ValueError(Errors.E603.format(name=name, path=path))
                orders[name] = []
        names = sorted(pools)
        if not sample:
            for name in names:
                yield from pools[name]
            return
        probs = [weights.get(n, 1.0) for n in names]
        size = epoch_size or sum(len(pool) for pool in pools.values())
        for _ in range(size):
            name = rng.choices(names, probs)[0]
            if not orders[name]:
                orders[name] = list(range(len(pools[name])))
                rng.shuffle(orders[name])
            example = pools[name][orders[name].pop()]
            if augmenter is None:
                yield example
            else:
                yield from augmenter(nlp, example)

    return read
