"""Checkpoints: the input contract travels with the model, a resumed run is the run never stopped (interrupted by a
real SIGINT at several points), and nothing a user made is overwritten or misread."""

import os
import signal
from types import SimpleNamespace

import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_post_hook

from vgg_edu import paths
from vgg_edu.data.image_splits import ImageSplits
from vgg_edu.data.inputs import CLASSES, InputSpec, to_input
from vgg_edu.training import checkpoint
from vgg_edu.training.callbacks import Callback
from vgg_edu.training.checkpoint import CheckpointBusy, Lock, RunMismatch
from vgg_edu.training.config import FitConfig
from vgg_edu.training.evaluation import evaluate, predict
from vgg_edu.training.loop import fit

from conftest import small_model, tiny_data

pytestmark = pytest.mark.usefixtures("one_thread")

RUN = dict(epochs=3, batch_size=32, lr=0.05, momentum=0.9, weight_decay=5e-4, flip=True, schedule="onecycle", seed=3)
TIMING = ("wall_s", "examples_per_s", "epoch_s")


def without_timing(rows):
    return [{k: v for k, v in r.items() if k not in TIMING} for r in rows]


def test_round_trip_carries_the_input_contract(tmp_path):
    ds = tiny_data(n_val=20)
    model = small_model(input_size=40)
    path = tmp_path / "ck" / "model.pt"
    fit(model, ds, epochs=1, batch_size=32, checkpoint=path, meta={"note": "hi"}, quiet=True)
    loaded = checkpoint.load_model(path)
    assert loaded.hparams == model.hparams and not loaded.training
    assert loaded.input_spec == InputSpec(size=40) and loaded.input_spec.classes == CLASSES
    assert loaded.meta["note"] == "hi" and loaded.fit_options["epochs"] == 1 and len(loaded.history) == 1
    x = to_input(ds.test_images[:8], 40)
    model.eval()
    assert torch.allclose(loaded(x), model(x), atol=1e-6)
    # evaluate and predict take the input size from the checkpoint: no resize argument anywhere
    assert evaluate(loaded, ds, "val") == pytest.approx(loaded.history.final["val_acc"])
    assert torch.allclose(predict(loaded, ds.test_images[:8]), loaded(x), atol=1e-5)
    state = checkpoint.load(path)
    assert state["fit"]["epochs"] == 1 and "fit" not in state["meta"]  # the configuration is stored once
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"]  # no temporary file left behind


def test_unusable_files_get_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="Train one first"):
        checkpoint.load_model(tmp_path / "none.pt")
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(checkpoint.CheckpointError, match="not a vgg_edu checkpoint"):
        checkpoint.load_model(tmp_path / "other.pt")
    (tmp_path / "cut.pt").write_bytes(b"PK\x03\x04 this is no checkpoint")
    with pytest.raises(checkpoint.CheckpointError, match="corrupt"):
        checkpoint.load_model(tmp_path / "cut.pt")
    with pytest.raises(checkpoint.CheckpointError, match="is a folder"):
        checkpoint.load_model(tmp_path)
    (tmp_path / "short.pt").write_bytes(b"hi\n")  # torch's unpickler raises a KeyError on these three bytes
    with pytest.raises(checkpoint.CheckpointError, match="corrupt"):
        checkpoint.load_model(tmp_path / "short.pt")
    torch.save({"hparams": {}, "model": {}, "format": "vgg_edu.checkpoint/1"}, tmp_path / "old.pt")
    with pytest.raises(checkpoint.CheckpointError, match="format"):
        checkpoint.load_model(tmp_path / "old.pt")


def test_weights_of_another_network_are_refused(tmp_path):
    path = tmp_path / "m.pt"
    fit(small_model(), tiny_data(), epochs=1, batch_size=32, checkpoint=path, quiet=True)
    with pytest.raises(checkpoint.CheckpointError, match="width_divisor"):
        checkpoint.load_weights(small_model(width_divisor=8), path)
    fresh = checkpoint.load_weights(small_model(seed=5), path)
    assert torch.equal(fresh.features[0].weight, checkpoint.load_model(path).features[0].weight)


def send_sigint():
    os.kill(os.getpid(), signal.SIGINT)


class AtStep:
    """Calls ``send_sigint`` the ``n``-th time it is called (while training)."""

    def __init__(self, n):
        self.n, self.calls = n, 0

    def __call__(self, *args):
        self.calls += 1
        if self.calls == self.n:
            send_sigint()


