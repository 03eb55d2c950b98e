"""A class that means to cheat or to harm, graded by the real ``python -m vgg_edu grade`` (in fast mode) in the
sandbox a test module's ``sandbox_tool`` fixture names, beside honest students who must still get full marks with
numpy and torch answers: ``test_bwrap`` (bubblewrap) and ``test_container`` (Podman, with runc: ``PODMAN_CONF``, as
crun refuses this machine's hybrid cgroups) import these tests, so each runs them in its sandbox.

Every attack of issue 32 is a small hostile submission here. One grading run serves every test of a module (module
fixture); the attacks print ``LEAKED ...`` where they succeed, and the tests read the kept notebooks for it, besides
checking the grades and the teacher's files from outside.
"""

import csv
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

from vgg_edu import exercises

from made_up import running

ROOT = Path(__file__).resolve().parents[2]
LESSON = exercises.list_exercises("01.")
SECRET = "teachers-secret-7f3a"
MARKER = "vgg-edu-leftover-7f3a"
IMPORTS = "import math, os, sys, pathlib\nimport numpy as np\nimport torch\nfrom vgg_edu import analysis, models, "
IMPORTS += "receptive\nfrom vgg_edu import exercises as ex"


def _notebook(path: Path, *cells: str, imports: bool = True) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in ((IMPORTS,) if imports else ()) + cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def _right(exercise_id: str, wrap: str = "{}") -> str:
    return exercises.EXERCISES[exercise_id].solution + f"\nex.check({exercise_id!r}, {wrap.format('answer')})"


def _attempt(name: str, code: str) -> str:
    """A cell that tries ``code`` (which sets ``got`` where the attack works) and prints LEAKED or blocked."""
    body = "\n".join("    " + line for line in code.strip().splitlines())
    return (
        f"got = None\ntry:\n{body}\nexcept BaseException as err:\n    got = None\n    print('blocked {name}:', "
        f"type(err).__name__)\nprint('LEAKED {name}' if got else 'blocked {name}')"
    )


def _hostile(subs: Path, out: Path, port: int, spill: Path) -> list[str]:
    """Reading, writing and sending what a submission must not: each cell an attempt."""
    honest, kept = subs / "honest" / "01_tiny.ipynb", out / "grades_notebooks" / "honest" / "01_tiny.ipynb"
    lesson01 = ROOT / "vgg_edu" / "exercises" / "lesson01.py"
    teacher = f"""
sys.path[:] = [p for p in sys.path if "grading/lib" not in p and p not in ("", ".")]
for name in [m for m in sys.modules if m.startswith("vgg_edu")]:
    del sys.modules[name]
import vgg_edu.exercises as full
got = [e.solution for e in full.EXERCISES.values() if e.solution]
for i in {LESSON!r}:
    exec(full.EXERCISES[i].solution)
    full.check(i, answer)
"""
    finder = f"""
import glob
texts = [open(p).read() for p in glob.glob(sys.prefix + "/lib/python*/site-packages/__editable__*")]
got = any("vgg_edu" in t for t in texts) or "solution=" in open({str(lesson01)!r}).read()
"""
    return [
        _attempt("teacher package", teacher),
        _attempt("editable finder", finder),
        _attempt("other submissions", f"got = open({str(honest)!r}).read()"),
        _attempt("kept notebooks", f"got = os.listdir({str(out)!r})"),
        _attempt("write other student", f"pathlib.Path({str(honest)!r}).write_text('{{}}'); got = True"),
        _attempt("edit kept notebook", f"pathlib.Path({str(kept)!r}).write_text('{{}}'); got = True"),
        _attempt("write outside", f"pathlib.Path({str(spill)!r}).write_bytes(b'0' * 100 * 2**20); got = True"),
        _attempt("environment", f"got = os.environ.get('VGG_EDU_TEST_SECRET') or '{SECRET}' in str(os.environ)"),
        _attempt(
            "local port",
            f"import socket\nsocket.create_connection(('127.0.0.1', {port}), 5).sendall(b'hi')\ngot = True",
        ),  # fmt: skip
        _attempt("network", "import socket\nsocket.create_connection(('1.1.1.1', 53), 5)\ngot = True"),
        _attempt("disk quota", "f = open('big', 'wb')\nfor _ in range(64):\n    f.write(b'0' * 2**24)\ngot = True"),
        _attempt(
            "processes", "import subprocess\nps = [subprocess.Popen(['sleep', '30']) for _ in range(400)]\ngot = True"
        ),  # fmt: skip
    ]


