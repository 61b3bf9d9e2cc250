"""The job kinds users construct, named as in pypipegraph: `Job`, what every job and
invariant is, and the jobs that write files, load data or run in the main process.

A job is a declaration: an id, a function, its outputs and what it depends on. Constructing
one adds it to the current pipeline. Jobs know nothing about how or when they run; each
class points at its kind's record (`policy`, see kinds.py), which tells the runner where
and when to execute them. Invariants are in invariants.py, the jobs that keep values on
disk (and plots) in values.py.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar

from . import cache, current, hashing, ids
from .codewalk import CodeWalker, Reach
from .current import Registry
from .errors import JobContractError
from .kinds import KINDS, Kind
from .userfiles import normalize_path


class Job:
    """A node of the pipeline: something that runs, loads, or is an invariant input."""

    __slots__ = (
        "_epoch",
        "_reach",
        "cores_needed",
        "empty_ok",
        "fn",
        "ignored_reads",
        "job_id",
        "outputs",
        "paths",
        "pipeline",
        "track_code",
        "upstream",
        "with_path",
    )
    policy: ClassVar[Kind]  # what its kind does (each class points at its record)
    # The record's name and flags, read often (the runner asks them of every job):
    kind: ClassVar[str]
    where: ClassVar[str]
    task: ClassVar[str]
    lazy: ClassVar[bool]
    always: ClassVar[bool]
    last: ClassVar[bool]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "policy" in cls.__dict__:
            p = cls.policy
            cls.kind, cls.where, cls.task = p.name, p.where, p.task
            cls.lazy, cls.always, cls.last = p.lazy, p.always, p.last

    def __init__(
        self,
        job_id: str,
        fn: Callable[..., Any] | None,
        outputs: tuple[str, ...] = (),
        paths: tuple[str, ...] = (),
        *,
        cores_needed: int = 1,
        empty_ok: bool = False,
    ) -> None:
        if fn is not None and not callable(fn):
            msg = f"job {job_id!r}: expected a function, got {type(fn).__name__}: {fn!r}"
            raise TypeError(msg)
        self.job_id = job_id
        self.fn = fn
        self.outputs = outputs  # absolute paths the job writes
        self.paths = paths  # the same, as the user wrote them (ids)
        # Job ids, or raw path/id references resolved at run: a tuple of job ids (shared
        # with the run's edges, see references.py; the many jobs with none share the
        # empty tuple), else a list.
        self.upstream: list[Any] | tuple[Any, ...] = ()
        self.cores_needed = cores_needed
        self.empty_ok = empty_ok
        self.track_code = fn is not None
        self.with_path = False
        self.ignored_reads: tuple[str, ...] = ()  # absolute paths (files or directories)
        self._reach: Reach | None = None  # the walk of its code, in walk epoch `_epoch`
        self._epoch = -1
        self.pipeline: Registry | None = None  # (set when the pipeline adds it)

    # --- what users call -------------------------------------------------------------
    def depends_on(self, *things: Any) -> Job:
        """Add dependencies: jobs, lists of jobs, invariants, or file paths / job ids."""
        for thing in _flatten(things):
            if isinstance(thing, Job):
                ref: Any = thing.job_id
            elif isinstance(thing, (str, os.PathLike)):
                ref = _Ref(os.fspath(thing))
            else:
                msg = (
                    f"job {self.job_id!r}: depends_on() takes jobs, lists of jobs or file "
                    f"paths, not {type(thing).__name__}: {thing!r}"
                )
                raise TypeError(msg)
            if ref == self.job_id:
                msg = f"job {self.job_id!r} cannot depend on itself"
                raise ValueError(msg)
            self.add_upstream(ref)
        return self

    def add_upstream(self, ref: Any) -> None:
        """Depend on `ref` (a job id or a `_Ref`), once."""
        upstream = self.upstream
        if not upstream:
            # (a job id is resolved already: a tuple, see references.py; a path, a list)
            self.upstream = (ref,) if type(ref) is str else [ref]
        elif ref not in upstream:
            if isinstance(upstream, tuple):  # (resolved by a run: see references.py)
                self.upstream = [*upstream, ref]
            else:
                upstream.append(ref)

    def ignore_code_changes(self) -> Job:
        """Do not rerun this job when its function's code changes."""
        self.track_code = False
        return self

    def ignore_reads(self, *paths: str | os.PathLike[str]) -> Job:
        """Do not track these files (or everything under these directories) when the job
        reads them at run time (SPEC §3a)."""
        workdir = self.pipeline.workdir if self.pipeline is not None else os.getcwd()
        added = tuple(normalize_path(p, workdir)[1] for p in _flatten(paths))
        self.ignored_reads = tuple(dict.fromkeys(self.ignored_reads + added))
        return self

    @property
    def filenames(self) -> list[str]:
        return list(self.paths)

    def code_reach(self) -> Reach | None:
        """The job function's code and the user's code it reaches (SPEC §3a), looked at
        again in every run; None if code changes are ignored."""
        if not self.track_code or self.fn is None:
            return None
        return self._cached_reach()

    def _cached_reach(self) -> Reach:
        """`_walk`, done once per walk epoch (a run, a plan), unless it is quick."""
        assert self.pipeline is not None  # (a declared job: its pipeline added it)
        walker = self.pipeline.code
        reach = self._reach
        if reach is None or self._epoch != walker.epoch:
            reach = self._walk(walker)
            self._reach = None if reach.quick else reach  # (see Reach.quick)
            self._epoch = walker.epoch
        return reach

    def _walk(self, walker: CodeWalker) -> Reach:
        return walker.function(self.fn)

    def code_fingerprint(self) -> str | None:
        if not self.track_code or self.fn is None:  # (code_reach's, inline: once per job)
            return None
        if self._reach is None:  # (not walked this epoch: perhaps quick to tell)
            assert self.pipeline is not None
            quick = self.pipeline.code.quick_fingerprint(self.fn)
            if quick is not None:
                return quick
        return self._cached_reach().fingerprint

    def output_key(self) -> str | None:
        """For invariants: the fingerprint of what they stand for (computed on demand)."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.job_id!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # A job captured by a function sent to a worker travels as a small handle.
        return (JobHandle, (self.job_id, self.paths, self._value_path()))

    def _value_path(self) -> str | None:
        return None


class _Ref(str):
    """A dependency given as a string: a job id or a file path, resolved at run time."""

    __slots__ = ()


def _flatten(things: Iterable[Any]) -> Iterable[Any]:
    for thing in things:
        if isinstance(thing, (list, tuple, set, frozenset)):
            yield from _flatten(thing)
        else:
            yield thing


class JobHandle:
    """What a job looks like inside a worker: its id, files and (for value jobs) value."""

    def __init__(self, job_id: str, paths: tuple[str, ...], value_path: str | None) -> None:
        self.job_id = job_id
        self.paths = paths
        self._value_path = value_path

    @property
    def filenames(self) -> list[str]:
        return list(self.paths)

    @property
    def value(self) -> Any:
        if self._value_path is None:
            msg = f"job {self.job_id!r} has no value (only ValueJobs have one)"
            raise AttributeError(msg)
        return cache.load(self._value_path)

    def __repr__(self) -> str:
        return f"JobHandle({self.job_id!r})"


# --- file jobs -------------------------------------------------------------------------
class FileGeneratingJob(Job):
    """`fn()` or `fn(path)` writes the file `path` (in a worker process)."""

    __slots__ = ()
    policy = KINDS["file"]

    def __init__(
        self,
        path: str | os.PathLike[str],
        fn: Callable[..., Any],
        *,
        empty_ok: bool = False,
        cores_needed: int = 1,
    ) -> None:
        self._init_files([path], fn, empty_ok=empty_ok, cores_needed=cores_needed)

    def _init_files(self, paths: list[Any], fn: Any, **kw: Any) -> None:
        pipeline = current.registry()
        if len(paths) == 1:  # (the common case, kept fast)
            rel, absolute = normalize_path(paths[0], pipeline.workdir)
            rels, absolutes = (rel,), (absolute,)
        else:
            rels, absolutes = zip(
                *(normalize_path(p, pipeline.workdir) for p in paths), strict=True
            )
        job_id = ids.files(rels) if self.policy.several_files else rels[0]
        Job.__init__(self, job_id, fn, tuple(absolutes), tuple(rels), **kw)
        self.with_path = fn is not None and hashing.wants_argument(fn)
        pipeline.add_job(self)


class MultiFileGeneratingJob(FileGeneratingJob):
    """`fn()` or `fn(paths)` writes all of `paths`."""

    __slots__ = ()
    policy = KINDS["multifile"]

    def __init__(
        self,
        paths: Iterable[str | os.PathLike[str]],
        fn: Callable[..., Any],
        *,
        empty_ok: bool = False,
        cores_needed: int = 1,
    ) -> None:
        paths = list(paths)
        if not paths:
            msg = "MultiFileGeneratingJob needs at least one output path"
            raise ValueError(msg)
        self._init_files(paths, fn, empty_ok=empty_ok, cores_needed=cores_needed)


class TempFileGeneratingJob(FileGeneratingJob):
    """Writes a file that exists only while jobs depending on it run."""

    __slots__ = ()
    policy = KINDS["tempfile"]


def _name(name: Any, cls: type) -> str:
    if not isinstance(name, str) or not name:
        msg = f"{cls.__name__} needs a non-empty string name, got {name!r}"
        raise TypeError(msg)
    return name


# --- main-process jobs -----------------------------------------------------------------
class _MainJob(Job):
    """A named job whose function runs in the main process (`load()`)."""

    __slots__ = ()

    def __init__(self, name: str, fn: Callable[..., Any]) -> None:
        super().__init__(_name(name, type(self)), fn)
        current.registry().add_job(self)

    def load(self) -> None:
        self.fn()  # type: ignore[misc]


class JobGeneratingJob(_MainJob):
    """Runs every run, in the main process; the jobs it declares run in the same run."""

    __slots__ = ()
    policy = KINDS["generating"]


class FinalJob(_MainJob):
    """Runs in the main process after every other job, when anything ran (or it changed)."""

    __slots__ = ()
    policy = KINDS["final"]


# --- loading ---------------------------------------------------------------------------
class DataLoadingJob(_MainJob):
    """`fn()` runs in the main process when a dependant needs it; must not return None."""

    __slots__ = ()
    policy = KINDS["load"]

    def load(self) -> None:
        result = self.fn()  # type: ignore[misc]
        if result is None:
            msg = (
                f"DataLoadingJob {self.job_id!r} returned None; return the loaded data "
                f"(or anything not None) so that the pipeline knows it loaded"
            )
            raise JobContractError(msg)


class AttributeLoadingJob(DataLoadingJob):
    """`setattr(obj, attr, fn())` in the main process, when a dependant needs it."""

    __slots__ = ("attr", "obj")
    policy = KINDS["attribute"]

    def __init__(self, name: str, obj: Any, attr: str, fn: Callable[..., Any]) -> None:
        self.obj = obj
        self.attr = attr
        super().__init__(name, fn)

    def load(self) -> None:
        setattr(self.obj, self.attr, self.fn())  # type: ignore[misc]


class _CalcJob(FileGeneratingJob):
    """The calculating half of a cached job: `calc()` in a worker, stored with joblib."""

    __slots__ = ()
    policy = KINDS["cachecalc"]


class _LoadCached(DataLoadingJob):
    """The loading half of a cached job: reads the stored result in the main process."""

    __slots__ = ("calc", "sink")
    policy = KINDS["loadcached"]

    def __init__(self, calc: _CalcJob, sink: Callable[[Any], Any]) -> None:
        self.calc = calc
        self.sink = sink
        super().__init__("load:" + calc.job_id, sink)
        self.add_upstream(calc.job_id)

    def load(self) -> None:
        self.sink(cache.load(self.calc.outputs[0]))

    def depends_on(self, *things: Any) -> Job:
        # Dependencies decide when the data must be recalculated.
        self.calc.depends_on(*things)
        return self


def CachedDataLoadingJob(
    cache_path: str | os.PathLike[str],
    calc: Callable[[], Any],
    load: Callable[[Any], Any],
) -> Job:
    """`calc()` in a worker, its result stored at `cache_path`; `load(result)` in the kernel."""
    return _LoadCached(_CalcJob(cache_path, calc), load)


def CachedAttributeLoadingJob(
    cache_path: str | os.PathLike[str], obj: Any, attr: str, calc: Callable[[], Any]
) -> Job:
    """`calc()` in a worker, stored at `cache_path`; then `setattr(obj, attr, result)`."""
    job = _LoadCached(_CalcJob(cache_path, calc), _Setter(obj, attr))
    job.track_code = False  # the setter is ours, not the user's code
    return job


class _Setter:
    def __init__(self, obj: Any, attr: str) -> None:
        self.obj = obj
        self.attr = attr

    def __call__(self, value: Any) -> None:
        setattr(self.obj, self.attr, value)


def as_path_list(job: Job) -> Any:
    """What a file job's function receives: a Path, or a list of Paths for several."""
    if job.policy.several_files:
        return [Path(p) for p in job.paths]
    return Path(job.paths[0])
