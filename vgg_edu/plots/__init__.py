"""Every figure of the course, one module per lesson, and ``interactive`` widgets. The only part of ``vgg_edu``
that imports matplotlib. Each function returns its Figure (``figures.save_figure`` keeps it for the README).

A notebook reaches a figure by its home, one way: ``plots.<module>.<function>`` (``plots.blocks.plot_losses``).

- ``start`` (00), ``receptive_fields`` (01), ``blocks`` (02), ``vgg16`` (03), ``training`` (04), ``feature_maps`` (05),
  ``practice`` (06, 07), ``compression`` (08)
- ``widgets``: ``interactive(plot, **controls)``
- ``alt_text``: every figure shown in a notebook carries its titles and axis labels as alt text, once
  ``alt_text.register()`` is called (``notebook.start`` calls it); importing ``plots`` changes nothing
"""

from . import alt_text, blocks, compression, feature_maps, practice, receptive_fields, start, training, vgg16, widgets

__all__ = [
    "alt_text",
    "blocks",
    "compression",
    "feature_maps",
    "practice",
    "receptive_fields",
    "start",
    "training",
    "vgg16",
    "widgets",
]
