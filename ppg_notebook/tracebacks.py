"""Tracebacks of jobs that failed in a worker, shown with the user's own source lines.

cloudpickle ships functions defined in a script or notebook by value and names their file
"<dynamic-code>", so a worker cannot show their source. The main process still knows where
each function came from: frames are mapped back to their real file and rendered here.
"""

from __future__ import annotations

import linecache
import traceback
import types
from typing import Any

DYNAMIC = "<dynamic-code>"


def render(
    fn: Any, frames: list[tuple[str, int, str]], error: BaseException, worker_text: str
) -> str:
    """The traceback to show for `error`, raised by `fn` in a worker."""
    chained = "During handling" in worker_text or "direct cause" in worker_text
    if chained or not any(filename == DYNAMIC for filename, _, _ in frames):
        return worker_text
    files = _files_by_function(fn)
    lines = ["Traceback (most recent call last):\n"]
    for filename, lineno, name in frames:
        if filename == DYNAMIC:
            filename = files.get(name, filename)
        lines.append(f'  File "{filename}", line {lineno}, in {name}\n')
        source = linecache.getline(filename, lineno).strip()
        if source:
            lines.append(f"    {source}\n")
    lines.extend(traceback.format_exception_only(type(error), error))
    return "".join(lines)


def _files_by_function(fn: Any) -> dict[str, str]:
    """Function name -> source file, for `fn` and the functions it reaches."""
    files: dict[str, str] = {}
    seen: set[int] = set()
    todo = [fn]
    while todo and len(seen) < 200:
        obj = todo.pop()
        code = getattr(obj, "__code__", None)
        if not isinstance(code, types.CodeType) or id(code) in seen:
            continue
        seen.add(id(code))
        _add_code(code, files)
        for cell in getattr(obj, "__closure__", None) or ():
            try:
                todo.append(cell.cell_contents)
            except ValueError:
                continue
        fn_globals = getattr(obj, "__globals__", {})
        todo.extend(fn_globals[n] for n in code.co_names if n in fn_globals)
    return files


def _add_code(code: types.CodeType, files: dict[str, str]) -> None:
    files.setdefault(code.co_name, code.co_filename)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _add_code(const, files)
