"""Training on several processes: ``torchrun`` starts them, ``DistributedDataParallel`` keeps them in step.

``torchrun --nproc_per_node N -m vgg_edu train ...`` runs N copies of the command, each with ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` in its environment; ``init`` joins them into one
process group (NCCL between GPUs, gloo between CPU processes). Then, step by step:

- every process builds the same global batch of ``batch_size`` images (same seeded order, same augmentation) and
  trains on its own slice of it, ``batch_size / N`` images (``local_part``);
- DDP averages the gradients over the processes during the backward pass, so each process applies the same
  update: g = (1/N) sum_r (1/B_r) sum_{i in slice r} grad l_i, which is (1/B) sum_i grad l_i, the one-process
  gradient of the global batch, when every slice has B_r = B/N images (the last, smaller batch of an epoch may
  split unevenly: then the images of the smaller slices weigh a little more);
- BatchNorm: on GPUs the layers become ``SyncBatchNorm`` (statistics of the global batch, as on one process);
  PyTorch's SyncBatchNorm runs on GPUs only, so CPU processes (gloo) normalise each slice by its own statistics
  and take rank 0's running statistics (DDP broadcasts them before every forward pass);
- the epoch's loss and accuracy are summed over all processes (``summed``); only rank 0 writes files
  (``training.checkpoint.save``, the CLI's metrics); Ctrl-C stops every process after the same step (``StopTogether``).

Every process builds the same model from the same seed; then rank r draws its dropout masks from seed + r
(``seed_per_rank``), and a checkpoint keeps every process's random state (``rng_states``), so that a resumed run
continues each process's stream exactly.
Without torchrun (``WORLD_SIZE`` unset or 1) every function here is a no-op and training is one process.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .callbacks import Callback

__all__ = [
    "init",
    "shutdown",
    "launched",
    "world_size",
    "rank",
    "is_main",
    "barrier",
    "wrap",
    "local_part",
    "summed",
    "own_share",
    "sync_buffers",
    "seed_per_rank",
    "rng_states",
    "restore_rng",
    "StopTogether",
    "callbacks",
]


def launched() -> bool:
    """True in a process that torchrun started with others (``WORLD_SIZE`` > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def world_size() -> int:
    """How many processes train together: 1 without a process group."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    """This process's number, 0 to ``world_size() - 1`` (0 without a process group)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main() -> bool:
    """True on rank 0, the process that writes files and prints; always True on one process."""
    return rank() == 0


def init(device: torch.device) -> torch.device:
    """Join torchrun's process group (when launched by it) and return this process's device.

    On CUDA each process takes the GPU numbered by ``LOCAL_RANK`` and the backend is NCCL; elsewhere gloo. Without
    torchrun the device is returned as given and nothing else happens.
    """
    if not launched() or dist.is_initialized():
        return device
    if device.type == "cuda":
        local = int(os.environ.get("LOCAL_RANK", "0"))
        if local >= torch.cuda.device_count():
            raise ValueError(
                f"LOCAL_RANK {local}: this machine has {torch.cuda.device_count()} CUDA GPU(s); pass "
                "torchrun --nproc_per_node at most that many"
            )
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
        dist.init_process_group("nccl", device_id=device)
    elif device.type == "cpu":
        dist.init_process_group("gloo")
    else:
        raise ValueError(f"torchrun training runs on CUDA GPUs (NCCL) or CPUs (gloo), not {device.type}")
    return device


def shutdown() -> None:
    """Leave the process group (at the end of a torchrun command)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    """Wait until every process is here (after rank 0 writes a file the others may read)."""
    if world_size() > 1:
        dist.barrier()


def wrap(model: nn.Module, device: torch.device, n_train: int, batch_size: int) -> nn.Module | None:
    """``model`` in ``DistributedDataParallel`` (its BatchNorm as ``SyncBatchNorm`` on GPUs), or None on one
    process. The model's own parameters and buffers are the ones trained, so its state dict is unchanged.

    Refuses a batch that cannot give every process at least one image."""
    n = world_size()
    if n == 1:
        return None
    last = n_train % batch_size
    if batch_size < n or 0 < last < n:
        raise ValueError(
            f"batch_size {batch_size} over {n} processes: every batch must give each process an image, but "
            f"{'a batch' if batch_size < n else f'the last batch of an epoch ({last} of {n_train} images)'} has "
            f"fewer than {n}. Change --batch-size (or --subset)."
        )
    if device.type == "cuda":
        nn.SyncBatchNorm.convert_sync_batchnorm(model)  # in place below the root: same parameters and buffers
    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def local_part(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """This process's slice of a global batch: the ``rank``-th of ``world_size`` nearly equal parts."""
    n = world_size()
    if n == 1:
        return x, y
    return torch.tensor_split(x, n)[rank()], torch.tensor_split(y, n)[rank()]


def summed(sums: dict) -> dict:
    """An epoch's running sums (``loss_sum``, ``correct``, ``seen``) added up over all processes, in a new dict;
    ``train_s`` (this process's training time) is kept as it is."""
    if world_size() == 1:
        return dict(sums)
    values = [float(sums[k]) for k in ("loss_sum", "correct", "seen")]
    total = torch.tensor(values, dtype=torch.float64, device=_collective_device())
    dist.all_reduce(total)  # float64 counts are exact below 2**53
    return dict(sums, loss_sum=total[0], correct=int(total[1]), seen=int(total[2]))


def own_share(sums: dict) -> dict:
    """The sums a process starts from when a run is resumed: the saved totals on rank 0, nothing on the others
    (``summed`` adds them up again)."""
    if is_main():
        return dict(sums)
    return dict(sums, loss_sum=0.0, correct=0, seen=0)


def sync_buffers(model: nn.Module) -> None:
    """Give every process rank 0's buffers (BatchNorm's running statistics), so all evaluate the same network."""
    if world_size() == 1:
        return
    for buffer in model.buffers():
        dist.broadcast(buffer.data, src=0)


def seed_per_rank(seed: int) -> None:
    """After ``runtime.seed_everything(seed)``: rank r > 0 draws from seed + r, so each process has its own dropout
    masks (rank 0 keeps the one-process stream). Batch order and augmentation have their own seeded generators."""
    if world_size() > 1 and rank() > 0:
        torch.manual_seed(seed + rank())  # CPU and every GPU's generator


def rng_states() -> list | None:
    """Every process's random state (CPU and its GPU), gathered for rank 0's checkpoint; None on one process."""
    if world_size() == 1:
        return None
    mine = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        mine["cuda"] = torch.cuda.get_rng_state()
    states = [None] * world_size()
    dist.all_gather_object(states, mine)
    return states


def restore_rng(states: list | None) -> None:
    """This process's random state from ``rng_states()`` of the saved run (a no-op on one process)."""
    if world_size() == 1 or not states:
        return
    mine = states[rank()]
    torch.set_rng_state(mine["torch"].cpu())
    if mine.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state(mine["cuda"].cpu())


class StopTogether(Callback):
    """A ``fit`` callback under torchrun: Ctrl-C (or torchrun's SIGTERM) stops every process after the same step.

    A terminal's Ctrl-C reaches every process, and torchrun passes it on once more, so repeats within
    ``grace_s`` seconds count as one; a later one stops at once, without saving. After each step the processes
    agree (an all-reduce of one number) whether any was asked to stop."""

    signals = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, grace_s: float = 3.0):
        self.grace_s, self.asked_at, self.previous = grace_s, None, {}

    def _handler(self, signum, frame):
        if self.asked_at is not None and time.monotonic() - self.asked_at > self.grace_s:
            raise KeyboardInterrupt
        self.asked_at = self.asked_at or time.monotonic()

    def on_step(self, run, loss) -> None:
        if not self.previous:  # fit's own Ctrl-C handler sets run.interrupted at any moment: take over from it
            self.previous = {s: signal.signal(s, self._handler) for s in self.signals}
        flag = torch.tensor([float(self.asked_at is not None or run.interrupted)], device=_collective_device())
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        run.interrupted = bool(flag.item())

    def on_stop(self, run, reason) -> None:
        for s, handler in self.previous.items():
            if signal.getsignal(s) == self._handler:  # fit restores SIGINT's own handler itself
                signal.signal(s, handler)
        self.previous = {}


def _collective_device() -> torch.device:
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def callbacks() -> list:
    """What ``fit`` adds under torchrun (``StopTogether``); nothing on one process or outside the main thread."""
    if world_size() == 1 or threading.current_thread() is not threading.main_thread():
        return []
    return [StopTogether()]
