"""What runs inside a worker process: execute a batch of jobs, check and hash their outputs.

Kept small and free of the engine's state: a batch arrives as plain tuples and goes back as
plain tuples. Each job's failure is caught and returned with the job's own traceback, so one
failing job never takes the rest of its batch down.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import pickle
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, NamedTuple

from . import cache, hashing, plotstate, reads, statedir
from .errors import JobContractError
from .kinds import TASK_DUMP, TASK_PLOT, TASK_VALUE, TASK_VALUES
from .tracebacks import user_frames
from .userfiles import UserFiles


class Task(NamedTuple):
    job_id: str
    task: str  # jobs.TASK_*
    fn: Any
    paths: tuple[str, ...]  # outputs as declared (relative to the workdir, or absolute)
    outputs: tuple[str, ...]  # absolute
    with_path: bool
    multi: bool
    empty_ok: bool
    extra: Any  # the stored calc result a plot job draws; the names of a job's values
    log_path: str
    # A task chained to the one before it in its batch (which it depends on) runs only if
    # that one succeeded, and - when `unless` is set - only if that one's output fingerprint
    # is not `unless` (what this job consumed last time); else it is up to date, and its
    # output fingerprint stays `kept`.
    chained: bool = False
    unless: str | None = None
    kept: str = ""
    declared: tuple[str, ...] = ()  # absolute paths of its declared input files
    ignored: tuple[str, ...] = ()  # paths whose reads are not tracked (job.ignore_reads)


class Context(NamedTuple):
    """What every task of a run shares: where jobs run, the pipeline's directory, what
    the user's files are, whether to record what jobs read, and the main process's
    `sys.path` (a directory a notebook added after the workers started must reach them)."""

    workdir: str
    ppg_dir: str
    files: UserFiles
    record_reads: bool = True
    path: tuple[str, ...] = ()
    style: plotstate.Style = ()  # what the main process changed in matplotlib's rcParams
    style_key: str = ""


class Functions:
    """The job functions of a batch, unpickled in the worker only once the user's modules
    it had imported before are current again (see `_forget_stale_modules`): a function
    of the user's module travels by reference and must be the one in the file now."""

    def __init__(self, fns: list[Any]) -> None:
        self._fns: list[Any] | None = fns
        self._data = b""

    def __reduce__(self) -> tuple[Any, ...]:
        import cloudpickle

        if self._fns is None:  # (sent on again as it came)
            return (_functions_from, (self._data,))
        return (_functions_from, (cloudpickle.dumps(self._fns),))

    def load(self) -> list[Any]:
        if self._fns is None:
            self._fns = pickle.loads(self._data)
        return self._fns


def _functions_from(data: bytes) -> Functions:
    functions = Functions([])
    functions._fns = None
    functions._data = data
    return functions


class Result(NamedTuple):
    job_id: str
    ok: bool
    start: float
    duration: float
    outputs: list[list[Any]]  # [[path, mtime_ns, size, hash], ...] when ok
    fingerprint: str  # output fingerprint when ok
    error: BaseException | None
    traceback: str  # as formatted in the worker
    frames: list[tuple[str, int, str]]  # (file, line, function) of the user's frames
    log: str
    skipped: bool = False  # a chained task found up to date
    found: reads.Found | None = None  # files it read and wrote (SPEC §3a), if any


_LOG_TAIL = 20_000


def run_batch(
    context: Context,
    tasks: list[Task],
    functions: Functions,
    abandoned: str | None = None,
    spool: str | None = None,
    watch_parent: bool = True,
) -> list[Result]:
    """Run the tasks one after the other in the context's workdir; a result for each that
    was run (a chained task after a failure is not: the main process settles it).

    `abandoned`: a file that exists once the run was interrupted (workers that outlive an
    interrupt: a dask cluster's); the batch then stops, and a failed job's outputs are not
    removed, since the next run may be writing them. `spool`: a directory where the
    results of finished jobs are left while a later job of the batch runs long (see
    Spool). `watch_parent`: exit when the process that started this worker dies (our own
    loky workers; not a cluster's)."""
    if watch_parent:
        _watch_parent()
    if os.getcwd() != context.workdir:
        os.chdir(context.workdir)
    if context.path and sys.path[: len(context.path)] != list(context.path):
        sys.path[:] = [*context.path, *(p for p in sys.path if p not in context.path)]
    _forget_stale_modules(context.files)
    try:
        fns = functions.load()
    except Exception as e:  # (a module one needs cannot be imported here, say)
        if len(tasks) > 1:
            raise  # the main process sends them again one by one: one fails, not all
        return [_not_loaded(tasks[0], e)]
    results: list[Result] = []
    with Spool(spool, results) as spooled:
        return _run_tasks(context, tasks, fns, abandoned, results, spooled)


