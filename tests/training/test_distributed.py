"""Training on several processes: torchrun's 2 CPU processes (gloo, loopback) give the weights of one process on the
same global batch; Ctrl-C on one process stops all after the same step, and the run resumes exactly on every one."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from vgg_edu.__main__ import main
from vgg_edu.training import checkpoint, distributed
from vgg_edu.training.callbacks import Callback
from vgg_edu.training.checkpoint import RunMismatch
from vgg_edu.training.loop import fit

from conftest import small_model, tiny_data, write_idx

pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.slow]  # end to end: `make test` only

# No BatchNorm and no dropout: PyTorch's SyncBatchNorm runs on GPUs only, so CPU processes normalise their own slice
# (see vgg_edu.distributed), and each process draws its own dropout masks.
TINY = "--epochs 2 --batch-size 16 --width-divisor 16 --hidden 16 --head gap --batch-norm false --dropout 0"
TINY += " --resize 32 --val-size 8 --quiet --threads 1"


def torchrun(*args, cwd, timeout=180) -> subprocess.CompletedProcess:
    """``torchrun --standalone``: its own rendezvous store takes a port the system picks (port 0) and keeps it open
    while the workers join it, so no other program can take the port between choosing it and using it. At most
    ``timeout`` seconds, then torchrun and its workers (one process group) are killed and the test fails."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    command += ["-m", "vgg_edu", *map(str, args)]
    env = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    pipe = subprocess.PIPE
    with subprocess.Popen(command, stdout=pipe, stderr=pipe, text=True, cwd=cwd, env=env, start_new_session=True) as p:
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)  # the workers too, not torchrun alone
            raise
    return subprocess.CompletedProcess(command, p.returncode, out, err)


def spawn_two(fn, *args, timeout=300) -> None:
    """Run ``fn(rank, port, *args)`` in two processes that join one process group, for at most ``timeout`` seconds
    (then both are killed and the test fails).

    The rendezvous store is served from this process, on a port the system picks, and stays open until both have
    finished: the processes join it as clients (``TORCHELASTIC_USE_AGENT_STORE``, as torchrun's workers join their
    agent's store), so the port cannot be lost between choosing it and using it."""
    store = dist.TCPStore("127.0.0.1", 0, is_master=True, wait_for_workers=False)
    context = mp.start_processes(fn, args=(store.port, *args), nprocs=2, join=False, start_method="spawn")
    deadline = time.monotonic() + timeout
    try:
        while not context.join(timeout=max(0.0, deadline - time.monotonic())):
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{fn.__name__}: the two processes did not finish within {timeout} s")
    finally:
        for process in context.processes:
            if process.is_alive():
                process.kill()
        del store


def test_two_processes_train_the_weights_of_one_on_the_same_global_batch(tmp_path, capsys):
    write_idx(tmp_path / "fm", n_train=72, n_test=16)  # 64 training images after 8 held out: 4 steps of 16 per epoch
    two = torchrun("train", "--data", tmp_path / "fm", *TINY.split(), "--checkpoint", tmp_path / "two.pt", cwd=tmp_path)
    assert two.returncode == 0, two.stderr[-3000:]
    assert two.stdout.count("test accuracy") == 1 and "x 2 processes" in two.stdout  # rank 0 alone speaks
    assert main(["train", "--data", str(tmp_path / "fm"), *TINY.split(), "--checkpoint", str(tmp_path / "one.pt")]) == 0
    capsys.readouterr()

    one, two = checkpoint.load(tmp_path / "one.pt"), checkpoint.load(tmp_path / "two.pt")
    assert one["fit"]["world_size"] == 1 and two["fit"]["world_size"] == 2
    assert json.loads((tmp_path / "two.json").read_text())["config"]["world_size"] == 2
    assert one["model"].keys() == two["model"].keys()
    for name, weight in one["model"].items():
        assert torch.allclose(weight.float(), two["model"][name].float(), atol=1e-5), name
    steps = [[r["step"] for r in c["history"]["epochs"]] for c in (one, two)]
    assert steps == [[4, 8], [4, 8]]  # the global batch: 16 images a step on one process, 8 on each of two
    losses = [[r["train_loss"] for r in c["history"]["epochs"]] for c in (one, two)]
    assert losses[1] == pytest.approx(losses[0], rel=1e-5)  # the loss of all 64 images, summed over both processes
    leftovers = sorted(p.name for p in tmp_path.iterdir() if p.is_file())
    assert leftovers == ["one.json", "one.pt", "two.json", "two.pt"]


RUN = dict(epochs=3, batch_size=32, lr=0.05, momentum=0.9, flip=True, schedule="onecycle", seed=3)


class CtrlCOnRankOne(Callback):
    """A real SIGINT to rank 1 only, after its 4th step (epoch 2 of 3 x 3 steps)."""

    def on_step(self, run, loss):
        if run.step == 4 and distributed.rank() == 1:
            os.kill(os.getpid(), signal.SIGINT)


class LocalImages(Callback):
    """How many images this process trained on in the first step (its slice of the global batch)."""

    seen = None

    def on_step(self, run, loss):
        if run.step == 1:
            self.seen = run.sums["seen"]


