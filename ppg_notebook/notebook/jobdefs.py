"""A `%%ppg_job` cell written as a Python function in a script, and the cell read back.

An exported script (export.py) writes each job cell as a decorated function, which
ruff checks and people read like any other code:

    @cells.job(out="report.md")
    def report(summary, out):
        <the cell's body>

The function is never called. Its body, read back from the script's source
(`cell_body`), *is* the cell: the same text but for indentation and the way the value
is returned, so it compiles to the code the notebook compiled and has the same
fingerprint; what one computed, the other does not compute again. The two directions,
`function_text` and `cell_body`, are inverses:

- A value job returns its value with a last `return`: `return NAME` when the body
  assigns the job's name (a last line that only shows `NAME` becomes that return),
  else `return <last expression>`. A job keeping several values (`--values A B`)
  returns them: `return A, B`.
- The parameters are the jobs whose results the body reads, in order of first use, and
  `out` for a file job that reads its output path.
- Lines are indented, except those that begin inside a string literal: they stay as
  they are, so a multi-line string says the same in both places.
- Lines that ruff would flag only because the code now sits in a function (a local
  assigned and never read, a global read before the body assigns the same name) get a
  `# noqa` comment, which changes no code.
"""

from __future__ import annotations

import ast
import inspect
import io
import tokenize
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .body import CellError, Where, free_names, is_name, top_level_stores
from .options import OUT

INDENT = "    "
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


@dataclass(frozen=True)
class FunctionBody:
    """A job function's body as a cell, and where it stands in its file."""

    name: str
    body: str
    params: tuple[str, ...]
    where: Where  # the file, the line the body starts on, its indentation


# --- cell -> function ------------------------------------------------------------------
def function_text(
    decorator: str,
    name: str,
    body: str,
    params: list[str],
    value_job: bool,
    values: tuple[str, ...] = (),
) -> str:
    """The decorated function standing for the cell `name` with this `body` (`values`:
    the variables it keeps, --values)."""
    if values:
        body = body.rstrip("\n") + f"\nreturn {', '.join(values)}\n"
    elif value_job:
        body = _with_return(name, body)
    noqa = _noqa_lines(body, params)
    strings = string_lines(body)
    lines = []
    for number, line in enumerate(body.rstrip("\n").split("\n"), 1):
        if number in noqa:
            line += f"  # noqa: {', '.join(sorted(noqa[number]))}"
        if number in strings or not line:
            lines.append(line)
        else:
            lines.append(INDENT + line)
    return f"{decorator}\ndef {name}({', '.join(params)}):\n" + "\n".join(lines)


def _with_return(name: str, body: str) -> str:
    tree = ast.parse(body)
    last = tree.body[-1]
    if name in top_level_stores(tree):
        if isinstance(last, ast.Expr) and is_name(last.value, name):
            return _replace(body, last, f"return {name}")  # the cell showed the value
        return body.rstrip("\n") + f"\nreturn {name}\n"
    if isinstance(last, ast.Expr):
        start = _offset(body, last.lineno, last.col_offset)
        return body[:start] + "return " + body[start:]
    return body  # not a value job the notebook could declare: analyse() will say why


def _noqa_lines(body: str, params: list[str]) -> dict[int, set[str]]:
    """Lines ruff flags in a function but not in a cell, where a comment can go: a local
    assigned and never read (F841; F842 if only annotated; RUF059 if unpacked), and a
    global read before the body assigns that name (F823, at the first read).

    As ruff does: a name never read is reported at its last binding; an exception's name
    is read, or not, in its own handler.
    """
    tree = ast.parse(body)
    scope = _scope_walk(tree)
    bindings = [b for b in _bindings(scope) if b[3] != "handler"]
    first_bound: dict[str, int] = {}
    last: dict[str, tuple[int, int, str | None]] = {}
    for name, line, col, code in sorted(bindings, key=lambda b: b[1:3]):
        first_bound.setdefault(name, line)
        last[name] = (line, col, code)
    before = set(free_names(tree, body)) & set(last) - set(params)  # read, then assigned
    loaded = {
        n.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Name)
        and _is_load(n)
        and (n.id not in before or n.lineno > first_bound[n.id])
    }
    flagged: dict[int, set[str]] = {}
    for name, (line, _, code) in last.items():
        if code and name not in loaded and not name.startswith("_"):
            flagged.setdefault(line, set()).add(code)
    first_read: dict[str, tuple[int, int]] = {}
    for node in scope:
        if isinstance(node, ast.ExceptHandler) and node.name:
            reads = {n.id for s in node.body for n in ast.walk(s) if isinstance(n, ast.Name)}
            if node.name not in reads and not node.name.startswith("_"):
                flagged.setdefault(node.lineno, set()).add("F841")
        elif isinstance(node, ast.Name) and node.id in before and _is_load(node):
            at = (node.lineno, node.col_offset)
            first_read[node.id] = min(at, first_read.get(node.id, at))
    for line, _ in first_read.values():
        flagged.setdefault(line, set()).add("F823")
    commentable = _commentable_lines(body)
    return {line: codes for line, codes in flagged.items() if line in commentable}


