"""Convert a source corpus to DocBins: read, split by group, write atomically, report.

``convert_corpus`` is the plain function behind ``clintiny convert``. Outputs:

- ``OUTPUT.spacy`` (all docs, or the train side when ``dev_fraction > 0``);
- the dev side, by default ``dev.spacy`` beside a ``train.spacy`` output, else
  ``<stem>.dev.spacy``;
- ``<stem>.report.json`` beside OUTPUT: docs, spans per group and label, relations per label,
  unplaceable spans / skipped records / adjustments by reason with located examples, and the
  split (seed, fraction, per-side counts, dev group ids).
"""

import itertools
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

from spacy.language import Language
from spacy.tokens import Doc, DocBin

from ..errors import Errors
from ..fileio import check_outputs
from .formats import read_format
from .report import ConversionReport
from .splits import split_docs
from .textio import atomic_write_bytes

PathLike = Union[str, Path]


def write_docbin(docs: List[Doc], path: PathLike) -> None:
    """Write docs to a DocBin with their user data (gold relations, source ids), atomically."""
    db = DocBin(store_user_data=True, docs=docs)
    atomic_write_bytes(path, db.to_bytes())


def default_dev_output(output: Path) -> Path:
    """``dev.spacy`` beside ``train.spacy``; otherwise ``<stem>.dev.spacy``."""
    if output.stem == "train":
        return output.with_name("dev.spacy")
    return output.with_name(f"{output.stem}.dev.spacy")


def default_calib_output(output: Path) -> Path:
    """``calib.spacy`` beside ``train.spacy``; otherwise ``<stem>.calib.spacy``."""
    if output.stem == "train":
        return output.with_name("calib.spacy")
    return output.with_name(f"{output.stem}.calib.spacy")


def report_path(output: Path) -> Path:
    """The JSON report written beside an output DocBin."""
    return output.with_name(f"{output.stem}.report.json")


def convert_corpus(
    fmt: str,
    input_path: PathLike,
    output_path: PathLike,
    *,
    dev_output: Optional[PathLike] = None,
    dev_fraction: float = 0.0,
    seed: int = 0,
    calib_fraction: float = 0.0,
    calib_output: Optional[PathLike] = None,
    label_map: Optional[str] = None,
    discontinuous: Optional[str] = None,
    n_sents: Optional[int] = None,
    alignment: str = "retokenize",
    nlp: Optional[Language] = None,
    limit: int = 0,
) -> Tuple[ConversionReport, List[Path]]:
    """Convert ``input_path`` in format ``fmt`` to DocBin(s) and a JSON report.

    fmt (str): Source format (see ``formats.FORMATS``).
    input_path (PathLike): The input file or folder.
    output_path (PathLike): The ``.spacy`` output (train side when splitting).
    dev_output (Optional[PathLike]): Dev DocBin path (default: see module docstring).
    dev_fraction (float): Fraction of groups (patients, PMIDs, texts...) for dev; 0 = no split.
    seed (int): Split seed.
    calib_fraction (float): Fraction of groups taken out of the train side into a calibration
        DocBin (decision thresholds are chosen on it, never on dev); 0 = none.
    calib_output (Optional[PathLike]): Calibration DocBin path (default ``calib.spacy`` beside
        ``train.spacy``, else ``<stem>.calib.spacy``).
    label_map (Optional[str]): Label-map preset or JSON path (brat, pubtator, conll).
    discontinuous (Optional[str]): BRAT discontinuous-span mode.
    n_sents (Optional[int]): CoNLL sentences per doc.
    alignment (str): Span alignment mode ("retokenize" keeps offsets exact).
    nlp (Optional[Language]): Tokenizer source (blank English by default).
    limit (int): Stop after this many documents (0 = all), e.g. for smoke runs.
    RETURNS (Tuple[ConversionReport, List[Path]]): The report and the files written. No
        DocBin is written when no document came out (the report still is).
    """
    output = Path(output_path)
    if output.suffix != ".spacy":
        raise ValueError(Errors.E411.format(path=output, suffix=output.suffix))
    if not 0.0 <= dev_fraction < 1.0:
        raise ValueError(Errors.E408.format(value=dev_fraction, option="--split-dev"))
    if not 0.0 <= calib_fraction < 1.0:
        raise ValueError(Errors.E408.format(value=calib_fraction, option="--split-calib"))
    if limit < 0:
        raise ValueError(Errors.E421.format(value=limit))
    if n_sents is not None and n_sents < 1:
        raise ValueError(Errors.E422.format(value=n_sents))
    report = ConversionReport(fmt)
    docs = list(
        itertools.islice(
            read_format(
                fmt,
                input_path,
                nlp=nlp,
                report=report,
                alignment=alignment,
                label_map=label_map,
                discontinuous=discontinuous,
                n_sents=n_sents,
            ),
            limit or None,
        )
    )
    # after reading, so that a wrong format or label map is told first; before anything is written
    check_outputs(output_paths(output, dev_fraction, dev_output, calib_fraction, calib_output), {"INPUT": input_path})
    report.extra["input"] = str(input_path)
    if calib_fraction and not dev_fraction:
        raise ValueError(Errors.E420.format(value=calib_fraction))
    written = write_outputs(
        docs,
        output,
        report,
        dev_fraction=dev_fraction,
        seed=seed,
        dev_output=dev_output,
        calib_fraction=calib_fraction,
        calib_output=calib_output,
    )
    return report, written


def output_paths(
    output: Path,
    dev_fraction: float,
    dev_output: Optional[PathLike],
    calib_fraction: float,
    calib_output: Optional[PathLike],
) -> Dict[str, Optional[PathLike]]:
    """The files a conversion writes, by option name (the train side, dev and calibration
    DocBins when split, the JSON report)."""
    paths: Dict[str, Optional[PathLike]] = {"OUTPUT": output, "report": report_path(output)}
    if dev_fraction > 0:
        paths["--dev-output"] = Path(dev_output) if dev_output is not None else default_dev_output(output)
        if calib_fraction > 0:
            paths["--calib-output"] = Path(calib_output) if calib_output is not None else default_calib_output(output)
    return paths


def write_outputs(
    docs: List[Doc],
    output: Path,
    report: ConversionReport,
    *,
    dev_fraction: float,
    seed: int,
    dev_output: Optional[PathLike] = None,
    calib_fraction: float = 0.0,
    calib_output: Optional[PathLike] = None,
) -> List[Path]:
    """Write ``docs`` (split by group into train and dev when ``dev_fraction`` > 0) and the
    JSON report beside ``output``. No DocBin is written when there are no docs.

    RETURNS (List[Path]): The files written.
    """
    check_outputs(output_paths(output, dev_fraction, dev_output, calib_fraction, calib_output), {})
    written: List[Path] = []
    if docs:
        if dev_fraction > 0:
            train, dev, summary = split_docs(docs, dev_fraction=dev_fraction, seed=seed, calib_fraction=calib_fraction)
            dev_path = Path(dev_output) if dev_output is not None else default_dev_output(output)
            write_docbin(train, output)
            write_docbin(dev, dev_path)
            written += [output, dev_path]
            if calib_fraction > 0:
                calib_path = Path(calib_output) if calib_output is not None else default_calib_output(output)
                write_docbin(summary.pop("calib_docs"), calib_path)
                written.append(calib_path)
            report.extra["split"] = summary
        else:
            write_docbin(docs, output)
            written.append(output)
    report.extra["outputs"] = [str(p) for p in written]
    json_path = report_path(output)
    report.to_json(json_path)
    written.append(json_path)
    return written
