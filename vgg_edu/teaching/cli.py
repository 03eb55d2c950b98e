"""The teachers' commands on ``python -m vgg_edu``'s command line, ``assign`` and ``grade``: their parsers, which
import nothing heavy; the work is imported when a command runs (``add_parsers(sub)``, then ``args.run(args)``)."""

from __future__ import annotations

from pathlib import Path


def _assign(args) -> int:
    from .assign import assign_command

    return assign_command(args)


def _grade(args) -> int:
    from .grade import grade_command

    return grade_command(args)


def add_parsers(subparsers) -> None:
    a = subparsers.add_parser("assign", help="write the student and teacher versions of the notebooks (teachers)")
    a.add_argument("out", type=Path, help="the folder to write: OUT/student and OUT/teacher")
    a.add_argument("--notebooks", type=Path, default=None, help="the course's notebooks (default: the repository's)")
    a.set_defaults(run=_assign)
    g = subparsers.add_parser("grade", help="run every submitted notebook and write a gradebook (teachers)")
    g.add_argument("submissions", type=Path, help="a folder: one sub-folder (or one notebook) per student")
    g.add_argument("--out", type=Path, default=Path("grades.csv"), help="the CSV to write (a .md report beside it)")
    g.add_argument("--time-limit", type=float, default=600, help="seconds for a whole notebook (default 600)")
    g.add_argument("--memory-limit", type=float, default=8, help="GiB of address space per notebook (default 8)")
    g.add_argument("--lesson", default=None, help="the lesson (01 ...) of notebooks whose names give none")
    g.add_argument("--disk-limit", type=float, default=1, help="GiB a notebook may write (default 1)")
    g.add_argument(
        "--sandbox", choices=("auto", "podman", "docker", "bwrap"), default="auto",
        help="what isolates each notebook (default auto: Podman or Docker where one answers, else bubblewrap)",
    )  # fmt: skip
    g.add_argument(
        "--unsandboxed", action="store_true",
        help="run every notebook as your own user, with your rights, where no sandbox is installed (not safe)",
    )  # fmt: skip
    g.set_defaults(run=_grade)