def _run_tasks(
    context: Context,
    tasks: list[Task],
    fns: list[Any],
    abandoned: str | None,
    results: list[Result],
    spooled: Spool,
) -> list[Result]:
    try:
        for task, fn in zip(tasks, fns, strict=True):
            spooled.next_job()
            if abandoned and os.path.exists(abandoned):
                break
            if task.chained:
                before = results[-1] if results else None
                if before is None or not before.ok:
                    break
                if task.unless is not None and before.fingerprint == task.unless:
                    results.append(_up_to_date(task))
                    continue
            plotstate.before_job(context.style, context.style_key)
            try:
                results.append(run_task(context, task._replace(fn=fn), abandoned))
            finally:
                plotstate.after_job(context.style, context.style_key)
                if os.getcwd() != context.workdir:  # (a job that changed directory)
                    os.chdir(context.workdir)
    finally:
        _note_modules(context.files)
    return results


_module_stats: dict[str, tuple[int, int]] = {}  # user module -> its file's stat when seen
_user_module_files: dict[str, str | None] = {}  # module name -> its file, if the user's


def _user_modules(files: UserFiles) -> dict[str, str]:
    found = {}
    for name, module in list(sys.modules.items()):
        if name not in _user_module_files:
            path = getattr(module, "__file__", None)
            user = isinstance(path, str) and path.endswith(".py")
            absolute = os.path.abspath(path) if user else ""  # type: ignore[arg-type]
            _user_module_files[name] = absolute if user and files.contains(absolute) else None
        path = _user_module_files[name]
        if path is not None:
            found[name] = path
    return found


def _stat(path: str) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (-1, -1)
    return (st.st_mtime_ns, st.st_size)


def _note_modules(files: UserFiles) -> None:
    for name, path in _user_modules(files).items():
        _module_stats.setdefault(name, _stat(path))


def _forget_stale_modules(files: UserFiles) -> None:
    """If a user module this worker imported has changed on disk since, forget every user
    module, so that the jobs import them again as they are now (a module that imported
    names from a changed one holds its old functions)."""
    modules = _user_modules(files)
    if not any(_module_stats.get(n, _stat(p)) != _stat(p) for n, p in modules.items()):
        return
    for name in modules:
        sys.modules.pop(name, None)
        _module_stats.pop(name, None)
        _user_module_files.pop(name, None)


def _not_loaded(task: Task, error: BaseException) -> Result:
    msg = (
        f"job {task.job_id!r}: its function could not be loaded in the worker process "
        f"({type(error).__name__}: {error}); what it uses must be importable there too "
        f"(a module on sys.path, or in the project directory)"
    )
    return Result(task.job_id, False, time.time(), 0.0, [], "", RuntimeError(msg), "", [], "")


