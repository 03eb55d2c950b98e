"""Prose that cannot drift from its run: a sentence that states a result, checked by the run that shows it.

A notebook's markdown says what a run found ("the plain network stalls for its first steps, the normalised one does
not"). When a recipe changes, or the notebook runs on another machine, the sentence can become false while the run
still succeeds. ``claim`` puts the sentence next to its condition, in the cell that computes the evidence::

    from vgg_edu import claims
    claims.claim(
        stalled["no BatchNorm"] > stalled["BN before ReLU"],
        "the plain network's loss stays higher than the normalised one's over the first 100 steps",
        evidence=f"{stalled['no BatchNorm']:.2f} against {stalled['BN before ReLU']:.2f}, mean of 3 seeds",
    )

A claim never stops a notebook: a student who runs it on another machine, or with another seed, can see another
result, and the lesson goes on.

- Full run (``VGG_EDU_FAST`` unset: a student's notebook, ``make course``): a claim that holds prints
  ``Claim holds: <sentence> (<evidence>)``. One that does not shows a note (``note``): what the text says, what
  this run shows, and why runs differ. In a notebook the note carries the claim as output metadata
  (``METADATA_KEY``), from which ``tools/run_course.py`` lists every sentence a run did not support; its
  ``--strict`` (``make course-strict``, for the course's maintainers) fails on any.
- Fast mode (CI, nbmake): the data and the runs are too small to support any verdict: the claim prints
  ``Not checked in fast mode: ...`` and, when the condition does not hold, issues a ``ClaimNotChecked`` warning.
  A claim that no data decides (a count, a formula, memory computed from the network's shape) says so with
  ``counted=True`` and is checked in both modes, as in a full run.

Write the condition the way the prose states it (which is higher, by how much, over how many seeds), and the
evidence as the numbers it rests on. Verdicts on small differences need several seeds and their spread
(``spread`` below); a claim that a one-seed run cannot support should not be written at all. Where the answer
depends on the machine (timings, memory peaks), let the run print its own sentence and claim only what holds
everywhere.
"""

from __future__ import annotations

import math
import statistics
import sys
import warnings

import numpy as np
import pandas as pd

from . import runtime

METADATA_KEY = "vgg_edu_claim"
"""The output metadata under which a notebook's note carries an unsupported claim (sentence, evidence)."""


class ClaimNotChecked(UserWarning):
    """A claim that does not hold on fast mode's small run (where no verdict is drawn)."""


def claim(condition, sentence: str, *, evidence: str = "", counted: bool = False) -> bool:
    """Check that ``sentence`` (the prose's words) holds in this run: ``condition`` is its verdict (a bool, or
    numpy's or torch's), ``evidence`` the numbers it rests on, ``counted``: no data decides it (a count or a
    formula). Returns the verdict as a bool; never raises.

    Full mode, or ``counted``: prints ``Claim holds: ...``, or shows ``note``'s note. Fast mode: prints ``Not
    checked in fast mode: ...`` and warns (``ClaimNotChecked``) when the condition does not hold."""
    verdict = bool(condition)
    said = f"{sentence} ({evidence})" if evidence else sentence
    if runtime.fast_mode() and not counted:
        print(f"Not checked in fast mode (small data, no verdict): {said}")
        if not verdict:
            warnings.warn(f"this claim does not hold on fast mode's small run: {said}", ClaimNotChecked, stacklevel=2)
    elif verdict:
        print(f"Claim holds: {said}")
    else:
        _show(note(sentence, evidence), {METADATA_KEY: {"sentence": sentence, "evidence": evidence}})
    return verdict


def note(sentence: str, evidence: str = "") -> str:
    """What a student reads where the text says more than their run shows."""
    shows = f"what this run measured does not show it ({evidence})" if evidence else "this run does not show it"
    return (
        f'Your run differs from the text. The text says: "{sentence}"; {shows}. That is not a mistake of yours: '
        "results depend on the machine (its processor, a GPU, how many threads, what else is running) and on the "
        "random seed, and the text was written from a run on another machine. Read the numbers above as what "
        "your machine did; the notebook goes on."
    )


def _show(text: str, metadata: dict) -> None:
    """In a notebook, display ``text`` with ``metadata`` on its output (where ``run_course`` finds it); elsewhere
    print it."""
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    if shell is None or not hasattr(shell, "display_pub"):
        print(text)
        return
    from IPython.display import display

    display({"text/plain": text, "text/markdown": f"> **Note.** {text}"}, raw=True, metadata=metadata)


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


def per_seed(differences, unit: str = "points") -> str:
    """Paired differences as a run prints them (a variant minus its baseline, seed by seed): each with its sign,
    then the verdict they support (``paired``): ``"+4.5, -1.0, +2.3 points (no verdict: the sign changes from seed
    to seed)"``."""
    values = [float(d) for d in differences]
    return f"{', '.join(f'{v:+.1f}' for v in values)} {unit} ({paired(values)})"


def first_step_below(curve, level: float, window: int = 20) -> int | None:
    """The first step at which the mean of the last ``window`` values of ``curve`` (a training loss, step by step)
    is below ``level``; None if it never is. With ``level`` a little under ln 10 it says when a 10-class network
    starts to learn: a single noisy step below the line does not count."""
    values = [float(v) for v in curve]
    for end in range(window, len(values) + 1):
        if sum(values[end - window : end]) / window < level:
            return end
    return None


def summarize_seeds(runs: dict[str, list]) -> pd.DataFrame:
    """One row per variant of ``training.short_runs.seeded_ablation``'s runs (``{label: [History of each seed]}``):
    validation accuracy over the seeds (mean, standard deviation, min, max), the steps (of the first seed), the mean
    wall time, and against the first variant (the baseline) the difference in points at each seed, paired, with the
    verdict it supports (``paired``)."""
    accuracy = {label: [h.final.get("val_acc", math.nan) for h in hs] for label, hs in runs.items()}
    first = next(iter(accuracy))
    rows = []
    for label, acc in accuracy.items():
        points = [round(100 * (a - b), 1) for a, b in zip(acc, accuracy[first], strict=True)]
        rows.append(
            dict(
                run=label,
                val_acc=np.mean(acc),
                sd=np.std(acc, ddof=1) if len(acc) > 1 else math.nan,
                min=min(acc),
                max=max(acc),
                steps=runs[label][0].final.get("step"),
                wall_s=np.mean([h.final.get("wall_s", math.nan) for h in runs[label]]),
                points_vs_first=points,
                verdict=paired(points) if label != first else "(the baseline)",
            )
        )
    return pd.DataFrame(rows).set_index("run")
