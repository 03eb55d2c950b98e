"""Every figure of the course, one module per lesson, and ``interactive`` widgets. The only part of ``vgg_edu``
that imports matplotlib. Each function returns its Figure (``figures.save_figure`` keeps it for the README).

- ``start`` (00), ``receptive_fields`` (01), ``blocks`` (02), ``vgg16`` (03), ``training`` (04), ``feature_maps`` (05)
- ``widgets``: ``interactive(plot, **controls)``
- ``alt_text``: every figure shown in a notebook carries its titles and axis labels as alt text
"""

from . import alt_text
from .blocks import plot_bn_placement, plot_losses, plot_shapes
from .compression import plot_pruning, plot_speed, plot_transfer
from .feature_maps import (
    plot_attributions,
    plot_channel,
    plot_channel_stats,
    plot_embedding,
    plot_feature_maps,
    plot_filters,
    plot_stages,
    plot_top_k,
)
from .receptive_fields import plot_erf, plot_receptive_field, plot_unit_centres, plot_vgg_receptive_fields
from .start import plot_vgg_stack
from .training import (
    LivePlot,
    plot_accuracy_curves,
    plot_confusion,
    plot_history,
    plot_misclassified,
    plot_resized,
    plot_samples,
    plot_schedules,
    plot_time_vs_accuracy,
)
from .vgg16 import plot_configs, plot_forward, plot_score_map, plot_where
from .widgets import interactive

__all__ = [
    "LivePlot",
    "plot_accuracy_curves",
    "interactive",
    "plot_attributions",
    "plot_bn_placement",
    "plot_channel",
    "plot_channel_stats",
    "plot_configs",
    "plot_confusion",
    "plot_embedding",
    "plot_erf",
    "plot_feature_maps",
    "plot_filters",
    "plot_forward",
    "plot_history",
    "plot_losses",
    "plot_misclassified",
    "plot_receptive_field",
    "plot_resized",
    "plot_samples",
    "plot_schedules",
    "plot_score_map",
    "plot_shapes",
    "plot_stages",
    "plot_time_vs_accuracy",
    "plot_top_k",
    "plot_unit_centres",
    "plot_vgg_receptive_fields",
    "plot_vgg_stack",
    "plot_where",
    "plot_pruning",
    "plot_speed",
    "plot_transfer",
]

alt_text.register()
