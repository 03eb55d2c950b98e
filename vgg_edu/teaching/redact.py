"""The student copy of the package: the same code, without the solutions, with the checks sealed.

Done at assign time on a copy, never on the course's own files (the lesson modules stay as the course writes them):

- every ``@exercise(..., solution=...)`` gets an empty solution, and ``exercises.solution`` says that solutions are
  not in the student version: no call, attribute or file of the copy holds a solution's text;
- a lesson module's checks compute or hold the right answer (``n == 7 * 7 * c * c - ...``), so reading them would
  give it away: the module is parsed, its docstrings and comments dropped (``ast.unparse`` keeps no comment), and
  the result is stored compressed and base-85 encoded, executed at import. ``ex.check`` and ``ex.hint`` work as
  before; ``inspect.getsource`` and opening the file show no check.

Sealing is not encryption: the checks must run on the student's machine to say "Correct", so a student who decodes
the blob (or disassembles a check) can learn what it accepts. It keeps answers out of sight, not out of reach.
The grader checks data answers with the teacher's package (``recheck``); the sealed checks decide only the code
answers it checks in a sandbox, the same checks, sealed.
"""

from __future__ import annotations

import ast
import base64
import zlib

NO_SOLUTIONS = "Solutions are not in the student version of the course: ask your teacher."


class _StripSolutions(ast.NodeTransformer):
    """Empties the ``solution`` of every ``exercise(...)`` call and drops every docstring."""

    def visit_Call(self, node: ast.Call) -> ast.Call:
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id == "exercise":
            for keyword in node.keywords:
                if keyword.arg == "solution":
                    keyword.value = ast.Constant("")
            if len(node.args) >= 4:
                node.args[3] = ast.Constant("")
        return node

    def _drop_docstring(self, node):
        self.generic_visit(node)
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            if isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
        return node

    visit_Module = visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _drop_docstring  # noqa: N815


def strip_solutions(source: str) -> str:
    """``source`` with no solution text, no docstring and no comment."""
    return ast.unparse(ast.fix_missing_locations(_StripSolutions().visit(ast.parse(source))))


def seal(source: str, title: str) -> str:
    """A module that runs ``source`` (stripped first) without showing it."""
    blob = base64.b85encode(zlib.compress(strip_solutions(source).encode(), 9)).decode()
    lines = [blob[i : i + 116] for i in range(0, len(blob), 116)]
    return (
        f'"""{title} (student version: the checks are sealed, the solutions are not here)."""\n\n'
        "import base64 as _b\nimport zlib as _z\n\n_SEALED = (\n"
        + "".join(f'    "{line}"\n' for line in lines)
        + ')\nexec(compile(_z.decompress(_b.b85decode(_SEALED)), "<sealed exercises>", "exec"), globals())\n'
    )


class _NoSolutionFunction(ast.NodeTransformer):
    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        if node.name == "solution":
            node.body = ast.parse(f"print({NO_SOLUTIONS!r})").body
        return node


def registry_without_solutions(source: str) -> str:
    """``exercises/__init__.py`` whose ``solution()`` prints that solutions are not here (comments dropped)."""
    return ast.unparse(ast.fix_missing_locations(_NoSolutionFunction().visit(ast.parse(source))))


def student_package(snapshot: dict[str, bytes]) -> dict[str, bytes]:
    """The package's files (``vgg_edu/...`` -> bytes) as students get them."""
    out = {}
    for name, data in snapshot.items():
        parts = name.split("/")
        if parts[:2] == ["vgg_edu", "exercises"] and parts[-1].startswith("lesson") and name.endswith(".py"):
            title = f"Exercises of notebook {parts[-1][len('lesson') : -len('.py')]}"
            data = seal(data.decode(), title).encode()
        elif name == "vgg_edu/exercises/__init__.py":
            data = registry_without_solutions(data.decode()).encode()
        out[name] = data
    return out