class BetweenEpochs(Callback):
    def on_epoch(self, run, row):
        if run.epoch == 1:
            send_sigint()


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """The run of ``RUN`` never stopped, trained once for the module (on one thread, as the tests that compare
    with it bit for bit are): its data, its final weights, its history and its finished checkpoint."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("VGG_EDU_ARTIFACTS", str(tmp_path_factory.mktemp("artifacts")))
            data, model = tiny_data(n_val=16), small_model()
            path = tmp_path_factory.mktemp("straight") / "run.pt"
            history = fit(model, data, checkpoint=path, **RUN, quiet=True)
    finally:
        torch.set_num_threads(threads)
    return SimpleNamespace(data=data, weights=model.state_dict(), history=history, checkpoint=path)


@pytest.mark.parametrize("where", ["after forward", "after backward", "after step", "between epochs"])
def test_an_interrupted_run_resumes_exactly(tmp_path, where, straight):
    ds = straight.data
    model, path, callbacks, handles = small_model(), tmp_path / "run.pt", [], []
    trigger = AtStep(5)  # mid-epoch 2 of 3 x 3 steps
    if where == "after forward":
        handles.append(model.register_forward_hook(lambda m, i, o: trigger() if m.training else None))
    elif where == "after backward":
        handles.append(model.features[0].weight.register_hook(lambda grad: trigger()))
    elif where == "after step":
        handles.append(register_optimizer_step_post_hook(trigger))
    else:
        callbacks.append(BetweenEpochs())
    try:
        with pytest.raises(KeyboardInterrupt):
            fit(model, ds, checkpoint=path, callbacks=callbacks, **RUN, quiet=True)
    finally:
        for h in handles:
            h.remove()
    saved = checkpoint.load(path)["training"]["position"]
    assert saved["step"] == (3 if where == "between epochs" else 5)

    resumed_model = small_model(seed=99)  # other start weights: the checkpoint must win
    resumed = fit(resumed_model, ds, checkpoint=path, resume=True, **RUN, quiet=True)
    for (name, a), b in zip(straight.weights.items(), resumed_model.state_dict().values()):
        assert torch.equal(a, b), name  # weights and buffers (BatchNorm's num_batches_tracked too), bit for bit
    assert without_timing(resumed.epochs) == without_timing(straight.history.epochs)
    assert [s["loss"] for s in resumed.steps] == [s["loss"] for s in straight.history.steps]


def test_a_short_run_continued_is_the_long_run(tmp_path, straight):
    ds, path = straight.data, tmp_path / "run.pt"
    fit(small_model(), ds, max_steps=4, checkpoint=path, **RUN, quiet=True)
    model = small_model()
    resumed = fit(model, ds, checkpoint=path, resume=True, **RUN, quiet=True)
    assert resumed.final["step"] == 9 and resumed.final["train_loss"] == straight.history.final["train_loss"]
    assert all(torch.equal(a, b) for a, b in zip(straight.weights.values(), model.state_dict().values()))


@pytest.mark.parametrize(
    "change",
    [dict(lr=0.1), dict(epochs=4), dict(batch_size=16), dict(seed=4), dict(schedule="cosine"), dict(flip=False)],
)
def test_resuming_with_other_options_is_refused_by_name(tmp_path, change, straight):
    ds, path = straight.data, tmp_path / "run.pt"
    path.write_bytes(straight.checkpoint.read_bytes())  # the module's finished run, copied: each test may spoil its own
    before = path.read_bytes()
    with pytest.raises(RunMismatch, match=rf"{next(iter(change))}: saved .*, now"):
        fit(small_model(), ds, checkpoint=path, resume=True, **RUN | change, quiet=True)
    with pytest.raises(RunMismatch, match="inputs"):
        fit(small_model(input_size=64), ds, checkpoint=path, resume=True, **RUN, quiet=True)
    with pytest.raises(RunMismatch, match="data"):
        fit(small_model(), tiny_data(n_val=16, seed=1), checkpoint=path, resume=True, **RUN, quiet=True)
    assert path.read_bytes() == before


def test_resuming_with_other_settings_of_how_to_run_is_accepted(tmp_path, straight):
    path = tmp_path / "run.pt"
    path.write_bytes(straight.checkpoint.read_bytes())
    how = dict(max_steps=20, amp=False, channels_last=False, eval_every=0, log_every=1)
    done = fit(small_model(), straight.data, checkpoint=path, resume=True, **RUN | how, quiet=True)
    assert done.final["step"] == 9  # the saved run, finished: nothing more to train


def test_a_finished_checkpoint_is_never_overwritten_unless_asked(tmp_path):
    ds = tiny_data()
    path = tmp_path / "run.pt"
    fit(small_model(), ds, epochs=1, batch_size=32, checkpoint=path, quiet=True)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="resume=True.*overwrite=True"):
        fit(small_model(), ds, epochs=2, batch_size=32, checkpoint=path, quiet=True)
    assert path.read_bytes() == before
    done = fit(small_model(), ds, epochs=1, batch_size=32, checkpoint=path, resume=True, quiet=True)
    assert done.final["step"] == 3 and path.read_bytes() != b""  # finished: nothing more to train
    fit(small_model(), ds, epochs=2, batch_size=32, checkpoint=path, overwrite=True, quiet=True)
    assert checkpoint.load(path)["training"]["position"]["step"] == 6


def test_leftovers_of_a_crashed_write_are_removed(tmp_path):
    path = tmp_path / "run.pt"
    leftover = tmp_path / ".run.pt.abc123.tmp"
    leftover.write_bytes(b"x" * 1000)
    fit(small_model(), tiny_data(), epochs=1, batch_size=32, checkpoint=path, quiet=True)
    assert not leftover.exists() and checkpoint.temporary_files(path) == []


def test_an_unwritable_checkpoint_fails_before_training(tmp_path, monkeypatch):
    model = small_model()
    before = model.features[0].weight.clone()
    with pytest.raises(IsADirectoryError, match="is a folder"):
        fit(model, tiny_data(), epochs=1, checkpoint=tmp_path, quiet=True)
    # /proc takes no new files, even from root (os.access says yes to root there: the check tries for real)
    with pytest.raises(PermissionError, match="cannot write"):
        fit(model, tiny_data(), epochs=1, checkpoint="/proc/vgg_edu_test.pt", quiet=True)
    assert torch.equal(model.features[0].weight, before)


def test_a_checkpoint_has_one_writer_at_a_time(tmp_path):
    path = tmp_path / "run.pt"
    with Lock(path):
        with pytest.raises(CheckpointBusy, match=f"process {os.getpid()}"):
            fit(small_model(), tiny_data(), epochs=1, batch_size=32, checkpoint=path, quiet=True)
        assert not path.exists()
    fit(small_model(), tiny_data(), epochs=1, batch_size=32, checkpoint=path, quiet=True)  # free again
    assert path.exists() and not list(tmp_path.glob(".*.lock"))


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


def test_the_run_record_is_what_fit_records_and_the_resume_check_compares(tmp_path):
    ds, path = tiny_data(), tmp_path / "run.pt"
    config = FitConfig(epochs=1, batch_size=32, translate=1)
    history = fit(small_model(), ds, config, checkpoint=path, quiet=True)
    record = checkpoint.run_record(config, ds, amp=False, device=torch.device("cpu"))
    assert history.config == record == checkpoint.load(path)["fit"]
    assert record["data"]["train"] == 96 and record["world_size"] == 1 and record["translate"] == 1
    order = torch.arange(96).flip(0)  # the same images in another order: another run
    shuffled = ImageSplits(ds.train_images[order], ds.train_labels[order], ds.test_images, ds.test_labels)
    assert checkpoint.fingerprint(shuffled) != record["data"] and checkpoint.fingerprint(ds) == record["data"]
    with pytest.raises(RunMismatch, match="data: saved"):
        fit(small_model(), shuffled, config.replace(epochs=2), checkpoint=path, resume=True, quiet=True)


def test_one_refusal_for_a_file_in_the_way_and_one_for_a_folder(tmp_path):
    path = tmp_path / "m.json"
    path.write_text("{}")
    checkpoint.refuse_to_replace(path, resume=True, overwrite=False)  # continuing the run may replace it
    checkpoint.refuse_to_replace(path, resume=False, overwrite=True)
    checkpoint.refuse_to_replace(tmp_path / "new.pt", resume=False, overwrite=False)
    with pytest.raises(FileExistsError, match=r"m\.json already exists: pass resume=True \(--resume\)"):
        checkpoint.refuse_to_replace(path, resume=False, overwrite=False)
    with pytest.raises(FileExistsError, match=r"exists: pass overwrite=True \(--overwrite\) to replace it"):
        checkpoint.refuse_to_replace(path, resume=False, overwrite=False, resumable=False)
    assert paths.not_a_folder(path) == path
    with pytest.raises(IsADirectoryError, match=f"{tmp_path} is a folder; give a file path such as .*metrics.json"):
        paths.not_a_folder(tmp_path, "metrics.json")
