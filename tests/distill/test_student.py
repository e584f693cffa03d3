import json

import pytest
import torch
from transformers import AutoModel, AutoModelForMaskedLM

from spacy_clintiny.distill.student import PRESETS, init_student, resolve_shape, student_config


def test_same_width_student_copies_mapped_teacher_layers(teacher4, tmp_path):
    info = init_student(str(teacher4), tmp_path / "s", layers=2)
    assert info["layer_map"] == [1, 3] and info["mlm_head_from_teacher"]
    teacher = AutoModelForMaskedLM.from_pretrained(str(teacher4))
    student = AutoModelForMaskedLM.from_pretrained(str(tmp_path / "s"))
    for j, t in enumerate(info["layer_map"]):
        for (name, s_param), (_, t_param) in zip(
            student.bert.encoder.layer[j].named_parameters(), teacher.bert.encoder.layer[t].named_parameters()
        ):
            torch.testing.assert_close(s_param, t_param, rtol=0, atol=0, msg=name)
    torch.testing.assert_close(
        student.bert.embeddings.word_embeddings.weight, teacher.bert.embeddings.word_embeddings.weight, rtol=0, atol=0
    )
    torch.testing.assert_close(
        student.cls.predictions.transform.dense.weight, teacher.cls.predictions.transform.dense.weight, rtol=0, atol=0
    )
    assert (tmp_path / "s" / "vocab.txt").read_text() == (teacher4 / "vocab.txt").read_text()
    assert not (tmp_path / "s" / "clintiny_projections.safetensors").exists()


def test_layer_map_override(teacher4, tmp_path):
    info = init_student(str(teacher4), tmp_path / "s", layers=2, layer_map="0,1")
    teacher = AutoModel.from_pretrained(str(teacher4))
    student = AutoModel.from_pretrained(str(tmp_path / "s"))
    torch.testing.assert_close(
        student.encoder.layer[1].output.dense.weight, teacher.encoder.layer[1].output.dense.weight, rtol=0, atol=0
    )
    assert (
        json.loads((tmp_path / "s" / "clintiny_student.json").read_text())["layer_map"] == [0, 1] == info["layer_map"]
    )


def test_narrow_student_is_random_with_projections(teacher4, tmp_path):
    info = init_student(str(teacher4), tmp_path / "n", layers=2, hidden=16, heads=2, attention_dropout=0.0)
    assert info["init"].startswith("random") and info["projection_parameters"] == 3 * (16 * 32 + 32)
    assert info["encoder_parameters"] < info["teacher_encoder_parameters"]
    assert (tmp_path / "n" / "clintiny_projections.safetensors").exists()
    model = AutoModel.from_pretrained(str(tmp_path / "n"))
    assert model.config.hidden_size == 16 and model.config.attention_probs_dropout_prob == 0.0


def test_student_of_a_teacher_without_mlm_head(tiny_encoder, tmp_path):
    info = init_student(str(tiny_encoder), tmp_path / "s", layers=1)
    assert not info["teacher_has_mlm_head"] and not info["mlm_head_from_teacher"]
    model = AutoModelForMaskedLM.from_pretrained(str(tmp_path / "s"))
    assert model.get_output_embeddings().weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()


def test_presets_and_errors(teacher4, tmp_path):
    assert resolve_shape("l2-384", layers=None, hidden=None, heads=None, intermediate=None).layers == 2
    assert resolve_shape("tiny", layers=None, hidden=None, heads=None, intermediate=None) == PRESETS["tiny"]
    with pytest.raises(ValueError, match="E503"):
        init_student(str(teacher4), tmp_path / "a", preset="huge")
    with pytest.raises(ValueError, match="E504"):  # 768 is wider than this 32-wide teacher
        init_student(str(teacher4), tmp_path / "b", preset="distil")
    with pytest.raises(ValueError, match="E502"):
        init_student(str(teacher4), tmp_path / "c", layers=5)
    with pytest.raises(ValueError, match="E505"):
        init_student(str(teacher4), tmp_path / "d", layers=2, hidden=30, heads=4)
    with pytest.raises(ValueError, match="E511"):
        init_student(str(teacher4), teacher4, layers=2, force=True)


def test_refuses_non_empty_output_without_force(teacher4, tmp_path):
    out = tmp_path / "s"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(ValueError, match="E510"):
        init_student(str(teacher4), out, layers=2)
    init_student(str(teacher4), out, layers=2, force=True)
    assert (out / "keep.txt").exists() and (out / "config.json").exists()


def test_default_teacher_presets_fit():
    from transformers import BertConfig

    minilm = BertConfig(hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536)
    for name in ("l4-384", "l2-384", "l4-256"):
        config = student_config(minilm, PRESETS[name])
        assert config.hidden_size % config.num_attention_heads == 0
    assert student_config(minilm, PRESETS["l4-384"]).intermediate_size == 1536
