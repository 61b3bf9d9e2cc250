"""The loky worker processes: started once, reused by every run and pipeline of a process.

The pool is our own loky executor (not joblib's global one), so interrupting a run signals
only processes the pipeline started, never workers the user's own joblib calls use.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import threading
import types
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from . import worker, worker_batch, worker_process
from .errors import JobContractError

_IDLE_TIMEOUT = 300  # seconds an idle worker lives, as in joblib
_pools: dict[int, Any] = {}
_pools_lock = threading.Lock()  # (workers may be warmed from a thread of their own)


def _loky() -> Any:
    # loky itself rather than joblib's bundled copy: the same executor, but workers start
    # without importing all of joblib (0.2 s each). Imported on first use, as a run with
    # nothing to do never needs it.
    from loky import process_executor

    return process_executor


def _pool(cores: int) -> Any:
    with _pools_lock:
        pool = _pools.get(cores)
        if pool is None or pool._flags.broken or pool._flags.shutdown:
            pool = _loky().ProcessPoolExecutor(
                max_workers=cores,
                timeout=_IDLE_TIMEOUT,
                initializer=worker_process.start_worker,
                initargs=(os.getpid(),),
            )
            _pools[cores] = pool
        return pool


class LokyWorkers:
    """The pipeline's view of its workers (the runner asks only this; see dask_backend.py
    for the other kind): `cores` processes of the loky pool shared by every pipeline of the
    process that has that many cores."""

    lingers = False  # interrupted jobs are stopped with their worker processes

    def __init__(self, cores: int) -> None:
        self.cores = cores

    def connect(self, workdir: str, ppg_dir: str) -> int:
        """Ready to run jobs of a pipeline in `workdir`; returns how many run at once."""
        return self.cores

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        loky = _loky()
        try:
            return _pool(self.cores).submit(fn, *args)
        except (loky.BrokenProcessPool, loky.ShutdownExecutorError, RuntimeError):
            self._discard()
            return _pool(self.cores).submit(fn, *args)

    def run_batch(
        self,
        context: worker.Context,
        tasks: list[worker.Task],
        functions: worker.Functions,
        abandoned: str | None,
        spool: str | None = None,
    ) -> Future[Any]:
        """Send a batch of tasks to a worker (see worker_batch.run_batch)."""
        return self.submit(worker_batch.run_batch, context, tasks, functions, abandoned, spool)

    def warm(self) -> None:
        """Start the workers now, so they are ready when the first job is sent."""
        if self.cores not in _pools:
            for _ in range(self.cores):
                self.submit(int)

    def preload(self, modules: list[str]) -> None:
        """Start the workers if need be, and have each import `modules` (the libraries
        the kernel imported) while they wait for their first job; without waiting."""
        for _ in range(self.cores):
            self.submit(worker_process.preload, modules)

    def lost(self, error: BaseException) -> str | None:
        """If `error` says a worker died (loky's TerminatedWorkerError is a
        BrokenProcessPool): how, for the message; else None. The broken pool is dropped."""
        if not isinstance(error, _loky().BrokenProcessPool):
            return None
        self._discard()
        codes = re.search(r"exit codes of the workers are \{([^}]*)\}", str(error))
        return f"exit code {codes.group(1)}" if codes else ""

    def stop(self) -> None:
        """Stop the jobs running now (interrupt): only our own worker processes."""
        self._discard(kill=True)

    def _discard(self, kill: bool = False) -> None:
        """Forget the pool; with `kill`, stop its workers (and the jobs they run) now."""
        pool = _pools.pop(self.cores, None)
        if pool is not None:
            pool.shutdown(wait=False, kill_workers=kill)


@atexit.register
def _shutdown() -> None:
    # Let idle workers exit while the interpreter is still whole (loky otherwise reports
    # errors from its threads during interpreter shutdown).
    for cores in list(_pools):
        pool = _pools.pop(cores)
        pool.shutdown(wait=True)


def explain_send_failure(job: Any, error: BaseException) -> JobContractError:
    """A clear error for a job whose function could not be sent to a worker."""
    cause = error.__cause__ or error
    culprit = find_unpicklable(job.fn)
    what = f"{culprit} cannot be pickled" if culprit else f"it cannot be pickled ({cause})"
    msg = (
        f"job {job.job_id!r} cannot be sent to a worker process: {what}. Create that object "
        f"inside the job's function instead of capturing it, or load it in the main process "
        f"with a DataLoadingJob."
    )
    return JobContractError(msg)


def find_unpicklable(fn: Any, depth: int = 0) -> str | None:
    """Names the closure variable, default or global of `fn` that cannot be pickled."""
    import cloudpickle

    code = getattr(fn, "__code__", None)
    if not isinstance(code, types.CodeType) or depth > 3:
        return None
    candidates: list[tuple[str, Any]] = []
    for name, cell in zip(code.co_freevars, fn.__closure__ or (), strict=False):
        with contextlib.suppress(ValueError):  # an empty cell: bound later
            candidates.append((f"the captured variable {name!r}", cell.cell_contents))
    for i, value in enumerate(fn.__defaults__ or ()):
        candidates.append((f"default argument #{i + 1}", value))
    fn_globals = getattr(fn, "__globals__", {})
    for name in code.co_names:
        if name in fn_globals:
            candidates.append((f"the global {name!r}", fn_globals[name]))
    for label, value in candidates:
        try:
            cloudpickle.dumps(value)
        except Exception:
            inner = find_unpicklable(value, depth + 1) if callable(value) else None
            described = f"{label} (a {type(value).__module__}.{type(value).__qualname__})"
            return f"{described}, through {inner}" if inner else described
    return None
