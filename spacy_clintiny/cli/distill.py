"""``clintiny init-student``, ``pretrain``, ``distill`` and ``fidelity``: thin typer wrappers.

The engine lives in ``spacy_clintiny.distill`` and is imported inside the commands, so
``import spacy_clintiny`` stays cheap. Config settings not covered by an option are set with
dotted overrides after the positional arguments: ``--training.lr 1e-4 --masking.whole_word true``.
The same commands run under ``torchrun --nproc_per_node N $(which clintiny) ...`` or
``accelerate launch $(which clintiny) ...``.
"""

import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import typer
from wasabi import msg

from ..errors import Errors
from ..fileio import check_outputs
from ._app import app

_EXTRA = {"allow_extra_args": True, "ignore_unknown_options": True}


def _is_main() -> bool:
    return os.environ.get("RANK", "0") == "0"


def _split_args(args: List[str], *, n_fixed: int, what: str) -> Tuple[List[str], Dict[str, Any]]:
    """Positional arguments, then dotted config overrides (``--section.key value``)."""
    from spacy.cli._util import parse_config_overrides

    first = next((i for i, a in enumerate(args) if a.startswith("--")), len(args))
    positional, overrides = args[:first], args[first:]
    if len(positional) < n_fixed:
        msg.fail(f"Expected {what}; got {len(positional)} positional argument(s).", exits=1)
    bad = [a for a in overrides if a.startswith("--") and "." not in a.split("=")[0]]
    if bad:
        msg.fail(f"Unknown option(s) {bad}: config overrides look like --training.lr 1e-4.", exits=1)
    return positional, parse_config_overrides(overrides, env_var=None)


def _options(**values: Any) -> Dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def _fail_on_our_errors(func, *args, **kwargs):
    from ..distill.trainer import StopTraining

    try:
        return func(*args, **kwargs)
    except (ValueError, StopTraining) as err:
        if "(spacy-clintiny)" not in str(err):
            raise
        if _is_main():
            msg.fail(str(err))
        raise typer.Exit(1) from None
    except OSError as err:
        if _is_main():
            first = str(err).strip().splitlines()[0].rstrip(".") if str(err).strip() else type(err).__name__
            if err.filename is None:  # transformers: a model neither a local folder nor on a reachable hub
                msg.fail(Errors.E007.format(error=first))
            else:  # a path that is not what it should be (an existing file as OUTPUT...)
                msg.fail(f"{type(err).__name__}: {first}")
        raise typer.Exit(1) from None


@app.command("init-student")
def init_student_cli(
    teacher: str = typer.Argument(..., help="Teacher: local Hugging Face folder, 'default' or a hub id"),
    output: Path = typer.Argument(..., help="New folder for the student"),
    preset: Optional[str] = typer.Option(None, "--preset", help="distil, tiny, l4-384, l2-384 or l4-256"),
    layers: Optional[int] = typer.Option(None, "--layers", help="Student layers (overrides the preset)"),
    hidden: Optional[int] = typer.Option(None, "--hidden", help="Student width (overrides the preset)"),
    heads: Optional[int] = typer.Option(None, "--heads", help="Attention heads"),
    intermediate: Optional[int] = typer.Option(None, "--intermediate", help="Feed-forward width"),
    layer_map: Optional[str] = typer.Option(None, "--layer-map", help="Teacher layer per student layer, e.g. 0,2,4"),
    attention_dropout: Optional[float] = typer.Option(None, "--attention-dropout", help="Student attention dropout"),
    seed: int = typer.Option(0, "--seed", help="Seed of the random initialisation"),
    force: bool = typer.Option(False, "--force", help="Write into a non-empty output folder"),
) -> None:
    """Build a compact student from a teacher's config; print its parameters and MB."""
    from ..distill.student import init_student

    _fail_on_our_errors(check_outputs, {"OUTPUT": output}, {"TEACHER": teacher})
    info = _fail_on_our_errors(
        init_student,
        teacher,
        output,
        preset=preset,
        layers=layers,
        hidden=hidden,
        heads=heads,
        intermediate=intermediate,
        layer_map=layer_map,
        attention_dropout=attention_dropout,
        seed=seed,
        force=force,
    )
    msg.table(
        [
            (
                "teacher",
                f"{info['teacher_layers']} x {info['teacher_hidden']}",
                f"{info['teacher_encoder_parameters']:,}",
                f"{info['teacher_encoder_mb']:.1f}",
            ),
            (
                "student",
                f"{info['layers']} x {info['hidden']}",
                f"{info['encoder_parameters']:,}",
                f"{info['encoder_mb']:.1f}",
            ),
        ],
        header=("model", "layers x hidden", "encoder parameters", "MB (fp32)"),
        divider=True,
    )
    msg.info(f"Layer map (teacher layer per student layer): {info['layer_map']}; init: {info['init']}")
    if info["projection_parameters"]:
        msg.info(f"Learned projections to the teacher's width: {info['projection_parameters']:,} parameters")
    msg.good(f"Student saved to {output}")


