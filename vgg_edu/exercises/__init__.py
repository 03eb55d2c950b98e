"""Exercises that check themselves.

In a notebook::

    from vgg_edu import exercises as ex
    answer = ...            # the student's work
    ex.check("01.1", answer)   # prints "Correct" or "Not yet" with a hint; never raises
    ex.hint("01.1")
    ex.solution("01.1")        # for teachers, or after trying

Ids are written as the notebooks print them ("01.1"); "1.1", " 01.1 " and the number 1.1 mean the same. An id with
no exercise gets one printed line listing the ids, from ``check`` (which returns False), ``hint`` and ``solution``
alike: none of them raises, so a typo never stops a notebook with a traceback.

An exercise is an id, a question, a check (a function of the answer that returns True, or returns/raises with a
message), a hint and a solution. This module is the registry; each notebook's exercises live in ``lessonNN.py``.
``normalize`` turns whatever a notebook computed (numpy scalars, 0-d tensors, pandas values) into plain Python
numbers before any check compares; ``as_number``, ``as_count`` and ``as_numbers`` refuse text and fractional counts
with a message that says what is expected, never what the answer is.
"""

from __future__ import annotations

import importlib
import math
import numbers
import os
import pkgutil
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class AnswerError(ValueError):
    """An answer of the wrong kind (text where a number is expected, a fraction where a count is): ``check`` prints
    the message as the reason, like a check's own string verdict."""


def normalize(value: Any) -> Any:
    """A notebook's answer as plain Python: numpy scalars, 0-d arrays and tensors, pandas values of size 1 become
    ``int`` or ``float`` (``bool`` for boolean ones); arrays, tensors and Series with dimensions become (nested)
    lists of them; lists and tuples are normalised element by element. Anything else (text, functions, modules)
    is returned as it is."""
    if isinstance(value, str):
        return str(value)  # numpy's str_ too
    if value is None or type(value) in (bool, int, float):
        return value
    if isinstance(value, (list, tuple)):  # torch.Size and named tuples become plain tuples
        items = [normalize(v) for v in value]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, numbers.Integral):  # numpy integers
        return int(value)
    if isinstance(value, numbers.Real):  # numpy floats, Fraction, Decimal
        return float(value)
    module = type(value).__module__.split(".")[0]
    if module == "pandas" and getattr(value, "size", 0) == 1 and hasattr(value, "to_numpy"):
        return normalize(value.to_numpy().reshape(()).item())  # a one-row Series or a 1 x 1 DataFrame
    if module in ("numpy", "torch", "pandas") and hasattr(value, "tolist"):
        if hasattr(value, "detach"):
            value = value.detach().cpu()
        return normalize(value.tolist() if getattr(value, "ndim", 1) else value.item())
    return value


def _one_number_held(answer: Any) -> Any:
    """tensor([49.]) or np.array([[49]]) as the one number it holds; anything else as it is."""
    shape = getattr(answer, "shape", None)
    is_array = type(answer).__module__.split(".")[0] in ("numpy", "torch") and hasattr(answer, "reshape")
    if is_array and shape is not None and len(shape) > 0 and math.prod(shape) == 1:
        return answer.reshape(())
    return answer


def as_number(answer: Any) -> int | float:
    """One number, whatever type the notebook produced it in (an array or tensor holding one number included);
    text, booleans and sequences raise ``AnswerError``."""
    value = normalize(_one_number_held(answer))
    if isinstance(value, str):
        raise AnswerError("a number is expected, not text: remove the quotes.")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = f"{len(value)} values" if isinstance(value, (list, tuple)) else type(answer).__name__
        if isinstance(value, (list, tuple)) and len(value) == 1:
            kind = "a list holding one: give the number itself"
        raise AnswerError(f"one number is expected, not {kind}.")
    if not math.isfinite(value):
        raise AnswerError(f"a finite number is expected, not {value}.")
    return value


def as_count(answer: Any) -> int:
    """A whole number: 30, 30.0, np.float64(30.0) and torch.tensor(30) are 30; 30.4 raises ``AnswerError`` (a float
    is a count only when it has no fractional part, up to float rounding of 1e-9)."""
    value = as_number(answer)
    if isinstance(value, float):
        if abs(value - round(value)) > 1e-9:
            raise AnswerError("a count is a whole number; yours has a fractional part.")
        value = int(round(value))
    return value


def as_numbers(answer: Any) -> tuple:
    """A sequence of numbers (a list, tuple, array or tensor of them), as a tuple of ``int`` and ``float``."""
    value = normalize(answer)
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise AnswerError("a sequence of numbers is expected, such as (1, 2, 3).")
    return tuple(as_number(v) for v in value)


