"""Every supported source format: ``read_<format>`` functions that yield annotated Docs, and the
``FORMATS`` table that ``clintiny convert`` and the registered readers dispatch on.

Each ``read_*`` function reads the source, places the annotations with
``placement.build_doc`` and yields Docs; pass a ``ConversionReport`` to collect the counts
and every unplaceable span with its reason.
"""

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, Optional, Sequence, Union

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from ..errors import Errors
from .ade import iter_ade
from .brat import iter_brat
from .conll import iter_conll
from .i2b2_2010 import iter_i2b2_2010
from .i2b2_2012 import iter_i2b2_2012
from .i2b2_2014 import iter_i2b2_2014
from .labels import LabelMap
from .mednli import iter_mednli
from .mtsamples import iter_mtsamples
from .physionet import iter_physionet, resolve_physionet_paths
from .placement import build_doc
from .pubtator import iter_pubtator
from .report import ConversionReport
from .source import SourceDoc

PathLike = Union[str, Path]


@lru_cache(maxsize=1)
def _blank_en() -> Language:
    return spacy.blank("en")


def to_docs(
    sources: Iterable[SourceDoc],
    report: ConversionReport,
    *,
    nlp: Optional[Language] = None,
    alignment: str = "retokenize",
) -> Iterator[Doc]:
    """Place source annotations on Docs (see ``placement.build_doc``).

    sources (Iterable[SourceDoc]): Documents from one of the ``iter_*`` functions.
    report (ConversionReport): Receives the counts and events.
    nlp (Optional[Language]): Tokenizer source; a blank English pipeline by default.
    alignment (str): "retokenize" (exact, default), "expand", "contract" or "strict".
    YIELDS (Doc): Annotated docs.
    """
    nlp = nlp if nlp is not None else _blank_en()
    for src in sources:
        yield build_doc(src, nlp, report, alignment=alignment)


def _read(
    name: str,
    iter_source: Callable[..., Iterable[SourceDoc]],
    report: Optional[ConversionReport],
    nlp: Optional[Language],
    alignment: str,
    *args,
    **kwargs,
) -> Iterator[Doc]:
    """Run one format's ``iter_*`` with a report (a new one named ``name`` if none) and place it."""
    report = report if report is not None else ConversionReport(name)
    return to_docs(iter_source(*args, report=report, **kwargs), report, nlp=nlp, alignment=alignment)


def read_physionet(
    text_path: PathLike,
    phrase_path: PathLike,
    *,
    nlp: Optional[Language] = None,
    report: Optional[ConversionReport] = None,
    alignment: str = "retokenize",
) -> Iterator[Doc]:
    """PhysioNet deid ``id.text`` + ``id-phi.phrase`` -> one doc per note, PHI in "phi"."""
    return _read("physionet", iter_physionet, report, nlp, alignment, text_path, phrase_path)


def read_i2b2_2014(
    path: PathLike,
    *,
    nlp: Optional[Language] = None,
    report: Optional[ConversionReport] = None,
    alignment: str = "retokenize",
) -> Iterator[Doc]:
    """i2b2 2014 de-id XML files (folder or file) -> PHI in "phi"."""
    return _read("i2b2-2014", iter_i2b2_2014, report, nlp, alignment, path)


def read_i2b2_2012(
    path: PathLike,
    *,
    nlp: Optional[Language] = None,
    report: Optional[ConversionReport] = None,
    alignment: str = "retokenize",
) -> Iterator[Doc]:
    """i2b2 2012 temporal XML files -> "concepts" (with assertions), "events", "timex", TLINKs."""
    return _read("i2b2-2012", iter_i2b2_2012, report, nlp, alignment, path)


def read_i2b2_2010(
    path: PathLike,
    *,
    nlp: Optional[Language] = None,
    report: Optional[ConversionReport] = None,
    alignment: str = "retokenize",
) -> Iterator[Doc]:
    """i2b2 2010 ``.txt`` + ``.con``/``.ast``/``.rel`` -> "concepts", assertions, relations."""
    return _read("i2b2-2010", iter_i2b2_2010, report, nlp, alignment, path)


def read_brat(
    path: Union[PathLike, Sequence[PathLike]],
    *,
    label_map: Union[None, str, LabelMap] = None,
    discontinuous: str = "join",
    nlp: Optional[Language] = None,
    report: Optional[ConversionReport] = None,
    alignment: str = "retokenize",
) -> Iterator[Doc]:
    """BRAT ``.ann``/``.txt`` pairs (generic, n2c2 2018 with ``label_map="n2c2-2018"``...)."""
    return _read("brat", iter_brat, report, nlp, alignment, path, label_map=label_map, discontinuous=discontinuous)


def read_mednli(
    path: PathLike,
    *,
    nlp: Optional[Language] = None,
    report: Optional[ConversionReport] = None,
    alignment: str = "retokenize",
) -> Iterator[Doc]:
    """MedNLI/SNLI JSONL -> sentence-pair docs with the NLI label in ``cats``."""
    return _read("mednli", iter_mednli, report, nlp, alignment, path)


