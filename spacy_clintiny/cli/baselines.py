"""``clintiny baselines CORPUS_DIR OUTPUT.json``: the simple baselines on the pipeline's dev splits.

TF-IDF + logistic regression for MTSamples specialty and ADE sentences (tuned by
cross-validation on the training splits), deid.pl's output on the PhysioNet dev notes and,
with ``--cnn``, spaCy's CNN NER (``clintiny train-cnn``) on the concept corpora and PhysioNet;
the JSON goes to ``clintiny evaluate --baselines``. No note text is printed.
"""

from pathlib import Path
from typing import Any, Dict, List, Optional

import typer
from wasabi import msg

from ..fileio import check_outputs
from ._app import app


@app.command("baselines")
def baselines_cli(
    corpus_dir: Path = typer.Argument(
        ..., help="Folder with <corpus>/train.spacy and <corpus>/dev.spacy", exists=True, file_okay=False
    ),
    output: Path = typer.Argument(..., help="JSON file to write (for `clintiny evaluate --baselines`)"),
    deid_pl: Optional[Path] = typer.Option(
        None,
        "--deid-pl",
        exists=True,
        dir_okay=False,
        help="deid.pl's output on the PhysioNet notes (assets/physionet-deid/deid-pl-output/id.phi)",
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the cross-validation folds"),
    folds: int = typer.Option(3, "--folds", help="Cross-validation folds on the training splits"),
    limit: int = typer.Option(
        0,
        "--limit",
        help="At most this many dev docs per corpus (0 = all): the evaluate step's --limit, so both "
        "score the same docs",
    ),
    cnn: Optional[Path] = typer.Option(
        None,
        "--cnn",
        exists=True,
        file_okay=False,
        help="A spaCy CNN NER baseline (`clintiny train-cnn` OUTPUT/model-last), scored on the concept "
        "corpora and the PhysioNet dev notes",
    ),
    n_jobs: int = typer.Option(
        1,
        "--n-jobs",
        min=1,
        help="Processes for the TF-IDF grid searches (the workflow gives it vars.threads); the "
        "choices and figures do not depend on it",
    ),
) -> None:
    """Compute every baseline whose corpus is present and write them as JSON."""
    try:
        check_outputs({"OUTPUT": output}, {"CORPUS_DIR": corpus_dir, "--deid-pl": deid_pl, "--cnn": cnn})
        result = baselines(
            corpus_dir, output, deid_pl=deid_pl, seed=seed, folds=folds, limit=limit, cnn=cnn, n_jobs=n_jobs
        )
    except ValueError as err:
        msg.fail(str(err), exits=1)
    rows = [_row(task, system, entry) for task, systems in result["tasks"].items() for system, entry in systems.items()]
    msg.table(rows, header=("task", "system", "figures", "words/s"), divider=True)
    msg.good(f"Wrote {output} ({result['seconds']:.0f} s)")


def baselines(
    corpus_dir: Path,
    output: Path,
    *,
    deid_pl: Optional[Path] = None,
    seed: int = 0,
    folds: int = 3,
    limit: int = 0,
    cnn: Optional[Path] = None,
    n_jobs: int = 1,
) -> Dict[str, Any]:
    """Run :func:`spacy_clintiny.evaluation.baselines.run_baselines` and write its JSON atomically.

    corpus_dir (Path): The corpus folder.
    output (Path): The JSON file.
    deid_pl (Optional[Path]): deid.pl's output file, or None to skip that baseline.
    seed (int): Seed of the folds.
    folds (int): Cross-validation folds.
    limit (int): Dev docs per corpus (0 = all).
    cnn (Optional[Path]): A trained spaCy CNN NER baseline, or None to skip it.
    n_jobs (int): Processes for the TF-IDF grid searches.
    RETURNS (Dict[str, Any]): What was written.
    """
    import spacy

    from ..evaluation.baselines import run_baselines
    from ..fileio import write_json_atomic

    result = run_baselines(
        corpus_dir,
        nlp=spacy.blank("en"),
        deid_pl=deid_pl,
        seed=seed,
        folds=folds,
        limit=limit,
        cnn=cnn,
        progress=msg.info,
        n_jobs=n_jobs,
    )
    if not result["tasks"]:
        msg.warn(f"No baseline corpus (mtsamples, ade, or physionet with --deid-pl) found in {corpus_dir}")
    write_json_atomic(output, result)
    return result


@app.command("train-cnn")
def train_cnn_cli(
    corpus_dir: Path = typer.Argument(..., help="Folder with <corpus>/train.spacy", exists=True, file_okay=False),
    output: Path = typer.Argument(..., help="Output folder (model-last, config.cfg, training.json)"),
    max_steps: int = typer.Option(..., "--max-steps", help="Training steps (fixed: nothing is chosen on a dev split)"),
    seed: int = typer.Option(0, "--seed", help="spaCy's seed"),
) -> None:
    """Train the spaCy CNN NER baseline (spaCy's efficiency NER recipe) on the training splits
    the student's heads learn from; `clintiny baselines --cnn OUTPUT/model-last` scores it."""
    from ..evaluation.cnn_baseline import train_cnn_baseline

    try:
        check_outputs({"OUTPUT": output}, {"CORPUS_DIR": corpus_dir}, replaced=["OUTPUT"])
        info = train_cnn_baseline(corpus_dir, output, max_steps=max_steps, seed=seed)
    except ValueError as err:
        msg.fail(str(err), exits=1)
    msg.good(
        f"spaCy CNN NER baseline: {info['max_steps']:,} steps on {info['train_docs']:,} docs of "
        f"{', '.join(info['corpora'])} in {info['minutes']:.1f} min -> {output / 'model-last'}"
    )


def _row(task: str, system: str, entry: Dict[str, Any]) -> List[str]:
    keys = ("top1", "macro_f", "p", "r", "f", "token_recall", "token_precision")
    figures = ", ".join(f"{key} {entry[key] * 100:.1f}" for key in keys if entry.get(key) is not None)
    speed = entry.get("words_per_s")
    return [task, system, figures, f"{speed:,.0f}" if speed is not None else "–"]
