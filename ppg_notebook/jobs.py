"""The job kinds users construct, named as in pypipegraph.

A job is a declaration: an id, a function, its outputs and what it depends on. Constructing
one adds it to the current pipeline. Jobs know nothing about how or when they run; the
class attributes `where` and `lazy` tell the runner where to execute them.
"""

from __future__ import annotations

import os
import types
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar

from . import cache, current, hashing, ids, plotstate
from .codewalk import TRACK_CONSTANTS, CodeWalker, Reach
from .errors import DamagedValue, JobContractError
from .userfiles import normalize_path

# Where a job's function runs.
WORKER = "worker"
MAIN = "main"
NOWHERE = "nowhere"  # invariants: nothing runs, they only have a fingerprint

# What the worker does with a job's function (see worker.py).
TASK_FILE = "file"
TASK_VALUE = "value"
TASK_VALUES = "values"
TASK_DUMP = "dump"
TASK_PLOT = "plot"


class Job:
    """A node of the pipeline: something that runs, loads, or is an invariant input."""

    __slots__ = (
        "_code",
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
    kind: ClassVar[str] = "job"
    where: ClassVar[str] = WORKER
    task: ClassVar[str] = TASK_FILE
    lazy: ClassVar[bool] = False  # runs only when a dependant runs
    always: ClassVar[bool] = False  # runs every run (job generating)

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
        self.upstream: list[Any] = []  # job ids, or raw path/id references resolved at run
        self.cores_needed = cores_needed
        self.empty_ok = empty_ok
        self.track_code = fn is not None
        self.with_path = False
        self.ignored_reads: tuple[str, ...] = ()  # absolute paths (files or directories)
        self._code: tuple[int, Reach] | None = None  # (walk epoch, reach)
        self.pipeline: Any = None

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
            if ref not in self.upstream:
                self.upstream.append(ref)
        return self

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
        """`_walk`, done once per walk epoch (a run, a plan)."""
        walker = self.pipeline.code
        if self._code is None or self._code[0] != walker.epoch:
            self._code = (walker.epoch, self._walk(walker))
        return self._code[1]

    def _walk(self, walker: CodeWalker) -> Reach:
        return walker.function(self.fn)

    def code_fingerprint(self) -> str | None:
        reach = self.code_reach()
        return None if reach is None else reach.fingerprint

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
    kind = "file"

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
        pipeline = current.get()
        if len(paths) == 1:  # (the common case, kept fast)
            rel, absolute = normalize_path(paths[0], pipeline.workdir)
            rels, absolutes = (rel,), (absolute,)
        else:
            rels, absolutes = zip(
                *(normalize_path(p, pipeline.workdir) for p in paths), strict=True
            )
        job_id = ids.files(rels) if self.kind == "multifile" else rels[0]
        Job.__init__(self, job_id, fn, tuple(absolutes), tuple(rels), **kw)
        self.with_path = fn is not None and hashing.wants_argument(fn)
        pipeline.add_job(self)


class MultiFileGeneratingJob(FileGeneratingJob):
    """`fn()` or `fn(paths)` writes all of `paths`."""

    __slots__ = ()
    kind = "multifile"

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
    kind = "tempfile"
    lazy = True


def _name(name: Any, cls: type) -> str:
    if not isinstance(name, str) or not name:
        msg = f"{cls.__name__} needs a non-empty string name, got {name!r}"
        raise TypeError(msg)
    return name


# --- values and loading ----------------------------------------------------------------
class DataLoadingJob(Job):
    """`fn()` runs in the main process when a dependant needs it; must not return None."""

    __slots__ = ()
    kind = "load"
    where = MAIN
    lazy = True

    def __init__(self, name: str, fn: Callable[..., Any]) -> None:
        super().__init__(_name(name, type(self)), fn)
        current.get().add_job(self)

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
    kind = "attribute"

    def __init__(self, name: str, obj: Any, attr: str, fn: Callable[..., Any]) -> None:
        self.obj = obj
        self.attr = attr
        super().__init__(name, fn)

    def load(self) -> None:
        setattr(self.obj, self.attr, self.fn())  # type: ignore[misc]


class _CalcJob(FileGeneratingJob):
    """The calculating half of a cached job: `calc()` in a worker, stored with joblib."""

    __slots__ = ()
    kind = "cachecalc"
    task = TASK_DUMP


class _LoadCached(DataLoadingJob):
    """The loading half of a cached job: reads the stored result in the main process."""

    __slots__ = ("calc", "sink")
    kind = "loadcached"

    def __init__(self, calc: _CalcJob, sink: Callable[[Any], Any]) -> None:
        self.calc = calc
        self.sink = sink
        super().__init__("load:" + calc.job_id, sink)
        self.upstream.append(calc.job_id)

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


class ValueJob(Job):
    """`fn()` runs in a worker; its return value is stored on disk and exposed as `.value`."""

    __slots__ = ("_loaded", "_value")
    kind = "value"
    task = TASK_VALUE

    def __init__(self, name: str, fn: Callable[[], Any], *, cores_needed: int = 1) -> None:
        pipeline = current.get()
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
    kind = "values"
    task = TASK_VALUES

    def __init__(
        self, name: str, names: Iterable[str], fn: Callable[[], Any], *, cores_needed: int = 1
    ) -> None:
        pipeline = current.get()
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
    kind = "plot"
    task = TASK_PLOT

    def __init__(
        self,
        path: str | os.PathLike[str],
        calc: Callable[[], Any],
        plot: Callable[[Any], Any],
    ) -> None:
        plot_id, _ = normalize_path(path, current.get().workdir)
        self.calc_job = ValueJob(f"{plot_id}:calc", calc)
        self._init_files([path], plot)
        self.with_path = False
        self.upstream.append(self.calc_job.job_id)
        self.upstream.append(StyleInvariant("matplotlib style").job_id)

    def depends_on(self, *things: Any) -> Job:
        self.calc_job.depends_on(*things)
        return self


# --- main-process jobs -----------------------------------------------------------------
class JobGeneratingJob(DataLoadingJob):
    """Runs every run, in the main process; the jobs it declares run in the same run."""

    __slots__ = ()
    kind = "generating"
    lazy = False
    always = True

    def load(self) -> None:
        self.fn()  # type: ignore[misc]


class FinalJob(DataLoadingJob):
    """Runs in the main process after every other job, when anything ran (or it changed)."""

    __slots__ = ()
    kind = "final"
    lazy = False

    def load(self) -> None:
        self.fn()  # type: ignore[misc]


# --- invariants ------------------------------------------------------------------------
class _Invariant(Job):
    __slots__ = ("fingerprint",)
    where = NOWHERE
    fingerprint: str | None  # what it stands for (None: worked out from its file)

    def output_key(self) -> str | None:
        return self.fingerprint

    def reach(self) -> Reach | None:
        """The user's code its fingerprint covers (function and parameter invariants)."""
        return None


class _CodeInvariant(_Invariant):
    """An invariant whose fingerprint is a walk of the user's code (`_walk`), done again
    in every run."""

    __slots__ = ()

    def reach(self) -> Reach:
        return self._cached_reach()

    def output_key(self) -> str | None:
        return self.reach().fingerprint


class FunctionInvariant(_CodeInvariant):
    """Dependants rerun when `fn`'s code, closure or defaults change, or the user's code
    it reaches (SPEC §3a). `main_values`: which module-level values of `__main__` that
    code reads count (codewalk.TRACK_CONSTANTS, or TRACK_ALL for a notebook cell's)."""

    __slots__ = ("main_values",)
    kind = "function"

    def __init__(
        self, name: str, fn: Callable[..., Any], *, main_values: str = TRACK_CONSTANTS
    ) -> None:
        super().__init__(ids.function(_name(name, type(self))), None)
        if not callable(fn):
            msg = f"FunctionInvariant {name!r}: expected a function, got {fn!r}"
            raise TypeError(msg)
        self.fn = fn
        self.main_values = main_values
        self.fingerprint = hashing.function_fingerprint(fn)  # its own code: the identity
        current.get().add_job(self)

    def _walk(self, walker: CodeWalker) -> Reach:
        return walker.function(self.fn, self.main_values)


class ModuleReadsInvariant(_CodeInvariant):
    """Dependants rerun when the user's code that a `%%ppg_job` body reads through a user
    module (`utils.clean_rows(...)`) changes: the functions, classes and values it uses of
    it, and what they reach in turn (SPEC §3a)."""

    __slots__ = ("code", "modules")
    kind = "function"

    def __init__(self, name: str, code: types.CodeType, modules: dict[str, Any]) -> None:
        super().__init__(ids.function(_name(name, type(self))), None)
        self.code = code
        self.modules = dict(modules)
        self.fingerprint = hashing.hash_bytes(repr(sorted(modules)).encode())
        current.get().add_job(self)

    def _walk(self, walker: CodeWalker) -> Reach:
        return walker.reads_of(self.code, self.modules)


class StyleInvariant(_Invariant):
    """Dependants rerun when the main process's matplotlib style changes (what it changed
    in rcParams, e.g. `plt.style.use('ggplot')`): jobs that draw with pyplot are given it,
    so that a figure job looks like the same code run in a cell (plotstate.py)."""

    __slots__ = ()
    kind = "parameter"

    def __init__(self, name: str) -> None:
        super().__init__(ids.parameter(_name(name, type(self))), None)
        self.fingerprint = "matplotlib style"  # (the identity: what it stands for)
        current.get().add_job(self)

    def output_key(self) -> str | None:
        return plotstate.style_fingerprint(plotstate.kernel_style())


class ParameterInvariant(_CodeInvariant):
    """Dependants rerun when `value` changes (an object of the user's class also when
    that class's code changes). `live`: the value is looked at again in every run (a
    notebook global a cell reads, which later cells may change in place), else as it was
    when declared, as in pypipegraph."""

    __slots__ = ("live", "value")
    kind = "parameter"

    def __init__(self, name: str, value: Any, *, live: bool = False) -> None:
        super().__init__(ids.parameter(_name(name, type(self))), None)
        self.value = value
        self.live = live
        pipeline = current.get()
        reach = pipeline.code.value(value)
        self.fingerprint = reach.own  # the value itself, as declared
        self._code = (pipeline.code.epoch, reach)
        pipeline.add_job(self)

    def output_key(self) -> str | None:
        if not self.live and self._code is not None and not self._code[1].children:
            return self._code[1].fingerprint  # (a value as declared, with no code in it)
        return super().output_key()

    def _walk(self, walker: CodeWalker) -> Reach:
        if self.live:
            return walker.value(self.value)
        assert self._code is not None  # (the walk when it was declared)
        declared = self._code[1]
        return walker.again(declared) if declared.children else declared


class FileInvariant(_Invariant):
    """Dependants rerun when the file's content changes (mtime/size first, then a hash)."""

    __slots__ = ()
    kind = "input"

    def __init__(self, path: str | os.PathLike[str], *, pipeline: Any = None) -> None:
        pipeline = pipeline or current.get()
        rel, absolute = normalize_path(path, pipeline.workdir)
        super().__init__(ids.input_file(rel), None, (absolute,), (rel,))
        self.fingerprint = None  # computed by the pipeline from the file (with its stat cache)
        pipeline.add_job(self)


class ValuePart(FileInvariant):
    """One value of a `MultiValueJob` (id `value:JOB.NAME`), standing for it as an input of
    its own: it depends on the job, and its fingerprint is its stored file's (mtime and
    size first, its hash to confirm), so a dependant reruns only when that value changed."""

    __slots__ = ("name", "owner")
    kind = "part"

    def __init__(self, job: MultiValueJob, name: str) -> None:
        path = job.outputs[job.names.index(name)]
        _Invariant.__init__(self, ids.value_part(job.job_id, name), None, (path,), (path,))
        self.fingerprint = None
        self.owner = job.job_id
        self.name = name
        self.depends_on(job)
        job.pipeline.add_job(self)


def as_path_list(job: Job) -> Any:
    """What a file job's function receives: a Path, or a list of Paths for several."""
    if job.kind == "multifile":
        return [Path(p) for p in job.paths]
    return Path(job.paths[0])
