"""Time to accuracy: how long a recipe takes, through ``fit``, to reach 0.92 and 0.93 on Fashion-MNIST.

    python benchmarks/time_to_accuracy.py                              # classroom, then classroom_v1, then d2l
    python benchmarks/time_to_accuracy.py --recipes classroom --d2l-steps 0 --threads 1
    python benchmarks/time_to_accuracy.py --recipes classroom_v1 --set translate=2 --set epochs=15 --json a.json

Trains on the training split less 5,000 images held out for validation (seed 0), as the CLI does. After every
epoch ``fit`` measures validation accuracy (with the recipe's ``flip_tta``); a callback also measures, for this
benchmark only, test accuracy and validation accuracy with and without flip averaging, and keeps the time those
extra evaluations take out of the run's wall time. Prints, for each recipe and target, the wall time at the end of
the first epoch that reached it, on validation and on test, and the recipes' throughput ratio in this run (wall
times on a shared CPU are not this machine's; ratios measured in the same run are steadier). Then the d2l recipe
(VGG-11/4 at 224 px, the book's run): its throughput through ``fit`` measured for a few steps, extrapolated to the
book's 10 epochs.

``--set key=value`` overrides a model or ``fit`` keyword of every recipe run (``--set width_divisor=4``,
``--set translate=2``): the ablation in docs/benchmarks.md is made of such runs.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import time

import torch

from vgg_edu import cpu, runtime
from vgg_edu.data.fashion_mnist import load_fashion_mnist
from vgg_edu.training import recipes
from vgg_edu.training.callbacks import Callback
from vgg_edu.training.evaluation import evaluate
from vgg_edu.training.loop import fit

TARGETS = (0.92, 0.93)


class Spy(Callback):
    """Test accuracy and validation accuracy with and without flip averaging after each epoch, their evaluation
    time kept out of the run's wall time."""

    def __init__(self):
        self.rows = []

    def on_epoch(self, run, row):
        start = time.perf_counter()
        tta = run.config.flip_tta
        extra = dict(
            test_acc=evaluate(run.model, run.data, "test", device=run.device, flip_tta=tta),
            val_plain=evaluate(run.model, run.data, "val", device=run.device),
            val_flip=evaluate(run.model, run.data, "val", device=run.device, flip_tta=True),
        )
        run.wall_s -= time.perf_counter() - start  # the wall time fit reports leaves these evaluations out
        keep = ("epoch", "wall_s", "val_acc", "val_loss", "train_acc", "examples_per_s")
        self.rows.append({k: row[k] for k in keep} | extra)


def first_time(rows, key, target):
    """The wall time at the end of the first epoch whose ``key`` reached ``target`` (None: never)."""
    return next((r["wall_s"] for r in rows if r[key] is not None and r[key] >= target), None)


def parse_sets(pairs) -> dict:
    """``["translate=2", "batch_norm=False"]`` -> ``{"translate": 2, "batch_norm": False}`` (network keywords and
    ``FitConfig`` fields, mixed: ``Recipe.split`` tells them apart)."""
    changes = {}
    for pair in pairs:
        key, _, text = pair.partition("=")
        try:
            changes[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            changes[key] = text  # a bare word: schedule=cosine
    return changes


def run_recipe(name, ds, device, changes) -> tuple[dict, list]:
    """Train ``name`` (with the overrides) to its end; return its ``FitConfig`` and the spy's rows."""
    network, config = recipes.recipe(name).split(changes)
    model = recipes.build_model(name, seed=0, data=ds, **network)
    spy = Spy()
    fit(model, ds, config, device=device, quiet=True, callbacks=[spy])
    return config, spy.rows


def report(name, kw, rows) -> None:
    print(f"\n{name} {kw}:")
    print("epoch  wall_s  train_acc  val_acc  val_plain  val_flip  test_acc  examples/s")
    for r in rows:
        print(
            f"{r['epoch']:5.0f}  {r['wall_s']:6.0f}  {r['train_acc']:.4f}     {r['val_acc']:.4f}   "
            f"{r['val_plain']:.4f}     {r['val_flip']:.4f}    {r['test_acc']:.4f}    {r['examples_per_s']:6.0f}"
        )
    for target in TARGETS:
        val, test = first_time(rows, "val_acc", target), first_time(rows, "test_acc", target)
        fmt = lambda t: f"{t:.0f} s" if t is not None else "not reached"  # noqa: E731
        print(f"time to {target}: validation {fmt(val)}, test {fmt(test)}")


def d2l_estimate(ds, device, steps: int) -> float:
    """Seconds the d2l recipe would take for its 10 epochs, from ``steps`` steps through fit (no evaluation)."""
    model = recipes.build_model("d2l", seed=0, data=ds)
    config = recipes.fit_config("d2l", max_steps=steps, epochs=1, eval_every=0)
    h = fit(model, ds, config, device=device, quiet=True)
    per_example = h.final["epoch_s"] / (steps * config.batch_size)
    return per_example * len(ds.train_labels) * recipes.recipe("d2l").fit.epochs


def load() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipes", nargs="+", default=["classroom", "classroom_v1"], help="run one after another")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a keyword")
    parser.add_argument("--threads", type=int, help="CPU threads (default: measured)")
    parser.add_argument("--d2l-steps", type=int, default=5, help="steps of the d2l recipe to time (0: skip)")
    parser.add_argument("--json", help="also write every run's rows to this file")
    parser.add_argument("--plot", help="also save validation and test accuracy against wall time as this PNG")
    args = parser.parse_args(argv)
    device = runtime.best_device()
    if args.threads:
        torch.set_num_threads(args.threads)
    threads = f"{args.threads} CPU threads" if args.threads else cpu.choose_threads().detail
    ds = load_fashion_mnist().hold_out(5000, seed=0)
    print(f"{runtime.device_name(device)}, {threads}, torch {torch.__version__}, load average {load():.2f}; {ds}")
    changes = parse_sets(args.set)
    model_kw, _ = recipes.Recipe().split(changes)  # the network keywords --set changes
    results = {}
    for name in args.recipes:
        kw, rows = run_recipe(name, ds, device, changes)
        results[name] = dict(fit=kw.as_dict(), model=model_kw, rows=rows, load_after=load())
        report(name, kw, rows)
    speeds = {n: sum(r["examples_per_s"] for r in res["rows"]) / len(res["rows"]) for n, res in results.items()}
    first = args.recipes[0]
    for name in args.recipes[1:]:
        print(f"training throughput {first} / {name}: {speeds[first] / speeds[name]:.2f} (this run)")
    if args.d2l_steps:
        estimate = d2l_estimate(ds, device, args.d2l_steps)
        total = results[first]["rows"][-1]["wall_s"]
        print(
            f"d2l recipe (book: test acc 0.922 after 10 epochs): {estimate / 60:.0f} min for its 10 epochs here, "
            f"extrapolated from {args.d2l_steps} steps; the {first} run took {total:.0f} s "
            f"({estimate / total:.0f}x less)"
        )
        results["d2l_estimate_s"] = estimate
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results | {"sets": args.set}, f, indent=1, default=float)
    if args.plot:
        from vgg_edu import plots

        curves = {name: res["rows"] for name, res in results.items() if isinstance(res, dict)}
        title = f"time to accuracy on {runtime.device_name(device)} (load average {load():.1f})"
        plots.plot_accuracy_curves(curves, title=title).savefig(args.plot, dpi=110, bbox_inches="tight")
    print(f"load average now {load():.2f}")


if __name__ == "__main__":
    main()
