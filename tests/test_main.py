"""The command line: it trains and records, and every user error ends in one clear line and a non-zero exit."""

import argparse
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from vgg_edu import paths
from vgg_edu.__main__ import _init_scheme, main
from vgg_edu.data import fashion_mnist
from vgg_edu.data.fashion_mnist import load_fashion_mnist
from vgg_edu.data.inputs import CLASSES
from vgg_edu.models import INIT_SCHEMES
from vgg_edu.training import checkpoint, loop
from vgg_edu.training.callbacks import Callback
from vgg_edu.training.checkpoint import Lock
from vgg_edu.training.loop import fit

from conftest import write_idx

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL = [
    "--epochs",
    "2",
    "--batch-size",
    "16",
    "--width-divisor",
    "16",
    "--hidden",
    "16",
    "--head",
    "fc",
    "--resize",
    "32",
    "--val-size",
    "8",
    "--quiet",
    "--threads",
    "1",
]


@pytest.fixture
def fm(nowhere):
    write_idx(nowhere / "fm", n_train=48, n_test=16)
    return nowhere / "fm"


def run(capsys, *args):
    code = main(list(map(str, args)))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_data_command_finds_the_files(fm, monkeypatch, capsys):
    monkeypatch.setenv("VGG_EDU_DATA", str(fm))
    code, out, _ = run(capsys, "data")
    assert code == 0 and str(fm) in out and "48 training" in out


def test_data_command_fails_with_advice(nowhere, capsys):
    code, _, err = run(capsys, "data")
    assert code == 1 and "not found" in err and str(nowhere / "debian") in err and "apt-get install" in err


