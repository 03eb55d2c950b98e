"""Figures of notebook 03: the six configurations, where VGG-16's parameters and compute are, forward cost."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def plot_configs(configs):
    """The six configurations (``analysis.config_table``): parameters (ours and the paper's Table 2) and GMACs."""

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    x = np.arange(len(configs))
    a.bar(x - 0.2, configs["params"] / 1e6, 0.4, label="computed")
    a.bar(x + 0.2, configs["paper_M"], 0.4, label="paper, Table 2")
    a.set(
        xticks=x,
        xticklabels=configs["config"],
        ylabel="parameters (millions)",
        title="Parameters: 133 M to 144 M, almost the same",
    )
    a.legend(fontsize=8)
    b.bar(x, configs["GMACs"], color="tab:green")
    b.set(xticks=x, xticklabels=configs["config"], ylabel="GMACs per 224 px image", title="Compute grows with depth")
    fig.tight_layout()
    return fig


def plot_where(table):
    """Per layer of a ``layer_table``: parameters and MACs. The parameters sit in the first FC layer, the compute
    in the convolutions."""
    rows = table[table["type"].str.startswith(("Conv2d", "Linear"))]
    names, conv = [], 0
    for t in rows["type"]:
        conv += t.startswith("Conv")
        names.append(f"conv{conv}" if t.startswith("Conv") else "fc")
    names = [n if n != "fc" else f"fc{i - conv + 1}" for i, n in enumerate(names)]
    colours = ["tab:blue" if n.startswith("conv") else "tab:orange" for n in names]
    fig, (a, b) = plt.subplots(2, 1, figsize=(10, 5.5), sharex=True)
    a.bar(names, rows["params"] / 1e6, color=colours)
    a.set(ylabel="parameters (M)", title="Where the parameters are")
    b.bar(names, rows["macs"] / 1e9, color=colours)
    b.set(ylabel="GMACs per image", title="Where the compute is")
    b.tick_params(axis="x", rotation=60, labelsize=8)
    fig.tight_layout()
    return fig


def plot_forward(results):
    """``analysis.measure_forward`` results: time per image and peak memory against the batch size."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    a.plot(results["batch_size"], results["ms_per_batch"] / results["batch_size"], "o-")
    a.set(xscale="log", xlabel="batch size", ylabel="ms per image", title="Forward time per image")
    b.plot(results["batch_size"], results["peak_memory_MB"], "o-", color="tab:red")
    b.set(
        xscale="log",
        yscale="log",
        xlabel="batch size",
        ylabel="MB",
        title=f"Peak memory: {results['memory_source'].iloc[0]}",
    )
    fig.tight_layout()
    return fig
