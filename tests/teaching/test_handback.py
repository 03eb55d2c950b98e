"""``vgg_edu.teaching.handback``: a run's standard output kept for its result alone; whatever the run, its kernel or
a child process prints goes to the log, and no child can write to the result."""

import subprocess
import sys

RUN = """
import os, subprocess, sys
from vgg_edu.teaching import handback
fd = handback.claim_stdout()
print("the run prints")
sys.stdout.flush()
subprocess.run(["echo", "a child prints"])
child = subprocess.run([sys.executable, "-c", f"import os; os.write({fd}, b'forged')"], stderr=subprocess.DEVNULL)
print("the child could not write there:", child.returncode != 0, flush=True)
handback.send(fd, b"result " * 200_000)
"""


def test_only_the_result_reaches_the_standard_output():
    done = subprocess.run([sys.executable, "-c", RUN], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"result " * 200_000  # 1.4 MB, more than a pipe holds at once: written in pieces
    assert done.stderr.decode().splitlines() == [
        "the run prints", "a child prints", "the child could not write there: True"
    ]  # fmt: skip
