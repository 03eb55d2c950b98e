"""What notebook 08 measures making a VGG small: MACs and parameters (``vgg_edu.analysis.layer_table``), a pruning
sweep with fine-tuning through ``fit``, a size / latency / accuracy table, and the FC head against the
global-average-pool head. The methods themselves: ``compression.prune``, ``compression.quantize``,
``compression.distill``.
"""

from __future__ import annotations

import functools
import time

import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from .. import analysis, timing
from ..data.inputs import spec_of
from ..models import VGG
from ..training.config import FitConfig
from ..training.evaluation import evaluate
from ..training.loop import fit
from . import quantize
from .prune import prune_channels
from .quantize import file_size


def _input_size(model: nn.Module) -> tuple[int, int, int]:
    """(C, H, W) of one input: the model's input contract, else one 28 px channel (Fashion-MNIST as stored)."""
    spec = spec_of(model)
    return (len(spec.mean), spec.size or 28, spec.size or 28)


def costs(model: VGG, input_size=None) -> dict:
    """Parameters and MACs per image of ``model`` (``analysis.layer_table``), at its input size by default."""
    t = analysis.totals(analysis.layer_table(model, input_size or _input_size(model)))
    return {"params": int(t["params"]), "macs": int(t["macs"])}


def pruning_sweep(
    model: VGG, data, config: FitConfig, fractions=(0.25, 0.5, 0.75), *, device=None
) -> tuple[pd.DataFrame, dict]:
    """For each fraction: prune ``model`` (L1 norm), measure validation accuracy, fine-tune with ``fit`` by
    ``config``, measure again. A table (fraction, params, MACs, their share of the unpruned model's, val_acc
    before and after fine-tuning, fine-tuning seconds) and the fine-tuned models by fraction. The first row is the
    unpruned model (fraction 0), fine-tuned the same way: the baseline is treated like the pruned networks, so that
    what fine-tuning alone adds is not credited to pruning."""
    base = costs(model)
    rows, models = [], {}
    for fraction in tqdm(dict.fromkeys((0.0, *fractions)), desc="pruning fractions"):
        small = prune_channels(model, fraction)  # fraction 0: a copy of the unpruned model
        before = evaluate(small, data)
        start = time.perf_counter()
        fit(small, data, config.replace(eval_every=0), device=device, quiet=True)
        seconds = time.perf_counter() - start
        rows.append(dict(fraction=fraction, **costs(small), val_acc_pruned=before, val_acc=evaluate(small, data),
                         finetune_s=seconds))  # fmt: skip
        models[fraction] = small.eval()
    table = pd.DataFrame(rows)
    table.insert(3, "macs_share", table["macs"] / base["macs"])
    table.insert(4, "params_share", table["params"] / base["params"])
    return table, models


def speed_table(models: dict, data, *, batch_sizes=(1, 64), repeats: int = 20) -> pd.DataFrame:
    """One row per model (a dict name -> model): file size (MB), CPU latency (ms per forward pass) at each batch
    size, validation accuracy. Every model is moved to the CPU and timed there in turns
    (``timing.median_ms_in_turns``: a warm-up round, then ``repeats`` rounds of one pass of each model at each
    batch size, on this process's thread count), so that a change in a shared machine's load hits all alike and the
    ratios compare."""
    for b in batch_sizes:  # (repeats: checked by timing.median_ms_in_turns)
        if isinstance(b, bool) or not isinstance(b, int) or b < 1:
            raise ValueError(f"batch size must be a positive whole number (timed forward passes); got {b!r}")
    models = {name: model.cpu().eval() for name, model in models.items()}
    threads = torch.get_num_threads()
    works = {(name, b): (functools.partial(_forward, model, torch.randn(b, *_input_size(model))), threads)
             for name, model in models.items() for b in batch_sizes}  # fmt: skip
    ms = timing.median_ms_in_turns(works, per=1, repeats=repeats)
    rows = []
    for name, model in tqdm(models.items(), desc="accuracy"):
        latency = {f"ms_batch_{b}": ms[name, b] for b in batch_sizes}
        rows.append(dict(model=name, file_MB=file_size(model) / 1e6, **latency, val_acc=evaluate(model, data)))
    return pd.DataFrame(rows).set_index("model")


@torch.inference_mode()
def _forward(model: nn.Module, x: torch.Tensor) -> None:
    with quantize.quiet():
        model(x)


def head_table(config="D", *, num_classes: int = 1000, input_size=(3, 224, 224), **model_kw) -> pd.DataFrame:
    """Parameters of the FC head (fc6, fc7, fc8) and of the global-average-pool head (one Linear) on the same
    features, and of the whole network with each, counted by ``analysis.layer_table`` on the meta device."""
    rows = []
    for head in ("fc", "gap"):
        with torch.device("meta"):
            model = VGG(config, num_classes=num_classes, head=head, **model_kw)
        table = analysis.layer_table(model, input_size)
        head_params = int(table.loc[table["layer"].str.startswith("classifier"), "params"].sum())
        total = int(table["params"].sum())
        rows.append(dict(head=head, head_params=head_params, total_params=total, macs=int(table["macs"].sum())))
    return pd.DataFrame(rows).set_index("head")
