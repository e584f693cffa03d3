from pathlib import Path

import pytest
from thinc.api import Config

from spacy_clintiny.distill.config import RECIPES, config_differences, default_config, load_config, resolve_losses

CONFIGS = Path(__file__).parents[2] / "configs"


@pytest.mark.parametrize("kind", ["pretrain", "distill"])
def test_project_configs_match_package_defaults(kind):
    assert Config().from_disk(CONFIGS / f"{kind}.cfg") == default_config(kind)
    load_config(kind, path=CONFIGS / f"{kind}.cfg")


def test_recipes_expand_and_resolve():
    for name in RECIPES:
        config = load_config("distill", recipe=name)
        assert set(config["losses"]) == set(RECIPES[name])
        assert resolve_losses(config["losses"])
    distil = load_config("distill", recipe="distilclinicalbert")["losses"]
    assert (
        distil["mlm"]["weight"],
        distil["kl"]["weight"],
        distil["kl"]["temperature"],
        distil["cosine"]["weight"],
    ) == (2.0, 5.0, 2.0, 1.0)


def test_overrides_apply_after_the_recipe():
    config = load_config("distill", recipe="compact", overrides={"losses.kl.weight": 0.0, "training.lr": 0.001})
    assert config["training"]["lr"] == 0.001
    assert "kl" not in [t.key for t in resolve_losses(config["losses"])]


def test_unknown_settings_are_rejected_with_the_allowed_ones():
    with pytest.raises(ValueError, match="E520") as err:
        load_config("pretrain", overrides={"training.learning_rate": 1})
    assert "lr" in str(err.value)
    with pytest.raises(ValueError, match="E506"):
        load_config("pretrain", overrides={"losses.mlm.loss": "spacy-clintiny.Nope.v1"})
    with pytest.raises(ValueError, match="E507") as err:
        load_config("distill", overrides={"losses.kl.temp": 3})
    assert "temperature" in str(err.value)
    with pytest.raises(ValueError, match="E509"):
        load_config("distill", recipe="bogus")
    with pytest.raises(ValueError, match="E521"):
        load_config("pretrain", overrides={"training.schedule": "cosine"})


def test_config_differences_ignore_resumable_settings():
    a = load_config("pretrain")
    b = load_config("pretrain", overrides={"training.max_minutes": 5.0, "training.lr": 0.1})
    assert config_differences(a, b) == ["training.lr"]