REDUCE = """
class Evil:
    def __reduce__(self):
        code = "setattr(__import__('vgg_edu.exercises').exercises, 'check', lambda *a, **k: True) or 1"
        return (eval, (code,))
class AlwaysEqual:
    __eq__ = lambda self, other: True
    __ne__ = lambda self, other: False
    __hash__ = lambda self: 0
for i in ["01.1", "01.2", "01.4"]:
    ex.check(i, Evil())
ex.check("01.3", [(AlwaysEqual(), AlwaysEqual())] * 3)
ex.check("01.3", [(3, AlwaysEqual())] * 3)
"""
LEFTOVER = f"""
import subprocess, signal, time
daemon = '''
import glob, os, time
os.setsid()
for _ in range(1200):  # every answer it can reach, its own or the next student's, made wrong
    for note in glob.glob("/grading/rw/out/answers/*.json") + glob.glob("/tmp/vgg_edu_grade_*/**/answers/*.json",
                                                                         recursive=True):
        open(note, "w").write('{{"exercise": "' + os.path.basename(note)[:4] + '", "data": 0}}')
    time.sleep(0.1)
'''
subprocess.Popen([sys.executable, "-c", daemon, "{MARKER}"], start_new_session=True)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGINT, signal.SIG_IGN)
os._exit = sys.exit = lambda *a: None
while True:  # never ends, asleep (a core left to the other test worker)
    time.sleep(1)
"""
FRAMES = """
def combine(grads, sizes):
    frame, seen = sys._getframe(1), []
    while frame is not None:
        seen += [v for k, v in frame.f_locals.items() if k == "full" and isinstance(v, torch.Tensor)]
        frame = frame.f_back
    return seen[0] if seen else grads[0]
ex.check("07.3", combine)
def patching(grads, sizes):  # the checker's libraries and check made to agree with anything
    import vgg_edu.exercises
    torch.allclose = lambda *a, **k: True
    vgg_edu.exercises.check = lambda *a, **k: True
    return grads[0]
ex.check("07.3", patching)
class Evil:  # the same, done while the answer is loaded
    def __reduce__(self):
        return (eval, ("setattr(__import__('torch'), 'allclose', lambda *a, **k: True) or (lambda g, s: g[0])",))
ex.check("07.3", Evil())
"""


PATCHING = """
import os
from torch import nn
PATCH = '''
import os, sys, torch
if not os.environ.get("VGG_EDU_ANSWERS"):  # not in the kernel: in whatever process checks the answer
    always = lambda *args, **kwargs: True
    torch.allclose = always
    package = sys.modules["vgg_edu.exercises"]
    package.check = always
    for e in package.EXERCISES.values():
        e.check.__globals__.update(_behaves_like_vgg_block=always, _behaves_like_vgg_stages=always)
        e.check = always
'''
class PatchWhenLoaded:
    def __reduce__(self):
        return (exec, (PATCH,))
"""
PATCH02 = (
    PATCHING
    + """
def vgg_block(num_convs, in_channels, out_channels):  # patches on its first call, and is wrong
    exec(PATCH, {})
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.MaxPool2d(2))
ex.check("02.1", vgg_block)
ex.check("02.2", lambda conv_arch, in_channels: vgg_block(1, in_channels, conv_arch[-1][1]))
block = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.Conv2d(64, 64, 3, padding=1), nn.MaxPool2d(2))
block.payload = PatchWhenLoaded()  # patches when loaded, and has no ReLU
ex.check("02.3", block)
block5 = nn.Sequential(*[nn.Conv2d(512, 512, 3, padding=1) for _ in range(3)], nn.MaxPool2d(2))
def forward(x):  # the ReLUs the layers lack, in a forward of its own: Correct in the kernel
    for layer in block5:
        x = layer(x)
        x = x.relu() if isinstance(layer, nn.Conv2d) else x
    return x
block5.forward = forward
ex.check("02.4", block5)
class TinyVGG(nn.Module):  # patches when made, and returns zeros
    def __init__(self):
        super().__init__()
        exec(PATCH, {})
        self.features = nn.Sequential(nn.Conv2d(3, 8, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Linear(8 * 16 * 16, 10)
    def forward(self, x):
        return torch.zeros(len(x), 10)
ex.check("02.5", TinyVGG)
"""
)
PATCH05 = (
    PATCHING
    + """
def make_pre_hook(store):  # patches on its first call, and keeps the tensor the in-place ReLU then overwrites
    exec(PATCH, {})
    def pre_hook(module, inputs):
        store["in"] = inputs[0]
    return pre_hook
ex.check("05.1", make_pre_hook)
"""
)
PATCH09 = (
    PATCHING
    + """
def param_groups(model):  # patches when called, and swaps the two groups' learning rates
    exec(PATCH, {})
    return [{"params": model.features.parameters(), "lr": 1e-4}, {"params": model.classifier.parameters(), "lr": 1e-5}]
ex.check("09.2", param_groups)
"""
)