def test_data_command_reports_an_unreadable_file(fm, capsys):
    (fm / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03 cut")
    code, _, err = run(capsys, "data", "--data", fm)
    assert code == 1 and err.count("\n") == 1 and "train-images-idx3-ubyte" in err and "Traceback" not in err


def test_train_writes_checkpoint_and_metrics(fm, capsys):
    ck = fm.parent / "out" / "m.pt"
    code, out, _ = run(capsys, "train", "--data", fm, *SMALL, "--checkpoint", ck)
    assert code == 0
    model = checkpoint.load_model(ck)
    assert model.hparams["width_divisor"] == 16 and model.hparams["hidden"] == 16 and model.input_spec.size == 32
    metrics = json.loads(ck.with_suffix(".json").read_text())
    assert [r["step"] for r in metrics["epochs"]] == [3, 6]  # 40 images after 8 held out, in batches of 16
    assert [sorted(r) for r in metrics["epochs"]][0] == sorted(
        ["epoch", "step", "train_loss", "train_acc", "val_acc", "val_loss", "examples_per_s", "lr", "epoch_s", "wall_s"]
    )
    assert metrics["config"]["data"]["val"] == 8 and metrics["meta"]["recipe"] == "classroom"
    assert metrics["checkpoint"] == str(ck.resolve())
    assert metrics["meta"]["data"] == str(fm.resolve()) + " (validation: 8 held out, seed 0)"
    assert metrics["model"]["width_divisor"] == 16 and metrics["inputs"]["size"] == 32
    assert metrics["test_acc"] == round(metrics["test_acc"] * 16) / 16  # a count out of 16 test images, exactly
    assert set(metrics["versions"]) == {"vgg_edu", "torch", "torchvision", "python"}
    assert 0 <= metrics["test_acc"] <= 1 and f"test accuracy {metrics['test_acc']:.4f}" in out
    assert f"validation accuracy {metrics['epochs'][-1]['val_acc']:.4f}" in out


def test_a_second_run_does_not_clobber_the_first(fm, capsys):
    ck = fm.parent / "m.pt"
    assert run(capsys, "train", "--data", fm, *SMALL, "--checkpoint", ck)[0] == 0
    before = ck.read_bytes()
    code, _, err = run(capsys, "train", "--data", fm, *SMALL, "--checkpoint", ck)
    assert code == 1 and "--resume" in err and "--overwrite" in err and ck.read_bytes() == before
    other = fm.parent / "other.pt"
    code, _, err = run(
        capsys, "train", "--data", fm, *SMALL, "--checkpoint", other, "--metrics", ck.with_suffix(".json")
    )
    assert code == 1 and "already exists" in err and not other.exists()  # another run's metrics are kept too
    code, _, err = run(capsys, "train", "--data", fm, *SMALL, "--lr", "0.5", "--checkpoint", ck, "--resume")
    assert code == 1 and "lr: saved" in err and ck.read_bytes() == before
    assert run(capsys, "train", "--data", fm, *SMALL, "--checkpoint", ck, "--overwrite")[0] == 0


def test_init_from_starts_a_new_run_from_the_weights(fm, capsys):
    first, second = fm.parent / "a.pt", fm.parent / "b.pt"
    assert run(capsys, "train", "--data", fm, *SMALL, "--checkpoint", first)[0] == 0
    assert (
        run(capsys, "train", "--data", fm, *SMALL, "--epochs", "1", "--init-from", first, "--checkpoint", second)[0]
        == 0
    )
    assert checkpoint.load(second)["meta"]["init_from"] == str(first)
    code, _, err = run(
        capsys,
        "train",
        "--data",
        fm,
        *SMALL,
        "--width-divisor",
        "8",
        "--init-from",
        first,
        "--checkpoint",
        fm.parent / "c.pt",
    )
    assert code == 1 and "another network" in err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--epochs", "0"], "--epochs: must be at least 1"),
        (["--max-steps", "0"], "--max-steps: must be at least 1"),
        (["--batch-size", "-5"], "--batch-size: must be at least 1"),
        (["--subset", "0", "0"], "must be at least 1"),
        (["--lr", "abc"], "expected a number"),
        (["--lr", "nan"], "positive number"),
        (["--lr", "1e300"], "no larger than 1e6"),
        (["--seed", "-1"], "0 or more"),
        (["--seed", "1e23"], "whole number"),
        (["--val-size", "-5"], "0 or more"),
        (["--device", "tpu"], "cpu, cuda, cuda:N or mps"),
        (["--device", "meta"], "cpu, cuda, cuda:N or mps"),
        (["--dropout", "1"], "--dropout: must be at least 0 and below 1"),
    ],
)
def test_bad_numbers_are_usage_errors(fm, capsys, args, message):
    with pytest.raises(SystemExit) as stop:
        main(["train", "--data", str(fm), *args])
    assert stop.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--recipe", "nope"], "unknown recipe 'nope'"),
        (["--config", "vgg16_bn"], "batch_norm=True"),
        (["--width-divisor", "3"], "does not divide"),
        (["--resize", "16"], "too small"),
        (["--subset", "40", "500"], "--subset 40 500: there are 40 training images"),
        (["--val-size", "48"], "--val-size 48: there are 48 training images"),
    ]
    + ([] if torch.cuda.is_available() else [(["--device", "cuda"], "no CUDA GPU")])
    + ([] if torch.backends.mps.is_available() else [(["--device", "mps"], "MPS is not available")]),
)
def test_bad_choices_end_in_one_line(fm, capsys, args, message):
    code, _, err = run(capsys, "train", "--data", fm, *SMALL, "--checkpoint", fm.parent / "x.pt", *args)
    assert code == 1 and message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (fm.parent / "x.pt").exists()


def test_paths_that_would_lose_work_are_refused(fm, capsys, monkeypatch):
    def offline(target):  # with internet torchvision would download into the missing folder
        raise OSError("no network")

    monkeypatch.setattr(fashion_mnist, "_download", offline)
    ck = fm.parent / "m.pt"
    for args, message in (
        (["--checkpoint", fm.parent / "m.json"], "ends in .json"),
        (["--checkpoint", ck, "--metrics", ck], "would overwrite a checkpoint"),
        (["--checkpoint", ck, "--metrics", fm.parent / "other.pt"], "would overwrite"),
        (["--checkpoint", fm.parent], "is a folder"),
        (["--checkpoint", ck, "--resume"], "no checkpoint at"),
        (["--checkpoint", ck, "--metrics", fm], "is a folder"),
        (["--data", fm.parent / "missing"], "missing does not exist"),
    ):
        code, _, err = run(capsys, "train", "--data", fm, *SMALL, *map(str, args))
        assert code == 1 and message in err and "Traceback" not in err, (args, err)
    assert not ck.exists()