def _is_load(node: ast.Name) -> bool:
    return not isinstance(node.ctx, ast.Store)


def _scope_walk(tree: ast.AST) -> list[ast.AST]:
    """The nodes of the function's own scope (not those of functions or classes in it)."""
    found = []
    todo = list(ast.iter_child_nodes(tree))
    while todo:
        node = todo.pop()
        found.append(node)
        if not isinstance(node, _SCOPES):
            todo.extend(ast.iter_child_nodes(node))
    return found


def _bindings(scope: list[ast.AST]) -> list[tuple[str, int, int, str | None]]:
    """(name, line, column, what ruff says if it is never read) of the function's locals."""
    found: list[tuple[str, int, int, str | None]] = []

    def add(target: ast.AST, single: str | None, unpacked: str | None, value: Any = None) -> None:
        if isinstance(target, ast.Name):
            found.append((target.id, target.lineno, target.col_offset, single))
            return
        sequences = (ast.Tuple, ast.List)
        if (
            isinstance(target, sequences)
            and isinstance(value, sequences)
            and len(target.elts) == len(value.elts)
        ):  # `a, b = 1, 2`: two assignments
            for part, part_value in zip(target.elts, value.elts, strict=True):
                add(part, single, unpacked, part_value)
            return
        for node in ast.walk(target):
            if isinstance(node, ast.Name):
                found.append((node.id, node.lineno, node.col_offset, unpacked))

    for node in scope:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                add(target, "F841", "RUF059", node.value)
        elif isinstance(node, ast.AnnAssign):
            add(node.target, "F841" if node.value is not None else "F842", None)
        elif isinstance(node, ast.NamedExpr):
            add(node.target, "F841", None)
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            add(node.optional_vars, "F841", "RUF059")
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.AugAssign)):
            add(node.target, None, None)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.append((node.name, node.lineno, node.col_offset, None))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                found.append((bound, node.lineno, node.col_offset, None))
        elif isinstance(node, ast.ExceptHandler) and node.name:
            found.append((node.name, node.lineno, node.col_offset, "handler"))
    return found


def _commentable_lines(source: str) -> set[int]:
    """Lines that end outside any string and without a backslash continuation."""
    ends: set[int] = set()
    for token in _tokens(source):
        if token.type in (tokenize.NEWLINE, tokenize.NL):
            ends.add(token.start[0])
    return ends


# --- function -> cell ------------------------------------------------------------------
def cell_body(fn: Any, value_job: bool, values: tuple[str, ...] = ()) -> FunctionBody:
    """The cell a job function in a script stands for; CellError says what is wrong.

    `values`: the variables it keeps (--values); its last line returns them."""
    name = getattr(fn, "__name__", repr(fn))
    try:
        lines, start = inspect.getsourcelines(fn)
    except (OSError, TypeError) as e:
        msg = (
            f"job {name!r}: its source code cannot be read ({e}); a job function must be "
            f"defined with `def` in a Python file"
        )
        raise CellError(msg) from None
    filename = fn.__code__.co_filename
    source, outer = _dedent("".join(lines))
    node = ast.parse(source).body[0]
    if not isinstance(node, ast.FunctionDef):
        where = located(name, filename, start)
        msg = f"{where}: a job function must be a plain `def` (not async, not a lambda)"
        raise CellError(msg)
    params = _params(node, located(name, filename, start))
    first, last = node.body[0], node.body[-1]
    strings = string_lines(source)
    text_lines = source.split("\n")
    indent = text_lines[first.lineno - 1][: first.col_offset]
    if first.lineno == node.lineno:
        indent = ""
    body_lines = []
    for number in range(first.lineno, (last.end_lineno or last.lineno) + 1):
        line = text_lines[number - 1]
        if number == node.lineno:  # `def f(): return 1`
            line = line.encode()[first.col_offset :].decode()
        elif number not in strings:
            line = line[len(indent) :] if line.startswith(indent) else line.lstrip()
        body_lines.append(line)
    body = "\n".join(body_lines) + "\n"
    line_in_file = start + first.lineno - 1

    def at(line: int) -> str:
        return located(name, filename, line_in_file + line - 1)

    if values:
        body = _without_values_return(body, values, at)
    else:
        body = _without_return(body, name, value_job, at)
    return FunctionBody(name, body, params, Where(filename, line_in_file, outer + len(indent)))


