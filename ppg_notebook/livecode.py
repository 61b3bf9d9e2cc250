"""Is the code this process would run the code in the user's files? (SPEC §3a)

A job's fingerprint follows the user's modules as their files are now (codewalk.py), and
worker processes import a changed module afresh before they run a job. A job of the main
process (a loading, generating or final job) runs the module as the kernel imported it:
after an edit of `utils.py` its fingerprint says "changed", it runs again, and, with the
kernel's old `utils` in memory, it would compute the old result and record it as the new
one. So before such a job runs, each user module it reaches is compared with its file:
the file is compiled and each top-level function, and each method of a top-level class,
compared by its canonical code (hashing: a comment or a moved line changes nothing) with
the loaded module's. A module that differs is named, with how to bring it up to date.
"""

from __future__ import annotations

import inspect
import os
import sys
import types
from typing import Any

from . import hashing

# path -> ((mtime_ns, size), {definition: its canonical code digests}) of the file compiled
# (a name defined twice, under an `if`, has two)
_compiled: dict[str, tuple[tuple[int, int], dict[str, set[bytes]]]] = {}


def stale_definitions(module_name: str) -> list[str]:
    """The functions and methods of loaded module `module_name` whose code is not what
    its file says now (qualified names, sorted); [] if it is current, is not loaded, or
    has no Python source file."""
    module = sys.modules.get(module_name)
    path = getattr(module, "__file__", None)
    if module is None or not isinstance(path, str) or not path.endswith(".py"):
        return []
    in_file = _definitions_in_file(path)
    if in_file is None:
        return []  # (unreadable, or not valid Python: the code walk says so)
    loaded = _definitions_loaded(module, path)
    # Only what both define: a definition the module lacks (under an `if` not taken, or
    # deleted) is not evidence, and calling a new one fails loudly anyway.
    return sorted(
        name for name, digest in loaded.items() if digest not in in_file.get(name, {digest})
    )


def _definitions_in_file(path: str) -> dict[str, set[bytes]] | None:
    try:
        st = os.stat(path)
        stamp = (st.st_mtime_ns, st.st_size)
        cached = _compiled.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        with open(path, "rb") as f:
            code = compile(f.read(), path, "exec", dont_inherit=True)
    except (OSError, SyntaxError, ValueError):
        return None
    found: dict[str, set[bytes]] = {}
    for const in code.co_consts:
        if not isinstance(const, types.CodeType) or const.co_name.startswith("<"):
            continue
        if _is_class_body(const):
            for inner in const.co_consts:
                if isinstance(inner, types.CodeType) and not inner.co_name.startswith("<"):
                    name = f"{const.co_name}.{inner.co_name}"
                    found.setdefault(name, set()).add(hashing.code_digest(inner))
        else:
            found.setdefault(const.co_name, set()).add(hashing.code_digest(const))
    _compiled[path] = (stamp, found)
    return found


def _is_class_body(code: types.CodeType) -> bool:
    """A class statement's body (it sets `__qualname__`), not a function's."""
    return "__qualname__" in code.co_names and "__module__" in code.co_names


def _definitions_loaded(module: types.ModuleType, path: str) -> dict[str, bytes]:
    """The module's functions and its classes' methods as loaded, each only if its code
    was compiled from `path` under that name (not a wrapper, nor a function some other
    code made and bound to the name)."""
    found: dict[str, bytes] = {}
    for name, value in list(vars(module).items()):
        if isinstance(value, type) and value.__module__ == module.__name__:
            for attr, member in list(vars(value).items()):
                code = _code_of(member, attr, path)
                if code is not None:
                    found[f"{name}.{attr}"] = hashing.code_digest(code)
            continue
        code = _code_of(value, name, path)
        if code is not None:
            found[name] = hashing.code_digest(code)
    return found


def _code_of(obj: Any, name: str, path: str) -> types.CodeType | None:
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    elif isinstance(obj, property):
        obj = obj.fget
    try:
        obj = inspect.unwrap(obj)
    except ValueError:  # (a cycle of __wrapped__)
        return None
    code = getattr(obj, "__code__", None)
    if not isinstance(code, types.CodeType) or code.co_name != name:
        return None
    return code if os.path.abspath(code.co_filename) == os.path.abspath(path) else None


def problem(job_id: str, modules: tuple[str, ...], seen: dict[str, list[str]]) -> str | None:
    """Why the main-process job `job_id`, whose code reaches the user modules `modules`,
    must not run now (this process has an older version of one of them), or None.
    `seen`: what was found of each module in this run (thousands of loading jobs reach the
    same modules; a module reloaded between runs is looked at again in the next)."""
    for name in modules:
        if name not in seen:
            seen[name] = stale_definitions(name)
        stale = seen[name]
        if stale:
            path = getattr(sys.modules[name], "__file__", name)
            shown = ", ".join(stale[:5]) + (f" and {len(stale) - 5} more" if len(stale) > 5 else "")
            return (
                f"job {job_id!r} runs in this process, whose module {name!r} is older than "
                f"{path} ({shown} changed since it was imported): it would compute with the "
                f"old code. Bring the module up to date (`importlib.reload({name})`, or "
                f"`%load_ext autoreload` and `%autoreload 2`, or restart the kernel) and run "
                f"again"
            )
    return None