def _train_command(
    kind: str,
    ctx: typer.Context,
    args: List[str],
    n_models: int,
    *,
    config_path: Optional[Path],
    options: Dict[str, Any],
    recipe: Optional[str],
    resume: bool,
    force: bool,
    progress: bool,
) -> None:
    from ..distill.config import load_config
    from ..distill.runner import run_training

    what = "MODEL CORPUS... OUTPUT" if kind == "pretrain" else "TEACHER STUDENT CORPUS... OUTPUT"
    positional, overrides = _split_args(list(args) + list(ctx.args), n_fixed=n_models + 2, what=what)
    models, corpus, output = positional[:n_models], positional[n_models:-1], positional[-1]
    if kind == "pretrain":
        fixed = {"paths.model": models[0]}
    else:
        fixed = {"paths.teacher": models[0], "paths.student": models[1]}
    fixed.update({"paths.output": output, "corpus.paths": corpus})
    all_overrides = {**fixed, **options, **overrides}
    inputs = {f"MODEL {i + 1}": model for i, model in enumerate(models)}
    _fail_on_our_errors(check_outputs, {"OUTPUT": output}, {**inputs, **{f"CORPUS {c}": c for c in corpus}})
    config = _fail_on_our_errors(load_config, kind, path=config_path, overrides=all_overrides, recipe=recipe)
    result = _fail_on_our_errors(run_training, kind, config, resume=resume, force=force, progress=progress)
    if not _is_main():
        return
    msg.good(
        f"{kind}: step {result['step']} ({result['stop_reason']}), {result['tokens_seen']:,} tokens, "
        f"{result['seconds_per_step']} s/step, {result['tokens_per_s']:,} tokens/s"
    )
    start, end = result.get("heldout_mlm_loss_start"), result.get("heldout_mlm_loss_end")
    if end is not None:
        msg.info(f"Held-out MLM loss: {'' if start is None else f'{start:.4f} -> '}{end:.4f}")
    if result.get("fidelity"):
        _print_fidelity(result["fidelity"])
    msg.good(f"Model saved to {output}")


# The options pretrain and distill share (typer copies a definition for each command using it).
_CONFIG = typer.Option(None, "--config", "-c", help="Config file (default: the package's; see configs/)", exists=True)
_MAX_STEPS = typer.Option(None, "--max-steps", help="Stop after this many optimizer steps (training.max_steps)")
_MAX_MINUTES = typer.Option(
    None, "--max-minutes", help="Stop (after a checkpoint) when this invocation has trained this long"
)
_BATCH_SIZE = typer.Option(None, "--batch-size", help="Global batch size in sequences, over all processes")
_SEQ_LEN = typer.Option(None, "--seq-len", help="Packed sequence length in tokens")
_SEED = typer.Option(None, "--seed", help="Seed (data order, masks, new weights)")
_TEXT_FIELD = typer.Option(None, "--text-field", help="JSONL field with the text")
_THREADS = typer.Option(None, "--threads", help="torch CPU threads (0 = default)")
_RESUME = typer.Option(
    False,
    "--resume",
    help="Continue the run in OUTPUT from its last checkpoint (starts the run when OUTPUT has none yet)",
)
_FORCE = typer.Option(False, "--force", help="Start over in a non-empty OUTPUT")
_PROGRESS = typer.Option(True, "--progress/--no-progress", help="Show the progress bar")


def _training_overrides(
    max_steps: Optional[int],
    max_minutes: Optional[float],
    batch_size: Optional[int],
    seq_len: Optional[int],
    seed: Optional[int],
    lr: Optional[float],
    text_field: Optional[str],
    threads: Optional[int],
    **more: Any,
) -> Dict[str, Any]:
    """The config overrides of the options pretrain and distill share, plus ``more``
    (dotted names), leaving out those not given."""
    return _options(
        **{
            "training.max_steps": max_steps,
            "training.max_minutes": max_minutes,
            "training.batch_size": batch_size,
            "corpus.seq_len": seq_len,
            "training.seed": seed,
            "training.lr": lr,
            "corpus.text_field": text_field,
            "training.threads": threads,
            **more,
        }
    )


