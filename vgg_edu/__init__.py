"""vgg_edu: the code behind the VGG notebook course. One concept per module:

- ``models``        the paper's configurations, ``make_layers``, ``vgg_block``, ``VGG`` (torchvision's keys)
- ``receptive``     the receptive-field recurrence and the effective receptive field
- ``analysis``      per-layer tables (shapes, params, MACs, activations), the six configurations, time and memory
- ``pretrained``    everything ImageNet: torchvision's weights, labels, transforms, predictions
- ``d2l_reference`` the book's VGG code, to compare with
- ``data``          Fashion-MNIST in memory, the input contract (``InputSpec``), batches on the device
- ``train``         recipes, ``fit`` built from small steps and callbacks, ``evaluate``, ``predict``
- ``checkpoint``    atomic save, load, ``load_model``
- ``distributed``   torchrun: DistributedDataParallel, the global batch split over processes, rank-0 writes
- ``image_folder``  your own images in class subfolders, loaded like Fashion-MNIST
- ``augment``       translations, scale jitter and test-time flips on on-device batches
- ``initialisation`` the paper's fixed-std init, Xavier, Kaiming; the signal by depth; deeper nets from net A
- ``lr_range``      the learning-rate range test
- ``memory``        training memory counted and measured; gradient checkpointing stage by stage
- ``precision``     mixed precision: bf16 hardware, autocast step times
- ``kernels``       3x3 stacks against one large kernel: time per MAC
- ``multiscale``    multi-scale testing (the paper's Q)
- ``compress``      making it small: pruning, int8 and distillation measured together (from the three below)
- ``prune``         structured L1-norm channel pruning into a real, narrower VGG
- ``quantize``      int8 post-training quantization, static (calibrated) and dynamic
- ``distill``       knowledge distillation: soft targets with a temperature
- ``transfer``      reusing learned features with few labels: probe, fine-tune, from scratch
- ``probe``         inside a trained net: activations, top patches, occlusion, saliency, Grad-CAM, embeddings
- ``plots``         every figure and widget, one module per lesson (the only part that imports matplotlib)
- ``exercises``     the self-checking exercises, one module per notebook
- ``runtime``       the device rule, fast mode, seeds, where files go
- ``colab``         Google Colab: what the notebooks' setup cell says there (device, GPU runtime, no restart needed)

Only the light core is imported here; ``from vgg_edu import train`` (and the others) imports on demand.
"""

from .analysis import layer_table, totals
from .models import CONFIGS, VGG, make_layers, vgg11, vgg13, vgg16, vgg19, vgg_block
from .receptive import receptive_field
from .runtime import best_device, fast_mode, get_device, seed_everything

__version__ = "0.1.0"

__all__ = [
    "CONFIGS",
    "VGG",
    "best_device",
    "fast_mode",
    "get_device",
    "layer_table",
    "make_layers",
    "receptive_field",
    "seed_everything",
    "totals",
    "vgg11",
    "vgg13",
    "vgg16",
    "vgg19",
    "vgg_block",
]
