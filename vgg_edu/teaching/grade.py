"""``python -m vgg_edu grade SUBMISSIONS/ --out grades.csv``: run every submitted notebook and say, per student,
which exercises pass.

Every submission is read into memory first (``submissions``), then run alone, one after the other, each in a sandbox of
its own (a container of Podman or Docker, or bubblewrap: ``sandbox``) in fast mode (``VGG_EDU_FAST=1``) under a time
limit for the whole notebook, memory, disk and process limits, with no network, no view of the other submissions, of the
gradebook or of the teacher's files, importing the students' copy of the package (``redact``: what they ran, and no
solution in it). When its sandbox is gone, the answers its ``exercises.check`` calls saved (``answers``) are checked
again by the teacher's package in a process of the grader's (``recheck``): data as JSON, and each code answer run in a
sandbox of its own (``serve``), from which only data comes back (``observe``). A point is an answer that check calls
Correct there, to an exercise of the notebook's own lesson. The gradebook (``gradebook``) is written by the grader
alone, after the last sandbox is gone.

The sandbox (``--sandbox``, ``choose_sandbox``): Podman or Docker where the teacher has one that answers, otherwise
bubblewrap. Without any, grading refuses to run unless the teacher passes ``--unsandboxed`` (then each notebook runs
as the teacher's own user and can read and write what the teacher can).
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import nbformat

from .. import exercises
from . import bwrap, container, gradebook, recheck, redact, sandbox
from .answers import saved
from .execute import MAX_KEPT_MB
from .limits import Limits
from .submissions import Submission, find
from .view import DATA, HOME, IN, LIB, OUT

GRACE_SECONDS = 120  # the kernel's start and shutdown, and packing the results, on top of the notebook's time
ANSWER_FILE = re.compile(r"^answers/(\d\d\.\d+\.\d+\.(json|code))$")
PACKAGE = sandbox.PACKAGE


def not_a_notebook(sub: Submission) -> str | None:
    """Why this file cannot be run as a notebook, or None."""
    if not sub.name.endswith(".ipynb"):
        return f"not a notebook ({sub.name})"
    try:
        nbformat.validate(nbformat.reads(sub.data.decode("utf-8"), as_version=4))
    except Exception as err:  # bad JSON, bad encoding, a notebook of the wrong shape
        return f"not a notebook ({type(err).__name__})"
    return None


def hidden_folders(*more: Path) -> list[Path]:
    """What no sandbox may see, even where it lies inside the Python folders: the teacher's package, its checkout
    (an editable install's ``.pth`` names it), the submissions and the gradebook."""
    checkout = [PACKAGE.parent] if (PACKAGE.parent / "pyproject.toml").is_file() else []
    return [PACKAGE, *checkout, *more]


def _unpack(blob: bytes, answers: Path) -> tuple[dict | None, bytes | None]:
    """(run.json, the executed notebook) from a run's zip; its answer files written to ``answers``, as long as they
    stay within ``sandbox.OUTPUT_MB`` unpacked (a zip may hold far more than its size); nothing else of it is read."""
    try:
        z = zipfile.ZipFile(io.BytesIO(blob))
        run = json.loads(z.read("run.json")) if z.getinfo("run.json").file_size < 2**20 else None
        names = {i.filename: i.file_size for i in z.infolist()}
        executed = None
        if names.get("executed.ipynb", 2**40) <= MAX_KEPT_MB * 2**20:
            executed = z.read("executed.ipynb")
        budget = sandbox.OUTPUT_MB * 2**20
        for name, size in names.items():
            match = ANSWER_FILE.match(name)
            if match and size <= budget:
                budget -= size
                (answers / match.group(1)).write_bytes(z.read(name))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        return None, None
    return (run if isinstance(run, dict) else None), executed


def _code_folder(answers: Path, folder: Path) -> Path:
    """The code answers alone (their pickles and notes), in a folder that their sandboxes see read-only."""
    code = folder / "code"
    code.mkdir()
    for path in answers.glob("*.code"):
        if path.with_suffix(".json").is_file():
            shutil.copyfile(path, code / path.name)
            shutil.copyfile(path.with_suffix(".json"), code / path.with_suffix(".json").name)
    sandbox.readable(code)
    return code


def _verdicts(answers: Path, code: Path, lib: Path, limits: Limits, hidden: list[Path]) -> dict:
    """Every saved answer checked by the teacher's package in a process of the grader's (``recheck``); no code of
    the student's runs in it: each code answer runs in a sandbox of its own (``serve``), started from the command
    written here, and only data comes back."""
    if not any("data" in note or recheck.judged_apart(note) for note in saved(answers)):
        return {}
    serve = [sys.executable, "-m", "vgg_edu.teaching.serve"]
    apart = {"command": serve, "folder": str(code), "limits": dataclasses.asdict(limits)}
    if limits.sandboxed:
        apart["folder"], apart["env"] = str(IN), sandbox.client_env(limits)
        apart["command"] = sandbox.command(
            serve, env=sandbox.base_env(), ro={LIB: lib, IN: code}, hidden=hidden, limits=limits,
            label=code.parent.name, folder=code.parent, interactive=True,
        )  # fmt: skip
    (code.parent / "apart.json").write_text(json.dumps(apart))
    env = {**sandbox.base_env(), "PYTHONPATH": str(PACKAGE.parent), "HOME": str(answers)}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "vgg_edu.teaching.recheck", str(answers), str(code.parent / "apart.json")],
            env=env, cwd=answers, capture_output=True, timeout=limits.seconds + GRACE_SECONDS,
            preexec_fn=sandbox.limiter(limits),
        )  # fmt: skip
        return json.loads(done.stdout)
    except (subprocess.TimeoutExpired, ValueError):
        return {}


