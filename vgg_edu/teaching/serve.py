"""A function answer called from the grader's process, run in a sandbox of its own:
``python -m vgg_edu.teaching.serve ANSWER.code`` (the server, inside bubblewrap) and ``Remote`` (the grader's side).

For the exercises whose answer is a function of tensors and numbers (``Exercise.called_apart``: 04.3, 05.3, 06.3,
07.3, 08.3), the check runs in the grader's own process with the teacher's package, and the student's function
does not: ``Remote`` stands in for it there, and each call sends its arguments to the server (``torch.save``), which
rebuilds the function (cloudpickle) in its sandbox, calls it and sends back the result and the arguments as the
call left them. The grader loads what comes back with ``torch.load(..., weights_only=True)``: tensors, numbers,
text, lists, tuples and dicts of them, nothing that runs code. So the function cannot see or change the check, its
expected values or its libraries: the check is in another process.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import subprocess
import sys

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

    def __init__(self, command: list[str], preexec_fn=None):
        self._proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=preexec_fn,
        )  # fmt: skip

    def __call__(self, *args):
        _send(self._proc.stdin.fileno(), _dumps(list(args)))
        ok, result, after = _loads(_receive(self._proc.stdout.fileno()))
        if not ok:
            raise RuntimeError(str(result)[:300])
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
        answer = pickle.load(f)  # the student's function, rebuilt here, in the sandbox only
    while True:
        try:
            args = _loads(_receive(0))
        except EOFError:
            return
        try:
            reply = _dumps((True, answer(*args), args))
        except BaseException as err:  # the function raised, or returned what torch.save cannot write
            reply = _dumps((False, f"{type(err).__name__}: {err}", []))
        _send(out, reply)


if __name__ == "__main__":
    main()
