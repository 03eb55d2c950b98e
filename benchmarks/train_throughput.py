"""Training throughput: the vgg_edu pipeline against d2l's own, same model, input size, batch and number of steps.

    python benchmarks/train_throughput.py                       # 224 px, batch 128, 2 + 5 steps each, 2 rounds
    python benchmarks/train_throughput.py --steps 200 --warmup 20 --device cuda
    python benchmarks/train_throughput.py --resize 96 --threads 1 --rounds 3

- d2l: ``d2l.load_data_fashion_mnist(batch, resize)`` (torchvision ``Resize`` on PIL images, then ``ToTensor``, in
  4 ``DataLoader`` worker processes) and the inner loop of ``d2l.train_ch6`` (fp32, contiguous NCHW tensors,
  ``metric.add(l * n, d2l.accuracy(y_hat, y), n)`` every step).
- vgg_edu: ``fit`` itself, evaluation off: ``data.inputs.batches`` (uint8 tensors in memory; convert, resize,
  normalise on the device in one batched operation each), ``channels_last``, bf16 autocast on CUDA only.

Both train the same network: d2l's VGG-11 with channels divided by 4 (``vgg_edu.models.VGG``, the book's init, plain
SGD lr 0.05), from the same initial weights. Each pipeline first runs ``--warmup`` untimed steps of its own: its data
iterator started (d2l's worker processes, ``fit``'s set-up), the first batches moved to the device, the convolution
algorithms chosen for these shapes (cuDNN's search with ``--cudnn-benchmark``), memory allocated. Then ``--steps``
timed steps, on the same iterator, from one device synchronisation to another: examples per second at steady
state, data loading included (d2l's book times the training step only). The ratio compares the two steady states.
Each pipeline's start-up is printed on its own line: its warm-up's wall time (from creating its data iterator) less
what as many steady steps take. On a GPU start-up dominates short runs; charged to a few steps, it made a 0.21x of
a pipeline whose epochs ran 3x as fast as d2l's (REFERENCE.md, "Measured on a GPU"). Each measurement runs in a
fresh Python process, so that a process-wide setting of one pipeline
(``cpu.keep_freed_memory``, which ``fit`` sets on the CPU) does not help the other. The two pipelines alternate
for ``--rounds`` rounds and the best round of each is compared,
so that a burst of load from other jobs does not decide the ratio. Then evaluation: d2l's ``evaluate_accuracy_gpu``
loop on its test loader against ``evaluate`` (inference mode, ``eval_batch_size`` images per batch,
channels-last). d2l's loader wants to download; it is pointed at the local files instead (decompressed into
torchvision's ``FashionMNIST/raw`` in a temporary folder), so no network is needed.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from vgg_edu import runtime, timing
from vgg_edu.data import fashion_mnist
from vgg_edu.data.image_splits import ImageSplits
from vgg_edu.data.inputs import with_spec
from vgg_edu.training import recipes
from vgg_edu.training.callbacks import Callback
from vgg_edu.training.evaluation import eval_batch_size, evaluate
from vgg_edu.training.loop import fit


@contextlib.contextmanager
def _d2l_data_dir(raw_dir: Path):
    """d2l reads root="../data" relative to the working directory: a private one holding our files, no download."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "data" / "FashionMNIST" / "raw"
        raw.mkdir(parents=True)
        for name in fashion_mnist.FILES:  # torchvision skips its download when the decompressed files are there
            src = raw_dir / name
            if src.is_file():
                (raw / name).symlink_to(src.resolve())
            else:
                with gzip.open(raw_dir / f"{name}.gz") as f_in, open(raw / name, "wb") as f_out:
                    shutil.copyfileobj(f_in, f_out)
        work = Path(tmp) / "work"
        work.mkdir()
        cwd = os.getcwd()
        os.chdir(work)
        try:
            yield
        finally:
            os.chdir(cwd)


