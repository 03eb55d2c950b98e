"""How a sandboxed run hands its result back to the grader: on the standard output it had when it started.

``claim_stdout()`` keeps that output for the result alone and sends everything else printed to it (by the run, by a
notebook's kernel, by a check) to the standard error, the run's log; ``send`` writes the result there at the end.
The grader reads the result as data (a zip of JSON and notebook files, or JSON), never as code.
"""

from __future__ import annotations

import os


def claim_stdout() -> int:
    """A private copy of the standard output (not inherited by child processes); the standard output itself then
    goes to the log."""
    result = os.dup(1)
    os.dup2(2, 1)
    return result


def send(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.close(fd)
