"""Figures for the lessons, and ``interactive``: a widget with a static fallback.

Every plotting function returns its matplotlib Figure, so a notebook shows it and ``runtime.save_figure`` can keep it.
"""
from __future__ import annotations

import functools
import inspect


def interactive(plot, **controls):
    """Call ``plot`` once with its default arguments (a static figure that CI and HTML renders show), then, where
    ipywidgets and a live kernel are present, show controls that call it again.

    ``controls`` are ipywidgets abbreviations: ``layers=(1, 6)`` a slider, ``kernel=[1, 3, 5]`` a dropdown,
    ``pool=True`` a checkbox. An exception inside a callback is printed with its traceback in the widget's
    output area (ipywidgets' own ``showtraceback``), never swallowed. Returns the static figure: assign it
    (``fig = interactive(...)``) so Jupyter does not draw it a second time.
    """
    params = inspect.signature(plot).parameters
    unknown = set(controls) - set(params)
    if unknown:
        raise TypeError(f"{plot.__name__} has no argument(s) {sorted(unknown)}; it takes {list(params)}")
    import matplotlib.pyplot as plt

    figure = plot()
    plt.show()
    try:
        import ipywidgets
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return figure
    shell = get_ipython()
    if shell is None or not hasattr(shell, "kernel"):
        return figure

    @functools.wraps(plot)  # keeps plot's signature, so each control starts at plot's default
    def redraw(**kwargs):
        plot(**kwargs)
        plt.show()

    widget = ipywidgets.interactive(redraw, **controls)
    display(widget)
    return figure


def _figure(*args, **kwargs):
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kwargs)


# --- Notebook 01: receptive fields --------------------------------------------------------------------------------

def plot_receptive_field(layers: int = 2, kernel: int = 3, stride: int = 1, pool: bool = False, channels: int = 64):
    """The receptive field of one output unit of a conv stack, drawn on the input's pixel grid: one square per
    layer (what a unit after that layer sees), with the parameter count against a single conv that sees as much."""
    import matplotlib
    from matplotlib.patches import Rectangle

    from .analysis import receptive_field, stack_layers, stack_vs_single

    stack = stack_layers(layers, kernel, stride, pool)
    fields = receptive_field(stack)
    rf = fields[-1][0]
    size = rf + 4
    fig, ax = _figure(figsize=(5.5, 5.8))
    ax.set_xlim(0, size), ax.set_ylim(size, 0), ax.set_aspect("equal")
    step = 1 if size <= 40 else 5
    ax.set_xticks(range(0, size + 1, step)), ax.set_yticks(range(0, size + 1, step))
    ax.grid(True, color="0.85", lw=0.5) if size <= 80 else None
    ax.tick_params(labelbottom=False, labelleft=False, length=0)
    colours = matplotlib.colormaps["viridis"]
    shown = [(i, r) for i, (r, _) in enumerate(fields)]
    for n, (i, r) in enumerate(reversed(shown)):
        k, _ = stack[i]
        name = "pool" if (pool and i % 2 == 1) else f"conv{(i // 2 if pool else i) + 1}"
        colour = colours(1 - (i + 1) / len(stack))
        ax.add_patch(Rectangle(((size - r) / 2, (size - r) / 2), r, r, facecolor=colour, alpha=0.35, edgecolor=colour,
                               lw=1.5, label=f"after {name}: {r} x {r}"))
    ax.add_patch(Rectangle(((size - 1) / 2, (size - 1) / 2), 1, 1, color="crimson", label="the input pixel at the centre"))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    if stride == 1 and not pool:
        c = stack_vs_single(layers, kernel, channels)
        text = (f"{layers} x ({kernel}x{kernel} conv) sees {rf}x{rf}: {c['stack_params']:,} weights, {layers} ReLUs\n"
                f"one {rf}x{rf} conv: {c['single_params']:,} weights, 1 ReLU  "
                f"(the stack saves {c['saving']:.0%}; C = {channels})")
    else:
        text = (f"receptive field {rf} x {rf} px, effective stride {fields[-1][1]}; "
                f"{layers} convs hold {layers * kernel**2 * channels**2:,} weights (C = {channels})")
    ax.set_title(text, fontsize=9)
    return fig