def read_ade(
    folder: PathLike,
    *,
    nlp: Optional[Language] = None,
    report: Optional[ConversionReport] = None,
    alignment: str = "retokenize",
) -> Iterator[Doc]:
    """ADE corpus v2 folder -> drug/effect/dose spans, DRUG_AE/DRUG_DOSE, ``cats["ADE"]``."""
    return _read("ade", iter_ade, report, nlp, alignment, folder)


def read_pubtator(
    path: PathLike,
    *,
    label_map: Union[None, str, LabelMap] = None,
    nlp: Optional[Language] = None,
    report: Optional[ConversionReport] = None,
    alignment: str = "retokenize",
) -> Iterator[Doc]:
    """PubTator file (BC5CDR, NCBI original) -> "concepts", CID relations."""
    return _read("pubtator", iter_pubtator, report, nlp, alignment, path, label_map=label_map)


def read_conll(
    path: PathLike,
    *,
    n_sents: int = 10,
    label_map: Union[None, str, LabelMap] = None,
    nlp: Optional[Language] = None,
    report: Optional[ConversionReport] = None,
    alignment: str = "retokenize",
) -> Iterator[Doc]:
    """BIO TSV (NCBI disease, BC5CDR IOB) -> "concepts"."""
    return _read("conll", iter_conll, report, nlp, alignment, path, n_sents=n_sents, label_map=label_map)


def read_mtsamples(
    path: Union[PathLike, Sequence[PathLike]],
    *,
    labels: Optional[Iterable[str]] = None,
    nlp: Optional[Language] = None,
    report: Optional[ConversionReport] = None,
    alignment: str = "retokenize",
) -> Iterator[Doc]:
    """MTSamples JSONL (file, folder of parts or list) -> one doc per distinct text, specialties in cats."""
    return _read("mtsamples", iter_mtsamples, report, nlp, alignment, path, labels=labels)


@dataclass(frozen=True)
class FormatSpec:
    """A source format: how ``clintiny convert FORMAT INPUT`` reads INPUT."""

    name: str
    expects: str
    read: Callable[..., Iterator[Doc]]
    options: Sequence[str] = ()
    must_be_dir: bool = False


def _physionet(path: PathLike, **kwargs) -> Iterator[Doc]:
    text_path, phrase_path = resolve_physionet_paths(path)
    return read_physionet(text_path, phrase_path, **kwargs)


FORMATS: Dict[str, FormatSpec] = {
    spec.name: spec
    for spec in (
        FormatSpec("physionet", "folder with id.text + id-phi.phrase, or the .text file", _physionet),
        FormatSpec("i2b2-2014", "folder of i2b2 2014 de-id .xml files, or one file", read_i2b2_2014),
        FormatSpec("i2b2-2012", "folder of i2b2 2012 temporal .xml files, or one file", read_i2b2_2012),
        FormatSpec("i2b2-2010", "folder with .txt and .con/.ast/.rel (beside or in concept/ast/rel)", read_i2b2_2010),
        FormatSpec(
            "brat", "folder of .ann/.txt pairs (recursive), or one .ann", read_brat, ("label_map", "discontinuous")
        ),
        FormatSpec("mednli", "MedNLI/SNLI .jsonl file or folder of .jsonl files", read_mednli),
        FormatSpec("ade", "folder with DRUG-AE.rel, DRUG-DOSE.rel, ADE-NEG.txt", read_ade, must_be_dir=True),
        FormatSpec("pubtator", "PubTator .txt file", read_pubtator, ("label_map",)),
        FormatSpec("conll", "BIO .tsv file", read_conll, ("label_map", "n_sents")),
        FormatSpec("mtsamples", "MTSamples .jsonl file or folder of .jsonl parts", read_mtsamples),
    )
}


def read_format(
    fmt: str,
    path: PathLike,
    *,
    nlp: Optional[Language] = None,
    report: Optional[ConversionReport] = None,
    alignment: str = "retokenize",
    **options,
) -> Iterator[Doc]:
    """Read any supported format by name.

    fmt (str): A key of ``FORMATS``.
    path (PathLike): The input, as the format expects (see ``FORMATS[fmt].expects``).
    nlp (Optional[Language]): Tokenizer source (blank English by default).
    report (Optional[ConversionReport]): Receives the counts and events.
    alignment (str): Span alignment mode.
    **options: Format options (``label_map``, ``discontinuous``, ``n_sents``); None means "not
        given". Giving an option the format does not take is an error.
    YIELDS (Doc): Annotated docs.
    """
    if fmt not in FORMATS:
        raise ValueError(Errors.E406.format(value=fmt, options=", ".join(FORMATS)))
    spec = FORMATS[fmt]
    path = Path(path)
    if not path.exists() or (spec.must_be_dir and not path.is_dir()):
        raise ValueError(Errors.E407.format(path=path, fmt=fmt, expected=spec.expects))
    unsupported = sorted(k for k, v in options.items() if v is not None and k not in spec.options)
    if unsupported:
        raise ValueError(Errors.E418.format(options=unsupported, fmt=fmt, allowed=", ".join(spec.options) or "none"))
    kwargs = {k: v for k, v in options.items() if v is not None}
    return spec.read(
        path, nlp=nlp, report=report if report is not None else ConversionReport(fmt), alignment=alignment, **kwargs
    )
