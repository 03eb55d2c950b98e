"""Steady-state time of ``fit``'s training step, plain against its throughput options (``training.throughput``).

    python benchmarks/step_overhead.py                                  # the classroom recipe, 32 px, on the CPU
    python benchmarks/step_overhead.py --device cuda --variants plain,prefetch,compile,prefetch+compile
    python benchmarks/step_overhead.py --recipe d2l --steps 20 --device cuda

Each variant runs in a fresh Python process: ``fit`` on the real Fashion-MNIST with the recipe's network and
``FitConfig``, evaluation off, ``--warmup`` untimed steps (set-up, first copies, kernels chosen, compilation),
then ``--steps`` steps timed between two device synchronisations. The variants alternate for ``--rounds`` rounds
and the best round of each is kept; the ratios are against the first variant. A variant is "plain" or options
joined by "+": "prefetch" (the next batch made ahead), "compile" (``torch.compile``; CUDA graphs on CUDA),
"noprefetch" (prefetching off where it is the default, on CUDA).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time

import torch
from train_throughput import Clock  # beside this file: the same clock for both benchmarks

from vgg_edu import runtime, timing
from vgg_edu.data import fashion_mnist
from vgg_edu.training import recipes
from vgg_edu.training.loop import fit

OPTIONS = {"prefetch": {"prefetch": True}, "noprefetch": {"prefetch": False}, "compile": {"compile": True}}


def measure(args, variant: str) -> dict:
    if args.threads:
        torch.set_num_threads(args.threads)
    device = runtime.get_device(args.device)
    changes = {}
    for part in variant.split("+"):
        changes |= OPTIONS.get(part, {})
    ds = fashion_mnist.load_fashion_mnist()
    model = recipes.build_model(args.recipe, seed=0, data=ds)
    config = recipes.fit_config(args.recipe, max_steps=args.warmup + args.steps, eval_every=0, log_every=20)
    clock = Clock(args.warmup, device)
    start = time.perf_counter()
    fit(model, ds, config, device=device, quiet=True, callbacks=[clock], **changes)
    timing.synchronize(device)
    return {"warmup": clock.at - start, "steps": time.perf_counter() - clock.at}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipe", default="classroom", choices=list(recipes.RECIPES))
    parser.add_argument("--variants", default="plain,prefetch", help="comma-separated; the first is the reference")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default=None)
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (CPU)")
    parser.add_argument("--only", help=argparse.SUPPRESS)  # one measurement, as JSON
    args = parser.parse_args(argv)
    variants = args.variants.split(",")
    unknown = {p for v in variants for p in v.split("+")} - set(OPTIONS) - {"plain"}
    if unknown or args.warmup < 1 or args.steps < 1:
        parser.error(f"variants are plain or {'+'.join(OPTIONS)} parts (not {sorted(unknown)}); steps at least 1")
    if args.only:
        print(json.dumps(measure(args, args.only)))
        return
    device = runtime.get_device(args.device)
    print(
        f"{args.recipe} recipe on {runtime.device_name(device)}, torch {torch.__version__}, {args.warmup} warm-up + "
        f"{args.steps} timed steps, {args.rounds} rounds, load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    argv = sys.argv[1:] if argv is None else list(argv)
    best = {v: {"warmup": math.inf, "steps": math.inf} for v in variants}
    for r in range(args.rounds):
        for v in variants:
            out = subprocess.run([sys.executable, __file__, *argv, "--only", v], capture_output=True, text=True)
            if out.returncode:
                sys.exit(f"variant {v} failed:\n{out.stderr[-2000:]}")
            t = json.loads(out.stdout.strip().splitlines()[-1])
            best[v] = {k: min(best[v][k], t[k]) for k in t}
            print(f"round {r + 1} {v:16s} {1000 * t['steps'] / args.steps:8.2f} ms a step, warm-up {t['warmup']:.2f} s")
    ref = best[variants[0]]["steps"]
    for v in variants:
        b = best[v]
        print(
            f"best {v:16s} {1000 * b['steps'] / args.steps:8.2f} ms a step ({ref / b['steps']:.2f}x the speed of "
            f"{variants[0]}); warm-up {b['warmup']:.2f} s   (load average now {os.getloadavg()[0]:.2f})"
        )


if __name__ == "__main__":
    main()
