"""Figures of notebook 03: the six configurations, where VGG-16's parameters and compute are, forward cost, and the
class-score map of dense evaluation."""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np


def plot_configs(configs):
    """The six configurations (``analysis.config_table``): parameters (ours and the paper's Table 2), GMACs at
    224 px, and the paper's Table 3 top-1 validation error. Every axis starts at zero, so the bars compare."""
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(13, 3.8))
    x = np.arange(len(configs))
    a.bar(x - 0.2, configs["params"] / 1e6, 0.4, label="counted here")
    a.bar(x + 0.2, configs["paper_M"], 0.4, label="paper, Table 2")
    a.set(xticks=x, xticklabels=configs["config"], ylabel="parameters (millions)", ylim=(0, 190))
    a.set_title(f"Parameters: {configs['params'].min() / 1e6:.0f} M to {configs['params'].max() / 1e6:.0f} M")
    a.legend(fontsize=8, loc="upper center", ncols=2)  # in the room above the bars (all under 150 M), hiding none
    b.bar(x, configs["GMACs"], color="tab:green")
    growth = configs["GMACs"].iloc[-1] / configs["GMACs"].iloc[0]
    title = f"Compute: x{growth:.1f} from {configs['config'].iloc[0]} to {configs['config'].iloc[-1]}"
    b.set(xticks=x, xticklabels=configs["config"], ylabel="GMACs per 224 x 224 image", title=title)
    c.bar(x, configs["top1_err"], color="tab:purple")
    for xi, err in zip(x, configs["top1_err"]):
        c.text(xi, err + 0.5, f"{err:.1f}", ha="center", fontsize=8)
    c.set(xticks=x, xticklabels=configs["config"], ylabel="top-1 error (%)", ylim=(0, 35))
    c.set_title("Paper, Table 3: ImageNet val. error\n(single scale, S = Q = 256)", fontsize=10)
    fig.suptitle("The paper's six configurations, counted on the meta device", fontsize=11)
    fig.tight_layout()
    return fig


def plot_where(table, title: str | None = None):
    """Per weight layer of a ``layer_table`` (paper names, its ``name`` column): parameters and MACs. The
    parameters sit in the first FC layer, the compute in the convolutions. ``title`` names the network and input
    (what was chosen, in a widget)."""
    rows = table[table["type"].str.startswith(("Conv2d", "Linear"))]
    names = rows["name"].tolist()
    colours = ["tab:blue" if t.startswith("Conv") else "tab:orange" for t in rows["type"]]
    size = (
        "x".join(str(v) for v in table.iloc[0]["output_shape"][1:]) if len(table.iloc[0]["output_shape"]) == 3 else ""
    )
    fig, (a, b) = plt.subplots(2, 1, figsize=(10, 5.5), sharex=True)
    a.bar(names, rows["params"] / 1e6, color=colours)
    a.set(ylabel="parameters (millions)", title=f"Where the parameters are ({len(names)} weight layers)")
    b.bar(names, rows["macs"] / 1e9, color=colours)
    b.set(ylabel="GMACs per image", title=f"Where the compute is (one {size} image)")
    b.tick_params(axis="x", rotation=60, labelsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def plot_forward(results, device_name: str = ""):
    """``analysis.measure_forward`` results: time per image (median, with the min-max range of the repeats as error
    bars) and memory (weights, and the activations' peak on top of them) against the batch size. ``device_name``
    (with ``timing.load_note``'s load average, which can be long) is wrapped to the width of its panel."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.8))
    batch = results["batch_size"].to_numpy()
    per_image = results["ms_per_batch"].to_numpy() / batch
    spread = None
    if {"ms_min", "ms_max"} <= set(results.columns):
        spread = [per_image - results["ms_min"] / batch, results["ms_max"] / batch - per_image]
    positions = np.arange(len(batch))
    a.errorbar(positions, per_image, yerr=spread, fmt="o-", capsize=4)
    a.set(xticks=positions, xticklabels=[str(v) for v in batch], xlabel="batch size", ylabel="ms per image")
    a.set_ylim(0, max(per_image.max(), 1e-9) * 1.3 if spread is None else (per_image + spread[1]).max() * 1.2)
    title = textwrap.fill(f"Forward time per image{', ' + device_name if device_name else ''}", 60)
    a.set_title(f"{title}\n(median; bars: min to max)")  # wrapped: a long load note must not run into b's title
    weights = results["weights_MB"].to_numpy() if "weights_MB" in results else np.zeros(len(batch))
    b.bar(positions, weights, color="tab:gray", label="weights")
    b.bar(positions, results["peak_memory_MB"], bottom=weights, color="tab:red", label="activations, peak")
    b.set(xticks=positions, xticklabels=[str(v) for v in batch], xlabel="batch size", ylabel="MB")
    b.set_title(f"Memory of an inference forward\nactivations: {results['memory_source'].iloc[0]}")
    b.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def plot_score_map(image, scores, categories=None, top: int = 3, input_size=None):
    """Dense evaluation: the image and the score maps (H' x W', one per class, from ``models.fully_convolutional``)
    of the ``top`` classes with the highest spatially averaged score. ``input_size`` (H, W) is the size the network
    saw; ``categories`` names the classes (None: random weights, said in the title)."""
    scores = scores.detach().float().cpu()
    if scores.dim() == 4:
        scores = scores[0]
    mean = scores.mean(dim=(1, 2))
    best = mean.topk(top).indices.tolist()
    fig, axes = plt.subplots(1, top + 1, figsize=(3.6 * (top + 1), 3.8))
    axes[0].imshow(image)
    height, width = input_size if input_size else image.size[::-1]
    seen = f"input{', resized' if input_size else ''}\n{height} x {width} px (height x width)"
    axes[0].set(title=seen, xticks=[], yticks=[])
    h, w = scores.shape[1:]
    for ax, k in zip(axes[1:], best):
        shown = ax.imshow(scores[k].numpy(), cmap="viridis")
        label = categories[k] if categories else f"class {k}"
        ax.set(
            title=f"{label}: mean {mean[k]:.2f}", xlabel=f"score-map column (of {w})", ylabel=f"score-map row (of {h})"
        )
        ax.set_xticks(range(w)), ax.set_yticks(range(h))
        fig.colorbar(shown, ax=ax, fraction=0.046, label="class score (logit)")
    weights = "ImageNet weights" if categories else "random weights: the map's shape only, no meaning"
    fig.suptitle(
        f"Dense evaluation: fc6-fc8 as convolutions give a map of {h} x {w} class scores (rows x columns; {weights})",
        fontsize=11,
    )
    fig.tight_layout()
    return fig
