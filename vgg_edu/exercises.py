"""Exercises that check themselves.

In a notebook::

    from vgg_edu import exercises as ex
    answer = ...            # the student's work
    ex.check("01.1", answer)   # prints "Correct" or "Not yet" with a hint; never raises
    ex.hint("01.1")
    ex.solution("01.1")        # for teachers, or after trying

An exercise is an id, a question, a check (a function of the answer that returns True, or returns/raises with a
message), a hint and a solution. The registry below holds every notebook's exercises, one section per notebook.
"""
from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Any, Callable


@dataclass
class Exercise:
    id: str
    question: str
    check: Callable[[Any], "bool | str | None"]
    hint: str
    solution: str


EXERCISES: dict[str, Exercise] = {}


def exercise(id: str, question: str, hint: str, solution: str):
    """Decorator that registers a check function as exercise ``id``."""
    def register(fn):
        EXERCISES[id] = Exercise(id, question, fn, hint, solution)
        return fn
    return register


def _get(id: str) -> Exercise:
    if id not in EXERCISES:
        raise KeyError(f"no exercise {id!r}; the exercises are {sorted(EXERCISES)}")
    return EXERCISES[id]


def check(id: str, answer: Any = ...) -> bool:
    """Check ``answer`` for exercise ``id``; print a verdict and return True or False. Never raises.

    A check returns True for a correct answer; False, None or a string (the reason) for a wrong one; an exception
    inside it counts as wrong and its message is shown, so a broken answer cannot stop the notebook.
    """
    ex = _get(id)
    if answer is ... or answer is None:
        print(f"[{id}] Not answered yet. {ex.question}\n  Hint: {ex.hint}")
        return False
    try:
        verdict = ex.check(answer)
    except Exception as err:  # the student's code may fail in any way; report it, do not crash
        last = traceback.format_exception_only(type(err), err)[-1].strip()
        print(f"[{id}] Not yet: your answer raised {last}\n  Hint: {ex.hint}")
        return False
    if verdict is True:
        print(f"[{id}] Correct!")
        return True
    reason = f" {verdict}" if isinstance(verdict, str) else ""
    print(f"[{id}] Not yet.{reason}\n  Hint: {ex.hint}")
    return False


def hint(id: str) -> None:
    print(_get(id).hint)


def solution(id: str) -> None:
    """Print the solution (teachers: ``for i in exercises.EXERCISES: exercises.solution(i)`` prints them all)."""
    print(_get(id).solution)


def list_exercises(prefix: str = "") -> list[str]:
    return sorted(i for i in EXERCISES if i.startswith(prefix))


# --- Notebook 01: receptive fields -------------------------------------------------------------------------------

# --- Notebook 02: VGG blocks -------------------------------------------------------------------------------------

# --- Notebook 03: the full VGG-16 --------------------------------------------------------------------------------

# --- Notebook 04: training on Fashion-MNIST ----------------------------------------------------------------------

# --- Notebook 05: feature maps -----------------------------------------------------------------------------------
