"""The device rule, fast mode and where files go."""

import platform
import subprocess
import sys
import time

import pytest
import torch

from vgg_edu import runtime

from conftest import requires_cuda


def test_best_device_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert runtime.best_device().type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert runtime.best_device().type == "mps"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert runtime.best_device().type == "cpu"
    assert runtime.get_device("cpu") == torch.device("cpu")


def test_the_device_rule_none_is_where_the_parameters_are(monkeypatch):
    model = torch.nn.Linear(2, 2)
    with torch.device("meta"):
        on_meta = torch.nn.Linear(2, 2)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # even where CUDA is there, nothing moves
    assert runtime.place(model).type == "cpu" and runtime.place(on_meta).type == "meta"
    assert runtime.place(torch.nn.ReLU()).type == "cpu"  # no parameters: the CPU


def test_a_given_device_moves_the_model():
    model = torch.nn.Linear(2, 2)
    assert runtime.place(model, "meta").type == "meta"
    assert model.weight.device.type == "meta"


@pytest.mark.parametrize("bad", ["gpu", "cuda:x", 3.5])
def test_unknown_devices_are_refused(bad):
    with pytest.raises(ValueError, match="unknown device"):
        runtime.get_device(bad)


@pytest.mark.skipif(torch.cuda.is_available(), reason="only meaningful without a GPU")
def test_asking_for_missing_cuda_says_so():
    with pytest.raises(ValueError, match="no CUDA GPU"):
        runtime.get_device("cuda")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        runtime.place(torch.nn.Linear(2, 2), "cuda")


@requires_cuda
def test_vgg_runs_on_cuda():
    from vgg_edu.models import VGG

    m = VGG("A", width_divisor=8, num_classes=10).cuda()
    assert m(torch.zeros(2, 3, 32, 32, device="cuda")).device.type == "cuda"


def test_fast_mode_reads_environment(monkeypatch):
    monkeypatch.setenv(runtime.FAST_ENV, "1")
    assert runtime.fast_mode()
    monkeypatch.setenv(runtime.FAST_ENV, "0")
    assert not runtime.fast_mode()


def test_save_figure_writes_only_when_make_figures_asks(monkeypatch, tmp_path):
    saved = []

    class Figure:
        def savefig(self, path, **kw):
            saved.append(path)

    monkeypatch.setattr(runtime, "repo_root", lambda: tmp_path)
    monkeypatch.setenv(runtime.FAST_ENV, "0")
    monkeypatch.delenv(runtime.SAVE_FIGURES_ENV, raising=False)
    assert runtime.save_figure(Figure(), "never") is None and saved == []  # a student's or make course's run
    monkeypatch.setenv(runtime.SAVE_FIGURES_ENV, "1")
    monkeypatch.setenv(runtime.FAST_ENV, "1")
    assert runtime.save_figure(Figure(), "never") is None and saved == []  # fast mode (CI): never
    monkeypatch.setenv(runtime.FAST_ENV, "0")
    assert runtime.save_figure(Figure(), "fig") == tmp_path / "images" / "fig.png" and saved == [
        tmp_path / "images" / "fig.png"
    ]
    monkeypatch.setattr(runtime, "repo_root", lambda: None)  # installed outside the repository
    assert runtime.save_figure(Figure(), "never") is None and len(saved) == 1


def test_fast_or_full(monkeypatch):
    monkeypatch.setenv(runtime.FAST_ENV, "1")
    assert runtime.fast_or_full(2, 200) == 2
    monkeypatch.setenv(runtime.FAST_ENV, "")
    assert runtime.fast_or_full(2, 200) == 200


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="only meaningful without Apple's MPS")
def test_asking_for_missing_mps_says_so():
    with pytest.raises(ValueError, match="MPS is not available"):
        runtime.get_device("mps")


def test_choose_threads_takes_the_faster_count(monkeypatch):
    threads = torch.get_num_threads()
    clock = iter(range(10_000))
    slow_when_two = {1: 1, 2: 40}  # seconds per measured step, as on an oversubscribed CPU

    def fake_clock():
        return next(clock) * slow_when_two[torch.get_num_threads()]

    monkeypatch.setattr(runtime.time, "perf_counter", fake_clock)
    try:
        best, line = runtime.choose_threads((1, 2), repeats=3)
        assert best == 1 and torch.get_num_threads() == 1
        assert line == "1 CPU thread, the fastest here now (a small training step: 1000.0 ms on 1, 40000.0 ms on 2)"
    finally:
        torch.set_num_threads(threads)


def test_fitting_threads_obey_omp_num_threads_where_it_is_set(monkeypatch):
    threads = torch.get_num_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setattr(runtime, "choose_threads", lambda *a, **k: pytest.fail("measured although the count was set"))
    torch.set_num_threads(1)
    try:
        assert runtime.use_fitting_threads() == "1 CPU thread, as OMP_NUM_THREADS=1 asks"
    finally:
        torch.set_num_threads(threads)


