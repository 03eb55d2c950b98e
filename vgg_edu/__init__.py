"""vgg_edu: the code behind the VGG notebook course.

- ``vgg_edu.models``    the VGG configurations, ``vgg_block``, ``VGG``, pretrained weights
- ``vgg_edu.analysis``  receptive fields and per-layer tables (params, MACs, activations)
- ``vgg_edu.runtime``   device choice, fast mode, seeds, where files go
- ``vgg_edu.data``      Fashion-MNIST: find it, load it into memory, make batches on the device
- ``vgg_edu.train``     recipes, ``fit``, ``evaluate``, checkpoints, training figures
- ``vgg_edu.inspect``   inside a trained net: activations, top patches, occlusion, saliency, Grad-CAM, embeddings
- ``vgg_edu.plots``     the notebooks' figures and widgets (each with a static fallback)
- ``vgg_edu.exercises`` self-checking exercises

``data``, ``train``, ``inspect`` and ``plots`` are imported on demand (``from vgg_edu import train``), so that
``import vgg_edu`` stays light.
"""
from .analysis import layer_table, receptive_field, totals
from .models import CONFIGS, VGG, load_pretrained, make_layers, vgg11, vgg13, vgg16, vgg19, vgg_block
from .runtime import fast_mode, get_device, seed_everything

__version__ = "0.1.0"
