"""FitConfig, a run's settings as one frozen value: every impossible value refused with its field named, changed
copies through ``replace`` only, the fields that define a run apart from how a process carries it out, and a
checkpoint's record read back."""

import dataclasses
import math

import pytest

from vgg_edu.training.config import FIELDS, RUN_FIELDS, FitConfig

BAD = [
    ("epochs", 0),
    ("epochs", 2.5),
    ("epochs", True),
    ("epochs", "3"),
    ("batch_size", 0),
    ("batch_size", -5),
    ("log_every", 0),
    ("translate", -1),
    ("translate", 0.5),
    ("seed", -1),
    ("seed", 1.5),
    ("eval_every", -1),
    ("max_steps", 0),
    ("max_steps", 2.0),
    ("lr", 0),
    ("lr", -1.0),
    ("lr", math.nan),
    ("lr", math.inf),
    ("lr", "0.1"),
    ("momentum", 1.0),
    ("momentum", -0.1),
    ("weight_decay", -1e-4),
    ("weight_decay", math.nan),
    ("label_smoothing", 1.0),
    ("label_smoothing", -0.1),
    ("max_zoom", 0.9),
    ("max_zoom", 4.5),
    ("optimizer", "lion"),
    ("optimizer", "SGD"),
    ("schedule", "linear"),
    ("flip", 1),
    ("flip", "yes"),
    ("flip_tta", None),
    ("channels_last", 0),
    ("amp", "auto"),
    ("amp", 1),
    ("prefetch", "yes"),
    ("prefetch", 1),
    ("compile", None),
    ("compile", "reduce-overhead"),
]

OTHER = dict(
    epochs=4,
    batch_size=64,
    lr=0.1,
    optimizer="adam",
    momentum=0.9,
    weight_decay=5e-4,
    schedule="cosine",
    flip=True,
    translate=2,
    max_zoom=1.5,
    flip_tta=True,
    label_smoothing=0.1,
    seed=1,
)
"""A valid value other than the default for each field that defines a run."""

HOW = dict(max_steps=4, amp=True, channels_last=False, eval_every=0, log_every=1, prefetch=True, compile=True)
"""A valid value other than the default for each field of how a process carries a run out."""


@pytest.mark.parametrize("name, value", BAD)
def test_every_impossible_value_is_refused_naming_its_field(name, value):
    with pytest.raises(ValueError, match=rf"\b{name}\b") as err:
        FitConfig(**{name: value})
    assert repr(value) in str(err.value)  # and the value that was given


def test_every_field_has_refusals_above():
    assert {name for name, _ in BAD} == set(FIELDS)


def test_the_limits_themselves_are_accepted():
    edge = FitConfig(epochs=1, lr=1, momentum=0.0, weight_decay=0, max_zoom=4, translate=0, seed=0, eval_every=0)
    assert (edge.max_zoom, edge.lr, edge.eval_every) == (4, 1, 0)
    assert FitConfig(max_zoom=1.0, label_smoothing=0.0, amp=False, max_steps=1).amp is False


def test_replace_gives_a_checked_copy_and_refuses_unknown_fields():
    base = FitConfig(epochs=3)
    changed = base.replace(lr=0.1)
    assert (changed.lr, changed.epochs) == (0.1, 3) and base.lr == FitConfig().lr  # the original is unchanged
    with pytest.raises(TypeError, match=r"no field\(s\) \['epoch'\]; its fields are \['epochs'"):
        base.replace(epoch=3)
    with pytest.raises(ValueError, match="lr must be a positive number; got -1"):
        base.replace(lr=-1)


def test_a_config_cannot_be_changed_in_place():
    config = FitConfig()
    for name, value in (("lr", 1.0), ("max_steps", 4)):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(config, name, value)
    assert config == FitConfig() and {config: "usable as a key"}[FitConfig()]


def test_the_fields_that_define_a_run_are_all_but_how_it_is_carried_out():
    assert set(OTHER) == set(RUN_FIELDS) and set(HOW) == set(FIELDS) - set(RUN_FIELDS)
    base = FitConfig()
    assert base.replace(**HOW).run_fields() == base.run_fields()  # resuming may change these
    for name, value in OTHER.items():
        differ = {k for k, v in base.replace(**{name: value}).run_fields().items() if v != getattr(base, k)}
        assert differ == {name}


def test_from_dict_reads_a_checkpoints_record_and_ignores_other_keys():
    config = FitConfig(epochs=3, lr=0.1, flip=True, max_steps=7)
    record = config.as_dict() | {"data": {"train": 96, "val": 16}, "world_size": 2}  # what fit records beside
    assert FitConfig.from_dict(record) == config
    assert FitConfig.from_dict({"lr": 0.2, "unknown": 1}) == FitConfig(lr=0.2)  # older records lack newer fields
    with pytest.raises(ValueError, match="lr"):
        FitConfig.from_dict({"lr": -1})


@pytest.mark.parametrize("steps, n_train, batch_size", [(300, 55_000, 64), (100, 96, 32), (3, 96, 32), (4, 96, 32)])
def test_a_run_of_n_steps_spans_the_epochs_they_reach_into(steps, n_train, batch_size):
    config = FitConfig(batch_size=batch_size, lr=0.1).for_steps(steps, n_train)
    assert config.epochs == math.ceil(steps / math.ceil(n_train / batch_size)) and config.max_steps == steps
    assert config.replace(epochs=1, max_steps=None) == FitConfig(batch_size=batch_size, lr=0.1)  # nothing else