def start_worker(parent: int | None = None) -> None:
    """What each of our loky worker processes runs first.

    It ignores Ctrl-C (a terminal sends it to the whole process group): the main process
    stops the run and its workers; a worker that went on would take the next job queued
    for it, though the interrupt dropped that job. And it exits when its parent dies, from
    its start: a kill -9 of the main process before a job reached it must not leave it
    behind."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _watch_parent(parent)


def preload(modules: list[str]) -> None:
    """Import what jobs will likely need (see pool.LokyWorkers.preload), and what a batch
    needs anyway; a module that fails to import here fails in the job that needs it."""
    import cloudpickle  # noqa: F401  (a batch's functions)
    import joblib  # noqa: F401  (stored values)

    for name in modules:
        with contextlib.suppress(Exception):
            importlib.import_module(name)


_watching: list[int] = []  # the parent pid being watched, once a watch has started


def _watch_parent(parent: int | None = None) -> None:
    """Exit when the process that started this worker (`parent`, by default the one it
    has now) dies, even by kill -9: an orphaned worker must not go on writing outputs that
    a later run is about to write. A worker whose parent died while it started exits at
    once."""
    if _watching:
        return
    parent = parent or os.getppid()
    _watching.append(parent)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="ppg-parent-watch", daemon=True).start()


class Spool:
    """The results of a batch's finished jobs, left in a directory while a later job of
    the batch runs long: the main process records them then, not when the whole batch
    returns, so that a kill loses at most the jobs that were running (SPEC §5), however
    long a job turns out to be. Nothing is written for a batch of quick jobs."""

    AFTER = 0.3  # seconds a job runs before the results before it are left

    def __init__(self, directory: str | None, results: list[Result]) -> None:
        self.directory = directory
        self.results = results
        self.left = 0  # how many results are in the directory
        self.since = time.monotonic()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Spool:
        if self.directory is not None:
            self._thread = threading.Thread(target=self._watch, name="ppg-spool", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()  # (nothing is left once the batch has returned)

    def next_job(self) -> None:
        self.since = time.monotonic()

    def _watch(self) -> None:
        while not self._done.wait(0.1):
            finished = len(self.results)
            if finished > self.left and time.monotonic() - self.since > self.AFTER:
                self._leave(finished)

    def _leave(self, finished: int) -> None:
        assert self.directory is not None
        data = pickle.dumps(self.results[self.left : finished])
        path = os.path.join(self.directory, f"{self.left:06d}.pkl")
        try:
            os.makedirs(self.directory, exist_ok=True)
            with open(path + ".tmp", "wb") as f:
                f.write(data)
            os.replace(path + ".tmp", path)
        except OSError:
            return  # (a full disk): they are recorded when the batch returns
        self.left = finished


def _up_to_date(task: Task) -> Result:
    return Result(task.job_id, True, time.time(), 0.0, [], task.kept, None, "", [], "", True)


def run_task(context: Context, task: Task, abandoned: str | None = None) -> Result:
    start = time.time()
    t0 = time.perf_counter()
    buffer = LiveLog(task.log_path + statedir.LIVE)
    found: reads.Found | None = None
    try:
        with buffer, contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            if not context.record_reads:
                fingerprint = _execute(task)
            else:
                with reads.recording(whole_process=True) as recorded:
                    fingerprint = _execute(task)
                scope = reads.Scope(
                    context.files,
                    context.workdir,
                    context.ppg_dir,
                    task.outputs,
                    task.declared,
                    task.ignored,
                )
                found = reads.summarize(recorded, scope)
                if found is reads.NOTHING:
                    found = None
        outputs = [_describe_output(task, path) for path in task.outputs]
        if task.task not in (TASK_VALUE, TASK_DUMP):
            fingerprint = hashing.combine([o[3] for o in outputs])
    except BaseException as e:  # (KeyboardInterrupt too: a worker ignores Ctrl-C, so it is
        # the job's own, and fails only the job)
        error: BaseException = e
        if not (abandoned and os.path.exists(abandoned)):
            left = _remove_outputs(task)
            if left:
                msg = f"{type(e).__name__}: {e}; and what it wrote cannot be removed: "
                error = JobContractError(msg + ", ".join(left))
        log = _write_log(task, buffer.getvalue())
        tb = user_frames(e)
        return Result(
            task.job_id, False, start, time.perf_counter() - t0, [], "", _picklable(error),
            "".join(traceback.format_exception(type(e), e, tb)),
            [(f.filename, f.lineno or 0, f.name) for f in traceback.extract_tb(tb)], log,
        )  # fmt: skip
    log = _write_log(task, buffer.getvalue())
    duration = time.perf_counter() - t0
    return Result(
        task.job_id, True, start, duration, outputs, fingerprint, None, "", [], log, False, found
    )


def _execute(task: Task) -> str:
    """Run the job's function; returns a value fingerprint for value-storing tasks.
    The directories of its outputs are created first, as pypipegraph does."""
    for path in task.outputs:
        parent = os.path.dirname(path)
        if not os.path.isdir(parent):
            os.makedirs(parent, exist_ok=True)
    if task.task in (TASK_VALUE, TASK_DUMP):
        return _store(task, "its value", task.fn(), task.outputs[0])
    if task.task == TASK_VALUES:
        _store_values(task, task.fn())
        return ""
    if task.task == TASK_PLOT:
        figure = task.fn(cache.load(task.extra))
        if not hasattr(figure, "savefig"):
            msg = (
                f"PlotJob {task.job_id!r}: the plot function returned {type(figure).__name__}, "
                f"not a matplotlib figure; return the figure (e.g. `fig, ax = plt.subplots()` "
                f"... `return fig`)"
            )
            raise JobContractError(msg)
        figure.savefig(task.outputs[0])  # (closed after the job, with every figure)
        return ""
    if task.with_path:
        arg: Any = [Path(p) for p in task.paths] if task.multi else Path(task.paths[0])
        task.fn(arg)
    else:
        task.fn()
    return ""


def _store_values(task: Task, values: Any) -> None:
    """Store each of a MultiValueJob's values in its own file (task.extra: their names)."""
    names = task.extra
    if not isinstance(values, dict) or set(values) != set(names):
        got = sorted(values) if isinstance(values, dict) else type(values).__name__
        msg = (
            f"job {task.job_id!r} must return a dict with exactly the values "
            f"{', '.join(names)}; it returned {got}"
        )
        raise JobContractError(msg)
    for name, path in zip(names, task.outputs, strict=True):
        _store(task, f"its value {name!r}", values[name], path)


