"""``clintiny synth OUTPUT.spacy``: synthetic clinical notes with exact PHI, concept, assertion
and relation annotations (see ``spacy_clintiny.synth.generator.synth_corpus``)."""

import time
from pathlib import Path
from typing import Optional

import typer
from wasabi import msg

from ._app import app


@app.command("synth")
def synth_cli(
    output_path: Path = typer.Argument(..., metavar="OUTPUT.spacy", help="Output DocBin (train side when splitting)"),
    n: int = typer.Option(1000, "--n", help="Number of notes"),
    seed: int = typer.Option(0, "--seed", help="Seed: note i depends only on (seed, i)"),
    style: str = typer.Option(
        "mixed", "--style", help="mixed, nursing, discharge, progress, radiology, medication or referral"
    ),
    age_policy: str = typer.Option(
        "over89", "--age-policy", help="over89 (HIPAA/PhysioNet: ages PHI only over 89) or all (i2b2 2014)"
    ),
    split_dev: float = typer.Option(0.0, "--split-dev", help="Fraction of notes for a dev DocBin; 0 = none"),
    dev_output: Optional[Path] = typer.Option(
        None, "--dev-output", help="Dev DocBin (default dev.spacy beside train.spacy)"
    ),
) -> None:
    """Generate a synthetic clinical corpus: discharge summaries, progress notes, ICU nursing
    notes, radiology reports, medication lists and referral letters, with PHI surrogates from
    Faker, concepts with assertions, relations and the note type in doc.cats."""
    from ..synth import synth_corpus

    start = time.perf_counter()
    try:
        report, written = synth_corpus(
            output_path,
            n=n,
            seed=seed,
            style=style,
            age_policy=age_policy,
            dev_fraction=split_dev,
            dev_output=dev_output,
        )
    except ValueError as err:
        msg.fail(str(err), exits=1)
    elapsed = time.perf_counter() - start
    report.print(max_lines=2)
    msg.info(f"{n} notes in {elapsed:.1f}s ({n / max(elapsed, 1e-9):.0f} notes/s)")
    for path in written:
        msg.good(f"wrote {path}")
