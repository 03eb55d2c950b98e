"""claims: a sentence of the prose checked by its run: a note (never an exception) where a full run does not support
it, a warning in fast mode. That a notebook shows the note and goes on, and that ``make course`` lists it, is
tests/test_run_course.py's."""

import pytest

from vgg_edu import claims


@pytest.fixture
def full_mode(monkeypatch):
    monkeypatch.delenv("VGG_EDU_FAST", raising=False)


@pytest.fixture
def fast_mode(monkeypatch):
    monkeypatch.setenv("VGG_EDU_FAST", "1")


def test_a_claim_that_holds_says_so_in_full_mode(full_mode, capsys):
    assert claims.claim(0.9 > 0.8, "the second run is higher", evidence="0.9 against 0.8") is True
    assert capsys.readouterr().out == "Claim holds: the second run is higher (0.9 against 0.8)\n"


def test_a_claim_that_fails_notes_it_with_the_sentence_and_the_evidence_and_goes_on(full_mode, capsys):
    assert claims.claim(0.7 > 0.8, "the second run is higher", evidence="0.7 against 0.8") is False
    said = capsys.readouterr().out
    assert said.startswith('Your run differs from the text. The text says: "the second run is higher"')
    assert "(0.7 against 0.8)" in said and "the random seed" in said and "Claim holds" not in said


def test_fast_mode_never_raises_and_warns_only_when_the_claim_fails(fast_mode, capsys, recwarn):
    assert claims.claim(True, "holds") is True
    assert "Not checked in fast mode" in capsys.readouterr().out and not recwarn.list
    with pytest.warns(claims.ClaimNotChecked, match="does not hold"):
        assert claims.claim(False, "does not hold here") is False


def test_a_counted_claim_is_checked_in_fast_mode_too(fast_mode, capsys):
    assert claims.claim(18 / 25 < 1, "the stack does fewer MACs", counted=True) is True
    assert capsys.readouterr().out.startswith("Claim holds: the stack does fewer MACs")
    assert claims.claim(27 / 49 > 1, "the stack does more MACs", counted=True) is False
    assert capsys.readouterr().out.startswith('Your run differs from the text. The text says: "the stack does more')


def test_numpy_and_torch_verdicts_count(full_mode):
    np = pytest.importorskip("numpy")
    torch = pytest.importorskip("torch")
    assert claims.claim(np.bool_(True), "numpy") is True
    assert claims.claim(torch.tensor(True), "torch") is True
    assert claims.claim(np.float64(1.0) > 2, "numpy false") is False


def test_spread_gives_mean_standard_deviation_and_range():
    assert claims.spread([0.5, 0.7, 0.6]) == "0.600 ± 0.100 (0.500-0.700, 3 seeds)"
    assert claims.spread([0.25]) == "0.250 (1 seed)"


def test_first_step_below_reads_the_moving_mean_not_one_step():
    curve = [2.3] * 50 + [1.0] + [2.3] * 49 + [1.0] * 40  # one lucky step at 51, then learning from step 101
    assert claims.first_step_below(curve, 2.2, window=20) == 102
    assert claims.first_step_below([2.3] * 30, 2.2) is None
    assert claims.first_step_below([1.0] * 20, 2.2) == 20


@pytest.mark.parametrize(
    "differences, verdict",
    [([0.4, 1.2, 0.1], "higher at every seed"), ((-0.3, -2), "lower at every seed"),
     ([0.5, -0.2, 1.0], "no verdict: the sign changes"), ([0.5, 0.0], "no verdict: the sign changes"),
     ([3.0], "no verdict: one seed")],
)  # fmt: skip
def test_paired_differences_give_a_verdict_only_when_every_seed_agrees(differences, verdict):
    assert claims.paired(differences).startswith(verdict)


def test_per_seed_prints_each_sign_and_the_verdict_they_support():
    assert (
        claims.per_seed([4.5, -1.0, 2.3]) == "+4.5, -1.0, +2.3 points (no verdict: the sign changes from seed to seed)"
    )
    assert claims.per_seed([0.3, 1.0], unit="pp") == "+0.3, +1.0 pp (higher at every seed)"
    assert claims.per_seed([-3.0, -0.5, -7.25]).endswith("points (lower at every seed)")
