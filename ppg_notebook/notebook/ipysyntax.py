"""IPython's cell syntax (`%magic`, `%%cell_magic`, `!cmd`, `obj?`), read by IPython itself.

The export must tell a cell's Python from its IPython syntax, and only IPython's own
transformer reads that syntax as a kernel does. Besides magics.py, this is the one module
of the notebook side that imports IPython: the exported script and the worker processes
never import it.
"""

from __future__ import annotations

import ast
from typing import Any

from IPython.core.inputtransformer2 import TransformerManager


def transformed(source: str) -> str:
    """The cell as the Python IPython runs: its IPython syntax turned into calls of
    `get_ipython()`, on the lines it stood on."""
    return TransformerManager().transform_cell(source)  # type: ignore[no-any-return,unused-ignore]


def magic_calls(source: str) -> list[tuple[str, str, list[Any]]] | None:
    """The IPython calls a cell's source turns into: (method, magic or "", args) per
    top-level statement, "" for plain Python; None if it is not valid even for IPython."""
    try:
        tree = ast.parse(transformed(source))
    except (SyntaxError, ValueError):
        return None
    calls: list[tuple[str, str, list[Any]]] = []
    for stmt in tree.body:
        call = _ipython_call(stmt)
        if call is None:
            calls.append(("", "", []))
            continue
        method, args = call
        name = args[0] if method.startswith("run_") and args else ""
        calls.append((method, name, args[1:] if name else args))
    return calls


def _ipython_call(stmt: ast.stmt) -> tuple[str, list[Any]] | None:
    """`get_ipython().METHOD(literal args)` at the top of a statement, if that is what it is."""
    for node in ast.walk(stmt):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Call)
            and isinstance(node.func.value.func, ast.Name)
            and node.func.value.func.id == "get_ipython"
        ):
            try:
                args = [ast.literal_eval(a) for a in node.args]
            except ValueError:
                args = []
            return node.func.attr, args
    return None
