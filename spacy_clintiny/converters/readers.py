"""Registered spaCy readers: read a source corpus directly in a training config.

Each ``spacy-clintiny.<Format>Corpus.v1`` converts its source on the first pass (same code and
report as ``clintiny convert``), optionally keeps one side of the deterministic group split,
and yields ``Example(nlp.make_doc(text), reference)``. Example::

    [corpora.dev]
    @readers = "spacy-clintiny.PhysioNetCorpus.v1"
    path = ${paths.physionet}
    split = "dev"
    dev_fraction = 0.2
"""

from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Union

from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import registry

from ..errors import Errors
from .formats import read_format
from .report import ConversionReport
from .splits import split_docs

SPLITS = (None, "train", "dev")


class SourceCorpus:
    """Iterate Examples converted from a source corpus.

    fmt (str): Source format (see ``formats.FORMATS``).
    path (Union[str, Path]): Input file or folder.
    split (Optional[str]): "train", "dev" or None (every doc).
    dev_fraction (float): Fraction of groups in dev when ``split`` is set.
    seed (int): Split seed.
    limit (int): Keep at most this many docs (0 = all).
    options (Dict[str, object]): Format options (label_map, discontinuous, n_sents).
    """

    def __init__(
        self,
        fmt: str,
        path: Union[str, Path],
        *,
        split: Optional[str] = None,
        dev_fraction: float = 0.1,
        seed: int = 0,
        limit: int = 0,
        options: Optional[Dict[str, object]] = None,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(Errors.E410.format(value=split))
        self.fmt = fmt
        self.path = Path(path)
        self.split = split
        self.dev_fraction = dev_fraction
        self.seed = seed
        self.limit = limit
        self.options = dict(options or {})
        self.report: Optional[ConversionReport] = None
        self._docs: Dict[int, List[Doc]] = {}

    def docs(self, nlp: Language) -> List[Doc]:
        """Convert (once per vocab) and return the reference docs of the selected split."""
        key = id(nlp.vocab)
        if key not in self._docs:
            self.report = ConversionReport(self.fmt)
            docs = list(read_format(self.fmt, self.path, nlp=nlp, report=self.report, **self.options))
            if self.split is not None:
                train, dev, _ = split_docs(docs, dev_fraction=self.dev_fraction, seed=self.seed)
                docs = train if self.split == "train" else dev
            if self.limit:
                docs = docs[: self.limit]
            self._docs = {key: docs}
        return self._docs[key]

    def __call__(self, nlp: Language) -> Iterator[Example]:
        for reference in self.docs(nlp):
            yield Example(nlp.make_doc(reference.text), reference)


Reader = Callable[[Language], Iterator[Example]]


def _build(fmt: str, path, split, dev_fraction, seed, limit, **options) -> Reader:
    return SourceCorpus(
        fmt,
        path,
        split=split,
        dev_fraction=dev_fraction,
        seed=seed,
        limit=limit,
        options={k: v for k, v in options.items() if v is not None},
    )


@registry.readers("spacy-clintiny.PhysioNetCorpus.v1")
def build_physionet_corpus_v1(
    path: Path, split: Optional[str] = None, dev_fraction: float = 0.1, seed: int = 0, limit: int = 0
) -> Reader:
    """PhysioNet deid folder (id.text + id-phi.phrase) or .text file; split by patient."""
    return _build("physionet", path, split, dev_fraction, seed, limit)


@registry.readers("spacy-clintiny.I2b2DeidCorpus.v1")
def build_i2b2_deid_corpus_v1(
    path: Path, split: Optional[str] = None, dev_fraction: float = 0.1, seed: int = 0, limit: int = 0
) -> Reader:
    """i2b2 2014 de-identification XML folder; split by patient."""
    return _build("i2b2-2014", path, split, dev_fraction, seed, limit)


@registry.readers("spacy-clintiny.I2b2TemporalCorpus.v1")
def build_i2b2_temporal_corpus_v1(
    path: Path, split: Optional[str] = None, dev_fraction: float = 0.1, seed: int = 0, limit: int = 0
) -> Reader:
    """i2b2 2012 temporal XML folder; split by file."""
    return _build("i2b2-2012", path, split, dev_fraction, seed, limit)


@registry.readers("spacy-clintiny.I2b2RelationsCorpus.v1")
def build_i2b2_relations_corpus_v1(
    path: Path, split: Optional[str] = None, dev_fraction: float = 0.1, seed: int = 0, limit: int = 0
) -> Reader:
    """i2b2 2010 .txt/.con/.ast/.rel folder; split by file."""
    return _build("i2b2-2010", path, split, dev_fraction, seed, limit)


@registry.readers("spacy-clintiny.BratCorpus.v1")
def build_brat_corpus_v1(
    path: Path,
    label_map: Optional[str] = None,
    discontinuous: str = "join",
    split: Optional[str] = None,
    dev_fraction: float = 0.1,
    seed: int = 0,
    limit: int = 0,
) -> Reader:
    """BRAT folder with a label-map preset or JSON file (e.g. "n2c2-2018"); split by file."""
    return _build("brat", path, split, dev_fraction, seed, limit, label_map=label_map, discontinuous=discontinuous)


@registry.readers("spacy-clintiny.MedNLICorpus.v1")
def build_mednli_corpus_v1(
    path: Path, split: Optional[str] = None, dev_fraction: float = 0.1, seed: int = 0, limit: int = 0
) -> Reader:
    """MedNLI/SNLI JSONL; split by premise."""
    return _build("mednli", path, split, dev_fraction, seed, limit)


@registry.readers("spacy-clintiny.ADECorpus.v1")
def build_ade_corpus_v1(
    path: Path, split: Optional[str] = None, dev_fraction: float = 0.1, seed: int = 0, limit: int = 0
) -> Reader:
    """ADE corpus v2 folder; split by PMID."""
    return _build("ade", path, split, dev_fraction, seed, limit)


@registry.readers("spacy-clintiny.PubTatorCorpus.v1")
def build_pubtator_corpus_v1(
    path: Path,
    label_map: Optional[str] = None,
    split: Optional[str] = None,
    dev_fraction: float = 0.1,
    seed: int = 0,
    limit: int = 0,
) -> Reader:
    """PubTator file (BC5CDR, NCBI original); split by PMID."""
    return _build("pubtator", path, split, dev_fraction, seed, limit, label_map=label_map)


@registry.readers("spacy-clintiny.CoNLLCorpus.v1")
def build_conll_corpus_v1(
    path: Path,
    label_map: Optional[str] = None,
    n_sents: int = 10,
    split: Optional[str] = None,
    dev_fraction: float = 0.1,
    seed: int = 0,
    limit: int = 0,
) -> Reader:
    """BIO TSV file; docs of ``n_sents`` sentences."""
    return _build("conll", path, split, dev_fraction, seed, limit, label_map=label_map, n_sents=n_sents)


@registry.readers("spacy-clintiny.MTSamplesCorpus.v1")
def build_mtsamples_corpus_v1(
    path: Path, split: Optional[str] = None, dev_fraction: float = 0.1, seed: int = 0, limit: int = 0
) -> Reader:
    """MTSamples JSONL file or folder; one doc per distinct text, split by text."""
    return _build("mtsamples", path, split, dev_fraction, seed, limit)
