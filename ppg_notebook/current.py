"""Which pipeline newly constructed jobs join (pypipegraph's "current pipegraph"), and
what jobs need of it (`Registry`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from .codewalk import CodeWalker


class Registry(Protocol):
    """What a job needs of the pipeline it joins (session.Pipeline is one)."""

    workdir: str  # what relative paths are relative to
    code: CodeWalker  # the walk of the user's code, for code fingerprints

    def add_job(self, job: Any) -> object:
        """Register a newly constructed job."""
        ...

    def value_path(self, name: str) -> str:
        """Where the value stored under `name` lives."""
        ...


_current: Registry | None = None
_factory: Callable[[], Registry] | None = None


def get() -> Any:
    """The current pipeline, created with default settings on first use (the whole
    session.Pipeline, which only modules above this one can name; jobs use `registry()`)."""
    global _current
    if _current is None:
        if _factory is None:
            msg = "no pipeline: call ppg.new_pipeline() before declaring jobs"
            raise RuntimeError(msg)
        _current = _factory()
    return _current


# The current pipeline (`get()`), as the jobs see it (the same function: no call more
# per job declared).
registry: Callable[[], Registry] = get


def peek() -> Any:
    """The current pipeline, or None if there is none yet."""
    return _current


def set_current(pipeline: Registry) -> None:
    global _current
    _current = pipeline


def set_factory(factory: Callable[[], Registry]) -> None:
    global _factory
    _factory = factory
