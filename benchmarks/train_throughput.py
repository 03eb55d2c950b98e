"""Training throughput: the vgg_edu pipeline against d2l's own, same model, input size, batch and number of steps.

    python benchmarks/train_throughput.py                       # 224 px, batch 128, 5 steps each, best device
    python benchmarks/train_throughput.py --steps 50 --device cuda
    python benchmarks/train_throughput.py --resize 96 --threads 1

- d2l: ``d2l.load_data_fashion_mnist(batch, resize)`` (torchvision ``Resize`` on PIL images, then ``ToTensor``, in
  4 ``DataLoader`` worker processes) and the inner loop of ``d2l.train_ch6`` (fp32, contiguous NCHW tensors,
  ``metric.add(l * n, d2l.accuracy(y_hat, y), n)`` every step).
- vgg_edu: ``train.fit`` itself, evaluation off: ``data.batches`` (uint8 tensors in memory; convert, resize,
  normalise on the device in one batched operation each), ``channels_last``, bf16 autocast on CUDA only.

Both train the same network: d2l's VGG-11 with channels divided by 4 (``vgg_edu.models.VGG``, xavier init, plain SGD
lr 0.05), from the same initial weights. Examples per second are measured on wall time from creating the data
iterator to the end of the last step, data loading included (d2l's book times the training step only). d2l's loader
wants to download; it is pointed at the local files instead (decompressed into torchvision's ``FashionMNIST/raw``
in a temporary folder), so no network is needed.
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from vgg_edu import data, runtime, train


def d2l_steps(model, batch_size, resize, steps, device, raw_dir: Path) -> float:
    """Run ``steps`` steps of d2l's train_ch6 inner loop on d2l's loader; return the wall time in seconds."""
    from d2l import torch as d2l

    with tempfile.TemporaryDirectory() as tmp:
        # d2l reads root="../data" relative to the working directory: give it a private one with our files in it.
        raw = Path(tmp) / "data" / "FashionMNIST" / "raw"
        raw.mkdir(parents=True)
        for name in data.FILES:  # torchvision skips its download when the decompressed files are there
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
            train_iter, _ = d2l.load_data_fashion_mnist(batch_size, resize=resize)
            optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
            loss = torch.nn.CrossEntropyLoss()
            metric = d2l.Accumulator(3)
            model.train()
            start = time.perf_counter()
            for i, (X, y) in enumerate(train_iter):
                optimizer.zero_grad()
                X, y = X.to(device), y.to(device)
                y_hat = model(X)
                l = loss(y_hat, y)
                l.backward()
                optimizer.step()
                with torch.no_grad():
                    metric.add(l * X.shape[0], d2l.accuracy(y_hat, y), X.shape[0])
                if i + 1 == steps:
                    break
            _sync(device)
            elapsed = time.perf_counter() - start
            del train_iter  # stop the worker processes
        finally:
            os.chdir(cwd)
    return elapsed


def vgg_edu_steps(model, ds, batch_size, resize, steps, device) -> float:
    """Run ``steps`` steps of ``train.fit`` itself (evaluation off, no checkpoint); return the wall time in seconds."""
    model.input_spec = ds.input_spec(resize)
    start = time.perf_counter()
    train.fit(
        model,
        ds,
        epochs=1,
        max_steps=steps,
        batch_size=batch_size,
        lr=0.05,
        device=device,
        eval_every=0,
        log_every=10**9,
        progress=False,
        verbose=False,
        live_plot=False,
    )
    _sync(device)
    return time.perf_counter() - start


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def _warm_up(model, batch_size, resize, device, channels_last=False):
    """One untimed step, so both pipelines start with the convolution kernels chosen and memory allocated."""
    x = torch.randn(batch_size, 1, resize, resize, device=device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    model.train()
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=channels_last and device.type == "cuda"):
        loss = F.cross_entropy(model(x), torch.zeros(batch_size, dtype=torch.long, device=device))
    loss.backward()
    model.zero_grad(set_to_none=True)
    _sync(device)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resize", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--device", default=None)
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (CPU)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = runtime.get_device(args.device)
    ds = data.load_fashion_mnist()
    raw_dir = data.find_fashion_mnist()

    def fresh_model():
        return train.build_model("d2l", seed=0).to(device)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"device {runtime.device_name(device)}, torch {torch.__version__}, load average {load:.2f}, "
        f"VGG-11/4 at {args.resize} px, batch {args.batch_size}, {args.steps} steps each"
    )
    n = args.batch_size * args.steps
    results = {}
    for name in ("d2l", "vgg_edu"):
        model = fresh_model()
        _warm_up(model, args.batch_size, args.resize, device, channels_last=name == "vgg_edu")
        if name == "d2l":
            seconds = d2l_steps(model, args.batch_size, args.resize, args.steps, device, raw_dir)
        else:
            seconds = vgg_edu_steps(model, ds, args.batch_size, args.resize, args.steps, device)
        results[name] = n / seconds
        print(f"{name:8s} {seconds:8.1f} s  {results[name]:8.1f} examples/s (wall time, data included)", flush=True)
    print(
        f"ratio vgg_edu / d2l: {results['vgg_edu'] / results['d2l']:.2f}x   (load average now {os.getloadavg()[0]:.2f})"
    )


if __name__ == "__main__":
    main()