def test_fitting_threads_measure_one_against_the_default_where_unset(monkeypatch):
    threads = torch.get_num_threads()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    asked = []
    monkeypatch.setattr(runtime, "choose_threads", lambda candidates: asked.append(candidates) or (1, "1 CPU thread"))
    torch.set_num_threads(4)
    try:
        assert runtime.use_fitting_threads() == "1 CPU thread"
        assert asked == [(1, 2, 4)]  # one thread, two, and PyTorch's default
    finally:
        torch.set_num_threads(threads)


def test_start_notebook_seeds_after_measuring_and_says_where(monkeypatch, capsys):
    monkeypatch.setattr(runtime, "best_device", lambda: torch.device("cpu"))
    monkeypatch.setenv(runtime.FAST_ENV, "1")
    monkeypatch.setattr(runtime, "use_fitting_threads", lambda: torch.rand(3).sum() and "1 CPU thread (measured)")
    device = runtime.start_notebook(seed=7)
    drawn = torch.rand(1)
    torch.manual_seed(7)
    assert device == torch.device("cpu") and torch.equal(drawn, torch.rand(1))  # the measuring drew nothing after
    said = capsys.readouterr().out
    assert said == "computing on the CPU, 1 CPU thread (measured); fast mode: True\n"


_FAULTS = """
import resource, sys, torch
from vgg_edu import runtime
kept = runtime.keep_freed_memory() if sys.argv[1] == "keep" else False
def faults():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    torch.ones(50_000_000).sum()  # 200 MB, allocated, filled and freed
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
counts = [faults() for _ in range(12)]  # the heap settles in a few rounds (freed blocks fragment it at first)
print(kept, sum(counts[-3:]))
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")
def test_kept_memory_is_reused_without_faulting_pages_in_again():
    """200 MB is 48,828 pages of 4 KiB: glibc maps and unmaps them at every allocation unless told to keep them;
    the last three of twelve allocations fault 3 x 48,828 pages in, or none."""
    runs = {}
    for mode in ("default", "keep"):
        out = subprocess.run(
            [sys.executable, "-c", _FAULTS, mode], capture_output=True, text=True, check=True, timeout=120
        )
        kept, faults = out.stdout.split()
        runs[mode] = (kept, int(faults))
    assert runs["default"][0] == "False" and runs["default"][1] > 3 * 48_000
    assert runs["keep"][0] == "True" and runs["keep"][1] < 2_000


def test_keep_freed_memory_leaves_other_devices_alone():
    assert runtime.keep_freed_memory("meta") is False


def test_on_colab_reads_whether_colab_is_imported(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert runtime.on_colab() is False
    monkeypatch.setitem(sys.modules, "google.colab", object())
    assert runtime.on_colab() is True


def test_a_read_only_course_folder_falls_back_and_says_where(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("VGG_EDU_ARTIFACTS")
    monkeypatch.setattr(runtime, "repo_root", lambda: tmp_path / "course")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    real = runtime._writable_folder

    def read_only(path):
        if str(path).startswith(str(tmp_path / "course")):
            raise PermissionError(30, "Read-only file system")
        return real(path)

    monkeypatch.setattr(runtime, "_writable_folder", read_only)
    folder = runtime.artifacts_dir()
    assert folder == tmp_path / "home" / ".cache" / "vgg_edu" / "artifacts" and folder.is_dir()
    assert "VGG_EDU_ARTIFACTS" in capsys.readouterr().out
    monkeypatch.setenv("VGG_EDU_ARTIFACTS", str(tmp_path / "course" / "asked"))
    with pytest.raises(PermissionError, match="VGG_EDU_ARTIFACTS"):
        runtime.artifacts_dir()


def test_median_ms_in_turns_runs_each_on_its_threads_and_takes_the_median():
    seen, calls = [], {"a": 0}

    def a():
        calls["a"] += 1
        seen.append(torch.get_num_threads())

    before = torch.get_num_threads()
    timed = runtime.median_ms_in_turns({"a": (a, 1), "b": (lambda: time.sleep(0.002), before)}, per=2, repeats=3)
    assert calls["a"] == 4 and set(seen) == {1} and torch.get_num_threads() == before  # warm-up + 3; restored
    assert timed["b"] >= 1.0 > timed["a"] >= 0  # 2 ms a call, 2 items a call: at least 1 ms per item


@pytest.mark.parametrize("repeats", [0, -1, 2.5, True])
def test_median_ms_in_turns_needs_a_timed_round(repeats):
    with pytest.raises(ValueError, match="repeats must be a positive whole number"):
        runtime.median_ms_in_turns({"a": (lambda: None, 1)}, per=1, repeats=repeats)


def test_load_note_names_threads_and_load_and_survives_a_system_without_load_average(monkeypatch):
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        monkeypatch.setattr(runtime.os, "getloadavg", lambda: (2.345, 1.0, 1.0))
        assert runtime.load_note() == "1 thread, load average 2.3"
        torch.set_num_threads(2)
        monkeypatch.delattr(runtime.os, "getloadavg")  # Windows has none
        assert runtime.load_note() == "2 threads"
    finally:
        torch.set_num_threads(before)
