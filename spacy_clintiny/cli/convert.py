"""``clintiny convert FORMAT INPUT OUTPUT.spacy``: clinical corpora to DocBins (see
``spacy_clintiny.converters.convert.convert_corpus``)."""

from pathlib import Path
from typing import Optional

import typer
from wasabi import msg

from ._app import app


@app.command("convert")
def convert_cli(
    fmt: str = typer.Argument(
        ...,
        metavar="FORMAT",
        help="physionet, i2b2-2014, i2b2-2012, i2b2-2010, brat, mednli, ade, pubtator, conll or mtsamples",
    ),
    input_path: Path = typer.Argument(..., metavar="INPUT", help="Input file or folder (see docs/corpora.md)"),
    output_path: Path = typer.Argument(..., metavar="OUTPUT.spacy", help="Output DocBin (train side when splitting)"),
    split_dev: float = typer.Option(
        0.0, "--split-dev", help="Fraction of documents GROUPS (patients, PMIDs, texts) for dev; 0 = no split"
    ),
    seed: int = typer.Option(0, "--seed", help="Split seed"),
    split_calib: float = typer.Option(
        0.0,
        "--split-calib",
        help="Fraction of GROUPS taken from the train side for calibration (thresholds); needs --split-dev",
    ),
    calib_output: Optional[Path] = typer.Option(
        None, "--calib-output", help="Calibration DocBin (default calib.spacy beside train.spacy)"
    ),
    dev_output: Optional[Path] = typer.Option(
        None, "--dev-output", help="Dev DocBin (default dev.spacy beside train.spacy, else <stem>.dev.spacy)"
    ),
    label_map: Optional[str] = typer.Option(
        None,
        "--label-map",
        help="Preset (identity, n2c2-2018, ncbi-disease, bc5cdr, biomedical) or JSON file; brat/pubtator/conll",
    ),
    discontinuous: Optional[str] = typer.Option(
        None, "--discontinuous", help="brat discontinuous spans: join (default), fragments or skip"
    ),
    n_sents: Optional[int] = typer.Option(
        None, "--n-sents", help="conll: sentences per doc when the file has no -DOCSTART- (default 10)"
    ),
    alignment: str = typer.Option(
        "retokenize", "--alignment", help="retokenize (exact offsets), expand, contract or strict"
    ),
    limit: int = typer.Option(0, "--limit", help="Stop after this many documents (0 = all), e.g. for smoke runs"),
) -> None:
    """Convert a clinical corpus to a DocBin, with a conversion report (printed and written
    as <stem>.report.json beside the output). Exits non-zero only when nothing usable came out."""
    from ..converters.convert import convert_corpus
    from ..errors import Errors

    try:
        report, written = convert_corpus(
            fmt,
            input_path,
            output_path,
            dev_output=dev_output,
            dev_fraction=split_dev,
            seed=seed,
            calib_fraction=split_calib,
            calib_output=calib_output,
            label_map=label_map,
            discontinuous=discontinuous,
            n_sents=n_sents,
            alignment=alignment,
            limit=limit,
        )
    except ValueError as err:
        msg.fail(str(err), exits=1)
    except OSError as err:  # a folder where the format reads a file, a missing part of a corpus...
        where = f" '{err.filename}'" if err.filename else ""
        problem = f"Cannot read or write{where} ({type(err).__name__})"
        msg.fail(f"{problem}: see docs/corpora.md for what {fmt} reads", exits=1)
    report.print()
    if not report.docs:
        msg.fail(Errors.E409.format(path=input_path, fmt=fmt), exits=1)
    split = report.extra.get("split")
    if split and report.events["info"].get("no_docstart_chunked"):
        msg.warn(
            "The CoNLL input has no -DOCSTART- lines: its docs are chunks of sentences, so --split-dev "
            "can put sentences of one abstract on both sides. Split such corpora by file (train / devel)."
        )
    if split:
        msg.info(
            f"split by group (seed {seed}): train {split['train']['docs']} docs / {split['train']['groups']} "
            f"groups, dev {split['dev']['docs']} docs / {split['dev']['groups']} groups"
            + (f", calib {split['calib']['docs']} docs / {split['calib']['groups']} groups" if "calib" in split else "")
        )
    for path in written:
        msg.good(f"wrote {path}")
