"""Tracebacks of jobs that failed in a worker, shown with the user's own source lines.

cloudpickle ships functions defined in a script or notebook by value and names their file
"<dynamic-code>", so a worker cannot show their source. The main process still knows where
each function came from: frames are mapped back to their real file and rendered here.
"""

from __future__ import annotations

import linecache
import os
import traceback
import types
from typing import Any

DYNAMIC = "<dynamic-code>"
# This package's directory: its files and those of its subpackages (notebook/ runs a cell's
# body) are ours.
_PACKAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "")


def user_frames(e: BaseException) -> types.TracebackType | None:
    """The traceback from the user's code down: without the frames of this package that
    called it (a worker's, the runner's, and those running a notebook cell's body)."""
    tb = e.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_PACKAGE):
        tb = tb.tb_next
    return tb


def render(
    fn: Any, frames: list[tuple[str, int, str]], error: BaseException, worker_text: str
) -> str:
    """The traceback to show for `error`, raised by `fn` in a worker."""
    chained = "During handling" in worker_text or "direct cause" in worker_text
    if chained or not any(filename == DYNAMIC for filename, _, _ in frames):
        return worker_text
    codes = _reachable_code(fn)
    lines = ["Traceback (most recent call last):\n"]
    theirs = False  # past this package's own frames (which run a notebook cell's body)
    for filename, lineno, name in frames:
        if filename == DYNAMIC:
            filename = _source_file(codes, name, lineno) or filename
        theirs = theirs or not os.path.abspath(filename).startswith(_PACKAGE)
        if not theirs:
            continue
        lines.append(f'  File "{filename}", line {lineno}, in {name}\n')
        source = linecache.getline(filename, lineno).strip()
        if source:
            lines.append(f"    {source}\n")
    lines.extend(traceback.format_exception_only(type(error), error))
    return "".join(lines)


def _source_file(codes: list[types.CodeType], name: str, lineno: int) -> str | None:
    """The file of the code object called `name` whose lines include `lineno`."""
    named = [c for c in codes if c.co_name == name]
    for code in named:
        lines = [line for _, _, line in code.co_lines() if line is not None]
        if lines and min(lines) <= lineno <= max(lines):
            return code.co_filename
    return named[0].co_filename if named else None


def _reachable_code(fn: Any) -> list[types.CodeType]:
    """Code objects of `fn` and of what it reaches: nested code, closures, globals it reads,
    defaults, function attributes, and the items of containers among those."""
    codes: list[types.CodeType] = []
    seen: set[int] = set()
    todo = [fn]
    while todo and len(seen) < 2000:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, dict):
            todo.extend(obj.values())
            continue
        if isinstance(obj, (list, tuple)):
            todo.extend(obj)
            continue
        code = getattr(obj, "__code__", None)
        if not isinstance(code, types.CodeType):
            continue
        _add_code(code, codes)
        for cell in getattr(obj, "__closure__", None) or ():
            try:
                todo.append(cell.cell_contents)
            except ValueError:
                continue
        fn_globals = getattr(obj, "__globals__", {})
        todo.extend(fn_globals[n] for n in code.co_names if n in fn_globals)
        todo.extend(getattr(obj, "__defaults__", None) or ())
        todo.extend(getattr(obj, "__dict__", {}).values())
    return codes


def _add_code(code: types.CodeType, codes: list[types.CodeType]) -> None:
    codes.append(code)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _add_code(const, codes)
