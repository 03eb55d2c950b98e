"""Exercises that check themselves.

In a notebook::

    from vgg_edu import exercises as ex
    answer = ...            # the student's work
    ex.check("01.1", answer)   # prints "Correct" or "Not yet" with a hint; never raises
    ex.hint("01.1")
    ex.solution("01.1")        # for teachers, or after trying

An exercise is an id, a question, a check (a function of the answer that returns True, or returns/raises with a
message), a hint and a solution. This module is the registry; each notebook's exercises live in ``lessonNN.py``.
"""

from __future__ import annotations

import importlib
import pkgutil
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Exercise:
    exercise_id: str
    question: str
    check: Callable[[Any], bool | str | None]
    hint: str
    solution: str


EXERCISES: dict[str, Exercise] = {}


def exercise(exercise_id: str, question: str, hint: str, solution: str):
    """Decorator that registers a check function as exercise ``exercise_id``."""

    def register(fn):
        EXERCISES[exercise_id] = Exercise(exercise_id, question, fn, hint, solution)
        return fn

    return register


def _get(exercise_id: str) -> Exercise:
    if exercise_id not in EXERCISES:
        raise KeyError(f"no exercise {exercise_id!r}; the exercises are {sorted(EXERCISES)}")
    return EXERCISES[exercise_id]


def check(exercise_id: str, answer: Any = ...) -> bool:
    """Check ``answer`` for exercise ``exercise_id``; print a verdict and return True or False. Never raises.

    A check returns True for a correct answer; False, None or a string (the reason) for a wrong one; an exception
    inside it counts as wrong and its message is shown, so a broken answer cannot stop the notebook.
    """
    ex = _get(exercise_id)
    if answer is ... or answer is None:
        print(f"[{exercise_id}] Not answered yet. {ex.question}\n  Hint: {ex.hint}")
        return False
    try:
        verdict = ex.check(answer)
    except Exception as err:  # the student's code may fail in any way; report it, do not crash
        last = traceback.format_exception_only(type(err), err)[-1].strip()
        print(f"[{exercise_id}] Not yet: your answer raised {last}\n  Hint: {ex.hint}")
        return False
    if verdict is True:
        print(f"[{exercise_id}] Correct!")
        return True
    reason = f" {verdict}" if isinstance(verdict, str) else ""
    print(f"[{exercise_id}] Not yet.{reason}\n  Hint: {ex.hint}")
    return False


def hint(exercise_id: str) -> None:
    print(_get(exercise_id).hint)


def solution(exercise_id: str) -> None:
    """Print the solution (teachers: ``for i in exercises.EXERCISES: exercises.solution(i)`` prints them all)."""
    print(_get(exercise_id).solution)


def list_exercises(prefix: str = "") -> list[str]:
    return sorted(i for i in EXERCISES if i.startswith(prefix))


def _register_lessons() -> None:
    """Import every ``lessonNN`` module beside this one: each registers its notebook's exercises."""
    for module in sorted(pkgutil.iter_modules(__path__)):
        if module.name.startswith("lesson"):
            importlib.import_module(f"{__name__}.{module.name}")


_register_lessons()
