"""What a run may use: one frozen record, sandboxed unless the teacher names "none"; the container engine's trial run
uses the same record, with smaller limits than a submission's."""

import dataclasses

import pytest

from vgg_edu.teaching import container, sandbox
from vgg_edu.teaching.limits import Limits


def test_only_none_runs_unsandboxed():
    assert all(Limits(sandbox=tool).sandboxed for tool in sandbox.SANDBOXES)
    assert not Limits(sandbox="none").sandboxed


def test_limits_cannot_change_once_made():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Limits().seconds = 1


def test_the_engines_trial_container_runs_under_smaller_limits_than_a_submission():
    trial, submission = container.TRIAL, Limits()
    assert isinstance(trial, Limits)
    for field in ("seconds", "memory_gb", "disk_mb", "processes"):
        assert getattr(trial, field) < getattr(submission, field), field