@app.command("pretrain", context_settings=_EXTRA)
def pretrain_cli(
    ctx: typer.Context,
    args: List[str] = typer.Argument(..., help="MODEL CORPUS... OUTPUT, then --section.key value overrides"),
    config_path: Optional[Path] = _CONFIG,
    max_steps: Optional[int] = _MAX_STEPS,
    max_minutes: Optional[float] = _MAX_MINUTES,
    batch_size: Optional[int] = _BATCH_SIZE,
    seq_len: Optional[int] = _SEQ_LEN,
    seed: Optional[int] = _SEED,
    lr: Optional[float] = typer.Option(None, "--lr", help="Peak learning rate (default 5e-5)"),
    whole_word: Optional[bool] = typer.Option(None, "--whole-word/--no-whole-word", help="Whole-word masking"),
    text_field: Optional[str] = _TEXT_FIELD,
    threads: Optional[int] = _THREADS,
    resume: bool = _RESUME,
    force: bool = _FORCE,
    progress: bool = _PROGRESS,
) -> None:
    """Continual masked-language-model pre-training of MODEL on CORPUS (.txt, .jsonl, .spacy)."""
    options = _training_overrides(
        max_steps, max_minutes, batch_size, seq_len, seed, lr, text_field, threads, **{"masking.whole_word": whole_word}
    )
    _train_command(
        "pretrain", ctx, args, 1, config_path=config_path, options=options, recipe=None,
        resume=resume, force=force, progress=progress,
    )  # fmt: skip


@app.command("distill", context_settings=_EXTRA)
def distill_cli(
    ctx: typer.Context,
    args: List[str] = typer.Argument(..., help="TEACHER STUDENT CORPUS... OUTPUT, then --section.key value overrides"),
    recipe: Optional[str] = typer.Option(
        None, "--recipe", help="compact (default), distilclinicalbert or tinyclinicalbert"
    ),
    layer_map: Optional[str] = typer.Option(None, "--layer-map", help="Teacher layer per student layer, e.g. 1,3,5"),
    config_path: Optional[Path] = _CONFIG,
    max_steps: Optional[int] = _MAX_STEPS,
    max_minutes: Optional[float] = _MAX_MINUTES,
    batch_size: Optional[int] = _BATCH_SIZE,
    seq_len: Optional[int] = _SEQ_LEN,
    seed: Optional[int] = _SEED,
    lr: Optional[float] = typer.Option(None, "--lr", help="Peak learning rate (default 1e-4)"),
    text_field: Optional[str] = _TEXT_FIELD,
    threads: Optional[int] = _THREADS,
    resume: bool = _RESUME,
    force: bool = _FORCE,
    progress: bool = _PROGRESS,
) -> None:
    """Distil TEACHER into STUDENT (from init-student) on CORPUS; end with the fidelity table."""
    options = _training_overrides(
        max_steps, max_minutes, batch_size, seq_len, seed, lr, text_field, threads, **{"distill.layer_map": layer_map}
    )
    _train_command(
        "distill", ctx, args, 2, config_path=config_path, options=options, recipe=recipe,
        resume=resume, force=force, progress=progress,
    )  # fmt: skip


def _print_fidelity(report: Dict[str, Any]) -> None:
    rows = [(r["metric"], r["teacher"], r["student"]) for r in report["rows"]]
    msg.table(rows, header=("", "teacher", "student"), divider=True, max_col=60)


@app.command("fidelity", context_settings=_EXTRA)
def fidelity_cli(
    ctx: typer.Context,
    args: List[str] = typer.Argument(..., help="TEACHER STUDENT CORPUS..."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the report as JSON here"),
    text_field: Optional[str] = typer.Option(None, "--text-field", help="JSONL field with the text"),
    seq_len: Optional[int] = typer.Option(None, "--seq-len", help="Packed sequence length"),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of the held-out split and masks"),
    max_sequences: int = typer.Option(256, "--max-sequences", help="Held-out sequences used"),
    batch_size: int = typer.Option(16, "--batch-size", help="Sequences per forward pass"),
    threads: int = typer.Option(0, "--threads", help="torch CPU threads (0 = default)"),
) -> None:
    """Compare STUDENT with TEACHER on the held-out part of CORPUS (same split as training)."""
    from ..distill.fidelity import run_fidelity

    positional, overrides = _split_args(list(args) + list(ctx.args), n_fixed=3, what="TEACHER STUDENT CORPUS...")
    options = _options(**{"corpus.text_field": text_field, "corpus.seq_len": seq_len, "training.seed": seed})
    inputs = {"TEACHER": positional[0], "STUDENT": positional[1], **{f"CORPUS {c}": c for c in positional[2:]}}
    _fail_on_our_errors(check_outputs, {"--output": output}, inputs)
    report = _fail_on_our_errors(
        run_fidelity,
        positional[0],
        positional[1],
        positional[2:],
        overrides={**options, **overrides},
        output=output,
        max_sequences=max_sequences,
        batch_size=batch_size,
        threads=threads,
    )
    _print_fidelity(report)
    if output:
        msg.good(f"Saved {output}")
