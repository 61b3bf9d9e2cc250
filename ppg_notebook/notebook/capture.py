"""The notebook globals a `%%ppg_job` body reads, looked up and sorted by how each is tracked.

`capture` looks up the names a body reads (body.py) in the notebook namespace and sorts
what it finds into what travels with the job and what is fingerprinted: plain values, and
the user's code (functions and classes of the notebook or of the user's own modules)
followed through everything it reaches (codewalk.py). Third-party modules and what comes
from them travel but are not fingerprinted as code. `check_picklable` refuses, before
anything is declared, a global that could not reach a worker process.
"""

from __future__ import annotations

import functools
import inspect
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import hashing
from ..codereads import IMPORT, code_reads
from ..codewalk import TRACK_ALL, CodeWalker
from ..errors import CodeError
from ..jobs import Job
from .body import Body, CellError


@dataclass
class Captured:
    """The notebook globals a body reads, sorted by how they are tracked."""

    values: dict[str, Any] = field(default_factory=dict)  # travel with the job
    parameters: dict[str, Any] = field(default_factory=dict)  # fingerprinted as values
    functions: dict[str, Callable[..., Any]] = field(default_factory=dict)  # as code
    jobs: dict[str, Any] = field(default_factory=dict)  # engine jobs the body reads
    modules: dict[str, types.ModuleType] = field(default_factory=dict)  # the user's modules
    imports: bool = False  # the body imports something of the user's code itself
    reached: list[tuple[str, Any]] = field(default_factory=list)  # notebook values their code reads
    readers: dict[str, str] = field(default_factory=dict)  # such a value -> code reading it


def _is_library(obj: Any) -> bool:
    """Functions, classes and modules that are not fingerprinted (not the user's code)."""
    return isinstance(
        obj, (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type)
    ) or (callable(obj) and hashing.is_function(obj))


def capture(
    names: tuple[str, ...] | list[str], namespace: dict[str, Any], body: Body, walker: CodeWalker
) -> Captured:
    """What the body's free `names` refer to in `namespace` (names not there are skipped).

    The user's functions and classes (of the notebook, or of the user's modules) are
    fingerprinted through everything they reach (codewalk.py); the user's modules the body
    reads (`utils.clean_rows(...)`) through what it reads of them; plain values and other
    objects as parameters (an object of the user's class also through its class's code).
    Raises CodeError if a user module it reaches cannot be read.
    """
    captured = Captured()
    for name in names:
        if name not in namespace:
            continue
        obj = namespace[name]
        captured.values[name] = obj
        if isinstance(obj, Job):
            captured.jobs[name] = obj
        elif isinstance(obj, types.ModuleType):
            if walker.is_user(obj):
                captured.modules[name] = obj
        elif walker.is_user(_unwrap(obj)) and not walker.is_user(type(obj)):
            captured.functions[name] = obj
        elif not _is_library(obj):
            captured.parameters[name] = obj
    reaches = [walker.function(fn, TRACK_ALL) for fn in captured.functions.values()]
    reaches += [walker.reads_of(body.code, {k: m}) for k, m in captured.modules.items()]
    own_imports = walker.reads_of(body.code, {})
    if own_imports.items:
        captured.imports = True
        reaches.append(own_imports)
    reaches.extend(walker.value(v, TRACK_ALL) for v in captured.parameters.values())
    for reach in reaches:
        for key, value, reader in reach.values:
            captured.reached.append((key.removeprefix("__main__."), value))
            captured.readers.setdefault(
                key.removeprefix("__main__."), reader.removeprefix("__main__.")
            )
    return captured


def modules_read(captured: Captured, body: Body) -> set[str]:
    """Names of the modules a body reads: its globals, its own imports, and those the
    notebook functions it calls read (to tell a job that draws with pyplot)."""
    found = {v.__name__ for v in captured.values.values() if isinstance(v, types.ModuleType)}
    found.update(c[1] for c in code_reads(body.code).chains if c[0] == IMPORT and len(c) > 1)
    for fn in captured.functions.values():
        fn_globals = getattr(fn, "__globals__", {})
        code = getattr(fn, "__code__", None)
        if isinstance(code, types.CodeType):
            for name in code_reads(code).names:
                if isinstance(fn_globals.get(name), types.ModuleType):
                    found.add(fn_globals[name].__name__)
    return found


def _unwrap(obj: Any) -> Any:
    """A bound method's function, a partial's: what is the user's code, if anything."""
    if isinstance(obj, types.MethodType):
        return obj.__func__
    if isinstance(obj, functools.partial):
        return obj.func
    return inspect.unwrap(obj) if callable(obj) and hasattr(obj, "__wrapped__") else obj


def unpicklable(captured: Captured) -> tuple[str, Any, str] | None:
    """(name, value, reason) of the first captured global that cannot reach a worker."""
    import cloudpickle

    candidates: list[tuple[str, Any]] = []
    for key, value in (*captured.values.items(), *captured.parameters.items(), *captured.reached):
        if not isinstance(value, (types.FunctionType, type)):
            candidates.append((key, value))
    for key, fn in captured.functions.items():
        cells = getattr(fn, "__closure__", None) or ()
        candidates.extend((key, c.cell_contents) for c in cells if _has_contents(c))
        candidates.extend((key, d) for d in getattr(fn, "__defaults__", None) or ())
    done: set[int] = set()
    for key, value in candidates:
        if id(value) in done or isinstance(value, types.ModuleType):
            continue
        done.add(id(value))
        try:
            cloudpickle.dumps(value)
        except Exception as e:
            return key, value, f"{type(e).__name__}: {e}"
    return None


def _has_contents(cell: types.CellType) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises
    except ValueError:
        return False
    return True


def capture_globals(
    name: str, names: list[str], namespace: dict[str, Any], parsed: Body, walker: CodeWalker
) -> Captured:
    """`capture`, with a user module that cannot be read named with the job."""
    try:
        return capture(names, namespace, parsed, walker)
    except CodeError as e:
        msg = f"job {name!r} uses code of {e}, so it cannot be fingerprinted; fix the module"
        raise CellError(msg) from None


def check_picklable(name: str, captured: Captured) -> None:
    """Refuses a global of job `name` that cannot be sent to a worker process."""
    bad = unpicklable(captured)
    if bad is None:
        return
    key, value, reason = bad
    via = captured.readers.get(key)
    where = f", which the notebook function {via!r} reads" if via else ""
    msg = (
        f"job {name!r} reads the notebook global {key!r} (a {type(value).__module__}."
        f"{type(value).__qualname__}){where}; it cannot be sent to a worker process "
        f"({reason}). Create it inside the job's body instead, from plain values (a path, "
        f"numbers, strings) kept in notebook globals, or make what it provides a job of "
        f"its own and name that job in the body"
    )
    raise CellError(msg)
