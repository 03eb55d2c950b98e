"""Prose that cannot drift from its run: a sentence that states a result, checked by the run that shows it.

A notebook's markdown says what a run found ("the plain network stalls for its first steps, the normalised one does
not"). When a recipe changes, the sentence can become false while the run still succeeds. ``claim`` puts the
sentence next to its condition, in the cell that computes the evidence::

    from vgg_edu import claims
    claims.claim(
        stalled["no BatchNorm"] > stalled["BN before ReLU"],
        "the plain network's loss stays higher than the normalised one's over the first 100 steps",
        evidence=f"{stalled['no BatchNorm']:.2f} against {stalled['BN before ReLU']:.2f}, mean of 3 seeds",
    )

- In a full run (``VGG_EDU_FAST`` unset, as ``make course`` runs the notebooks) a claim that holds prints
  ``Claim holds: <sentence> (<evidence>)``; one that does not raises ``ClaimFailed`` (an ``AssertionError``), which
  stops the notebook with the sentence and the evidence: the prose must change, or the run.
- In fast mode (CI, nbmake) the data and the runs are too small to support any verdict, so nothing is enforced:
  the claim prints ``Not checked in fast mode: ...`` and, when the condition does not hold, also issues a
  ``ClaimNotChecked`` warning.

Write the condition the way the prose states it (which is higher, by how much, over how many seeds), and the
evidence as the numbers it rests on. Verdicts on small differences need several seeds and their spread
(``spread`` below); a claim that a one-seed run cannot support should not be written at all.
"""

from __future__ import annotations

import statistics
import warnings

from . import runtime


class ClaimFailed(AssertionError):
    """A sentence of the prose no longer says what its run shows (raised in full mode only)."""


class ClaimNotChecked(UserWarning):
    """A claim that does not hold on fast mode's small run (where no verdict is drawn)."""


def claim(condition, sentence: str, *, evidence: str = "") -> bool:
    """Check that ``sentence`` (the prose's words) holds in this run: ``condition`` is its verdict (a bool, or
    numpy's or torch's), ``evidence`` the numbers it rests on. Returns the verdict as a bool.

    Full mode: prints ``Claim holds: ...`` or raises ``ClaimFailed``. Fast mode: prints ``Not checked in fast
    mode: ...`` and warns (``ClaimNotChecked``) when the condition does not hold; never raises."""
    verdict = bool(condition)
    said = f"{sentence} ({evidence})" if evidence else sentence
    if runtime.fast_mode():
        print(f"Not checked in fast mode (small data, no verdict): {said}")
        if not verdict:
            warnings.warn(f"this claim does not hold on fast mode's small run: {said}", ClaimNotChecked, stacklevel=2)
        return verdict
    if not verdict:
        raise ClaimFailed(
            f"the prose says: {sentence!r}, but this run does not show it"
            + (f" ({evidence})" if evidence else "")
            + ". Change the sentence (and this claim) to what the run shows, or the run."
        )
    print(f"Claim holds: {said}")
    return verdict


def spread(values) -> str:
    """Several seeds' results as ``mean ± standard deviation (min-max, n seeds)``, for a claim's evidence and a
    table; one value is given as it is, with ``1 seed``."""
    values = [float(v) for v in values]
    if len(values) == 1:
        return f"{values[0]:.3f} (1 seed)"
    mean, sd = statistics.mean(values), statistics.stdev(values)
    return f"{mean:.3f} ± {sd:.3f} ({min(values):.3f}-{max(values):.3f}, {len(values)} seeds)"


def paired(differences) -> str:
    """The verdict that paired differences support (a variant minus its baseline, run for run with the same seed):
    ``"higher at every seed"``, ``"lower at every seed"``, or ``"no verdict: the sign changes from seed to seed"``
    (a zero counts as a change). One seed supports none."""
    values = [float(d) for d in differences]
    if len(values) < 2:
        return "no verdict: one seed"
    if all(v > 0 for v in values):
        return "higher at every seed"
    if all(v < 0 for v in values):
        return "lower at every seed"
    return "no verdict: the sign changes from seed to seed"


def first_step_below(curve, level: float, window: int = 20) -> int | None:
    """The first step at which the mean of the last ``window`` values of ``curve`` (a training loss, step by step)
    is below ``level``; None if it never is. With ``level`` a little under ln 10 it says when a 10-class network
    starts to learn: a single noisy step below the line does not count."""
    values = [float(v) for v in curve]
    for end in range(window, len(values) + 1):
        if sum(values[end - window : end]) / window < level:
            return end
    return None