def _status(code: int | None, run: dict | None, limits: Limits) -> str:
    if code is None or (run or {}).get("status") == "time limit":
        return f"time limit ({limits.seconds:g} s)"
    if run is None:
        return "no result (killed, out of memory or disk, or its results overwritten)"
    if run["status"] != "finished":
        return run["status"]
    return f"errors in {len(run['errors'])} cells" if run["errors"] else "ok"


def _last_cell(log: str) -> list[str]:
    """What is known of a run that left no result: the cell it was running, or its last words."""
    cells = re.findall(r"^cell (\d+): (.*)$", log, re.MULTILINE)
    if cells:
        return [f"stopped in cell {cells[-1][0]}: {cells[-1][1][:120]}"]
    return [log.strip().splitlines()[-1][:200]] if log.strip() else []


def run_submission(sub: Submission, lib: Path, limits: Limits, hidden: list[Path], keep: Path | None) -> dict:
    """Run one submission in its sandbox and check its answers: the gradebook's row for it."""
    row = gradebook.new_row(sub)
    problem = sub.refused or not_a_notebook(sub)
    if problem:
        return {**row, "status": problem}
    folder = Path(tempfile.mkdtemp(prefix="vgg_edu_grade_"))
    try:
        for name in ("in", "run", "answers"):
            (folder / name).mkdir()
        (folder / "in" / "submission.ipynb").write_bytes(sub.data)
        sandbox.readable(folder / "in")
        env = {**sandbox.base_env(), "VGG_EDU_FAST": "1", "VGG_EDU_ANSWERS": str(OUT / "answers")}
        env["VGG_EDU_ARTIFACTS"] = str(HOME / "artifacts")
        ro = {LIB: lib, IN: folder / "in"}
        data_dir = gradebook.fashion_mnist_dir()
        if data_dir:
            ro[DATA], env["VGG_EDU_DATA"] = Path(data_dir), str(DATA)
        args = ["-m", "vgg_edu.teaching.execute", str(IN / "submission.ipynb"), "--out", str(OUT)]
        start = time.perf_counter()
        code, out, log = sandbox.run(
            [*args, "--seconds", str(limits.seconds)], folder=folder / "run", env=env, ro=ro, hidden=hidden,
            limits=limits, seconds=limits.seconds + GRACE_SECONDS, label=folder.name,
        )  # fmt: skip
        row["seconds"] = time.perf_counter() - start
        run, executed = _unpack(out, folder / "answers")
        row["status"], row["errors"] = _status(code, run, limits), (run or {}).get("errors", [])
        if run is None or run.get("status") == "time limit":
            row["errors"] = _last_cell(log) + row["errors"]
        code = _code_folder(folder / "answers", folder)
        checked = _verdicts(folder / "answers", code, lib, limits, hidden)
        gradebook.add_verdicts(row, folder / "answers", checked, sub.exercise_ids)
        gradebook.keep_executed(row, executed, run, keep, sub)
    finally:
        sandbox.clean(limits, folder.name)  # every container of this submission's, its code answers' included
        shutil.rmtree(folder, ignore_errors=True)
    return row


