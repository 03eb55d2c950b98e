"""Exercise ids as students type them: every form of an id that exists reaches its exercise; an id that does not
exist gets one printed line, never a traceback, from check, hint and solution alike."""

import pytest

from vgg_edu import exercises as ex


@pytest.mark.parametrize("written", ["01.1", "1.1", " 01.1 ", "01.1\n", 1.1, "001.1"])
def test_every_form_of_an_id_reaches_its_exercise(written, capsys):
    assert ex.exercise_key(written) == "01.1"
    assert ex.check(written) is False  # not answered yet: the question and the hint, under the registry's id
    out = capsys.readouterr().out
    assert out.startswith("[01.1] Not answered yet.") and ex.EXERCISES["01.1"].question in out
    ex.hint(written)
    assert capsys.readouterr().out == ex.EXERCISES["01.1"].hint + "\n"
    ex.solution(written)
    assert capsys.readouterr().out == ex.EXERCISES["01.1"].solution + "\n"


def test_a_right_answer_is_right_under_any_form_of_its_id(capsys):
    namespace = {}
    exec(ex.EXERCISES["01.2"].solution, namespace)  # the registry's own solution, run as a student would
    assert ex.check("1.2", namespace["answer"]) and ex.check(1.2, namespace["answer"])
    assert ex.check(" 01.2", namespace["answer"] + 1) is False  # and a wrong one still wrong
    assert capsys.readouterr().out.count("[01.2] Correct!") == 2


@pytest.mark.parametrize("written", ["99.9", "1.99", 1, "", "one.one", None, True])
def test_an_id_with_no_exercise_gets_one_line_from_check_hint_and_solution(written, capsys):
    assert ex.check(written, 1) is False
    assert ex.hint(written) is None and ex.solution(written) is None
    ids = sorted(ex.EXERCISES)
    assert ids[:2] == ["01.1", "01.2"] and len(ids) > 20
    line = f"no exercise {written!r}; the exercises are {', '.join(ids)}"
    assert capsys.readouterr().out.splitlines() == [line] * 3


def test_ids_of_two_digit_notebooks_and_lettered_parts_keep_their_form():
    assert ex.exercise_key("12.3") == "12.3" and ex.exercise_key("4.3b") == "04.3b" and ex.exercise_key(" x ") == "x"
