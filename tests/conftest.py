import pytest
import torch

from vgg_edu import data

requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """No Fashion-MNIST anywhere: an empty cwd, no VGG_EDU_DATA, Debian's folder pointed at an empty one."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VGG_EDU_DATA", raising=False)
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "debian")
    return tmp_path
