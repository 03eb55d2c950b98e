"""Making a VGG small: pruning, quantization and distillation, and the measurements notebook 07 compares them by.

The methods live one per module (``prune``, ``quantize``, ``distill``) and are gathered here under one name::

    from vgg_edu import compress
    small = compress.prune_channels(model, 0.5)            # Li et al. 2017: half the filters of every conv
    int8 = compress.quantize_static(model, data.train_images[:1024])
    loss_fn = compress.Distiller(teacher, temperature=4, alpha=0.9)   # Hinton et al. 2015, for train.fit

This module adds what the lesson measures: MACs and parameters (``vgg_edu.analysis.layer_table``), a pruning sweep
with fine-tuning through ``train.fit``, a size / latency / accuracy table, and the FC head against the
global-average-pool head.
"""

from __future__ import annotations

import time

import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from . import analysis, train
from .distill import Distiller, distillation_loss
from .models import VGG
from .prune import channels_to_keep, convs, filter_l1_norms, keep_channels, prune_channels
from .quantize import file_size, latency_ms, quantize_dynamic_head, quantize_static

__all__ = [
    "Distiller",
    "channels_to_keep",
    "convs",
    "costs",
    "distillation_loss",
    "file_size",
    "filter_l1_norms",
    "head_table",
    "keep_channels",
    "latency_ms",
    "prune_channels",
    "pruning_sweep",
    "quantize_dynamic_head",
    "quantize_static",
    "speed_table",
]


def _input_size(model: nn.Module) -> tuple[int, int, int]:
    """(C, H, W) of one input: the model's input contract, else one 28 px channel (Fashion-MNIST as stored)."""
    spec = getattr(model, "input_spec", None)
    size = (spec.size if spec is not None else None) or 28
    return (len(spec.mean) if spec is not None else getattr(model, "in_channels", 1), size, size)


def costs(model: VGG, input_size=None) -> dict:
    """Parameters and MACs per image of ``model`` (``analysis.layer_table``), at its input size by default."""
    t = analysis.totals(analysis.layer_table(model, input_size or _input_size(model)))
    return {"params": int(t["params"]), "macs": int(t["macs"])}


def pruning_sweep(model: VGG, data, fractions=(0.25, 0.5, 0.75), **fit_kw) -> tuple[pd.DataFrame, dict]:
    """For each fraction: prune ``model`` (L1 norm), measure validation accuracy, fine-tune with ``train.fit``
    (``fit_kw``), measure again. A table (fraction, params, MACs, their share of the unpruned model's, val_acc
    before and after fine-tuning, fine-tuning seconds; the first row is the unpruned model) and the fine-tuned
    models by fraction."""
    base, accuracy = costs(model), train.evaluate(model, data)
    rows = [dict(fraction=0.0, **base, val_acc_pruned=accuracy, val_acc=accuracy, finetune_s=0.0)]
    models = {0.0: model}
    options = dict(progress=False, verbose=False, live_plot=False, eval_every=0) | fit_kw
    for fraction in tqdm(fractions, desc="pruning fractions"):
        small = prune_channels(model, fraction)
        before = train.evaluate(small, data)
        start = time.perf_counter()
        train.fit(small, data, **options)
        seconds = time.perf_counter() - start
        rows.append(dict(fraction=fraction, **costs(small), val_acc_pruned=before, val_acc=train.evaluate(small, data),
                         finetune_s=seconds))  # fmt: skip
        models[fraction] = small.eval()
    table = pd.DataFrame(rows)
    table.insert(3, "macs_share", table["macs"] / base["macs"])
    table.insert(4, "params_share", table["params"] / base["params"])
    return table, models


def speed_table(models: dict, data, *, batch_sizes=(1, 64), repeats: int = 20) -> pd.DataFrame:
    """One row per model (a dict name -> model): file size (MB), CPU latency (ms) at each batch size, validation
    accuracy. Every model is moved to the CPU and timed there in the same run, one after the other, so the ratios
    compare."""
    rows = []
    for name, model in tqdm(models.items(), desc="models"):
        model = model.cpu().eval()
        row = dict(model=name, file_MB=file_size(model) / 1e6)
        for b in batch_sizes:
            row[f"ms_batch_{b}"] = latency_ms(model, _input_size(model), b, repeats=repeats)
        row["val_acc"] = train.evaluate(model, data)
        rows.append(row)
    return pd.DataFrame(rows).set_index("model")


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
