"""Nothing lost, nothing mislabelled (issue 25, the run's side): SIGTERM, one run per checkpoint, a resumed history
equal to the uninterrupted one, checkpoints that record the model they hold, checks before work."""

import os
import signal
import subprocess
import sys

import pytest
import torch

from vgg_edu import runtime
from vgg_edu.__main__ import main
from vgg_edu.training import checkpoint
from vgg_edu.training.callbacks import Callback
from vgg_edu.training.checkpoint import CheckpointBusy, Lock
from vgg_edu.training.lessons import lesson_model
from vgg_edu.training.loop import Terminated, fit

from conftest import small_model, tiny_data, write_idx

TIMING = ("wall_s", "epoch_s", "examples_per_s")


def _rows(history):
    return [{k: v for k, v in row.items() if k not in TIMING} for row in history.epochs]


class _SignalAt(Callback):
    def __init__(self, step, signum=signal.SIGINT):
        self.step, self.signum = step, signum

    def on_step(self, run, loss):
        if run.step == self.step:
            os.kill(os.getpid(), self.signum)


@pytest.fixture(scope="module")
def uninterrupted():
    """The reference run: 2 epochs of 3 steps, validated each epoch."""
    return fit(small_model(), tiny_data(n_val=16), epochs=2, batch_size=32, quiet=True)


@pytest.mark.parametrize("stop_at", [1, 3, 4, 6])  # mid-epoch, an epoch's last step, the run's last step
def test_a_resumed_history_equals_the_uninterrupted_one_wherever_it_stopped(tmp_path, uninterrupted, stop_at):
    path = tmp_path / "run.pt"
    with pytest.raises(KeyboardInterrupt):
        fit(small_model(), tiny_data(n_val=16), epochs=2, batch_size=32, checkpoint=path, quiet=True,
            callbacks=[_SignalAt(stop_at)])  # fmt: skip
    resumed = fit(small_model(), tiny_data(n_val=16), epochs=2, batch_size=32, checkpoint=path, resume=True,
                  quiet=True)  # fmt: skip
    assert _rows(resumed) == _rows(uninterrupted)
    assert [s["loss"] for s in resumed.steps] == [s["loss"] for s in uninterrupted.steps]


def test_sigterm_saves_like_ctrl_c_and_says_so(tmp_path):
    path = tmp_path / "run.pt"
    with pytest.raises(Terminated):
        fit(small_model(), tiny_data(), epochs=2, batch_size=32, checkpoint=path, quiet=True,
            callbacks=[_SignalAt(2, signal.SIGTERM)])  # fmt: skip
    assert checkpoint.load(path)["training"]["position"]["step"] == 2
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # fit gave the handler back


def test_the_cli_exits_143_on_sigterm_after_saving(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write_idx(tmp_path / "fm", n_train=48, n_test=16)
    ck = tmp_path / "m.pt"
    from vgg_edu.training import loop

    real_fit = loop.fit
    monkeypatch.setattr(
        loop,
        "fit",
        lambda *a, callbacks=(), **kw: real_fit(*a, callbacks=[*callbacks, _SignalAt(2, signal.SIGTERM)], **kw),
    )
    args = ["train", "--data", str(tmp_path / "fm"), "--epochs", "1", "--batch-size", "16", "--width-divisor", "16",
            "--val-size", "8", "--threads", "1", "--quiet", "--checkpoint", str(ck)]  # fmt: skip
    assert main(args) == 143
    assert "--resume" in capsys.readouterr().err and checkpoint.load(ck)["training"]["position"]["step"] == 2


def test_a_checkpoint_has_one_writer_at_a_time(tmp_path):
    path = tmp_path / "run.pt"
    with Lock(path):
        with pytest.raises(CheckpointBusy, match=f"process {os.getpid()}"):
            fit(small_model(), tiny_data(), epochs=1, batch_size=32, checkpoint=path, quiet=True)
        assert not path.exists()
    fit(small_model(), tiny_data(), epochs=1, batch_size=32, checkpoint=path, quiet=True)  # free again
    assert path.exists() and not list(tmp_path.glob(".*.lock"))


def test_a_second_process_is_refused_while_a_run_holds_the_checkpoint(tmp_path):
    """Another process (the CLI) asking for a checkpoint that a run holds gets one line and exit 1, before any work;
    once the run is over the same command trains."""
    write_idx(tmp_path / "fm", n_train=48, n_test=16)
    args = ["train", "--data", str(tmp_path / "fm"), "--epochs", "1", "--batch-size", "16", "--width-divisor", "16",
            "--val-size", "8", "--threads", "1", "--quiet", "--checkpoint", str(tmp_path / "same.pt")]  # fmt: skip
    code = f"import sys\nfrom vgg_edu.__main__ import main\nsys.exit(main({args!r}))"
    env = os.environ | {"OMP_NUM_THREADS": "1"}

    def cli():
        return subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                              timeout=300)  # fmt: skip

    with Lock(tmp_path / "same.pt"):  # this process's run holds it
        refused = cli()
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "another run is writing" in refused.stderr and f"process {os.getpid()}" in refused.stderr
    assert not (tmp_path / "same.pt").exists()
    assert cli().returncode == 0 and checkpoint.load(tmp_path / "same.pt")["training"]["finished"]