def grade(root: Path, out_csv: Path, limits: Limits | None = None, progress=print, lesson: str | None = None):
    """Grade every submission under ``root``; write ``out_csv``, a markdown report beside it (same name, ``.md``) and
    the executed notebooks in a folder beside it (``<name>_notebooks/``). ``lesson``: the lesson of the notebooks
    whose names give none. Returns the rows."""
    limits = limits or Limits()
    keep = out_csv.with_name(out_csv.stem + "_notebooks")
    hidden = hidden_folders(root.resolve(), out_csv.resolve().parent)
    found, skipped = find(root, lesson)
    rows = []
    with tempfile.TemporaryDirectory(prefix="vgg_edu_student_") as lib:
        sandbox.write_package(redact.student_package(sandbox.package_snapshot()), Path(lib))  # as students have it
        sandbox.readable(Path(lib))
        for i, sub in enumerate(found, 1):
            progress(f"[{i}/{len(found)}] {sub.student}: {sub.path} ...", end=" ", flush=True)
            row = run_submission(sub, Path(lib), limits, hidden, keep)
            rows.append(row)
            progress(f"{row['status']}, {gradebook.score(row)}/{row['out_of']} in {row['seconds']:.0f} s")
    gradebook.write_csv(rows, out_csv)
    gradebook.write_markdown(rows, out_csv.with_suffix(".md"), limits, skipped)
    return rows


NO_SANDBOX = {
    "auto": "no sandbox: neither Podman nor Docker answers and bubblewrap (bwrap) is not installed "
    "(`apt-get install bubblewrap`)",
    "bwrap": "bubblewrap (bwrap) is not installed: `apt-get install bubblewrap`",
    "podman": "Podman is not installed, does not answer (`podman info`) or runs no container here",
    "docker": "Docker is not installed, its daemon does not answer (`docker info`) or it runs no container here",
}


def choose_sandbox(asked: str = "auto") -> str | None:
    """The sandbox that grades: the one asked for, if it works here; for ``auto``, Podman or Docker where one
    runs a container (``container.usable``), else bubblewrap where it is installed. None: none of them."""
    for tool in sandbox.SANDBOXES if asked == "auto" else (asked,):
        if container.usable(tool) if tool in container.ENGINES else bwrap.executable():
            return tool
    return None


def grade_command(args) -> int:
    if not args.submissions.is_dir():
        print(f"error: {args.submissions} is not a folder of submissions", file=sys.stderr)
        return 1
    if args.time_limit <= 0 or args.memory_limit <= 0 or args.disk_limit <= 0:
        print("error: --time-limit, --memory-limit and --disk-limit must be positive", file=sys.stderr)
        return 1
    out = args.out.resolve()
    if out.parent == args.submissions.resolve() or args.submissions.resolve() in out.parents:
        print("error: --out must not be inside the submissions folder", file=sys.stderr)
        return 1
    tool = "none" if args.unsandboxed else choose_sandbox(args.sandbox)
    if tool is None:
        print(f"error: {NO_SANDBOX[args.sandbox]}, or pass --unsandboxed to run every notebook as your own user, with "
              "your rights (README, For teachers)", file=sys.stderr)  # fmt: skip
        return 1
    if args.lesson is not None and not exercises.list_exercises(f"{args.lesson}."):
        print(f"error: --lesson {args.lesson}: no such lesson (two digits, such as 01)", file=sys.stderr)
        return 1
    limits = Limits(args.time_limit, args.memory_limit, int(args.disk_limit * 1024), sandbox=tool)
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        rows = grade(args.submissions, args.out, limits, lesson=args.lesson)
    except OSError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"{len(rows)} submissions graded: {args.out} and {args.out.with_suffix('.md')}")
    return 0