def _store(task: Task, what: str, value: Any, path: str) -> str:
    """cache.store, with a failure said as the job's: its code ran, what could not be
    stored, and how to fix it (a full disk, or a value that cannot be pickled)."""
    try:
        return cache.store(value, path)
    except cache.StoreError as e:
        fix = (
            f"free some disk space in {os.path.dirname(path)} and run again"
            if isinstance(e.__cause__, OSError)
            else "return something picklable (plain data, arrays, frames)"
        )
        msg = (
            f"job {task.job_id!r}: its code ran, but {what} "
            f"(a {type(value).__module__}.{type(value).__qualname__}) could not be "
            f"stored: {e}. To fix it, {fix}"
        )
        raise JobContractError(msg) from None


def _describe_output(task: Task, path: str) -> list[Any]:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        shown = task.paths[task.outputs.index(path)] if task.paths else path
        msg = (
            f"job {task.job_id!r} finished without writing its output {shown!r}; "
            f"its function must create that file (it is called with the path to write "
            f"when it takes an argument)"
        )
        raise JobContractError(msg) from None
    if st.st_size == 0 and not task.empty_ok:
        shown = task.paths[task.outputs.index(path)] if task.paths else path
        msg = (
            f"job {task.job_id!r} wrote an empty file {shown!r}; write something, "
            f"or declare the job with empty_ok=True if empty is a valid result"
        )
        raise JobContractError(msg)
    return [path, st.st_mtime_ns, st.st_size, hashing.hash_file(path)]


def _remove_outputs(task: Task) -> list[str]:
    """Remove what a failed job left of its outputs (through a symbolic link, the file
    it points to: that is where the partial content is); what could not be removed."""
    problems = []
    for path in task.outputs:
        targets = [os.path.realpath(path), path] if os.path.islink(path) else [path]
        for target in targets:
            try:
                os.unlink(target)
            except FileNotFoundError:
                continue
            except OSError as e:  # a directory, a read-only place, ...
                shown = task.paths[task.outputs.index(path)] if task.paths else path
                problems.append(f"{shown!r} ({e.strerror or e})")
    return problems


class LiveLog(io.StringIO):
    """A job's stdout and stderr: kept, and written through to `path` as it is printed,
    so that the kernel can show it while the job runs (the file is removed at the end,
    when the whole log is written)."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self._file: Any = None
        self._broken = False

    def write(self, text: str) -> int:
        n = super().write(text)
        if not self._broken:
            try:
                if self._file is None:
                    os.makedirs(os.path.dirname(self.path), exist_ok=True)
                    self._file = open(self.path, "w", encoding="utf-8", errors="replace")  # noqa: SIM115
                self._file.write(text)
                self._file.flush()
            except OSError:
                self._broken = True  # (a full disk): the log is still kept
        return n

    def __enter__(self) -> LiveLog:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            with contextlib.suppress(OSError):
                os.unlink(self.path)


def _write_log(task: Task, text: str) -> str:
    if text:
        try:
            os.makedirs(os.path.dirname(task.log_path), exist_ok=True)
            with open(task.log_path, "w", encoding="utf-8", errors="replace") as f:
                f.write(text)
        except OSError as e:  # (a full disk): the job's outcome stands; its tail is kept
            note = f"\n[ppg_notebook: this log could not be saved to {task.log_path}: {e}]\n"
            return text[-_LOG_TAIL:] + note
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(task.log_path)
    return text[-_LOG_TAIL:]


def _picklable(e: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(e))
    except Exception:
        return RuntimeError(f"{type(e).__name__}: {e}")
    return e
