"""Stored results of value and cached jobs: joblib's format (fast for numpy and pandas).

Objects whose class was defined in a notebook or script (`__main__`) cannot be pickled by
reference in a worker; they are stored with cloudpickle instead, behind a marker, and read
back transparently.
"""

from __future__ import annotations

import os
import pickle
from typing import Any

from . import hashing

_CLOUDPICKLED = b"ppg_notebook:cloudpickle\n"


def store(value: Any, path: str) -> str:
    """Write `value` to `path` atomically; returns the value's fingerprint."""
    import joblib  # imported on use: joblib takes 0.2 s to import

    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        joblib.dump(value, tmp)
        fingerprint = joblib.hash(value) or ""
    except (pickle.PicklingError, AttributeError, TypeError):
        import cloudpickle

        data = cloudpickle.dumps(value)
        with open(tmp, "wb") as f:
            f.write(_CLOUDPICKLED + data)
        fingerprint = hashing.hash_bytes(data)
    os.replace(tmp, path)  # a reader never sees half a value
    return fingerprint


def load(path: str) -> Any:
    """The value stored at `path` (raises FileNotFoundError if there is none)."""
    with open(path, "rb") as f:
        head = f.read(len(_CLOUDPICKLED))
        if head == _CLOUDPICKLED:
            return pickle.loads(f.read())
    import joblib

    return joblib.load(path)