def test_a_replaced_head_is_what_the_checkpoint_records(tmp_path):
    data = tiny_data()
    data.train_labels %= 5
    data.test_labels %= 5
    data.classes = tuple("abcde")
    model = small_model()
    model.classifier[-1] = torch.nn.Linear(model.classifier[-1].in_features, 5)
    fit(model, data, epochs=1, batch_size=32, checkpoint=tmp_path / "five.pt", quiet=True)
    loaded = checkpoint.load_model(tmp_path / "five.pt")  # rebuilt from what was recorded: the 5-class head
    assert loaded.hparams["num_classes"] == 5 and tuple(loaded.input_spec.classes) == tuple("abcde")
    x = torch.zeros(2, 1, 32, 32)
    assert torch.allclose(loaded(x), model.eval()(x), atol=1e-6)


def test_a_model_with_too_few_outputs_is_refused_before_training():
    model = small_model()
    model.classifier[-1] = torch.nn.Linear(model.classifier[-1].in_features, 5)
    before = model.features[0].weight.clone()
    with pytest.raises(ValueError, match="scores 5 classes"):
        fit(model, tiny_data(), epochs=1, quiet=True)
    assert torch.equal(before, model.features[0].weight)


def test_resume_refuses_a_max_steps_the_run_has_passed(tmp_path):
    path = tmp_path / "run.pt"
    fit(small_model(), tiny_data(), epochs=2, batch_size=32, max_steps=4, checkpoint=path, quiet=True)
    with pytest.raises(ValueError, match="already at step 4"):
        fit(small_model(), tiny_data(), epochs=2, batch_size=32, max_steps=2, checkpoint=path, resume=True,
            quiet=True)  # fmt: skip


def test_a_full_disk_is_one_clear_error_and_the_old_checkpoint_stays(tmp_path, monkeypatch):
    path = tmp_path / "run.pt"
    checkpoint.save(path, {"hparams": {}, "model": {}})
    before = path.read_bytes()

    def full(*args, **kwargs):
        try:
            raise OSError(28, "No space left on device")
        except OSError:
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos") from None

    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(OSError, match="the disk is full; the previous checkpoint there is intact"):
        checkpoint.save(path, {"hparams": {}, "model": {}})
    assert path.read_bytes() == before and checkpoint.temporary_files(path) == []


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


def _cli(*args):
    return main([str(a) for a in args])


def test_a_missing_data_folder_is_an_error_never_a_download_target(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert _cli("train", "--data", tmp_path / "photos" / "goood", "--checkpoint", tmp_path / "m.pt") == 1
    err = capsys.readouterr().err
    assert "does not exist" in err and "download" not in err and not (tmp_path / "photos").exists()
    (tmp_path / "empty").mkdir()
    assert _cli("data", "--data", tmp_path / "empty") == 1
    err = capsys.readouterr().err
    assert "holds neither" in err and "apt-get" not in err


def test_a_run_on_your_images_never_writes_the_lessons_model(tmp_path, monkeypatch, capsys):
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    for cls in ("cat", "dog"):
        (tmp_path / "photos" / cls).mkdir(parents=True)
        for i in range(12):
            Image.new("L", (40, 40), 60 + 120 * (cls == "dog") + i).save(tmp_path / "photos" / cls / f"{i}.png")
    args = ["train", "--data", tmp_path / "photos", "--epochs", "1", "--batch-size", "8", "--width-divisor", "16",
            "--threads", "1", "--quiet"]  # fmt: skip
    assert _cli(*args) == 0, capsys.readouterr().err
    made = sorted(p.name for p in runtime.artifacts_dir().glob("*.pt"))
    assert made == ["vgg11_photos.pt"]


def test_notebook_05_refuses_a_model_of_other_data(tmp_path, capsys, monkeypatch):
    data = tiny_data(n_val=16)
    other = small_model()
    other.classifier[-1] = torch.nn.Linear(other.classifier[-1].in_features, 2)
    two = tiny_data()
    two.train_labels %= 2
    two.classes = ("cat", "dog")
    path = tmp_path / "vgg11_fashion_mnist.pt"
    fit(other, two, epochs=1, batch_size=32, checkpoint=path, quiet=True)
    monkeypatch.delenv("VGG_EDU_FAST", raising=False)
    model = lesson_model(data, path=path)
    out = capsys.readouterr().out
    assert "holds a model of other data (2 classes: cat, dog" in out and "run notebook 04" in out
    assert model.classifier[-1].out_features == 10
