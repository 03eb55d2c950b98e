"""Helpers shared by the tests: fixtures, tiny data sets written to disk or held in memory, small models."""

import gzip
import struct

import matplotlib

matplotlib.use("Agg")  # figures drawn off-screen, for every test (before anything imports pyplot)

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from vgg_edu.data import fashion_mnist  # noqa: E402
from vgg_edu.data.image_splits import ImageSplits  # noqa: E402
from vgg_edu.models import VGG, init_weights  # noqa: E402
from vgg_edu.training.recipes import build_model  # noqa: E402

requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def on_meta(build, *args, **kwargs):
    """Build a model on PyTorch's meta device: shapes without memory, so big tables are instant."""
    with torch.device("meta"):
        return build(*args, **kwargs)


def write_idx(folder, n_train=12, n_test=5, *, gz=False, seed=0):
    """Write the four Fashion-MNIST files (IDX format, big-endian header) with random content; return the arrays."""
    rng = np.random.default_rng(seed)
    arrays = {}
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        arrays[prefix] = (images, labels)
        for kind, header, payload in (
            ("images-idx3-ubyte", struct.pack(">IIII", 2051, n, 28, 28), images),
            ("labels-idx1-ubyte", struct.pack(">II", 2049, n), labels),
        ):
            raw = header + payload.tobytes()
            name = folder / f"{prefix}-{kind}{'.gz' if gz else ''}"
            name.write_bytes(gzip.compress(raw) if gz else raw)
    return arrays


def tiny_data(n_train=96, n_test=40, n_val=0, seed=0) -> ImageSplits:
    """Random 28x28 images whose class is written into their brightness, so a small net can learn them."""
    g = torch.Generator().manual_seed(seed)

    def split(n):
        labels = torch.randint(0, 10, (n,), generator=g)
        noise = torch.randint(0, 60, (n, 28, 28), generator=g)
        images = (noise + labels.view(-1, 1, 1) * 19).clamp(0, 255).to(torch.uint8)
        return images, labels

    ds = ImageSplits(*split(n_train + n_val), *split(n_test), source="synthetic")
    return ds.hold_out(n_val) if n_val else ds


def small_model(seed=0, **kw):
    """The classroom recipe's VGG-11, narrowed to 4..32 channels, at 32 px."""
    return build_model("classroom", seed=seed, **{"width_divisor": 16, "hidden": 32, "head": "gap"} | kw)


def with_statistics(model, seed=0):
    """Give every BatchNorm non-trivial affine parameters and running statistics, as a trained network has."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            elif isinstance(m, torch.nn.Linear):  # torchvision's normal(0, 0.01) makes outputs too small to compare
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) / m.in_features**0.5)
    return model.eval()


@pytest.fixture
def one_thread():
    """Tiny models run faster on one thread (and much faster when other processes share the CPU)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model():
    """The probe tests' network (``tests/probe/``): a small VGG-11 for 1 x 32 x 32 inputs, He-initialised so that
    activations and gradients are not tiny."""
    torch.manual_seed(0)
    return init_weights(VGG("A", in_channels=1, num_classes=10, width_divisor=16, hidden=64), "kaiming_fan_in").eval()


@pytest.fixture(scope="module")
def x():
    """The probe tests' four random 1 x 32 x 32 inputs."""
    return torch.randn(4, 1, 32, 32, generator=torch.Generator().manual_seed(1))


@pytest.fixture
def close_figures():
    """Close every figure a plotting test opened (``pytestmark = pytest.mark.usefixtures("close_figures")``)."""
    yield
    import matplotlib.pyplot as plt  # only the plotting tests pull in matplotlib

    plt.close("all")


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """No Fashion-MNIST anywhere: an empty cwd, no VGG_EDU_DATA, Debian's folder pointed at an empty one."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VGG_EDU_DATA", raising=False)
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", tmp_path / "debian")
    return tmp_path


@pytest.fixture
def fake_download(monkeypatch):
    """torchvision's download of Fashion-MNIST replaced by one that writes 7 training images in torchvision's layout
    (no network); the list of folders it was asked to download into."""
    calls = []

    def download(target):
        calls.append(target)
        write_idx(target / "FashionMNIST" / "raw", n_train=7)
        return target / "FashionMNIST" / "raw"

    monkeypatch.setattr(fashion_mnist, "_download", download)
    return calls


@pytest.fixture(autouse=True)
def own_artifacts_folder(tmp_path_factory, monkeypatch):
    """Every test gets an empty artifacts folder of its own (``$VGG_EDU_ARTIFACTS``, inherited by the CLI runs it
    starts): a checkpoint that a notebook left in ``artifacts/`` never changes what a test sees, and no test writes
    there."""
    monkeypatch.setenv("VGG_EDU_ARTIFACTS", str(tmp_path_factory.mktemp("artifacts")))