def interrupt_and_resume(rank: int, port: int, folder: str) -> None:
    """One of two processes: a straight run, then the same run interrupted on rank 1 and resumed."""
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2")
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), TORCHELASTIC_USE_AGENT_STORE="True")
    torch.set_num_threads(1)
    distributed.init(torch.device("cpu"))
    ds, path = tiny_data(n_val=16), os.path.join(folder, "run.pt")
    straight = small_model()  # with BatchNorm: each process normalises its slice, rank 0's running statistics win
    local = LocalImages()
    full = fit(straight, ds, callbacks=[local], **RUN, quiet=True)
    try:
        fit(small_model(), ds, checkpoint=path, callbacks=[CtrlCOnRankOne()], **RUN, quiet=True)
        stopped = False
    except KeyboardInterrupt:
        stopped = True
    saved = checkpoint.load(path)["training"]["position"]
    resumed_model = small_model(seed=99)
    resumed = fit(resumed_model, ds, checkpoint=path, resume=True, **RUN, quiet=True)
    results = dict(straight=straight.state_dict(), resumed=resumed_model.state_dict(), stopped=stopped, saved=saved)
    results |= dict(full=full.epochs, resumed_epochs=resumed.epochs, local_images=local.seen)
    torch.save(results, os.path.join(folder, f"rank{rank}.pt"))
    distributed.shutdown()


def test_ctrl_c_on_one_process_stops_both_and_the_run_resumes_exactly(tmp_path):
    spawn_two(interrupt_and_resume, str(tmp_path))
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert [r["local_images"] for r in ranks] == [16, 16]  # each process trains on half of each batch of 32
    assert [r["stopped"] for r in ranks] == [True, True]  # rank 0 got no signal, yet stopped with rank 1
    # the signal came after step 4's agreement, so both stopped after step 5: 2 batches into epoch 2, 2 x 32 images
    assert ranks[0]["saved"]["step"] == 5 and ranks[0]["saved"]["sums"]["seen"] == 64  # global, not one process's
    timing = ("wall_s", "examples_per_s", "epoch_s")
    for r in ranks:
        for name, weight in r["straight"].items():
            assert torch.equal(weight, r["resumed"][name]), name  # bit for bit, on every process
            assert torch.equal(weight, ranks[0]["straight"][name]), name  # and the same on both
        same = [
            [{k: v for k, v in row.items() if k not in timing} for row in rows]
            for rows in (r["full"], r["resumed_epochs"])
        ]
        assert same[0] == same[1]
    state = checkpoint.load(tmp_path / "run.pt")
    assert state["fit"]["world_size"] == 2 and state["training"]["position"]["step"] == 9
    streams = [r["torch"] for r in state["training"]["rng"]["ranks"]]  # each process's dropout masks, kept
    assert len(streams) == 2 and not torch.equal(*streams)


def test_a_two_process_run_is_not_resumed_on_one(tmp_path):
    ds = tiny_data()
    path = tmp_path / "run.pt"
    fit(small_model(), ds, epochs=1, batch_size=32, checkpoint=path, quiet=True)
    state = checkpoint.load(path)
    state["fit"]["world_size"] = 2
    checkpoint.save(path, state)
    with pytest.raises(RunMismatch, match="world_size: saved 2, now 1"):
        fit(small_model(), ds, epochs=1, batch_size=32, checkpoint=path, resume=True, quiet=True)


def test_each_process_takes_its_slice_and_impossible_splits_are_refused(monkeypatch):
    x, y = torch.arange(10).view(10, 1), torch.arange(10)
    assert distributed.local_part(x, y)[1].tolist() == list(range(10))  # one process: everything
    assert distributed.wrap(small_model(), torch.device("cpu"), 96, 32) is None
    monkeypatch.setattr(distributed, "world_size", lambda: 3)
    parts = []
    for r in range(3):
        monkeypatch.setattr(distributed, "rank", lambda r=r: r)
        part_x, part_y = distributed.local_part(x, y)
        assert torch.equal(part_x.flatten(), part_y)  # images stay with their labels
        parts.append(part_y.tolist())
    assert parts == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]  # torch.tensor_split: nearly equal, in order
    with pytest.raises(ValueError, match="batch_size 2 over 3 processes"):
        distributed.wrap(small_model(), torch.device("cpu"), 96, 2)
    with pytest.raises(ValueError, match=r"last batch of an epoch \(1 of 97 images\)"):
        distributed.wrap(small_model(), torch.device("cpu"), 97, 32)
    assert distributed.own_share({"loss_sum": 5.0, "correct": 2, "seen": 4, "train_s": 1.0})["seen"] == 0


def test_one_process_needs_no_process_group():
    assert not distributed.launched() and distributed.world_size() == 1 and distributed.is_main()
    assert distributed.init(torch.device("cpu")) == torch.device("cpu")
    sums = {"loss_sum": torch.tensor(3.0), "correct": 1, "seen": 2, "train_s": 0.5}
    assert distributed.summed(sums) == sums and distributed.callbacks() == []
