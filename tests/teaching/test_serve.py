"""``vgg_edu.teaching.serve``: a code answer rebuilt and called in a process of its own, the grader's side
(``Remote``) getting back data only: results, arguments changed in place, the name of what the answer raised."""

import io
import os
import pickle
import signal
import struct
import sys

import cloudpickle
import pytest
import torch

from vgg_edu.teaching import serve

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the server cannot import this file: sent by value


def _answer(t, k):
    """Scales ``t`` in place; says which process it ran in; raises on k = 0; gives back code on k = -1."""
    if k == 0:
        raise ValueError("k must not be 0")
    if k == -1:
        return lambda: None
    t.mul_(k)
    return {"sum": t.sum(), "pid": os.getpid()}


def _too_long(signum, frame):
    raise TimeoutError("the server did not answer within 120 s")


@pytest.fixture
def remote(tmp_path):
    """A server for ``_answer``, and 120 s for the test that asks it (an alarm: a read from it would wait forever)."""
    (tmp_path / "answer.code").write_bytes(cloudpickle.dumps(_answer))
    server = serve.Remote([sys.executable, "-m", "vgg_edu.teaching.serve", str(tmp_path / "answer.code")])
    previous = signal.signal(signal.SIGALRM, _too_long)
    signal.alarm(120)
    yield server
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)
    server.close()


def test_a_call_runs_in_the_server_and_its_changes_come_back(remote):
    t = torch.arange(4.0)
    got = remote(t, 3)
    assert torch.equal(t, torch.arange(4.0) * 3) and got["sum"] == 18.0  # changed in place there, then here
    assert got["pid"] != os.getpid()
    assert remote(t, 2)["pid"] == got["pid"]  # one server for every call of the check


def test_what_the_answer_raises_or_cannot_send_is_an_error_here(remote):
    with pytest.raises(RuntimeError, match="ValueError: k must not be 0"):
        remote(torch.ones(1), 0)
    with pytest.raises(RuntimeError, match="Pickl|pickl"):  # a function is not data: torch.save cannot send it
        remote(torch.ones(1), -1)
    assert remote(torch.ones(2), 5)["sum"] == 10.0  # the server goes on


class _Payload:
    def __reduce__(self):
        return (print, ("this ran",))


def test_the_grader_loads_data_only(capsys):
    buffer = io.BytesIO()
    torch.save({"x": _Payload()}, buffer)
    with pytest.raises(pickle.UnpicklingError):
        serve._loads(buffer.getvalue())
    assert "this ran" not in capsys.readouterr().out
    assert serve._loads(serve._dumps({"t": torch.ones(2), "n": [1, "a", (2.5,)]}))["n"] == [1, "a", (2.5,)]


def test_messages_are_framed_and_a_huge_one_refused():
    read, write = os.pipe()
    try:
        serve._send(write, b"hello")
        assert serve._receive(read) == b"hello"
        os.write(write, struct.pack("<Q", serve.MAX_MESSAGE + 1))
        with pytest.raises(ValueError, match="a message of"):
            serve._receive(read)
    finally:
        os.close(read)
        os.close(write)