@dataclass
class Exercise:
    exercise_id: str
    question: str
    check: Callable[[Any], bool | str | None]
    hint: str
    solution: str
    takes_code: bool = False
    """The answer is code (a function, a class, a module): the grader checks it in a sandbox, not as data."""
    called_apart: bool = False
    """The answer is a function of tensors and numbers that returns them: the grader checks it in its own process,
    calling the function in a sandbox of its own (``vgg_edu.teaching.serve``)."""


EXERCISES: dict[str, Exercise] = {}

ANSWERS_ENV = "VGG_EDU_ANSWERS"
"""The folder where ``check`` saves every answer it is given, for the grader to check again in a process of its
own (``vgg_edu.teaching``); unset, as everywhere but in grading, nothing is saved."""


def exercise(
    exercise_id: str, question: str, hint: str, solution: str, takes_code: bool = False, called_apart: bool = False
):
    """Decorator that registers a check function as exercise ``exercise_id`` (``takes_code``: its answer is a
    function, class or module, not numbers; ``called_apart``: a function of tensors and numbers, that the check
    only calls)."""

    def register(fn):
        EXERCISES[exercise_id] = Exercise(exercise_id, question, fn, hint, solution, takes_code, called_apart)
        return fn

    return register


def exercise_key(exercise_id) -> str:
    """The registry's form of an id: "1.1", " 01.1 " and 1.1 are "01.1" (the notebook's number, two digits)."""
    text = str(exercise_id).strip()
    notebook, dot, number = text.partition(".")
    return f"{int(notebook):02d}.{number}" if notebook.isdigit() and dot else text


def _get(exercise_id) -> Exercise | None:
    """The exercise, or None after printing that there is none (with the ids there are)."""
    key = exercise_key(exercise_id)
    if key not in EXERCISES:
        print(f"no exercise {exercise_id!r}; the exercises are {', '.join(sorted(EXERCISES))}")
        return None
    return EXERCISES[key]


def check(exercise_id: str, answer: Any = ...) -> bool:
    """Check ``answer`` for exercise ``exercise_id``; print a verdict and return True or False. Never raises.

    The answer is first ``normalize``d (numpy, torch and pandas numbers become Python numbers). A check returns True
    (or numpy's or torch's true) for a correct answer; False, None or a string (the reason) for a wrong one. An
    ``AnswerError`` is a reason too; any other exception inside it counts as wrong and its message is shown, so a
    broken answer cannot stop the notebook.
    """
    ex = _get(exercise_id)
    if ex is None:
        return False
    exercise_id = ex.exercise_id
    if answer is ... or answer is None:
        print(f"[{exercise_id}] Not answered yet. {ex.question}\n  Hint: {ex.hint}")
        return False
    given = normalize(_one_number_held(answer))
    try:
        verdict = ex.check(given)
        verdict = verdict if verdict is None or isinstance(verdict, str) else bool(verdict)
    except AnswerError as err:
        verdict = str(err)
    except Exception as err:  # the student's code may fail in any way; report it, do not crash
        last = traceback.format_exception_only(type(err), err)[-1].strip()
        verdict = f"Your answer raised {last}"
    if os.environ.get(ANSWERS_ENV):  # set by ``python -m vgg_edu grade`` only
        from ..teaching.answers import record

        record(exercise_id, given, verdict is True, ex.takes_code)
    if verdict is True:
        print(f"[{exercise_id}] Correct!")
        return True
    reason = f" {verdict}" if isinstance(verdict, str) else ""
    print(f"[{exercise_id}] Not yet.{reason}\n  Hint: {ex.hint}")
    return False


def hint(exercise_id: str) -> None:
    ex = _get(exercise_id)
    if ex is not None:
        print(ex.hint)


def solution(exercise_id: str) -> None:
    """Print the solution (teachers: ``for i in exercises.EXERCISES: exercises.solution(i)`` prints them all)."""
    ex = _get(exercise_id)
    if ex is not None:
        print(ex.solution)


def list_exercises(prefix: str = "") -> list[str]:
    return sorted(i for i in EXERCISES if i.startswith(prefix))


def _register_lessons() -> None:
    """Import every ``lessonNN`` module beside this one: each registers its notebook's exercises."""
    for module in sorted(pkgutil.iter_modules(__path__)):
        if module.name.startswith("lesson"):
            importlib.import_module(f"{__name__}.{module.name}")


_register_lessons()
