"""Which pipeline newly constructed jobs join (pypipegraph's "current pipegraph")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_current: Any = None
_factory: Callable[[], Any] | None = None


def get() -> Any:
    """The current pipeline, created with default settings on first use."""
    global _current
    if _current is None:
        if _factory is None:
            msg = "no pipeline: call ppg.new_pipeline() before declaring jobs"
            raise RuntimeError(msg)
        _current = _factory()
    return _current


def peek() -> Any:
    """The current pipeline, or None if there is none yet."""
    return _current


def set_current(pipeline: Any) -> None:
    global _current
    _current = pipeline


def set_factory(factory: Callable[[], Any]) -> None:
    global _factory
    _factory = factory