def d2l_steps(model, batch_size, resize, warmup, steps, device, raw_dir: Path) -> dict:
    """``warmup`` then ``steps`` steps of d2l's train_ch6 inner loop on d2l's loader: the seconds of each part
    ({"warmup": ..., "train": ...}), the warm-up timed from creating the loader."""
    from d2l import torch as d2l

    with _d2l_data_dir(raw_dir):
        start = time.perf_counter()
        train_iter, _ = d2l.load_data_fashion_mnist(batch_size, resize=resize)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
        loss = torch.nn.CrossEntropyLoss()
        metric = d2l.Accumulator(3)
        model.train()
        marks = []
        for i, (X, y) in enumerate(train_iter):
            optimizer.zero_grad()
            X, y = X.to(device), y.to(device)
            y_hat = model(X)
            l = loss(y_hat, y)
            l.backward()
            optimizer.step()
            with torch.no_grad():
                metric.add(l * X.shape[0], d2l.accuracy(y_hat, y), X.shape[0])  # train_ch6's: a sync each step
            if i + 1 in (warmup, warmup + steps):
                timing.synchronize(device)
                marks.append(time.perf_counter())
            if i + 1 == warmup + steps:
                break
        del train_iter  # stop the worker processes
    return {"warmup": marks[0] - start, "train": marks[1] - marks[0]}


def d2l_eval(model, resize, n_images, device, raw_dir: Path) -> float:
    """d2l's ``evaluate_accuracy_gpu`` loop (eval mode, ``torch.no_grad``, its test loader at batch 256) over
    ``n_images`` test images; return the wall time in seconds."""
    from d2l import torch as d2l

    with _d2l_data_dir(raw_dir):
        _, test_iter = d2l.load_data_fashion_mnist(256, resize=resize)
        model.eval()
        metric, start = d2l.Accumulator(2), time.perf_counter()
        with torch.no_grad():
            for X, y in test_iter:
                X, y = X.to(device), y.to(device)
                metric.add(d2l.accuracy(model(X), y), y.numel())
                if metric[1] >= n_images:
                    break
        timing.synchronize(device)
        elapsed = time.perf_counter() - start
        del test_iter
    return elapsed


def vgg_edu_eval(model, ds, resize, n_images, device) -> float:
    """``evaluate`` on ``n_images`` test images (inference mode, ``eval_batch_size``); seconds."""
    with_spec(model, ds.input_spec(resize))
    part = ImageSplits(ds.train_images[:0], ds.train_labels[:0], ds.test_images[:n_images], ds.test_labels[:n_images])
    start = time.perf_counter()
    evaluate(model, part, "test", device=device)
    timing.synchronize(device)
    return time.perf_counter() - start


class Clock(Callback):
    """The time at the end of step ``warmup`` of ``fit``, the queued work done."""

    def __init__(self, warmup, device):
        self.warmup, self.device, self.at = warmup, device, None

    def on_step(self, run, loss):
        if run.step == self.warmup:
            timing.synchronize(self.device)
            self.at = time.perf_counter()


def vgg_edu_steps(model, ds, batch_size, resize, warmup, steps, device, compile_=False) -> dict:
    """``warmup`` then ``steps`` steps of one call of ``fit`` itself (evaluation off, no checkpoint): the seconds
    of each part ({"warmup": ..., "train": ...}), the warm-up timed from calling ``fit``."""
    with_spec(model, ds.input_spec(resize))
    clock = Clock(warmup, device)
    start = time.perf_counter()
    fit(model, ds, epochs=1, max_steps=warmup + steps, batch_size=batch_size, lr=0.05, device=device, eval_every=0,
        log_every=10**9, quiet=True, callbacks=[clock], compile=compile_)  # fmt: skip
    timing.synchronize(device)
    return {"warmup": clock.at - start, "train": time.perf_counter() - clock.at}


