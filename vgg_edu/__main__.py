"""Command line: ``python -m vgg_edu data`` (is Fashion-MNIST here?) and ``python -m vgg_edu train`` (train a VGG).

Examples::

    python -m vgg_edu train                                  # the classroom recipe: VGG-11/8, 32 px, 2-core CPU
    python -m vgg_edu train --recipe d2l                     # the book's run (224 px, 10 epochs): for a GPU
    python -m vgg_edu train --epochs 1 --subset 2000 500     # a quick try on a slice of the data
    python -m vgg_edu train --resume                         # continue the run saved in --checkpoint
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m vgg_edu", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("data", help="say where Fashion-MNIST is; exit 1 if it is nowhere on this machine")
    t = sub.add_parser("train", help="train a VGG on Fashion-MNIST; write a checkpoint and a metrics JSON",
                       description="Train a VGG on Fashion-MNIST. Options left out come from --recipe.")
    t.add_argument("--recipe", default="classroom", help="classroom (2-core CPU, default) or d2l (the book's, GPU)")
    t.add_argument("--config", default="A", help="VGG configuration: A (VGG-11, default), B, D, E or a model name")
    t.add_argument("--width-divisor", type=int, help="divide every channel count (d2l uses 4)")
    t.add_argument("--batch-norm", type=_bool, metavar="BOOL", help="BatchNorm after each conv (true/false)")
    t.add_argument("--hidden", type=int, help="width of the two hidden FC layers (paper: 4096)")
    t.add_argument("--head", choices=["fc", "gap"], help="fc: three FC layers; gap: global average pool + 1 linear")
    t.add_argument("--init", choices=["torchvision", "kaiming", "xavier"], help="weight initialisation")
    t.add_argument("--resize", type=int, help="input side in pixels (28 is upsampled; VGG-11 needs >= 32)")
    t.add_argument("--epochs", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--lr", type=float, help="(peak) learning rate")
    t.add_argument("--schedule", choices=["constant", "cosine", "onecycle", "plateau"])
    t.add_argument("--max-steps", type=int, help="stop after this many optimizer steps")
    t.add_argument("--subset", type=int, nargs=2, metavar=("N_TRAIN", "N_TEST"), help="train/test on a random slice")
    t.add_argument("--device", help="cpu, cuda, mps (default: the best there is)")
    t.add_argument("--threads", type=int, help="CPU threads for PyTorch (1 is faster when other jobs share the CPU)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--data", help="folder holding the Fashion-MNIST files (default: the usual places)")
    t.add_argument("--checkpoint", help="where to write the model (default: artifacts/vgg11_fashion_mnist.pt, "
                   "the file notebook 05 loads)")
    t.add_argument("--metrics", help="metrics JSON (default: the checkpoint's path with .json)")
    t.add_argument("--resume", action="store_true", help="continue the run saved in --checkpoint")
    t.add_argument("--quiet", action="store_true", help="no progress bars (one line per epoch only)")
    return parser


def train_command(args) -> int:
    import torch

    from . import data, runtime, train

    overrides = {k: getattr(args, k) for k in ("width_divisor", "batch_norm", "hidden", "head", "init")
                 if getattr(args, k) is not None}
    fit_over = {k: getattr(args, k) for k in ("resize", "epochs", "batch_size", "lr", "schedule", "max_steps")
                if getattr(args, k) is not None}
    try:
        model = train.build_model(args.recipe, seed=args.seed, config=args.config, **overrides)
        kwargs = train.fit_kwargs(args.recipe, **fit_over)
        ds = data.load_fashion_mnist(args.data)
        device = runtime.get_device(args.device)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.subset:
        ds = ds.subset(*args.subset, seed=args.seed)
    checkpoint = Path(args.checkpoint) if args.checkpoint else runtime.artifacts_dir() / "vgg11_fashion_mnist.pt"
    metrics = Path(args.metrics) if args.metrics else checkpoint.with_suffix(".json")
    print(f"{args.recipe} recipe on {runtime.device_name(device)}: VGG {model.hparams}, fit {kwargs}; data {ds}")
    try:
        history = train.fit(model, ds, device=device, seed=args.seed, checkpoint=checkpoint, resume=args.resume,
                            progress=not args.quiet, live_plot=False, meta={"recipe": args.recipe}, **kwargs)
    except train.TrainingDiverged as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    history.config.update(recipe=args.recipe, model=model.hparams)
    history.save_json(metrics)
    final = history.final
    print(f"test accuracy {final.get('test_acc')}, {final.get('wall_s', 0):.0f} s; "
          f"checkpoint {checkpoint}, metrics {metrics}")
    return 0


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "data":
        from .data import candidate_dirs, find_fashion_mnist
        found = find_fashion_mnist()
        if found:
            print(f"Fashion-MNIST found in {found}")
            return 0
        print("Fashion-MNIST not found in: " + ", ".join(map(str, candidate_dirs())) +
              "\nGet it with `sudo apt-get install dataset-fashion-mnist`, or set VGG_EDU_DATA to a folder holding "
              "the four *-ubyte(.gz) files; with internet, torchvision downloads it on first use.", file=sys.stderr)
        return 1
    if args.command == "train":
        return train_command(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
