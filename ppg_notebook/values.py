"""The jobs that keep values on disk: `ValueJob`, `MultiValueJob` with a `ValuePart` for
each of its values (an input of its own, beside the job it belongs to), and `PlotJob`
(a ValueJob's data, drawn into a file).

A value is stored by the worker that computed it (cache.py) and read in the main process
on first use after a run, as `job.value` or `job.values`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from . import cache, current, ids
from .errors import DamagedValue, JobContractError
from .invariants import FileInvariant, StyleInvariant
from .jobs import FileGeneratingJob, Job, _name
from .kinds import KINDS
from .userfiles import normalize_path


class ValueJob(Job):
    """`fn()` runs in a worker; its return value is stored on disk and exposed as `.value`."""

    __slots__ = ("_loaded", "_value")
    policy = KINDS["value"]

    def __init__(self, name: str, fn: Callable[[], Any], *, cores_needed: int = 1) -> None:
        pipeline = current.registry()
        name = _name(name, type(self))
        super().__init__(name, fn, (pipeline.value_path(name),), (), cores_needed=cores_needed)
        self._loaded = False
        self._value: Any = None
        pipeline.add_job(self)

    @property
    def value(self) -> Any:
        """The stored return value (loaded from disk on first access after a run)."""
        if not self._loaded:
            self._value = _load_value(f"ValueJob {self.job_id!r}", self.job_id, self.outputs[0])
            self._loaded = True
        return self._value

    def forget_value(self) -> None:
        self._loaded = False
        self._value = None

    def _value_path(self) -> str | None:
        return self.outputs[0]


def _load_value(what: str, job_id: str, path: str) -> Any:
    """The value stored at `path` by job `job_id` (`what` names it in errors); a damaged
    one is removed, so that the job runs again."""
    try:
        return cache.load(path)
    except FileNotFoundError:
        msg = f"{what} has no stored value yet: run the pipeline first"
        raise JobContractError(msg) from None
    except DamagedValue as e:
        cache.discard(e.path)
        msg = (
            f"{what}: {e}; it was damaged on disk and is removed: "
            f"the next run of the pipeline runs {job_id!r} again"
        )
        raise DamagedValue(msg, e.path) from e.__cause__


class MultiValueJob(Job):
    """`fn()` runs in a worker and returns a dict with a value for each of `names`; each
    value is stored on disk on its own and is `job.values[name]` in the main process.

    A dependant that needs only some of the values depends on their parts
    (`job.part(name)`, a `ValuePart`): it reruns only when one of *those* values changed.
    Depending on the job itself means depending on all of them.
    """

    __slots__ = ("_parts", "_values", "names")
    policy = KINDS["values"]

    def __init__(
        self, name: str, names: Iterable[str], fn: Callable[[], Any], *, cores_needed: int = 1
    ) -> None:
        pipeline = current.registry()
        name = _name(name, type(self))
        names = tuple(names)
        if not names or len(set(names)) != len(names) or not all(isinstance(n, str) for n in names):
            msg = f"MultiValueJob {name!r} needs distinct names for its values, got {names!r}"
            raise ValueError(msg)
        outputs = tuple(pipeline.value_path(f"{name}.{n}") for n in names)
        super().__init__(name, fn, outputs, (), cores_needed=cores_needed)
        self.names = names
        self._values: dict[str, Any] = {}
        pipeline.add_job(self)
        self._parts = {n: ValuePart(self, n) for n in names}

    @property
    def values(self) -> dict[str, Any]:
        """Every stored value by name (each loaded from disk on first access after a run)."""
        return {n: self.value_of(n) for n in self.names}

    def value_of(self, name: str) -> Any:
        """The stored value `name`."""
        if name not in self._values:
            what = f"value {name!r} of MultiValueJob {self.job_id!r}"
            self._values[name] = _load_value(what, self.job_id, self._parts[name].outputs[0])
        return self._values[name]

    def part(self, name: str) -> ValuePart:
        """The value `name` as a dependency of its own."""
        if name not in self._parts:
            msg = f"MultiValueJob {self.job_id!r} has no value {name!r}; its values: {self.names}"
            raise KeyError(msg)
        return self._parts[name]

    def forget_value(self) -> None:
        self._values.clear()


class PlotJob(FileGeneratingJob):
    """`calc()` cached in a worker; `plot(data)` returns a matplotlib figure saved to `path`."""

    __slots__ = ("calc_job",)
    policy = KINDS["plot"]

    def __init__(
        self,
        path: str | os.PathLike[str],
        calc: Callable[[], Any],
        plot: Callable[[Any], Any],
    ) -> None:
        plot_id, _ = normalize_path(path, current.registry().workdir)
        self.calc_job = ValueJob(f"{plot_id}:calc", calc)
        self._init_files([path], plot)
        self.with_path = False
        self.add_upstream(self.calc_job.job_id)
        self.add_upstream(StyleInvariant("matplotlib style").job_id)

    def depends_on(self, *things: Any) -> Job:
        self.calc_job.depends_on(*things)
        return self


class ValuePart(FileInvariant):
    """One value of a `MultiValueJob` (id `value:JOB.NAME`), standing for it as an input of
    its own: it depends on the job, and its fingerprint is its stored file's (mtime and
    size first, its hash to confirm), so a dependant reruns only when that value changed."""

    __slots__ = ("name", "owner")
    policy = KINDS["part"]

    def __init__(self, job: MultiValueJob, name: str) -> None:
        path = job.outputs[job.names.index(name)]
        Job.__init__(self, ids.value_part(job.job_id, name), None, (path,), (path,))
        self.fingerprint = None
        self.owner = job.job_id
        self.name = name
        self.depends_on(job)
        assert job.pipeline is not None  # (its job was added just before it)
        job.pipeline.add_job(self)
