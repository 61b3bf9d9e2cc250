"""The function a `%%ppg_job` cell's job runs in a worker process, and what it runs there.

`value_function` / `values_function` / `file_function` make the function the engine runs.
It is a closure over the compiled body, the dependencies' bindings and the result's name
only; the engine's code fingerprint of it therefore depends on the body's canonical code
(not its comments, line numbers or file name) and on nothing that changes with a kernel
restart, nor on where this module lies (the fingerprint reads no module or file name).
The captured values ride along as an attribute of the compiled body (`carrier`), which
cloudpickle ships and the fingerprint ignores: they are fingerprinted separately, as
invariants.

`execute` is what runs in the worker. This module, and the two small ones it imports
(body.py, options.py), are all a worker imports of the notebook side: it imports little.
"""

from __future__ import annotations

import builtins
import os
import types
from pathlib import Path
from typing import Any

from .. import cache
from .body import Body
from .options import OUT

Binding = tuple[str, str, tuple[str, ...]]  # (name in the body, "value" | "file" | "files", paths)


def carrier(body: Body, values: dict[str, Any]) -> types.FunctionType:
    """A function object holding the compiled body, and the captured values as an attribute.

    The engine fingerprints the function by its code only; the values are fingerprinted as
    invariants. (Not as the function's globals: module-level code reads names with
    LOAD_NAME, which cloudpickle does not follow, so it would not ship them.)
    """
    fn = types.FunctionType(body.code, {"__builtins__": builtins}, body.filename)
    fn.captured = dict(values)  # type: ignore[attr-defined]
    return fn


def value_function(code: types.FunctionType, bindings: tuple[Binding, ...], result: str) -> Any:
    """The function of a value job: runs the body, returns the value of `result`."""

    def run_value_cell() -> Any:
        namespace = execute(code, bindings, None)
        if result not in namespace:
            msg = f"the body did not assign {result!r} (the job's value) when it ran"
            raise NameError(msg)
        return namespace[result]

    return run_value_cell


def values_function(
    code: types.FunctionType, bindings: tuple[Binding, ...], name: str, names: tuple[str, ...]
) -> Any:
    """The function of job `name` keeping several values: runs the body, returns the
    body's variables `names` (a MultiValueJob stores each on its own)."""

    def run_values_cell() -> dict[str, Any]:
        namespace = execute(code, bindings, None)
        missing = [n for n in names if n not in namespace]
        if missing:
            shown = ", ".join(repr(n) for n in missing)
            msg = (
                f"the body of job {name!r} did not assign {shown}, which --values lists; "
                f"assign {'it' if len(missing) == 1 else 'them'} in the cell, or remove "
                f"{'it' if len(missing) == 1 else 'them'} from --values"
            )
            raise NameError(msg)
        return {n: namespace[n] for n in names}

    return run_values_cell


def file_function(code: types.FunctionType, bindings: tuple[Binding, ...]) -> Any:
    """The function of a file job: runs the body with `out` bound to the output path(s)."""

    def run_file_cell(out: Any) -> None:
        execute(code, bindings, out)

    return run_file_cell


def execute(code: types.FunctionType, bindings: tuple[Binding, ...], out: Any) -> dict[str, Any]:
    """Run a body in the worker, with its upstream jobs' values and paths bound."""
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    namespace.update(code.captured)  # type: ignore[attr-defined]
    for name, kind, paths in bindings:
        if kind == "value":
            namespace[name] = cache.load(paths[0])
        elif kind == "file":
            namespace[name] = Path(paths[0])
        else:
            namespace[name] = list(map(Path, paths))
    if out is not None:
        namespace[OUT] = out
    exec(code.__code__, namespace)
    return namespace


def binding(name: str, kind: str, paths: tuple[str, ...], workdir: str) -> Binding:
    """How an upstream job is bound in a body; paths relative to the workdir when inside it
    (so that the fingerprint does not change when the project directory moves)."""
    shown = tuple(os.path.relpath(p, workdir) if os.path.isabs(p) else p for p in paths)
    return name, kind, shown
