import json

import torch

from tests.test_data import write_idx
from vgg_edu import data, train
from vgg_edu.__main__ import main


def test_data_command_finds_the_files(nowhere, monkeypatch, capsys):
    write_idx(nowhere / "fm")
    monkeypatch.setenv("VGG_EDU_DATA", str(nowhere / "fm"))
    assert main(["data"]) == 0
    assert str(nowhere / "fm") in capsys.readouterr().out


def test_data_command_fails_with_advice(nowhere, capsys):
    assert main(["data"]) == 1
    err = capsys.readouterr().err
    assert "not found" in err and str(nowhere / "debian") in err and "apt-get install" in err


def test_train_command_writes_checkpoint_and_metrics(nowhere, capsys):
    write_idx(nowhere / "fm", n_train=40, n_test=16)
    ck = nowhere / "out" / "m.pt"
    threads = torch.get_num_threads()
    try:
        rc = main(["train", "--data", str(nowhere / "fm"), "--epochs", "2", "--batch-size", "16",
                   "--width-divisor", "16", "--hidden", "16", "--head", "fc", "--resize", "32", "--checkpoint", str(ck),
                   "--quiet", "--threads", "1"])
    finally:
        torch.set_num_threads(threads)
    assert rc == 0
    out = capsys.readouterr().out
    assert "test accuracy" in out and str(ck) in out
    model = train.load_model(ck)
    assert model.hparams["width_divisor"] == 16 and model.hparams["hidden"] == 16 and model.meta["resize"] == 32
    metrics = json.loads(ck.with_suffix(".json").read_text())
    assert [r["step"] for r in metrics["epochs"]] == [3, 6]                  # 40 images in batches of 16
    assert metrics["config"]["recipe"] == "classroom" and 0 <= metrics["epochs"][-1]["test_acc"] <= 1


def test_train_command_reports_bad_options(nowhere, monkeypatch, capsys):
    write_idx(nowhere / "fm")

    def offline(target):
        raise OSError("no network")

    monkeypatch.setattr(data, "_download", offline)
    assert main(["train", "--data", str(nowhere / "fm"), "--recipe", "nope"]) == 1
    assert "unknown recipe 'nope'" in capsys.readouterr().err
    assert main(["train", "--data", str(nowhere / "missing"), "--epochs", "1"]) == 1
    assert "Fashion-MNIST is not on this machine" in capsys.readouterr().err


def test_python_dash_m_runs(tmp_path):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "vgg_edu", "train", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "--width-divisor" in result.stdout and "--recipe" in result.stdout