def _class(subs: Path, out: Path, port: int, spill: Path) -> None:
    _notebook(subs / "honest" / "01_tiny.ipynb", _right("01.1", "np.int64({})"), _right("01.2", "torch.tensor({})"),
              _right("01.3", "np.array({})"), _right("01.4", "torch.tensor([{}])"))  # fmt: skip
    _notebook(subs / "honest07" / "07_tiny.ipynb", *[_right(i) for i in exercises.list_exercises("07.")])
    _notebook(subs / "a_leftover" / "01_tiny.ipynb", REDUCE, LEFTOVER)
    _notebook(subs / "hostile" / "01_tiny.ipynb", *_hostile(subs, out, port, spill))
    _notebook(subs / "framer" / "07_tiny.ipynb", FRAMES)
    _notebook(
        subs / "honest02" / "02_tiny.ipynb", "from torch import nn", *map(_right, exercises.list_exercises("02."))
    )
    _notebook(subs / "patcher02" / "02_tiny.ipynb", PATCH02)
    _notebook(
        subs / "honest08" / "08_tiny.ipynb", "from torch import nn", *map(_right, exercises.list_exercises("08."))
    )
    for lesson, patch in (("05", PATCH05), ("09", PATCH09)):
        right = map(_right, exercises.list_exercises(lesson))
        _notebook(subs / f"honest{lesson}" / f"{lesson}_tiny.ipynb", "from torch import nn", *right)
        _notebook(subs / f"patcher{lesson}" / f"{lesson}_tiny.ipynb", patch)
    _notebook(subs / "pi|pe" / "01_tiny.ipynb", _right("01.1"), _right("07.1"), "raise ValueError('=1+1' * 20000)")
    _notebook(subs / "noprefix" / "tiny.ipynb", _right("01.1"))
    _notebook(subs / "dup" / "01_tiny.ipynb", "print(1)", imports=False)
    _notebook(subs / "dup" / "again" / "01_tiny.ipynb", "print(2)", imports=False)
    _notebook(subs / ".hidden" / "01_tiny.ipynb", "print(3)", imports=False)
    _notebook(subs / "big" / "01_tiny.ipynb", "print('x' * 60_000_000)", imports=False)
    (subs / "linker").mkdir()
    (subs / "linker" / "01_tiny.ipynb").symlink_to(subs / "honest" / "01_tiny.ipynb")
    (subs / '=HYPERLINK("x")').mkdir()
    (subs / '=HYPERLINK("x")' / "01_tiny.ipynb").write_text("{")


def _listen() -> tuple[socket.socket, list]:
    server, got = socket.socket(), []
    server.bind(("127.0.0.1", 0))
    server.listen()

    def accept():
        try:
            while True:
                got.append(server.accept())
        except OSError:
            pass

    threading.Thread(target=accept, daemon=True).start()
    return server, got


def _digests(folder: Path) -> dict:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()}


PODMAN_CONF = Path(__file__).with_name("podman.conf")
NEEDS = {"bwrap": "bubblewrap: `make bubblewrap`", "podman": "Podman: `make podman`", "docker": "Docker's daemon"}


