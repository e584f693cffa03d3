import pytest
import spacy

from spacy_clintiny.models import resolve_model_source


def test_encoder_covers_every_token_of_a_long_note(nlp, tiny_encoder):
    enc = nlp.add_pipe("clintiny_encoder", config={"model": {"name": str(tiny_encoder), "window": 16, "stride": 12}})
    nlp.initialize()
    words = ["pain"] * 5000
    doc = nlp(" ".join(words))
    trf = doc._.trf_data
    # every spaCy token is aligned to at least one wordpiece
    lengths = trf.align.lengths
    assert len(lengths) == len(doc)
    assert min(lengths) >= 1


def test_missing_local_path_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="E001"):
        resolve_model_source(str(tmp_path / "no_such_model"))


def test_hub_id_passes_through_unchanged():
    assert resolve_model_source("emilyalsentzer/Bio_ClinicalBERT") == "emilyalsentzer/Bio_ClinicalBERT"


def test_saved_pipeline_loads_when_the_encoder_folder_is_gone(tmp_path):
    """The config names the encoder folder, but a saved pipeline carries the weights: moving or
    deleting the training-time folder must not break spacy.load."""
    import shutil

    from spacy_clintiny.testing import make_tiny_bert

    src = make_tiny_bert(tmp_path / "enc")
    nlp = spacy.blank("en")
    nlp.add_pipe("clintiny_encoder", config={"model": {"name": str(src)}})
    nlp.initialize()
    nlp.to_disk(tmp_path / "pipe")
    shutil.rmtree(src)
    doc = spacy.load(tmp_path / "pipe")("no chest pain")
    assert len(doc._.trf_data.align.lengths) == 3


def test_missing_encoder_folder_fails_at_initialize_with_a_clear_error(tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("clintiny_encoder", config={"model": {"name": str(tmp_path / "gone")}})
    with pytest.raises(ValueError, match="E001"):
        nlp.initialize()
