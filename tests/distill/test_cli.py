from typer.testing import CliRunner

from spacy_clintiny.cli import app

runner = CliRunner()


def test_init_student_and_distill_commands(teacher4, text_corpus, tmp_path):
    student = tmp_path / "student"
    result = runner.invoke(app, ["init-student", str(teacher4), str(student), "--layers", "2"])
    assert result.exit_code == 0, result.output
    assert "encoder parameters" in result.output and "[1, 3]" in result.output
    out = tmp_path / "distilled"
    args = [
        "distill",
        str(teacher4),
        str(student),
        str(text_corpus),
        str(out),
        "--recipe",
        "distilclinicalbert",
        "--max-steps",
        "2",
        "--batch-size",
        "4",
        "--seq-len",
        "32",
        "--threads",
        "1",
        "--no-progress",
        "--training.eval_max_sequences",
        "8",
        "--losses.kl.temperature",
        "3",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "MLM top-1 agreement" in result.output
    assert "temperature = 3" in (out / "training_config.cfg").read_text()
    # the same command again is refused: the folder is not empty
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and "E510" in result.output
    result = runner.invoke(
        app,
        [
            "fidelity",
            str(teacher4),
            str(out),
            str(text_corpus),
            "--seq-len",
            "32",
            "--max-sequences",
            "8",
            "--threads",
            "1",
            "-o",
            str(tmp_path / "f.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "f.json").exists()


def test_unknown_option_is_reported(teacher4, text_corpus, tmp_path):
    result = runner.invoke(app, ["pretrain", str(teacher4), str(text_corpus), str(tmp_path / "o"), "--steps", "3"])
    assert result.exit_code == 1 and "--steps" in result.output
