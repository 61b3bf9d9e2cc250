"""Stored results of value and cached jobs: joblib's format (fast for numpy and pandas).

Objects whose class was defined in a notebook or script (`__main__`) cannot be pickled by
reference in a worker; they are stored with cloudpickle instead, behind a marker, and read
back transparently.
"""

from __future__ import annotations

import contextlib
import os
import pickle
from typing import Any

from . import hashing
from .errors import DamagedValue

_CLOUDPICKLED = b"ppg_notebook:cloudpickle\n"


def store(value: Any, path: str) -> str:
    """Write `value` to `path` atomically; returns the value's fingerprint.

    The fingerprint is joblib's hash of the value, or, for a value joblib can store but
    not hash (numpy masked arrays, a fitted GridSearchCV holding them), the hash of what
    was stored. Raises StoreError, saying why, if the value cannot be stored.
    """
    import joblib  # imported on use: joblib takes 0.2 s to import

    os.makedirs(os.path.dirname(path), exist_ok=True)
    # A short temporary name beside it: a long but legal name must not become too long.
    tmp = os.path.join(os.path.dirname(path), f".tmp-{os.getpid()}-{os.urandom(4).hex()}")
    try:
        try:
            joblib.dump(value, tmp)
        except (pickle.PicklingError, AttributeError, TypeError):
            import cloudpickle

            data = cloudpickle.dumps(value)
            with open(tmp, "wb") as f:
                f.write(_CLOUDPICKLED + data)
        try:
            fingerprint = joblib.hash(value) or ""
        except Exception:
            fingerprint = hashing.hash_file(tmp)
        os.replace(tmp, path)  # a reader never sees half a value
    except Exception as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        msg = f"{type(e).__name__}: {e}"
        raise StoreError(msg) from e
    return fingerprint


class StoreError(Exception):
    """A value could not be stored (not picklable, or the disk is full)."""


def load(path: str) -> Any:
    """The value stored at `path`. Raises FileNotFoundError if there is none, DamagedValue
    if it cannot be read back."""
    with open(path, "rb") as f:
        head = f.read(len(_CLOUDPICKLED))
        try:
            if head == _CLOUDPICKLED:
                return pickle.loads(f.read())
            import joblib

            return joblib.load(path)
        except Exception as e:
            if isinstance(e, MemoryError) or (isinstance(e, OSError) and e.errno is not None):
                raise  # the machine (memory, a disk error), not the file: the value is kept
            msg = f"the stored value {path} cannot be read ({type(e).__name__}: {e})"
            raise DamagedValue(msg, path) from e


def discard(path: str) -> None:
    """Remove a stored value that cannot be read: its job then runs again."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
