"""vgg_edu: the code behind the VGG notebook course.

- ``vgg_edu.models``    the VGG configurations, ``vgg_block``, ``VGG``, pretrained weights
- ``vgg_edu.analysis``  receptive fields and per-layer tables (params, MACs, activations)
- ``vgg_edu.runtime``   device choice, fast mode, seeds, where files go
- ``vgg_edu.exercises`` self-checking exercises
"""
from .analysis import layer_table, receptive_field, totals
from .models import CONFIGS, VGG, load_pretrained, make_layers, vgg11, vgg13, vgg16, vgg19, vgg_block
from .runtime import fast_mode, get_device, seed_everything

__version__ = "0.1.0"