def plot_vgg_receptive_fields(stages, image=None, size: int = 224):
    """VGG's receptive field stage by stage (a ``stage_table``: pool1, pool2, ...) as squares centred on a
    ``size`` x ``size`` image (a PIL image or array; a blank canvas when None)."""
    import matplotlib
    import numpy as np
    from matplotlib.patches import Rectangle

    fig, ax = _figure(figsize=(6.5, 6))
    if image is not None:
        from PIL import Image

        image = Image.fromarray(np.asarray(image)) if not hasattr(image, "resize") else image
        ax.imshow(np.asarray(image.resize((size, size))), extent=(0, size, size, 0))
    colours = matplotlib.colormaps["plasma"]
    for i, row in enumerate(stages.itertuples()):
        r = row.rf
        colour = colours(i / max(len(stages) - 1, 1))
        ax.add_patch(Rectangle(((size - r) / 2, (size - r) / 2), r, r, fill=False, edgecolor=colour, lw=2.5,
                               label=f"{row.stage}: {r:.0f} px (stride {row.jump:.0f})"))
    ax.set_xlim(0, size), ax.set_ylim(size, 0), ax.set_aspect("equal")
    ax.set_title(f"What one unit at the centre sees, stage by stage ({size} x {size} input)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    return fig


def plot_erf(maps: dict, rf: int):
    """Effective receptive fields (``analysis.effective_receptive_field`` maps, by title) as heatmaps, each with
    the theoretical ``rf`` x ``rf`` square around the support's centre (Luo et al. 2016, Fig. 1)."""
    from matplotlib.patches import Rectangle

    from .analysis import erf_centre

    fig, axes = _figure(1, len(maps), figsize=(4.2 * len(maps), 4.2), squeeze=False)
    for ax, (title, erf) in zip(axes[0], maps.items()):
        image = ax.imshow(erf.numpy(), cmap="magma")
        cy, cx = erf_centre(erf)
        ax.add_patch(Rectangle((cx - rf / 2, cy - rf / 2), rf, rf, fill=False, edgecolor="cyan", lw=1.5, ls="--",
                               label=f"theoretical {rf} x {rf}"))
        ax.set_title(title, fontsize=10)
        ax.legend(loc="lower right", fontsize=8)
        fig.colorbar(image, ax=ax, fraction=0.046)
    return fig


# --- Notebook 02: VGG blocks -------------------------------------------------------------------------------------

def plot_shapes(table):
    """H x W and channels after every conv and pool of a ``layer_table``: the spatial size halves at each pool
    while the channels double, up to 512."""
    rows = table[table["type"].str.startswith(("Conv2d", "MaxPool2d"))]
    labels = [t.split()[0].replace("MaxPool2d", "pool").replace("Conv2d", "conv") for t in rows["type"]]
    c = [s[0] for s in rows["output_shape"]]
    hw = [s[1] for s in rows["output_shape"]]
    fig, ax = _figure(figsize=(9, 3.8))
    x = range(len(rows))
    ax.bar(x, hw, color="tab:blue", label="H (= W), pixels")
    ax.set_ylabel("H = W (pixels)", color="tab:blue")
    ax.set_xticks(list(x), [f"{l}\n{a}x{b}x{cc}" for l, a, b, cc in zip(labels, hw, hw, c)], fontsize=7)
    twin = ax.twinx()
    twin.plot(list(x), c, "o-", color="tab:red", label="channels")
    twin.set_ylabel("channels", color="tab:red")
    ax.set_title("Shape after every layer (H x W x C)")
    fig.tight_layout()
    return fig


def plot_bn_placement(stats: dict, losses: dict | None = None):
    """BatchNorm before or after the ReLU: what the next conv receives (mean, fraction of zeros; from
    ``analysis.conv_input_stats``, by name) and, if given, the training loss of each variant."""
    import numpy as np

    panels = 3 if losses else 2
    fig, axes = _figure(1, panels, figsize=(4.3 * panels, 3.6))
    for name, df in stats.items():
        axes[0].plot(df["conv"], df["mean"], "o-", label=name)
        axes[1].plot(df["conv"], df["zeros"], "o-", label=name)
    axes[0].set(title="mean of each conv's input", xlabel="conv")
    axes[1].set(title="fraction of exact zeros in it", xlabel="conv", ylim=(-0.05, 1.05))
    axes[0].legend(fontsize=8)
    if losses:
        for name, curve in losses.items():
            curve = np.asarray(curve)
            k = max(1, len(curve) // 20)
            smooth = np.convolve(curve, np.ones(k) / k, mode="valid")
            axes[2].plot(range(k - 1, len(curve)), smooth, label=name)
        axes[2].set(title="training loss (moving average)", xlabel="step")
        axes[2].legend(fontsize=8)
    fig.tight_layout()
    return fig


# --- Notebook 03: the full VGG-16 --------------------------------------------------------------------------------

def plot_configs(configs):
    """The six configurations (``analysis.config_table``): parameters (ours and the paper's Table 2) and GMACs."""
    import numpy as np

    fig, (a, b) = _figure(1, 2, figsize=(10, 3.6))
    x = np.arange(len(configs))
    a.bar(x - 0.2, configs["params"] / 1e6, 0.4, label="computed")
    a.bar(x + 0.2, configs["paper_M"], 0.4, label="paper, Table 2")
    a.set(xticks=x, xticklabels=configs["config"], ylabel="parameters (millions)", ylim=(120, 150),
          title="Parameters: almost the same for all six")
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
    fig, (a, b) = _figure(2, 1, figsize=(10, 5.5), sharex=True)
    a.bar(names, rows["params"] / 1e6, color=colours)
    a.set(ylabel="parameters (M)", title="Where the parameters are")
    b.bar(names, rows["macs"] / 1e9, color=colours)
    b.set(ylabel="GMACs per image", title="Where the compute is")
    b.tick_params(axis="x", rotation=60, labelsize=8)
    fig.tight_layout()
    return fig


def plot_forward(results):
    """``analysis.measure_forward`` results: time per image and peak memory against the batch size."""
    fig, (a, b) = _figure(1, 2, figsize=(10, 3.6))
    a.plot(results["batch_size"], results["ms_per_batch"] / results["batch_size"], "o-")
    a.set(xscale="log", xlabel="batch size", ylabel="ms per image", title="Forward time per image")
    b.plot(results["batch_size"], results["peak_memory_MB"], "o-", color="tab:red")
    b.set(xscale="log", yscale="log", xlabel="batch size", ylabel="MB",
          title=f"Peak memory: {results['memory_source'].iloc[0]}")
    fig.tight_layout()
    return fig