def measure(name, args) -> dict:
    """One pipeline's training (and evaluation) seconds, measured in this process."""
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.backends.cudnn.benchmark = args.cudnn_benchmark
    device = runtime.get_device(args.device)
    model = recipes.build_model("d2l", seed=0).to(device)
    steps = (args.batch_size, args.resize, args.warmup, args.steps, device)
    if name == "d2l":
        raw_dir = fashion_mnist.find_fashion_mnist()
        seconds = d2l_steps(model, *steps, raw_dir)
        if args.eval_images:
            seconds["eval"] = d2l_eval(model, args.resize, args.eval_images, device, raw_dir)
    else:
        ds = fashion_mnist.load_fashion_mnist()
        seconds = vgg_edu_steps(model, ds, *steps, compile_=args.compile)
        if args.eval_images:
            seconds["eval"] = vgg_edu_eval(model, ds, args.resize, args.eval_images, device)
    return seconds


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resize", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=5, help="timed steps, after the warm-up")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (at least 1)")
    parser.add_argument("--cudnn-benchmark", action="store_true", help="let cuDNN search (both pipelines)")
    parser.add_argument("--compile", action="store_true", help="vgg_edu: fit(compile=True), CUDA graphs on CUDA")
    parser.add_argument("--rounds", type=int, default=2, help="alternate the pipelines this many times; best of each")
    parser.add_argument("--eval-images", type=int, default=1024, help="test images to evaluate (0: skip)")
    parser.add_argument("--device", default=None)
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (CPU)")
    parser.add_argument("--only", choices=("d2l", "vgg_edu"), help=argparse.SUPPRESS)  # one measurement, as JSON
    args = parser.parse_args(argv)
    if args.warmup < 1 or args.steps < 1:
        parser.error("--warmup and --steps must be at least 1")
    if args.only:
        print(json.dumps(measure(args.only, args)))
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    device = runtime.get_device(args.device)
    print(
        f"device {runtime.device_name(device)}, torch {torch.__version__}, load average {_load():.2f}, "
        f"VGG-11/4 at {args.resize} px, batch {args.batch_size}, {args.warmup} warm-up + {args.steps} timed steps "
        f"each, {args.rounds} rounds, each pipeline in a fresh process"
        + (", cuDNN benchmark" if args.cudnn_benchmark else "")
        + (", vgg_edu compiled" if args.compile else ""),
        flush=True,
    )
    n = args.batch_size * args.steps
    argv = sys.argv[1:] if argv is None else list(argv)
    best = {"d2l": {}, "vgg_edu": {}}
    for r in range(args.rounds):
        for name in ("d2l", "vgg_edu"):
            out = subprocess.run(
                [sys.executable, __file__, *argv, "--only", name], capture_output=True, text=True, check=False
            )
            if out.returncode:
                sys.exit(f"the {name} measurement failed:\n{out.stderr[-2000:]}")
            seconds = json.loads(out.stdout.strip().splitlines()[-1])
            for what, t in seconds.items():
                best[name][what] = min(best[name].get(what, math.inf), t)
            print(
                f"round {r + 1} {name:8s} {seconds['train']:7.2f} s  {n / seconds['train']:8.1f} examples/s "
                "(training at steady state, data included)",
                flush=True,
            )
    _report(best, args, n)


def _report(best: dict, args, n: int) -> None:
    """The start-up of each pipeline, the ratio at steady state and evaluation's, from the best rounds."""
    d2l_rate, ours_rate = n / best["d2l"]["train"], n / best["vgg_edu"]["train"]
    for name in ("d2l", "vgg_edu"):
        warm, step = best[name]["warmup"], best[name]["train"] / args.steps
        print(
            f"start-up {name:8s} {warm - args.warmup * step:7.2f} s  (its {args.warmup} warm-up steps took "
            f"{warm:.2f} s, {args.warmup} steady steps {args.warmup * step:.2f} s: the data iterator, the first "
            "copies to the device, the choice of kernels; the best of the rounds)",
            flush=True,
        )
    print(
        f"training at steady state: best d2l {d2l_rate:.1f}, vgg_edu {ours_rate:.1f} examples/s; ratio vgg_edu / "
        f"d2l: {ours_rate / d2l_rate:.2f}x   (load average now {_load():.2f})",
        flush=True,
    )
    if args.eval_images:
        t_d2l, t_ours = best["d2l"]["eval"], best["vgg_edu"]["eval"]
        print(
            f"evaluation of {args.eval_images} test images: d2l {args.eval_images / t_d2l:.1f}, vgg_edu "
            f"{args.eval_images / t_ours:.1f} images/s (batch {eval_batch_size(args.resize)}, "
            f"inference mode, start-up included); ratio {t_d2l / t_ours:.2f}x   (load average now {_load():.2f})"
        )


def _load() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


if __name__ == "__main__":
    main()