@pytest.mark.parametrize(
    "content, message", [(b"garbage", "corrupt"), (b"hi\n", "corrupt"), (None, "not a vgg_edu checkpoint")]
)
def test_unusable_checkpoints_are_explained(fm, capsys, content, message):
    ck = fm.parent / "bad.pt"
    if content is None:
        torch.save({"weights": torch.zeros(2)}, ck)
    else:
        ck.write_bytes(content)
    for flag in (["--resume"], ["--init-from", ck, "--overwrite"]):
        code, _, err = run(capsys, "train", "--data", fm, *SMALL, "--checkpoint", ck, *map(str, flag))
        assert code == 1 and message in err and "Traceback" not in err


def test_ctrl_c_saves_and_exits_130(fm, capsys, monkeypatch):
    ck = fm.parent / "m.pt"

    class CtrlC(Callback):
        def on_step(self, run, loss):
            if run.step == 2:
                os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, in the middle of epoch 1

    real_fit = fit
    monkeypatch.setattr(loop, "fit", lambda *a, callbacks=(), **kw: real_fit(*a, callbacks=[*callbacks, CtrlC()], **kw))
    code, _, err = run(capsys, "train", "--data", fm, *SMALL, "--checkpoint", ck)
    assert code == 130 and "--resume" in err
    assert checkpoint.load(ck)["training"]["position"]["step"] == 2
    assert checkpoint.load(ck)["meta"]["recipe"] == "classroom"
    monkeypatch.setattr(loop, "fit", real_fit)
    assert run(capsys, "train", "--data", fm, *SMALL, "--checkpoint", ck, "--resume")[0] == 0
    assert checkpoint.load(ck)["training"]["position"]["step"] == 6


