"""``clintiny optimize PIPELINE OUTPUT --int8 | --onnx [--int8]``: an inference-optimized copy
of a trained pipeline (torch dynamic int8, ONNX Runtime fp32 or ONNX Runtime int8 encoder)."""

from pathlib import Path

import typer
from wasabi import msg

from ._app import app


@app.command("optimize")
def optimize_cli(
    pipeline: Path = typer.Argument(..., help="Trained fp32 pipeline folder"),
    output: Path = typer.Argument(..., help="Folder to write the optimized pipeline to (outside PIPELINE)"),
    int8: bool = typer.Option(False, "--int8", help="Dynamic int8 quantization of the encoder's linear layers"),
    onnx: bool = typer.Option(
        False, "--onnx", help="Run the encoder with ONNX Runtime (pip install spacy_clintiny[onnx])"
    ),
    force: bool = typer.Option(False, "--force", help="Replace OUTPUT if it exists"),
) -> None:
    """Write PIPELINE with its encoder on a faster inference runtime. The result loads with
    spacy.load and packages with spacy package like any pipeline; it cannot be trained."""
    from ..optimize.pipeline import optimize_pipeline

    try:
        names = optimize_pipeline(pipeline, output, int8=int8, onnx=onnx, force=force)
    except (ValueError, ImportError) as err:
        msg.fail(str(err), exits=1)
    runtime = f"{'onnx' if onnx else 'torch'} {'int8' if int8 else 'fp32'}"
    msg.good(f"Wrote {output} (encoder {', '.join(names)}: {runtime})")
