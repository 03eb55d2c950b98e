"""Time to accuracy: how long a recipe takes, through ``train.fit``, to reach 0.92 and 0.93 on Fashion-MNIST.

    python benchmarks/time_to_accuracy.py                         # the classroom recipe, this machine's CPU
    python benchmarks/time_to_accuracy.py --recipe classroom --epochs 20 --threads 1

Trains on the training split less 5,000 images held out for validation (seed 0), as the CLI does. After every
epoch a callback measures validation accuracy (what ``fit`` records) and, for this benchmark only, test accuracy,
without counting that test evaluation in the wall time. Prints, for each target, the wall time at the end of the
first epoch that reached it, on validation and on test. Then the d2l recipe (VGG-11/4 at 224 px, the book's run):
its throughput through ``fit`` measured for a few steps, extrapolated to the book's 10 epochs, and the ratio.
Run it with nothing else on the CPU: timings taken while other jobs run are not this machine's.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from vgg_edu import data, runtime, train

TARGETS = (0.92, 0.93)


class TestEveryEpoch(train.Callback):
    """Test accuracy after each epoch, its evaluation time kept out of the run's wall time."""

    def __init__(self):
        self.rows, self.excluded = [], 0.0

    def on_epoch(self, run, row):
        start = time.perf_counter()
        test = train.evaluate(run.model, run.data, "test", device=run.device)
        spent = time.perf_counter() - start
        run.wall_s -= spent  # the wall time fit reports leaves this benchmark's test evaluations out
        self.excluded += spent
        self.rows.append(dict(epoch=row["epoch"], wall_s=row["wall_s"], val_acc=row["val_acc"], test_acc=test))


def first_time(rows, key, target):
    return next((r["wall_s"] for r in rows if r[key] is not None and r[key] >= target), None)


def d2l_estimate(ds, device, steps: int) -> float:
    """Seconds the d2l recipe would take for its 10 epochs, from ``steps`` steps through fit (no evaluation)."""
    model = train.build_model("d2l", seed=0, data=ds)
    kw = train.fit_kwargs("d2l", max_steps=steps, epochs=1)
    h = train.fit(model, ds, device=device, eval_every=0, progress=False, verbose=False, live_plot=False, **kw)
    per_example = h.final["epoch_s"] / (steps * kw["batch_size"])
    return per_example * len(ds.train_labels) * train.RECIPES["d2l"]["fit"]["epochs"]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipe", default="classroom")
    parser.add_argument("--epochs", type=int, help="override the recipe's epochs")
    parser.add_argument("--threads", type=int, help="CPU threads (default: measured)")
    parser.add_argument("--d2l-steps", type=int, default=5, help="steps of the d2l recipe to time (0: skip)")
    args = parser.parse_args(argv)
    device = runtime.best_device()
    threads = f"{args.threads} CPU threads" if args.threads else runtime.choose_threads()[1]
    if args.threads:
        torch.set_num_threads(args.threads)
    ds = data.load_fashion_mnist().hold_out(5000, seed=0)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{runtime.device_name(device)}, {threads}, torch {torch.__version__}, load average {load:.2f}; {ds}")
    model = train.build_model(args.recipe, seed=0, data=ds)
    kw = train.fit_kwargs(args.recipe, **({"epochs": args.epochs} if args.epochs else {}))
    spy = TestEveryEpoch()
    train.fit(model, ds, device=device, progress=False, live_plot=False, callbacks=[spy], **kw)
    print(f"\n{args.recipe} recipe {kw}:")
    print("epoch  wall_s  val_acc  test_acc")
    for r in spy.rows:
        print(f"{r['epoch']:5.0f}  {r['wall_s']:6.0f}  {r['val_acc']:.4f}   {r['test_acc']:.4f}")
    for target in TARGETS:
        val, test = first_time(spy.rows, "val_acc", target), first_time(spy.rows, "test_acc", target)
        fmt = lambda t: f"{t:.0f} s" if t is not None else "not reached"  # noqa: E731
        print(f"time to {target}: validation {fmt(val)}, test {fmt(test)}")
    if args.d2l_steps:
        estimate = d2l_estimate(ds, device, args.d2l_steps)
        total = spy.rows[-1]["wall_s"]
        print(
            f"d2l recipe (book: test acc 0.922 after 10 epochs): {estimate / 60:.0f} min for its 10 epochs here, "
            f"extrapolated from {args.d2l_steps} steps; the {args.recipe} run took {total:.0f} s "
            f"({estimate / total:.0f}x less)"
        )
    print(f"load average now {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "")


if __name__ == "__main__":
    main()
