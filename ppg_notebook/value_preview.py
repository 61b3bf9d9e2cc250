"""A short preview of a value job's value for the details panel: type, shape, short repr.

Only a value already in the kernel (a notebook cell's variable) or stored small enough to
load at once is previewed: a click must not load gigabytes.
"""

from __future__ import annotations

import os
import reprlib
from typing import Any

from . import cache
from .records import Record
from .widget_protocol import ValuePreview

MAX_LOAD_BYTES = 20_000_000
_repr = reprlib.Repr()
_repr.maxstring = 120
_repr.maxother = 120
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 8


def of_job(
    job: Any, record: Record, namespace: dict[str, Any] | None, cell: Any
) -> ValuePreview | None:
    """`{"type", "shape", "repr"}` of a value job's current value, or None."""
    if not job.policy.value or record.get("o") != "ok":
        return None
    if cell is not None and namespace is not None and cell.name in namespace:
        return describe(namespace[cell.name])
    path = job._value_path()
    try:
        if path is None or os.path.getsize(path) > MAX_LOAD_BYTES:
            return None
        return describe(cache.load(path))
    except Exception:  # a preview is a convenience: the value's own errors show on use
        return None


def describe(value: Any) -> ValuePreview:
    shape = getattr(value, "shape", None)
    if shape is None and hasattr(value, "__len__"):
        try:
            shape = f"{len(value)} items"
        except TypeError:
            shape = None
    text = _repr.repr(value) if not hasattr(value, "shape") else repr(value)
    if len(text) > 400:
        text = text[:399] + "…"
    return {
        "type": f"{type(value).__module__}.{type(value).__qualname__}".removeprefix("builtins."),
        "shape": "" if shape is None else str(tuple(shape) if isinstance(shape, tuple) else shape),
        "repr": text,
    }
