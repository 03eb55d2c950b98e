"""Recipes: d2l's is the book's, presets cannot be changed, unknown recipes and fields are refused."""

import pytest
import torch

from vgg_edu.training.recipes import RECIPES, build_model, fit_config, recipe


def test_d2l_recipe_is_the_books():
    r = RECIPES["d2l"]
    assert r.model["input_size"] == 224 and r.fit.batch_size == 128
    assert r.fit.lr == 0.05 and r.fit.epochs == 10 and r.fit.momentum == 0.0
    assert r.model["init"] == "d2l" and r.fit.amp is False  # the book's init_cnn and its fp32, on every device
    with torch.device("meta"):
        model = build_model("d2l")
    convs = [m.out_channels for m in model.features if isinstance(m, torch.nn.Conv2d)]
    assert convs == [16, 32, 64, 64, 128, 128, 128, 128]  # VGG-11 with 64..512 divided by 4
    assert model.classifier[0].in_features == 128 * 7 * 7 and model.classifier[0].out_features == 4096
    assert model.input_spec.size == 224


def test_recipe_options_are_checked():
    with pytest.raises(ValueError, match="unknown recipe"):
        recipe("gpu-magic")
    with pytest.raises(TypeError, match="no field"):
        fit_config("classroom", epoch=3)
    assert fit_config("classroom", epochs=1).epochs == 1
    assert RECIPES["classroom"].fit.epochs == 12  # the preset was not changed
    with pytest.raises(TypeError):
        RECIPES["classroom"].model["epochs"] = 1


def test_a_recipe_splits_mixed_changes_into_network_keywords_and_a_fit_config():
    network, config = recipe("classroom").split({"batch_norm": False, "epochs": 1, "translate": 2})
    assert network == dict(RECIPES["classroom"].model) | {"batch_norm": False}
    assert config == RECIPES["classroom"].fit.replace(epochs=1, translate=2)
    assert recipe("classroom").split() == (dict(RECIPES["classroom"].model), RECIPES["classroom"].fit)
    with torch.device("meta"):  # what build_model makes of the split is what it makes of the change alone
        split, alone = build_model("classroom", **network), build_model("classroom", batch_norm=False)
    assert split.hparams == alone.hparams and not any(isinstance(m, torch.nn.BatchNorm2d) for m in split.modules())
    with pytest.raises(ValueError, match="epochs"):
        recipe("classroom").split({"epochs": 0})