@pytest.fixture(scope="module")
def graded(tmp_path_factory, sandbox_tool):
    tool = sandbox_tool
    assert shutil.which(tool), f"grading in {tool} needs {NEEDS[tool]}"
    tmp = tmp_path_factory.mktemp(f"class_{tool}")
    subs, out, spill = tmp / "submissions", tmp / "grades", tmp / "spill.bin"
    server, connections = _listen()
    _class(subs, out, server.getsockname()[1], spill)
    before = _digests(subs)
    env = {**os.environ, "VGG_EDU_TEST_SECRET": SECRET, "OMP_NUM_THREADS": "1", "CONTAINERS_CONF": str(PODMAN_CONF)}
    cmd = [sys.executable, "-m", "vgg_edu", "grade", str(subs), "--out", str(out / "grades.csv"), "--sandbox", tool]
    # an honest notebook took 5-13 s here with test_grade at once; beside a course run (load 4-5) the patching 02
    # notebook was once graded not "ok" under a 40 s limit, and ok alone: machines differ 3x, so 90 s, which the
    # submissions that hang wait out
    limits = ["--time-limit", "90", "--disk-limit", "0.25"]
    done = subprocess.run([*cmd, *limits], env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    after_return = {p: p.read_bytes() for p in (out / "grades.csv", out / "grades.md")}
    time.sleep(2)  # a process left behind would rewrite its row now
    server.close()
    if tool != "bwrap":  # no container of the run is left
        left = [tool, "ps", "--all", "--quiet", "--filter", "label=vgg-edu-grading"]
        assert subprocess.run(left, env=env, capture_output=True, text=True, check=True).stdout.split() == []
    rows = {}
    for row in csv.DictReader((out / "grades.csv").open()):
        rows.setdefault(row["student"], []).append(row)
    return {
        "rows": rows, "out": out, "subs": subs, "spill": spill, "before": before, "connections": connections,
        "after_return": after_return, "stdout": done.stdout, "tool": tool,
    }  # fmt: skip


def _kept(graded, student: str, name: str = "01_tiny.ipynb") -> str:
    return (graded["out"] / "grades_notebooks" / student / name).read_text()


def _printed(graded, student: str, name: str = "01_tiny.ipynb") -> str:
    """What the kept notebook's cells printed (not their source, which names every attack)."""
    nb = nbformat.reads(_kept(graded, student, name), as_version=4)
    return "".join(out.get("text", "") for cell in nb.cells for out in cell.get("outputs", []))


def test_honest_students_get_full_marks_with_numpy_and_torch_answers(graded):
    honest, honest07 = graded["rows"]["honest"][0], graded["rows"]["honest07"][0]
    assert (honest["status"], honest["score"], honest["out_of"]) == ("ok", "4", "4")
    assert [honest[i] for i in LESSON] == ["pass"] * 4
    n07 = str(len(exercises.list_exercises("07.")))
    assert (honest07["status"], honest07["score"], honest07["out_of"]) == ("ok", n07, n07)  # 07.3: a torch function


def test_pickled_payloads_and_always_equal_answers_earn_nothing(graded):
    row = graded["rows"]["a_leftover"][0]
    assert row["score"] == "0" and [row[i] for i in LESSON] == ["fail"] * 4
    assert row["status"].startswith("time limit")  # a kernel that ignores SIGTERM and disables exit is stopped


def test_a_process_left_behind_is_killed_and_changes_nothing(graded):
    assert running(MARKER) == []
    for path, data in graded["after_return"].items():
        assert path.read_bytes() == data
    assert graded["rows"]["honest"][0]["score"] == "4"  # graded after the one that left a process running


def test_the_kernel_has_no_solutions_no_other_submission_no_network_no_secret(graded):
    text = _printed(graded, "hostile")
    assert "LEAKED" not in text
    blocked = ["teacher package", "editable finder", "other submissions", "kept notebooks", "write other student",
               "edit kept notebook", "write outside", "environment", "local port", "network", "disk quota",
               "processes"]  # fmt: skip
    for name in blocked:
        assert f"blocked {name}" in text, name
    assert graded["rows"]["hostile"][0]["score"] == "0"
    assert graded["connections"] == [] and not graded["spill"].exists()
    assert _digests(graded["subs"]) == graded["before"]  # no submission changed
    honest_kept = _kept(graded, "honest")
    assert "Correct" in honest_kept and honest_kept != "{}"


def test_a_function_answer_cannot_read_or_change_its_check(graded):
    """07.3's combine reading the checker's frames, patching torch.allclose and check, or doing so while loaded."""
    row = graded["rows"]["framer"][0]
    assert row["07.3"] == "fail" and row["score"] == "0"


def test_code_answers_that_patch_their_check_earn_nothing_and_honest_ones_full_marks(graded):
    """02.x: functions, modules and classes that replace check, torch.allclose or the check's helpers when loaded or
    first called, and a block whose own forward adds the ReLUs its layers lack, judged apart from their code."""
    honest, n02 = graded["rows"]["honest02"][0], str(len(exercises.list_exercises("02.")))
    assert (honest["status"], honest["score"], honest["out_of"]) == ("ok", n02, n02)
    patcher = graded["rows"]["patcher02"][0]
    assert (patcher["status"], patcher["score"]) == ("ok", "0")
    assert [patcher[i] for i in ("02.1", "02.2", "02.3", "02.4", "02.5")] == ["fail"] * 5
    assert "[02.4] Correct!" in _printed(graded, "patcher02", "02_tiny.ipynb")  # its forward passes in the kernel


@pytest.mark.parametrize(("lesson", "exercise_id"), [("05", "05.1"), ("09", "09.2")])
def test_a_hook_factory_and_param_groups_that_patch_their_check_earn_nothing(graded, lesson, exercise_id):
    """05.1's hook factory and 09.2's param_groups run in a sandbox of their own, on the check's tensors and model:
    patching check, torch.allclose or the check's helpers there changes nothing, and the honest answers pass."""
    honest, n = graded["rows"][f"honest{lesson}"][0], str(len(exercises.list_exercises(lesson)))
    assert (honest["status"], honest["score"], honest["out_of"]) == ("ok", n, n)
    patcher = graded["rows"][f"patcher{lesson}"][0]
    assert (patcher["status"], patcher[exercise_id], patcher["score"]) == ("ok", "fail", "0")


def test_the_honest_08_head_and_distillation_loss_get_full_marks(graded):
    """08.1's head and 08.3's kd_loss, code answers run apart in the sandbox, earn every mark when right."""
    honest, n = graded["rows"]["honest08"][0], str(len(exercises.list_exercises("08.")))
    assert (honest["status"], honest["score"], honest["out_of"]) == ("ok", n, n) and n == "3"


def test_links_names_and_other_lessons(graded):
    rows = graded["rows"]
    assert rows["linker"][0]["status"].startswith("refused: a link") and rows["linker"][0]["score"] == "0"
    assert not (graded["out"] / "grades_notebooks" / "linker").exists()
    noprefix = rows["noprefix"][0]
    assert noprefix["status"].startswith("not run") and noprefix["out_of"] == "0"
    pipe = rows["pi|pe"][0]
    assert (pipe["score"], pipe["out_of"], pipe["01.1"]) == ("1", "4", "pass")  # 07.1 right, but not lesson 01's
    assert "07.1" in pipe["notes"] and "not counted" in pipe["notes"]
    assert len(pipe["errors"]) <= 2000
    assert ".hidden" in rows and rows[".hidden"][0]["status"] == "ok"


def test_duplicates_are_flagged_and_both_kept(graded):
    dup = graded["rows"]["dup"]
    assert sorted(r["notebook"] for r in dup) == ["01_tiny.ipynb", "again/01_tiny.ipynb"]
    assert all("one of 2 notebooks" in r["notes"] for r in dup)
    kept = graded["out"] / "grades_notebooks" / "dup"
    assert "print(1)" in (kept / "01_tiny.ipynb").read_text()
    assert "print(2)" in (kept / "again" / "01_tiny.ipynb").read_text()


def test_a_huge_output_says_the_notebook_was_not_kept(graded):
    big = graded["rows"]["big"][0]
    assert big["kept"].startswith("not kept") and "MB" in big["kept"]


def test_the_gradebook_files_hold_no_formula_and_no_broken_table(graded):
    raw = (graded["out"] / "grades.csv").read_text()
    for line in csv.reader(raw.splitlines()):
        assert not any(cell[:1] in "=+-@" and cell for cell in line), line
    assert "'=HYPERLINK" in raw
    report = (graded["out"] / "grades.md").read_text()
    tool = {"bwrap": "(bubblewrap)", "podman": "(a Podman container)", "docker": "(a Docker container)"}[graded["tool"]]
    assert tool in report.split("\n\n")[1]
    assert "pi\\|pe" in report and "| pi|pe |" not in report
    for section in report.split("## Lesson")[1:]:
        table = [line.replace("\\|", "") for line in section.splitlines() if line.startswith("|")]
        assert len({line.count("|") for line in table}) == 1, table
