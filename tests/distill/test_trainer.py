import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from spacy_clintiny.distill.checkpoint import latest_checkpoint, load_checkpoint
from spacy_clintiny.distill.config import load_config
from spacy_clintiny.distill.runner import run_training
from spacy_clintiny.distill.student import init_student
from spacy_clintiny.distill.trainer import StopTraining


def small_overrides(output, corpus, **extra):
    values = {
        "paths.output": str(output),
        "corpus.paths": [str(corpus)],
        "training.batch_size": 4,
        "corpus.seq_len": 32,
        "training.max_steps": 6,
        "training.checkpoint_every": 2,
        "training.eval_max_sequences": 8,
        "training.threads": 1,
    }
    values.update(extra)
    return values


def pretrain_config(model, output, corpus, **extra):
    return load_config("pretrain", overrides={"paths.model": str(model), **small_overrides(output, corpus, **extra)})


def distill_config(teacher, student, output, corpus, recipe=None, **extra):
    overrides = {
        "paths.teacher": str(teacher),
        "paths.student": str(student),
        **small_overrides(output, corpus, **extra),
    }
    return load_config("distill", overrides=overrides, recipe=recipe)


def assert_same_weights(a, b, names=("model.safetensors",)):
    for name in names:
        x, y = load_file(str(a / name)), load_file(str(b / name))
        assert x.keys() == y.keys()
        for key in x:
            torch.testing.assert_close(x[key], y[key], rtol=0, atol=0, msg=f"{name}:{key}")


@pytest.fixture(scope="module")
def pretrained(tiny_encoder, text_corpus, tmp_path_factory):
    """The tiny encoder (no MLM head) after 6 steps of continual pre-training."""
    out = tmp_path_factory.mktemp("runs") / "pretrained"
    result = run_training(
        "pretrain", pretrain_config(tiny_encoder, out, text_corpus, **{"training.dropout": 0.0}), progress=False
    )
    return out, result


def test_pretrain_output_is_a_documented_hf_folder(pretrained):
    out, result = pretrained
    for name in (
        "config.json",
        "model.safetensors",
        "vocab.txt",
        "tokenizer.json",
        "README.md",
        "training_config.cfg",
        "run_meta.json",
        "curves.png",
        "train_log.jsonl",
    ):
        assert (out / name).exists(), name
    assert result["step"] == 6 and result["stop_reason"] == "max_steps"
    assert result["heldout_mlm_loss_start"] > 0 and result["heldout_mlm_loss_end"] > 0
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    train = [r for r in log if r["split"] == "train"]
    assert [r["step"] for r in train] == [1, 2, 3, 4, 5, 6]
    assert all("loss_mlm" in r and "tokens_per_s" in r for r in train)
    meta = json.loads((out / "run_meta.json").read_text())
    assert meta["versions"]["torch"] and "git_sha" in meta and meta["corpus"]["train_documents"] == 76
    # the saved config keeps the model's original dropout
    assert json.loads((out / "config.json").read_text())["hidden_dropout_prob"] == 0.1
    card = (out / "README.md").read_text()
    assert "Held-out MLM loss" in card and "notes.txt" in card


def test_output_loads_with_automodel_and_the_encoder_component(pretrained, nlp):
    from transformers import AutoModel

    out, _ = pretrained
    model = AutoModel.from_pretrained(str(out))
    assert model.config.num_hidden_layers == 2
    nlp.add_pipe("clintiny_encoder", config={"model": {"name": str(out)}})
    nlp.initialize()
    doc = nlp("Pt denies chest pain.")
    assert doc._.trf_data.tensors[0].shape[-1] == 32


def test_new_mlm_head_tied_to_input_embeddings(pretrained):
    from transformers import AutoModelForMaskedLM

    out, _ = pretrained
    model = AutoModelForMaskedLM.from_pretrained(str(out))
    assert model.get_output_embeddings().weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()


def test_non_empty_output_needs_force_or_resume(pretrained, tiny_encoder, text_corpus, tmp_path):
    out, _ = pretrained
    with pytest.raises(ValueError, match="E510"):
        run_training("pretrain", pretrain_config(tiny_encoder, out, text_corpus), progress=False)
    with pytest.raises(ValueError, match="E513"):
        run_training(
            "pretrain",
            pretrain_config(tiny_encoder, out, text_corpus, **{"training.lr": 0.1}),
            resume=True,
            progress=False,
        )
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.md").write_text("keep")
    with pytest.raises(ValueError, match="E512"):
        run_training("pretrain", pretrain_config(tiny_encoder, other, text_corpus), resume=True, progress=False)
    with pytest.raises(ValueError, match="E511"):
        run_training("pretrain", pretrain_config(tiny_encoder, tiny_encoder, text_corpus), force=True, progress=False)


def test_resume_with_nothing_to_resume_starts_the_run(tiny_encoder, text_corpus, tmp_path):
    # what a re-run workflow step does: --resume every time, a fresh folder the first time
    out = tmp_path / "fresh"
    config = pretrain_config(tiny_encoder, out, text_corpus, **{"training.max_steps": 2})
    run_training("pretrain", config, resume=True, progress=False)
    assert (out / "model.safetensors").exists()


