"""A batch of tasks run in a worker process, one after the other; their results spooled.

The entry point the backends send (pool.py, dask_backend.py): `run_batch` gets the process
ready for the batch (its working directory, `sys.path`, the user's modules current:
worker_process.py), loads the batch's functions, and runs each task (worker_task.py),
a chained one only if the task before it succeeded. While a later job of the batch runs
long, the results of those before it are left for the main process (`Spool`).
"""

from __future__ import annotations

import os
import pickle
import sys
import threading
import time
from typing import Any

from . import plotstate, worker_process
from .worker import Context, Functions, Result, Task
from .worker_task import run_task


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
        worker_process.watch_parent()
    if os.getcwd() != context.workdir:
        os.chdir(context.workdir)
    if context.path and sys.path[: len(context.path)] != list(context.path):
        sys.path[:] = [*context.path, *(p for p in sys.path if p not in context.path)]
    worker_process.forget_stale_modules(context.files)
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
        worker_process.note_modules(context.files)
    return results


def _not_loaded(task: Task, error: BaseException) -> Result:
    msg = (
        f"job {task.job_id!r}: its function could not be loaded in the worker process "
        f"({type(error).__name__}: {error}); what it uses must be importable there too "
        f"(a module on sys.path, or in the project directory)"
    )
    return Result(task.job_id, False, time.time(), 0.0, [], "", RuntimeError(msg), "", [], "")


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
