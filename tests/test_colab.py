"""vgg_edu.colab: what the setup cell says on Colab; and Fashion-MNIST through torchvision's download, the way a Colab
runtime (which has no Debian package) gets it, served here from the loopback."""

import functools
import hashlib
import http.server
import sys
import threading
import types

import pytest
import torch

from vgg_edu import colab, runtime
from vgg_edu.data import fashion_mnist

DEBIAN = fashion_mnist.DEBIAN_DIR  # captured before the `nowhere` fixture points it elsewhere


def test_on_a_cpu_runtime_it_says_how_to_get_a_gpu(monkeypatch, capsys):
    monkeypatch.setattr(runtime, "best_device", lambda: torch.device("cpu"))
    text = colab.report()
    assert "computing on CPU" in text and "Runtime > Change runtime type" in text
    assert "No restart needed" in text
    assert capsys.readouterr().out.strip() == text  # printed, for the setup cell's output


def test_on_a_gpu_runtime_it_names_the_gpu_and_says_nothing_of_switching(monkeypatch):
    monkeypatch.setattr(runtime, "best_device", lambda: torch.device("cuda"))
    monkeypatch.setattr(runtime, "device_name", lambda device=None: "Tesla T4")
    text = colab.report()
    assert "computing on Tesla T4" in text and "Change runtime type" not in text


def test_nothing_loaded_here_is_stale():
    """The loaded modules of this process match their files (torch's ``+cu130``-style local tag included)."""
    assert "torch" in sys.modules
    assert colab.stale_modules() == []


def test_a_package_replaced_under_a_loaded_module_asks_for_a_restart(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tornado", types.SimpleNamespace(version="6.4.2"))  # tornado names it `version`
    real = colab.importlib.metadata.version
    monkeypatch.setattr(colab.importlib.metadata, "version", lambda d: "6.5.1" if d == "tornado" else real(d))
    assert colab.stale_modules() == ["tornado 6.4.2 (now 6.5.1 on disk)"]
    monkeypatch.setattr(runtime, "best_device", lambda: torch.device("cpu"))
    text = colab.report()
    assert "Restart the session" in text and "No restart needed" not in text


@pytest.fixture
def mirror():
    """An HTTP server on the loopback serving Debian's copy of the four original files, as torchvision's mirror."""
    if not all((DEBIAN / name).is_file() for name, _ in _resources()):
        pytest.fail(f"Debian's Fashion-MNIST files are not in {DEBIAN}: `make data` installs them", pytrace=False)
    handler = functools.partial(_Quiet, directory=str(DEBIAN))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _resources():
    from torchvision import datasets

    return datasets.FashionMNIST.resources


def test_without_a_local_copy_torchvision_downloads_fashion_mnist_into_data(nowhere, mirror, monkeypatch):
    """A Colab runtime has no Debian package: ``load_fashion_mnist()`` falls through to torchvision's download into
    ``./data`` (torchvision checks each file's MD5 and unpacks it), then reads the files it wrote."""
    from torchvision import datasets

    # Debian recompressed the .gz files (same contents, other bytes): torchvision checks them against their own MD5s.
    debian_md5 = [(name, hashlib.md5((DEBIAN / name).read_bytes()).hexdigest()) for name, _ in _resources()]
    monkeypatch.setattr(datasets.FashionMNIST, "mirrors", [mirror])
    monkeypatch.setattr(datasets.FashionMNIST, "resources", debian_md5)
    ds = fashion_mnist.load_fashion_mnist()
    assert (nowhere / "data" / "FashionMNIST" / "raw" / "train-images-idx3-ubyte").is_file()
    assert (len(ds.train_labels), len(ds.test_labels)) == (60_000, 10_000)
    assert round(ds.train_images.float().mean().item() / 255, 4) == 0.2860  # REFERENCE.md's pixel mean
