"""Job functions pickled for the workers, left as they were.

cloudpickle ships a function defined in a notebook or script by value: its code, globals,
closure, and its `__annotations__` and `__dict__`. On CPython, reading either of those two
creates it when the function has none yet: an empty `__dict__`, and the annotations' dict
made from the tuple a function keeps them in until they are read. The user's function
keeps what was created for as long as it lives: for 100,000 job functions, about 25 MB of
the main process.

`dumps` is cloudpickle's, except that cloudpickle reads such a function's state from a
stand-in: a new function with the same code, globals, closure, defaults, names and
annotations (`_stand_in`), so that what reading creates is the stand-in's, and goes with
it. What the function holds is told without reading it, from the objects it refers to
(`gc.get_referents`); a function holding a `__dict__` (attributes set on it, a
`functools.wraps` wrapper) or anything not told apart here is read as it is.
"""

from __future__ import annotations

import gc
import io
import types
from typing import Any

import cloudpickle
from cloudpickle import cloudpickle as _cloudpickle


def dumps(obj: Any) -> bytes:
    """`cloudpickle.dumps(obj)`, without creating anything on the functions it ships."""
    with io.BytesIO() as file:
        _Pickler(file, protocol=cloudpickle.DEFAULT_PROTOCOL).dump(obj)
        return file.getvalue()


class _Pickler(cloudpickle.Pickler):
    def _dynamic_function_reduce(self, func: types.FunctionType) -> tuple[Any, ...]:
        stand_in = _stand_in(func)
        if stand_in is None:
            return super()._dynamic_function_reduce(func)
        newargs = self._function_getnewargs(func)
        state = _cloudpickle._function_getstate(stand_in)
        return (_cloudpickle._make_function, newargs, state, None, None, _FUNCTION_SETSTATE)


_FUNCTION_SETSTATE = _cloudpickle._function_setstate


def _stand_in(func: types.FunctionType) -> types.FunctionType | None:
    """A new function holding what `func` holds, with no `__dict__`; None if `func`
    holds a `__dict__` or an annotations' dict (which reading creates nothing for), or
    something else not told apart here."""
    annotations = _annotations_held(func)
    if annotations is None:
        return None
    stand_in = types.FunctionType(
        func.__code__, func.__globals__, func.__name__, func.__defaults__, func.__closure__
    )
    stand_in.__kwdefaults__ = func.__kwdefaults__
    stand_in.__qualname__ = func.__qualname__
    stand_in.__module__ = func.__module__
    stand_in.__doc__ = func.__doc__
    stand_in.__annotations__ = annotations
    return stand_in


_TOLD_APART = {str, types.CodeType, type(None), dict, tuple}  # (what a function refers to)
# The annotations last read, by the tuple they were read from: the closures of one def
# share that tuple (a constant of its code, with `from __future__ import annotations`).
_last: tuple[tuple[Any, ...], dict[str, Any]] = ((), {})


def _annotations_held(func: types.FunctionType) -> dict[str, Any] | None:
    """`func`'s annotations, read without creating them, if it holds no `__dict__` and
    no annotations' dict; else None."""
    global _last
    held = gc.get_referents(func)
    kinds = list(map(type, held))
    if not _TOLD_APART.issuperset(kinds):
        return None
    # Its globals, its builtins, its keyword defaults: any other dict is its __dict__ or
    # its annotations' dict.
    if kinds.count(dict) != 2 + (func.__kwdefaults__ is not None):
        return None
    defaults, closure = func.__defaults__, func.__closure__
    tuples = kinds.count(tuple)
    extra = tuples - (defaults is not None) - (closure is not None)
    if extra == 0:
        return {}  # (it has no annotations)
    if extra != 1:
        return None
    # How CPython keeps annotations until they are read: name, value, name, value...
    pairs = defaults  # (unless another tuple is: then its annotations' are its defaults)
    at = -1
    for _ in range(tuples):
        at = kinds.index(tuple, at + 1)
        if held[at] is not defaults and held[at] is not closure:
            pairs = held[at]
            break
    assert pairs is not None
    last = _last  # (read once: another thread may pickle meanwhile)
    if pairs is last[0]:
        return dict(last[1])  # (a dict of its own, as cloudpickle would send)
    names = pairs[::2]
    if len(pairs) % 2 or not all(type(name) is str for name in names):
        return None
    annotations = dict(zip(names, pairs[1::2], strict=True))
    _last = (pairs, annotations)
    return dict(annotations)
