"""What the walk of the user's code (codewalk.py) is made of: refs, and the items they
stand for; and which values are plain (they lead to no code).

A ref names where the walk goes next (usermodules.py makes them from names the code reads):
("live", obj, module, name), an object found under `name` in `module` (name None: found
inside another object, a closure value or a default); or ("symbol", module, name), a
top-level definition of a user module. What a ref stands for is an `Item` (codeitems.py).

`main_values` says which module-level values of `__main__` count as parameters of the code
that reads them: all of them (TRACK_ALL, a `%%ppg_job` body's globals), or only immutable
constants (TRACK_CONSTANTS, a script's job functions).
"""

from __future__ import annotations

from typing import Any, NamedTuple

TRACK_ALL = "all"
TRACK_CONSTANTS = "constants"
CONSTANTS = (int, float, complex, bool, str, bytes, type(None))  # plain values' types
NO_VALUE = object()  # (an item that is not a module-level value)


class Item(NamedTuple):
    """What a ref stands for: the user's code or value under `key`, with its fingerprint
    and the refs it leads to (key "": not an item itself, only what it holds)."""

    key: str
    fingerprint: str
    children: list[Any]  # refs
    module: str | None  # the user module it is defined in (None: __main__, or nothing)
    value: Any  # the module-level value it is, or NO_VALUE


def live_ref(obj: Any) -> tuple[Any, ...]:
    """A ref to an object found inside another (a closure value, a default, ...)."""
    return ("live", obj, "", None)


def ref_key(ref: Any) -> Any:
    """What tells refs apart (a live object by its id: it is kept alive with the ref)."""
    if ref[0] == "symbol":
        return ref
    return ("live", id(ref[1]), ref[2], ref[3])


def is_plain(ref: tuple[Any, ...]) -> bool:
    """An anonymous ref to a plain value (a closure's number): it leads to no code."""
    return ref[3] is None and type(ref[1]) in CONSTANTS


def holder(objects: list[Any]) -> Item:
    """Not an item itself: only what it holds (a bound method, a partial, a wrapper)."""
    return Item("", "", [live_ref(o) for o in objects], None, NO_VALUE)
