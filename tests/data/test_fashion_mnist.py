"""Fashion-MNIST: the IDX reader against the bytes written, where the files are looked for, every way a file can be
wrong."""

import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from vgg_edu.data import fashion_mnist
from vgg_edu.data.fashion_mnist import find_fashion_mnist, load_fashion_mnist
from vgg_edu.data.image_splits import DataError
from vgg_edu.data.inputs import MEAN, STD

from conftest import write_idx


@pytest.mark.parametrize("gz", [False, True])
def test_loader_reads_idx_files_exactly(tmp_path, gz):
    arrays = write_idx(tmp_path / "fm", gz=gz)
    ds = load_fashion_mnist(tmp_path / "fm", download=False)
    assert ds.train_images.dtype == torch.uint8 and ds.train_images.shape == (12, 28, 28)
    assert ds.test_images.shape == (5, 28, 28)
    assert ds.train_labels.dtype == torch.int64 and ds.test_labels.shape == (5,)
    assert np.array_equal(ds.train_images.numpy(), arrays["train"][0])
    assert np.array_equal(ds.test_labels.numpy(), arrays["t10k"][1])
    assert ds.classes[0] == "T-shirt/top" and ds.classes[9] == "Ankle boot" and len(ds.classes) == 10


def test_search_order_root_then_env_then_cwd(nowhere, monkeypatch):
    write_idx(nowhere / "data", n_train=3)
    write_idx(nowhere / "env" / "FashionMNIST" / "raw", n_train=4)  # torchvision's layout
    write_idx(nowhere / "explicit", n_train=5)
    assert len(load_fashion_mnist(download=False).train_labels) == 3
    monkeypatch.setenv("VGG_EDU_DATA", str(nowhere / "env"))
    assert len(load_fashion_mnist(download=False).train_labels) == 4
    assert len(load_fashion_mnist(nowhere / "explicit", download=False).train_labels) == 5


def test_missing_data_says_where_it_looked_and_how_to_get_it(nowhere):
    with pytest.raises(FileNotFoundError) as err:
        load_fashion_mnist(download=False)
    msg = str(err.value)
    assert str(nowhere / "debian") in msg and "data" in msg
    assert "apt-get install dataset-fashion-mnist" in msg and "VGG_EDU_DATA" in msg


def test_download_is_the_last_resort_and_its_failure_is_explained(nowhere, monkeypatch, fake_download):
    calls = fake_download
    assert len(load_fashion_mnist().train_labels) == 7
    assert calls == [Path("data")]
    assert len(load_fashion_mnist().train_labels) == 7 and len(calls) == 1  # found locally the second time

    def offline(target):
        raise OSError("no network")

    monkeypatch.setattr(fashion_mnist, "_download", offline)
    (nowhere / "empty").mkdir()
    monkeypatch.chdir(nowhere / "empty")
    with pytest.raises(FileNotFoundError, match="no network"):
        load_fashion_mnist(nowhere / "elsewhere" / "deeper")
    assert not (nowhere / "elsewhere").exists()  # a failed download leaves no empty folders behind


def test_an_explicit_folder_never_falls_back_to_another_copy(nowhere):
    write_idx(nowhere / "data", n_train=3)  # a copy in ./data, where the default search looks
    (nowhere / "mine").mkdir()
    with pytest.raises(FileNotFoundError, match="mine"):
        load_fashion_mnist(nowhere / "mine", download=False)


def test_an_unreadable_file_says_permission_not_delete(tmp_path, monkeypatch):
    write_idx(tmp_path)

    def refuse(path, mode="r"):  # what open() does on a file without read permission (root is never refused)
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(fashion_mnist, "open", refuse, raising=False)
    with pytest.raises(DataError, match="no permission") as err:
        load_fashion_mnist(tmp_path, download=False)
    assert "Delete" not in str(err.value)


def test_truncated_file_is_a_clear_error(tmp_path):
    write_idx(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="truncated"):
        load_fashion_mnist(tmp_path, download=False)


def test_truncated_gzip_is_a_clear_error(tmp_path):
    write_idx(tmp_path, gz=True)
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(DataError, match="t10k-labels"):
        load_fashion_mnist(tmp_path, download=False)


def test_wrong_magic_is_a_clear_error(tmp_path):
    write_idx(tmp_path)
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(struct.pack(">I", 1234) + path.read_bytes()[4:])
    with pytest.raises(DataError, match="magic number 1234"):
        load_fashion_mnist(tmp_path, download=False)


def test_swapped_files_are_caught(tmp_path):
    write_idx(tmp_path)
    img, lab = tmp_path / "train-images-idx3-ubyte", tmp_path / "train-labels-idx1-ubyte"
    a, b = img.read_bytes(), lab.read_bytes()
    img.write_bytes(b), lab.write_bytes(a)
    with pytest.raises(DataError, match="swapped"):
        load_fashion_mnist(tmp_path, download=False)


@pytest.mark.skipif(find_fashion_mnist() is None, reason="the real Fashion-MNIST is not on this machine")
def test_the_real_fashion_mnist():
    ds = load_fashion_mnist(download=False)
    assert ds.train_images.shape == (60_000, 28, 28) and ds.test_images.shape == (10_000, 28, 28)
    assert torch.bincount(ds.train_labels).tolist() == [6000] * 10  # balanced classes
    pixels = ds.train_images.float() / 255
    assert abs(float(pixels.mean()) - MEAN) < 5e-4 and abs(float(pixels.std()) - STD) < 5e-4
