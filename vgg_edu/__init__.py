"""vgg_edu: the code behind the VGG notebook course. One concept per module:

- ``models``        the paper's configurations, ``make_layers``, ``vgg_block``, ``VGG`` (torchvision's keys)
- ``receptive``     the receptive-field recurrence and the effective receptive field
- ``analysis``      per-layer tables (shapes, params, MACs, activations), the six configurations, time and memory
- ``pretrained``    everything ImageNet: torchvision's weights, labels, transforms, predictions
- ``d2l_reference`` the book's VGG code, to compare with
- ``data``          Fashion-MNIST (``fashion_mnist``), the input contract (``inputs``: ``InputSpec``, ``spec_of``,
                    batches on the device), ``augment``, your own images (``image_folder``)
- ``training``      ``config`` (``FitConfig``), ``recipes``, ``loop`` (``fit``), ``throughput`` (a busy GPU),
                    ``optim``, ``callbacks``, ``history``, ``evaluation``, ``checkpoint`` (the format),
                    ``distributed`` (torchrun), ``lr_range`` (the range test), ``short_runs``,
                    ``step_time``, ``shared_model`` (what the lessons share)
- ``initialization`` the paper's fixed-std init, Xavier, Kaiming; the signal by depth; deeper nets from net A
- ``memory``        training memory counted and measured; gradient checkpointing stage by stage
- ``precision``     mixed precision: bf16 hardware, autocast step times
- ``kernels``       3x3 stacks against one large kernel: time per MAC
- ``multiscale``    multi-scale testing (the paper's Q)
- ``compression``   making it small: ``prune`` (L1-norm channels), ``quantize`` (int8), ``distill``, ``measure``
- ``transfer``      reusing learned features with few labels: probe, fine-tune, from scratch
- ``probe``         inside a trained net: activations, top patches, occlusion, saliency, Grad-CAM, embeddings
- ``plots``         every figure and widget, one module per lesson (the only part that imports matplotlib)
- ``exercises``     the self-checking exercises, one module per notebook
- ``teaching``      for teachers: student versions without solutions (``assign``), grading submissions (``grade``)
- ``runtime``       where and how the course runs: the device rule, fast mode, seeds, Colab
- ``notebook``      a notebook's first step (``notebook.start()``): device, threads, seeds, figures' alt text
- ``cpu``           the CPU's threads and allocator
- ``timing``        timing in turns on a shared machine: warm-up, medians, what a timing ran on
- ``paths``         where files go (``artifacts_dir``) and the one writability check
- ``figures``       the README's committed figures, saved only when ``make figures`` asks
- ``claims``        prose checked by its run: a claim fails a full run when the result no longer says it
- ``colab``         Google Colab: what the notebooks' setup cell says there (device, GPU runtime, no restart needed)

Each name has one home, its module (``from vgg_edu.models import VGG``); this package re-exports none of them, so
that ``python -m vgg_edu --help`` starts without PyTorch.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vgg-edu")  # one place: pyproject.toml
except PackageNotFoundError:  # run from a checkout that was never installed
    __version__ = "0+unknown"