def _dedent(source: str) -> tuple[str, int]:
    """The source of a function defined in a block (`if ...:`) moved to column 0."""
    outer = source[: len(source) - len(source.lstrip(" \t"))]
    if not outer:
        return source, 0
    strings = string_lines(source)
    lines = source.split("\n")
    moved = [
        line[len(outer) :] if number not in strings and line.startswith(outer) else line
        for number, line in enumerate(lines, 1)
    ]
    return "\n".join(moved), len(outer)


def _params(node: ast.FunctionDef, where: str) -> tuple[str, ...]:
    args = node.args
    if args.vararg or args.kwarg or args.defaults or any(args.kw_defaults):
        msg = (
            f"{where}: the parameters of a job function name the jobs whose results it "
            f"reads (and `{OUT}`, a file job's output); no defaults, *args or **kwargs"
        )
        raise CellError(msg)
    return tuple(a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs))


def located(name: str, filename: str, line: int) -> str:
    """How errors name a job function and where it stands."""
    return f"job {name!r} ({filename}, line {line})"


def _without_return(body: str, name: str, value_job: bool, at: Callable[[int], str]) -> str:
    """The body with a value job's final `return` as the cell says it (see the module);
    `at(line)` names the job and where a line of the body is, for errors."""
    tree = ast.parse(body)
    returns = [n for n in _scope_walk(tree) if isinstance(n, ast.Return)]
    last = tree.body[-1]
    final = last if isinstance(last, ast.Return) and value_job else None
    for node in returns:
        if node is not final:
            what = (
                "a file job's function returns nothing"
                if not value_job
                else "`return` may only be the last statement of a job function"
            )
            msg = f"{at(node.lineno)}: {what}; its body runs as a notebook cell would"
            raise CellError(msg)
    if final is None:
        if value_job and name not in top_level_stores(tree):
            msg = f"{at(last.lineno)}: a value job's function must end with `return <its value>`"
            raise CellError(msg)
        return body
    if final.value is None:
        msg = f"{at(final.lineno)}: return the job's value"
        raise CellError(msg)
    if is_name(final.value, name) and name in top_level_stores(tree):
        return _replace(body, final, "").rstrip() + "\n"
    start = _offset(body, final.lineno, final.col_offset)
    rest = body[start + len("return") :]
    return body[:start] + rest.lstrip(" \t")


def _without_values_return(body: str, values: tuple[str, ...], at: Callable[[int], str]) -> str:
    """The body without the last `return A, B` of a job keeping the values A and B."""
    tree = ast.parse(body)
    last = tree.body[-1]
    returns = [n for n in _scope_walk(tree) if isinstance(n, ast.Return)]
    wanted = ", ".join(values)
    if (
        not isinstance(last, ast.Return)
        or last.value is None
        or ast.unparse(last.value) != (wanted if len(values) == 1 else f"({wanted})")
    ):
        where = at(last.lineno)
        msg = f"{where}: a job keeping the values {wanted} must end with `return {wanted}`"
        raise CellError(msg)
    if len(returns) > 1:
        where = at(returns[0].lineno)
        msg = f"{where}: `return` may only be the last statement of a job function"
        raise CellError(msg)
    return _replace(body, last, "").rstrip() + "\n"


# --- shared ----------------------------------------------------------------------------
def string_lines(source: str) -> set[int]:
    """Numbers of the lines that begin inside a string literal (multi-line strings)."""
    inside: set[int] = set()
    fstring_start = getattr(tokenize, "FSTRING_START", None)  # Python 3.12+
    fstring_end = getattr(tokenize, "FSTRING_END", None)
    depth = opened = 0
    for token in _tokens(source):
        if token.type == tokenize.STRING:
            inside.update(range(token.start[0] + 1, token.end[0] + 1))
        elif token.type == fstring_start:
            opened = token.start[0] if depth == 0 else opened
            depth += 1
        elif token.type == fstring_end:
            depth -= 1
            if depth == 0:
                inside.update(range(opened + 1, token.end[0] + 1))
    return inside


def _tokens(source: str) -> list[tokenize.TokenInfo]:
    try:
        return list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return []


def _offset(text: str, lineno: int, col: int) -> int:
    """The index in `text` of an AST position (a line, and a UTF-8 byte column)."""
    lines = text.split("\n")
    before = sum(len(line) + 1 for line in lines[: lineno - 1])
    return before + len(lines[lineno - 1].encode()[:col].decode())


def _replace(text: str, node: ast.stmt, new: str) -> str:
    start = _offset(text, node.lineno, node.col_offset)
    end = _offset(text, node.end_lineno or node.lineno, node.end_col_offset or 0)
    return text[:start] + new + text[end:]
