"""``clintiny optimize PIPELINE OUTPUT --int8 | --onnx [--int8] | --choose CORPUS``: an
inference-optimized copy of a trained pipeline (torch dynamic int8, ONNX Runtime fp32 or ONNX
Runtime int8 encoder), or the fastest runtime within an accuracy bound on the dev sets."""

from pathlib import Path
from typing import Optional

import typer
from wasabi import msg

from ._app import app


@app.command("optimize")
def optimize_cli(
    pipeline: Path = typer.Argument(..., help="Trained fp32 pipeline folder"),
    output: Path = typer.Argument(..., help="Folder to write the optimized pipeline to (outside PIPELINE)"),
    int8: bool = typer.Option(False, "--int8", help="Dynamic int8 quantization of the encoder's linear layers"),
    onnx: bool = typer.Option(
        False, "--onnx", help="Run the encoder with ONNX Runtime (pip install 'spacy_clintiny\\[onnx]')"
    ),
    choose: Optional[Path] = typer.Option(
        None,
        "--choose",
        help="Corpus folder (<corpus>/dev.spacy): score fp32 and each candidate runtime there and "
        "write the fastest that loses at most --max-loss F1 points on every task",
    ),
    candidates: str = typer.Option("onnx-int8,onnx", "--candidates", help="With --choose: runtimes, fastest first"),
    max_loss: float = typer.Option(0.5, "--max-loss", help="With --choose: most F1 points lost on any task"),
    phi_docs: Optional[Path] = typer.Option(
        None,
        "--phi-docs",
        help="With --choose: real notes with gold PHI (DocBin), at most --phi-limit of them; the workflow "
        "gives the training patients' notes, so no runtime is chosen on the held-out patients",
    ),
    limit: int = typer.Option(0, "--limit", help="With --choose: at most this many docs per dev corpus (0 = all)"),
    phi_limit: int = typer.Option(
        0, "--phi-limit", help="With --choose: at most this many --phi-docs notes, evenly spaced (0 = all)"
    ),
    report: Optional[Path] = typer.Option(None, "--report", help="With --choose: write the decision as JSON"),
    threads: Optional[int] = typer.Option(
        None, "--threads", help="torch threads while scoring (default: torch's, which follows OMP_NUM_THREADS)"
    ),
    force: bool = typer.Option(False, "--force", help="Replace OUTPUT if it exists"),
) -> None:
    """Write PIPELINE with its encoder on a faster inference runtime. The result loads with
    spacy.load and packages with spacy package like any pipeline; it cannot be trained."""
    from ..errors import Errors
    from ..optimize.pipeline import optimize_pipeline

    try:
        if choose is not None:
            if int8 or onnx:
                raise ValueError(Errors.E833)
            _choose(
                pipeline,
                output,
                choose,
                candidates=candidates,
                max_loss=max_loss,
                phi_docs=phi_docs,
                limit=limit,
                phi_limit=phi_limit,
                report=report,
                threads=threads,
                force=force,
            )
            return
        names = optimize_pipeline(pipeline, output, int8=int8, onnx=onnx, force=force)
    except (ValueError, ImportError) as err:
        msg.fail(str(err), exits=1)
    runtime = f"{'onnx' if onnx else 'torch'} {'int8' if int8 else 'fp32'}"
    msg.good(f"Wrote {output} (encoder {', '.join(names)}: {runtime})")


def _choose(
    pipeline: Path,
    output: Path,
    corpus: Path,
    *,
    candidates: str,
    max_loss: float,
    phi_docs: Optional[Path],
    limit: int,
    phi_limit: int,
    report: Optional[Path],
    threads: Optional[int],
    force: bool,
) -> None:
    """``--choose``: score, pick, write, print the table and (with ``--report``) the JSON."""
    import torch

    from ..errors import Errors
    from ..evaluation import PHI_CORPUS, read_eval_sets
    from ..evaluation.baselines import spread_subset
    from ..fileio import write_json_atomic
    from ..optimize.choose import choose_runtime, parse_candidates

    names = parse_candidates(candidates)
    if not Path(corpus).is_dir():
        raise ValueError(Errors.E835.format(corpus=corpus))
    dev_sets = read_eval_sets(corpus, phi_docs=phi_docs, limit=limit)
    if phi_docs is not None:  # a fidelity check on training notes, not the report's held-out ones
        dev_sets[PHI_CORPUS] = spread_subset(dev_sets[PHI_CORPUS], phi_limit)
    if not dev_sets:
        raise ValueError(Errors.E835.format(corpus=corpus))
    if threads is not None:
        torch.set_num_threads(threads)
    decision = choose_runtime(pipeline, output, dev_sets, candidates=names, max_loss=max_loss, force=force)
    decision["phi_docs"] = str(phi_docs) if phi_docs is not None else None
    decision["phi_notes"] = len(dev_sets[PHI_CORPUS]) if phi_docs is not None else 0
    rows = []
    for name, entry in decision["candidates"].items():
        token = entry["phi_token_f1_loss"]
        rows.append(
            (
                name,
                f"{entry['worst_loss']:.2f}",
                entry["worst_task"] or "-",
                "-" if token is None else f"{token:.2f}",
                "yes" if entry["within_bound"] else "no",
            )
        )
    msg.table(
        rows,
        header=("runtime", "worst F1 loss", "on", "PHI token F1 loss", f"within {max_loss}"),
        divider=True,
    )
    if report is not None:
        write_json_atomic(report, decision)
    msg.good(f"Wrote {output} (runtime: {decision['chosen']})")
