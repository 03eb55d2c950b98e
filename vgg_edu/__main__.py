"""Command line: ``python -m vgg_edu data`` (is the data here?), ``train`` (train a VGG) and ``predict``.

Examples::

    python -m vgg_edu train                                   # the classroom recipe: VGG-11/4, 32 px, 2-core CPU
    python -m vgg_edu train --recipe d2l --checkpoint artifacts/d2l.pt      # the book's run (224 px): for a GPU
    python -m vgg_edu train --epochs 1 --subset 2000 500 --checkpoint artifacts/try.pt   # a quick try
    python -m vgg_edu train --resume                          # continue the run saved in --checkpoint
    python -m vgg_edu train --init-from artifacts/vgg11_fashion_mnist.pt --epochs 3 --checkpoint artifacts/more.pt
    python -m vgg_edu train --data photos/ --resize 64 --checkpoint artifacts/photos.pt   # photos/cat/*.jpg ...
    python -m vgg_edu predict --checkpoint artifacts/photos.pt new.jpg                 # by the photos' class names
    torchrun --nproc_per_node 4 -m vgg_edu train --recipe d2l --checkpoint artifacts/d2l.pt    # 4 GPUs, one run

Validation accuracy is measured every epoch on images held out of the training split (--val-size); test accuracy
once, at the end. Every error ends with one line on stderr and exit code 1 (2 for a malformed command line);
Ctrl-C saves the run and exits with 130.
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

from .training.config import DEFAULT_CHECKPOINT, FIELDS, SCHEDULES


def _bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _number(text: str, kind: type = int):
    """``text`` as a whole number (``kind=int``) or a number (``float``); a usage error saying which, if not."""
    try:
        return kind(text)
    except ValueError:
        expected = "a whole number" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None


def _positive_int(text: str) -> int:
    value = _number(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _count(text: str) -> int:
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _seed(text: str) -> int:
    value = _count(text)
    if value >= 2**32:
        raise argparse.ArgumentTypeError(f"must be below 2**32, got {value}")
    return value


def _device(text: str) -> str:
    kind, _, index = text.partition(":")
    if kind not in ("cpu", "cuda", "mps") or (index and (kind != "cuda" or not index.isdigit())):
        raise argparse.ArgumentTypeError(f"expected cpu, cuda, cuda:N or mps, got {text!r}")
    return text


def _probability(text: str) -> float:
    value = _number(text, float)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 0 and below 1, got {text}")
    return value


def _init_scheme(text: str) -> str:
    from .models import INIT_SCHEMES  # imports torch: only when --init is given, so that --help stays quick

    if text not in INIT_SCHEMES:
        raise argparse.ArgumentTypeError(f"use one of {', '.join(INIT_SCHEMES)}, not {text!r}")
    return text


def _positive_float(text: str) -> float:
    value = _number(text, float)
    if not 0 < value <= 1e6:
        raise argparse.ArgumentTypeError(f"must be a positive number no larger than 1e6, got {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m vgg_edu", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("data", help="say where Fashion-MNIST is (or what a folder of images holds); exit 1 if not")
    d.add_argument("--data", help="look only in this folder (Fashion-MNIST's files, or images in class subfolders)")
    _train_parser(sub)
    from .teaching.cli import add_parsers  # assign and grade, for teachers (light: parsers only)

    add_parsers(sub)
    p = sub.add_parser("predict", help="classify image files with a trained checkpoint, by its class names")
    p.add_argument("images", nargs="+", help="image files (PNG, JPEG, ...), resized as the model was trained")
    p.add_argument("--checkpoint", required=True, help="a checkpoint written by `python -m vgg_edu train`")
    p.add_argument("--top", type=_positive_int, default=3, help="how many classes to show per image (default 3)")
    return parser


def _train_parser(sub) -> None:
    t = sub.add_parser(
        "train",
        help="train a VGG on Fashion-MNIST or your images; write a checkpoint and a metrics JSON",
        description="Train a VGG on Fashion-MNIST (or on --data, a folder of your images). Options left out come "
        "from --recipe. Under torchrun (torchrun --nproc_per_node N -m vgg_edu train ...) N processes train "
        "together, --batch-size being the batch of all of them.",
    )
    t.add_argument("--recipe", default="classroom", help="classroom (2-core CPU, default) or d2l (the book's, GPU)")
    t.add_argument("--config", default="A", help="VGG configuration: A (VGG-11, default), B, D, E or a model name")
    t.add_argument("--width-divisor", type=_positive_int, help="divide every channel count (d2l uses 4)")
    t.add_argument("--batch-norm", type=_bool, metavar="BOOL", help="BatchNorm after each conv (true/false)")
    t.add_argument("--hidden", type=_positive_int, help="width of the two hidden FC layers (paper: 4096)")
    t.add_argument("--head", choices=["fc", "gap"], help="fc: three FC layers; gap: global average pool + 1 linear")
    t.add_argument("--dropout", type=_probability, help="dropout before the classifier's linear layers (0: none)")
    schemes = "kaiming_fan_out, kaiming_fan_in, xavier, d2l, std=0.01 or std=0.1"
    t.add_argument("--init", type=_init_scheme, help=f"weights: {schemes}")
    t.add_argument("--resize", type=_positive_int, help="input side in pixels (28 is upsampled; VGG-11 needs >= 32)")
    t.add_argument("--epochs", type=_positive_int)
    t.add_argument("--batch-size", type=_positive_int)
    t.add_argument("--lr", type=_positive_float, help="(peak) learning rate")
    t.add_argument("--schedule", choices=SCHEDULES)
    t.add_argument("--max-steps", type=_positive_int, help="stop after this many optimizer steps")
    t.add_argument(
        "--subset",
        type=_positive_int,
        nargs=2,
        metavar=("N_TRAIN", "N_TEST"),
        help="train and test on a random slice (validating on at most N_TEST held-out images)",
    )
    t.add_argument(
        "--val-size",
        type=_count,
        help="training images held out for validation (default: 5000 of Fashion-MNIST's, a tenth of a "
        "folder's; 0: none)",
    )
    t.add_argument("--device", type=_device, help="cpu, cuda, cuda:N or mps (default: the best there is)")
    t.add_argument(
        "--threads",
        type=_positive_int,
        help="CPU threads (default: the count that runs fastest right "
        "now, measured; 1 wins when other jobs share the CPU)",
    )
    t.add_argument("--seed", type=_seed, default=0)
    t.add_argument(
        "--data",
        help="the Fashion-MNIST files' folder (default: the usual places), or a folder of your images in one "
        "subfolder per class (photos/cat/*.jpg, photos/dog/*.jpg; or photos/train/... and photos/test/...)",
    )
    t.add_argument(
        "--checkpoint",
        help=f"where to write the model (default: artifacts/{DEFAULT_CHECKPOINT}, the file notebook 05 loads)",
    )
    t.add_argument("--metrics", help="metrics JSON (default: the checkpoint's path with .json)")
    start = t.add_mutually_exclusive_group()
    start.add_argument("--resume", action="store_true", help="continue the run saved in --checkpoint, exactly")
    start.add_argument("--init-from", metavar="CHECKPOINT", help="start a new run from this checkpoint's weights")
    t.add_argument("--overwrite", action="store_true", help="replace an existing --checkpoint and --metrics")
    t.add_argument("--quiet", action="store_true", help="no progress bars (one line per epoch only)")


NETWORK_OPTIONS = ("width_divisor", "batch_norm", "hidden", "head", "dropout", "init")
"""The network keywords ``train`` offers as options (``--resize`` is ``input_size``)."""


def _paths(args, default: str | None) -> tuple[Path, Path]:
    """The checkpoint and metrics paths, refused when they would clobber each other or cannot be written; the
    checkpoint by default in artifacts/, named ``default`` (the data's: ``sources.checkpoint_name``) or
    ``DEFAULT_CHECKPOINT``."""
    from .paths import artifacts_dir, check_writable, not_a_folder
    from .training.checkpoint import refuse_to_replace

    checkpoint = Path(args.checkpoint) if args.checkpoint else artifacts_dir() / (default or DEFAULT_CHECKPOINT)
    metrics = Path(args.metrics) if args.metrics else checkpoint.with_suffix(".json")
    if checkpoint.suffix == ".json":
        raise ValueError(f"--checkpoint {checkpoint} ends in .json: give the model file a .pt name")
    if metrics.resolve() == checkpoint.resolve() or metrics.suffix == ".pt":
        raise ValueError(f"--metrics {metrics} would overwrite a checkpoint: give it a .json name of its own")
    not_a_folder(metrics, "metrics.json")
    not_a_folder(checkpoint)
    refuse_to_replace(checkpoint, resume=args.resume, overwrite=args.overwrite)
    refuse_to_replace(metrics, resume=args.resume, overwrite=args.overwrite, resumable=False)
    for path in (checkpoint, metrics):
        check_writable(path)  # by trying, before any training: a full epoch lost to a bad path is the worst kind
    if args.resume and not checkpoint.is_file():
        raise ValueError(
            f"--resume: there is no checkpoint at {checkpoint} to continue. Leave out --resume to "
            "start a new run, or pass the --checkpoint of the run to continue."
        )
    return checkpoint, metrics


def _versions() -> dict:
    import torch
    import torchvision

    from . import __version__

    return {
        "vgg_edu": __version__,
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "python": platform.python_version(),
    }


def _setup(args):
    """Everything a training run needs, checked before any training: device, paths, data, model, options."""
    import torch

    from . import cpu, runtime
    from .data import sources
    from .training import checkpoint, distributed, recipes

    device = distributed.init(runtime.get_device(args.device))  # under torchrun: join the others, take a GPU
    if args.threads:
        torch.set_num_threads(args.threads)
    elif device.type == "cpu" and not distributed.launched():  # torchrun sets OMP_NUM_THREADS for its processes
        print(f"CPU: {cpu.use_fitting_threads().detail}.")
    source = sources.identify(args.data)
    paths = _paths(args, sources.checkpoint_name(source))
    given = {k: getattr(args, k) for k in (*NETWORK_OPTIONS, *FIELDS) if hasattr(args, k)}  # what the CLI offers
    given["input_size"] = args.resize
    network, config = recipes.recipe(args.recipe).split({k: v for k, v in given.items() if v is not None})
    data = sources.load(source, network["input_size"], seed=args.seed)
    ds = sources.prepare(source, data, val_size=args.val_size, subset=args.subset, seed=args.seed)
    model = recipes.build_model(args.recipe, seed=args.seed, config=args.config, data=ds, **network)
    if args.init_from:
        checkpoint.load_weights(model, args.init_from)
    return device, paths, ds, model, config


def train_command(args) -> int:
    from . import runtime
    from .data.inputs import spec_of
    from .training import callbacks, distributed, evaluation, loop

    device, (checkpoint, metrics), ds, model, config = _setup(args)
    main_process, processes = distributed.is_main(), distributed.world_size()
    if main_process:
        on = runtime.device_name(device) + (f" x {processes} processes" if processes > 1 else "")
        print(f"{args.recipe} recipe on {on}: VGG {model.hparams}, inputs {spec_of(model)}, {config}; data {ds}")
    meta = {"recipe": args.recipe, "data": ds.source, "subset": args.subset, "init_from": args.init_from}
    watchers = ([] if args.quiet else [callbacks.ProgressBar()]) + [callbacks.PrintEpochs()] if main_process else []
    saving = {"checkpoint": checkpoint, "resume": args.resume, "overwrite": args.overwrite}
    try:
        history = loop.fit(model, ds, config, device=device, **saving, quiet=True, callbacks=watchers, meta=meta)
    except KeyboardInterrupt as stop:  # Ctrl-C, or SIGTERM (loop.Terminated): saved as the run stopped
        if main_process and checkpoint.is_file():
            print(f"Stopped. Continue with the same command and --resume (checkpoint {checkpoint}).", file=sys.stderr)
        elif main_process:
            print("Stopped before anything was saved: run the command again to start over.", file=sys.stderr)
        return 143 if isinstance(stop, loop.Terminated) else 130
    if not main_process:  # rank 0 evaluates and writes; the others are done
        return 0
    test = evaluation.evaluate(model, ds, "test", device=device, details=True, flip_tta=config.flip_tta)
    record = {"checkpoint": str(checkpoint.resolve()), "model": dict(model.hparams), "inputs": spec_of(model).as_dict()}
    history.save_json(metrics, test_acc=test.accuracy, test_loss=test.loss, **record, versions=_versions())
    val = history.final.get("val_acc")
    val_text = f"validation accuracy {val:.4f}, " if val is not None else ""
    print(
        f"{val_text}test accuracy {test.accuracy:.4f} (on {len(ds.test_labels):,} images, once, at the end); "
        f"{history.final.get('wall_s', 0):.0f} s; checkpoint {checkpoint}, metrics {metrics}"
    )
    return 0


def data_command(args) -> int:
    from .data import sources

    print(sources.describe(sources.identify(args.data)))
    return 0


def predict_command(args) -> int:
    """Each image's most likely classes, by the checkpoint's model, named by the class names it was trained with.
    A file that cannot be read gets one line on stderr; the others are still answered, and the exit status is 1."""
    import torch

    from .data.image_folder import read_image
    from .data.image_splits import DataError
    from .data.inputs import spec_of
    from .training.checkpoint import load_model
    from .training.evaluation import predict

    model = load_model(args.checkpoint)
    spec = spec_of(model)
    size = spec.size or 28
    paths, images = [], []
    for path in args.images:
        try:
            images.append(read_image(path, size, channels=len(spec.mean)))
            paths.append(path)
        except DataError as err:
            print("error: " + " ".join(str(err).split()), file=sys.stderr)
    probabilities = predict(model, torch.stack(images)).softmax(1) if images else []
    k = min(args.top, len(spec.classes))
    for path, p in zip(paths, probabilities):
        best = p.topk(k)
        ranked = ", ".join(f"{spec.classes[i]} {float(v):.1%}" for v, i in zip(best.values, best.indices))
        print(f"{path}: {ranked}")
    return 0 if len(paths) == len(args.images) else 1


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.command in ("assign", "grade"):
        return args.run(args)
    from .data.image_splits import DataError
    from .training import distributed
    from .training.checkpoint import CheckpointError
    from .training.loop import TrainingDiverged

    command = {"data": data_command, "train": train_command, "predict": predict_command}[args.command]
    try:
        return command(args)
    except (ValueError, TypeError, OSError, CheckpointError, DataError, TrainingDiverged) as err:
        rank = f"[rank {distributed.rank()}] " if distributed.world_size() > 1 else ""
        print(f"{rank}error: " + " ".join(str(err).split()), file=sys.stderr)  # one line, however it is wrapped
        return 1
    except KeyboardInterrupt as stop:
        if distributed.is_main():
            print("Stopped.", file=sys.stderr)
        return 143 if type(stop).__name__ == "Terminated" else 130
    finally:
        distributed.shutdown()


if __name__ == "__main__":
    sys.exit(main())
