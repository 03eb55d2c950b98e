"""A student's code answer kept in a sandbox of its own and asked for data by the grader's process:
``python -m vgg_edu.teaching.serve ANSWER.code`` (the server, inside the sandbox) and ``Remote`` (the grader's side).

Every code answer is judged this way: the check runs in the grader's own process with the teacher's package, and
the student's code does not. For a function of tensors and numbers (``Exercise.called_apart``: 04.3, 05.3, 06.3,
07.3, 08.3) ``Remote`` stands in for the function, and each call sends its arguments to the server, which rebuilt
the function (cloudpickle) in its sandbox, calls it and sends back the result and the arguments as the call left
them. For the other code answers (modules, classes, functions that build modules, a hook factory, a function of a
model) the check is given a stand-in made by ``observe``, which asks the server (``Remote.ask``) for what the
answer is and does: its layers, weights and outputs, what its hook kept, the groups it made. The grader loads what
comes back with ``torch.load(..., weights_only=True)``: tensors, numbers, text, lists, tuples and dicts of them,
nothing that runs code. So the answer cannot see or change the check, its expected values or its libraries: the
check is in another process.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import subprocess
import sys

from . import observe

MAX_MESSAGE = 256 * 2**20


def _send(fd: int, data: bytes) -> None:
    view = memoryview(struct.pack("<Q", len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


def _receive(fd: int) -> bytes:
    def exactly(n: int) -> bytes:
        chunks, left = [], n
        while left:
            chunk = os.read(fd, min(left, 2**20))
            if not chunk:
                raise EOFError("the answer's process ended")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    (size,) = struct.unpack("<Q", exactly(8))
    if size > MAX_MESSAGE:
        raise ValueError(f"a message of {size} bytes")
    return exactly(size)


def _dumps(value) -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


def _loads(data: bytes):
    import torch

    return torch.load(io.BytesIO(data), weights_only=True)  # data only: no code of the answer's runs here


class Remote:
    """The student's function as the check sees it: each call runs in the server (``command``, a sandbox)."""

    def __init__(self, command: list[str], preexec_fn=None, env: dict | None = None):
        self._proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=preexec_fn, env=env,
        )  # fmt: skip

    def _request(self, op: str, payload: list):
        _send(self._proc.stdin.fileno(), _dumps((op, payload)))
        return _loads(_receive(self._proc.stdout.fileno()))

    def ask(self, op: str, *payload):
        """What the server answers to request ``op`` about the answer (``observe.serve_request``), as data; an
        exception the request raised there is raised here (``observe.raised``)."""
        ok, value, _ = self._request(op, list(payload))
        if not ok:
            raise observe.raised(value)
        return value

    def __call__(self, *args):
        ok, result, after = self._request("call", list(args))
        if not ok:
            raise RuntimeError(": ".join(map(str, result))[:300])
        for given, changed in zip(args, after):  # an argument the function changed in place is changed here too
            if hasattr(given, "copy_") and getattr(given, "shape", None) == getattr(changed, "shape", 0):
                given.copy_(changed)
        return result

    def close(self) -> None:
        self._proc.kill()
        self._proc.wait()


def main(argv=None) -> None:
    from . import handback

    out = handback.claim_stdout()
    path = (argv if argv is not None else sys.argv[1:])[0]
    with open(path, "rb") as f:
        answer = pickle.load(f)  # the student's code, rebuilt here, in the sandbox only
    state: dict = {}
    while True:
        try:
            op, payload = _loads(_receive(0))
        except EOFError:
            return
        try:
            if op == "call":
                reply = _dumps((True, answer(*payload), payload))
            else:
                reply = _dumps((True, observe.serve_request(answer, op, payload, state), []))
        except BaseException as err:  # the answer raised, or gave what torch.save cannot write
            reply = _dumps((False, (type(err).__name__, str(err)[:2000]), []))
        _send(out, reply)


if __name__ == "__main__":
    main()
