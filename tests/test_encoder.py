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