def test_python_dash_m_runs():
    result = subprocess.run(
        [sys.executable, "-m", "vgg_edu", "train", "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and "--width-divisor" in result.stdout and "--init-from" in result.stdout


def test_data_module_reads_what_the_cli_found(fm):
    assert len(load_fashion_mnist(fm, download=False).train_labels) == 48


def test_resuming_keeps_the_runs_own_record(fm, capsys, monkeypatch):
    first, second = fm.parent / "a.pt", fm.parent / "b.pt"
    assert run(capsys, "train", "--data", fm, *SMALL, "--checkpoint", first)[0] == 0

    class CtrlC(Callback):
        def on_step(self, run, loss):
            if run.step == 2:
                os.kill(os.getpid(), signal.SIGINT)

    real_fit = fit
    monkeypatch.setattr(loop, "fit", lambda *a, callbacks=(), **kw: real_fit(*a, callbacks=[*callbacks, CtrlC()], **kw))
    assert run(capsys, "train", "--data", fm, *SMALL, "--init-from", first, "--checkpoint", second)[0] == 130
    monkeypatch.setattr(loop, "fit", real_fit)
    assert run(capsys, "train", "--data", fm, *SMALL, "--checkpoint", second, "--resume")[0] == 0
    assert checkpoint.load(second)["meta"]["init_from"] == str(first)  # not forgotten by the resumed run


def test_a_second_ctrl_c_before_any_save_says_nothing_was_saved(fm, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "fit", interrupted)
    code, _, err = run(capsys, "train", "--data", fm, *SMALL, "--checkpoint", fm.parent / "none.pt")
    assert code == 130 and "before anything was saved" in err and "--resume" not in err


def test_unwritable_paths_are_refused_before_training(fm, capsys, monkeypatch):
    real_mkstemp = checkpoint.tempfile.mkstemp
    locked = fm.parent / "locked"
    locked.mkdir()

    def refuse_in_locked(*args, **kwargs):  # what a read-only folder does, even to root
        if kwargs.get("dir") is not None and Path(kwargs["dir"]) == locked:
            raise PermissionError(13, "Permission denied", str(kwargs["dir"]))
        return real_mkstemp(*args, **kwargs)

    monkeypatch.setattr(checkpoint.tempfile, "mkstemp", refuse_in_locked)
    monkeypatch.setattr(loop, "fit", lambda *a, **kw: pytest.fail("training started"))
    for args in (
        ["--checkpoint", locked / "m.pt"],
        ["--checkpoint", fm.parent / "m.pt", "--metrics", locked / "m.json"],
    ):
        code, _, err = run(capsys, "train", "--data", fm, *SMALL, *args)
        assert code == 1 and f"cannot write {args[-1]}" in err and "Permission denied" in err, err
        assert err.count("\n") == 1 and "Traceback" not in err
    assert not (fm.parent / "m.pt").exists() and list(locked.iterdir()) == []


@pytest.mark.skipif(
    not os.path.isdir("/proc/self"), reason="needs Linux's /proc, where nobody (root neither) may add files"
)
def test_a_path_that_os_access_calls_writable_is_tried_for_real(fm, capsys, monkeypatch):
    monkeypatch.setattr(loop, "fit", lambda *a, **kw: pytest.fail("training started"))
    code, _, err = run(capsys, "train", "--data", fm, *SMALL, "--checkpoint", "/proc/vgg_edu_test.pt")
    assert code == 1 and "cannot write /proc/vgg_edu_test.pt" in err and "Traceback" not in err


def test_data_command_with_a_folder_that_does_not_exist(nowhere, capsys):
    code, out, err = run(capsys, "data", "--data", nowhere / "nonexistent")
    assert code == 1 and out == "" and str(nowhere / "nonexistent") in err and err.count("\n") == 1
    assert "Traceback" not in err and not (nowhere / "nonexistent").exists()


def test_predict_names_the_classes_and_explains_bad_files(fm, capsys):
    ck = fm.parent / "m.pt"
    assert run(capsys, "train", "--data", fm, *SMALL, "--dropout", "0", "--checkpoint", ck)[0] == 0
    assert checkpoint.load_model(ck).hparams["dropout"] == 0.0
    image = fm.parent / "shoe.png"
    Image.new("L", (40, 30), 200).save(image)
    code, out, _ = run(capsys, "predict", "--checkpoint", ck, "--top", "10", image)
    names = [part.rsplit(" ", 1)[0] for part in out.strip().split(": ", 1)[1].split(", ")]
    assert code == 0 and sorted(names) == sorted(CLASSES)  # every class once, by its name
    for args, message in (
        ([fm.parent / "none.pt", image], "no checkpoint at"),
        ([ck, fm / "train-images-idx3-ubyte"], "cannot read it as an image"),
        ([ck, fm.parent / "missing.png"], "no such file"),
    ):
        code, _, err = run(capsys, "predict", "--checkpoint", args[0], args[1])
        assert code == 1 and message in err and err.count("\n") == 1 and "Traceback" not in err, err


class _SigtermAt(Callback):
    def __init__(self, step):
        self.step = step

    def on_step(self, run, loss):
        if run.step == self.step:
            os.kill(os.getpid(), signal.SIGTERM)


def test_the_cli_exits_143_on_sigterm_after_saving(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write_idx(tmp_path / "fm", n_train=48, n_test=16)
    ck = tmp_path / "m.pt"
    from vgg_edu.training import loop

    real_fit = loop.fit
    monkeypatch.setattr(
        loop,
        "fit",
        lambda *a, callbacks=(), **kw: real_fit(*a, callbacks=[*callbacks, _SigtermAt(2)], **kw),
    )
    args = ["train", "--data", str(tmp_path / "fm"), "--epochs", "1", "--batch-size", "16", "--width-divisor", "16",
            "--val-size", "8", "--threads", "1", "--quiet", "--checkpoint", str(ck)]  # fmt: skip
    assert main(args) == 143
    assert "--resume" in capsys.readouterr().err and checkpoint.load(ck)["training"]["position"]["step"] == 2


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
    made = sorted(p.name for p in paths.artifacts_dir().glob("*.pt"))
    assert made == ["vgg11_photos.pt"]


def test_predict_answers_every_readable_file_and_names_each_bad_one(fm, capsys):
    ck = fm.parent / "m.pt"
    assert run(capsys, "train", "--data", fm, *SMALL, "--checkpoint", ck)[0] == 0
    good = [fm.parent / "a.png", fm.parent / "b.png"]
    for i, path in enumerate(good):
        Image.new("L", (28, 28), 60 + 100 * i).save(path)
    broken, folder = fm.parent / "broken.png", fm.parent / "shoes"
    broken.write_bytes(b"\x89PNG half a file")
    folder.mkdir()
    code, out, err = run(capsys, "predict", "--checkpoint", ck, good[0], broken, folder, good[1])
    lines = out.splitlines()
    assert code == 1 and [line.split(": ")[0] for line in lines] == list(map(str, good))
    alone = [run(capsys, "predict", "--checkpoint", ck, path)[1] for path in good]
    assert lines == [a.strip() for a in alone]  # the same answers as each file on its own
    problems = err.splitlines()
    assert len(problems) == 2 and "Traceback" not in err
    assert f"{broken}: cannot read it as an image" in problems[0]
    assert f"{folder} is a folder, not an image file" in problems[1] and "Remove or replace" not in problems[1]


def _photos(root, classes=("cat", "dog"), per_class=12):
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            Image.new("L", (40, 40), 60 + 120 * c + i).save(root / name / f"{i}.png")
    return root


def _one_line(code, err, *words):
    return code == 1 and err.count("\n") == 1 and "Traceback" not in err and all(w in err for w in words)


# Bad input that reaches each decision of vgg_edu.data.sources ends in one line and exit 1, before any training.


def test_a_data_path_that_is_neither_kind_of_source_is_one_line(nowhere, capsys):  # sources.identify
    (nowhere / "empty").mkdir()
    (nowhere / "notes.txt").write_text("not data")
    for command in ("train", "data"):
        code, _, err = run(capsys, command, "--data", nowhere / "notes.txt")
        assert _one_line(code, err, "notes.txt is a file, not a folder"), err
    code, _, err = run(capsys, "train", "--data", nowhere / "empty", "--checkpoint", nowhere / "m.pt")
    assert _one_line(code, err, "holds neither Fashion-MNIST's four files", "subfolders of images, one per class"), err
    assert not (nowhere / "m.pt").exists()


def test_an_image_that_cannot_be_opened_is_one_line_naming_it(nowhere, capsys):  # sources.load
    photos = _photos(nowhere / "photos")
    (photos / "dog" / "5.png").write_bytes(b"\x89PNG half a file")
    code, _, err = run(capsys, "train", "--data", photos, *SMALL, "--checkpoint", nowhere / "m.pt")
    assert _one_line(code, err, "5.png: cannot read it as an image"), err
    assert not (nowhere / "m.pt").exists()


def test_describing_a_folder_says_what_is_wrong_with_it(nowhere, capsys):  # sources.describe
    code, out, _ = run(capsys, "data", "--data", _photos(nowhere / "photos"))
    assert code == 0 and out == f"Image folder {nowhere / 'photos'}: 24 images of 2 classes (cat, dog)\n"
    code, out, err = run(capsys, "data", "--data", _photos(nowhere / "one", classes=("cat",)))
    assert _one_line(code, err, "1 class subfolder (cat)", "at least two") and out == "", err


def test_the_default_checkpoint_of_your_images_is_never_replaced(nowhere, capsys):  # sources.checkpoint_name
    photos = _photos(nowhere / "photos")
    kept = paths.artifacts_dir() / "vgg11_photos.pt"
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.write_bytes(b"an earlier run's model")
    code, _, err = run(capsys, "train", "--data", photos, *SMALL)
    assert _one_line(code, err, "vgg11_photos.pt already exists", "--overwrite"), err
    assert kept.read_bytes() == b"an earlier run's model"


def test_a_subset_is_checked_against_what_the_default_validation_split_leaves(nowhere, capsys):  # default_val_size
    photos = _photos(nowhere / "photos")  # 20 training images (2 of each class held out for testing)
    args = ["--epochs", "1", "--width-divisor", "16", "--threads", "1", "--quiet", "--checkpoint", nowhere / "m.pt"]
    code, _, err = run(capsys, "train", "--data", photos, *args, "--subset", "19", "4")
    assert _one_line(code, err, "--subset 19 4: there are 18 training images (after --val-size 2)"), err


def test_data_without_test_images_is_refused_before_training(nowhere, capsys):  # sources.prepare
    write_idx(nowhere / "fm", n_train=48, n_test=0)
    code, _, err = run(capsys, "train", "--data", nowhere / "fm", *SMALL, "--checkpoint", nowhere / "m.pt")
    assert _one_line(code, err, "has no test images"), err
    assert not (nowhere / "m.pt").exists()


def test_init_takes_the_one_vocabulary_of_initialisations():
    assert [_init_scheme(s) for s in INIT_SCHEMES] == list(INIT_SCHEMES)
    with pytest.raises(argparse.ArgumentTypeError, match="use one of kaiming_fan_out"):
        _init_scheme("torchvision")  # the old name of kaiming_fan_out: one name per scheme