def test_a_run_that_failed_before_its_first_checkpoint_can_be_run_again(tiny_encoder, text_corpus, tmp_path):
    out = tmp_path / "failed"
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"Patient seen today.\n\xff\xfe not UTF-8\n")
    with pytest.raises(ValueError):
        run_training("pretrain", pretrain_config(tiny_encoder, out, bad), progress=False)
    assert (out / "training_config.cfg").exists() and not (out / "model.safetensors").exists()
    # the same command on a mended corpus runs, without --force (nothing of value is in the folder)
    config = pretrain_config(tiny_encoder, out, text_corpus, **{"training.max_steps": 2})
    run_training("pretrain", config, progress=False)
    assert (out / "model.safetensors").exists()


def test_nan_stops_with_last_good_checkpoint(tiny_mlm_encoder, text_corpus, tmp_path):
    out = tmp_path / "nan"

    def inject_nan(trainer, step):
        if step == 3:
            with torch.no_grad():
                trainer.model.model.bert.embeddings.word_embeddings.weight[:] = float("nan")

    with pytest.raises(StopTraining, match="E514") as err:
        run_training(
            "pretrain", pretrain_config(tiny_mlm_encoder, out, text_corpus), progress=False, callbacks=[inject_nan]
        )
    assert "step 4" in str(err.value) and "step-0000002" in str(err.value)
    good = latest_checkpoint(out)
    assert good.name == "step-0000002"
    state = load_checkpoint(good)["model"]
    assert all(torch.isfinite(t).all() for t in state.values())
    assert not (out / "model.safetensors").exists()  # no weights are saved from the NaN run


class Crash(Exception):
    pass


def test_resume_after_crash_gives_the_same_weights(teacher4, text_corpus, tmp_path):
    """Narrow student (projections, hidden dropout on): 6 steps straight vs crash at step 5
    (last checkpoint 4) and --resume to 6."""
    student = tmp_path / "student"
    init_student(str(teacher4), student, layers=2, hidden=16, heads=2)
    full, part = tmp_path / "full", tmp_path / "part"
    run_training(
        "distill",
        distill_config(teacher4, student, full, text_corpus, recipe="tinyclinicalbert", **{"distill.fidelity": False}),
        progress=False,
    )

    def crash(trainer, step):
        if step == 5:
            raise Crash()

    config = distill_config(
        teacher4, student, part, text_corpus, recipe="tinyclinicalbert", **{"distill.fidelity": False}
    )
    with pytest.raises(Crash):
        run_training("distill", config, progress=False, callbacks=[crash])
    assert latest_checkpoint(part).name == "step-0000004"
    run_training("distill", config, resume=True, progress=False)
    assert_same_weights(full, part, ("model.safetensors", "clintiny_projections.safetensors"))
    steps = [
        json.loads(line)["step"] for line in (part / "train_log.jsonl").read_text().splitlines() if '"train"' in line
    ]
    assert steps == [1, 2, 3, 4, 5, 6]


KILL_SCRIPT = """
import sys, time
from spacy_clintiny.distill.config import load_config
from spacy_clintiny.distill.runner import run_training
overrides = {overrides!r}
run_training("pretrain", load_config("pretrain", overrides=overrides), progress=False,
             callbacks=[lambda trainer, step: time.sleep(0.15)])
"""


def test_killed_run_resumes_to_the_same_weights(tiny_mlm_encoder, text_corpus, tmp_path):
    """SIGKILL a real training process after its step-4 checkpoint, resume, compare."""
    extra = {"training.max_steps": 10, "training.checkpoint_every": 4}
    killed, straight = tmp_path / "killed", tmp_path / "straight"
    overrides = {"paths.model": str(tiny_mlm_encoder), **small_overrides(killed, text_corpus, **extra)}
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT.format(overrides=overrides)], env=os.environ.copy())
    deadline = time.time() + 120
    while not (killed / "checkpoints" / "step-0000004" / "trainer_state.json").exists():
        assert proc.poll() is None and time.time() < deadline, "training process ended before its checkpoint"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "model.safetensors").exists()
    run_training(
        "pretrain", pretrain_config(tiny_mlm_encoder, killed, text_corpus, **extra), resume=True, progress=False
    )
    run_training("pretrain", pretrain_config(tiny_mlm_encoder, straight, text_corpus, **extra), progress=False)
    assert_same_weights(straight, killed)


def test_distill_without_teacher_head(tiny_encoder, text_corpus, tmp_path):
    student = tmp_path / "student"
    init_student(str(tiny_encoder), student, layers=1)
    with pytest.raises(ValueError, match="E508"):
        run_training(
            "distill",
            distill_config(tiny_encoder, student, tmp_path / "a", text_corpus, recipe="distilclinicalbert"),
            progress=False,
        )
    out = tmp_path / "b"
    result = run_training(
        "distill",
        distill_config(tiny_encoder, student, out, text_corpus, recipe="compact", **{"training.max_steps": 2}),
        progress=False,
    )
    record = json.loads((out / "train_log.jsonl").read_text().splitlines()[1])
    assert {"loss_mlm", "loss_cosine", "loss_hidden", "loss_attention"} <= set(record)
    assert "loss_kl" not in record
    fidelity = json.loads((out / "fidelity.json").read_text())
    assert fidelity["mlm_top1_agreement"] is None  # the teacher has no MLM head
    assert 0.0 < fidelity["hidden_cosine"] <= 1.0 and result["fidelity"]["student"]["words_per_s"] > 0
