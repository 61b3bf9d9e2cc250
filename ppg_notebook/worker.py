"""What passes between the runner and a worker process: plain tuples, picklable as they are.

A job that must run travels as a `Task`, with the `Context` every task of the run shares
and its batch's `Functions`; a `Result` comes back for each job the worker ran. What the
worker does with them is in worker_batch.py (a batch, in order) and worker_task.py (one
task: its function run, its outputs checked and hashed); worker_process.py is the process
itself.
"""

from __future__ import annotations

import pickle
from typing import Any, NamedTuple

from . import plotstate, reads
from .userfiles import UserFiles


class Task(NamedTuple):
    """A job that must run, as the worker needs it (its function travels in `Functions`)."""

    job_id: str
    task: str  # kinds.TASK_*
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
    it had imported before are current again (see `worker_process.forget_stale_modules`):
    a function of the user's module travels by reference and must be the one in the file
    now."""

    def __init__(self, fns: list[Any]) -> None:
        self._fns: list[Any] | None = fns
        self._data = b""

    def __reduce__(self) -> tuple[Any, ...]:
        from . import fnpickle

        if self._fns is None:  # (sent on again as it came)
            return (_functions_from, (self._data,))
        return (_functions_from, (fnpickle.dumps(self._fns),))

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
    """What became of a job the worker ran: its outputs and their hashes, or its error."""

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
