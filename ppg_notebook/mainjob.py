"""Running a job in the main process: a loading job, a job-generating job, a final job.

These jobs change the caller's own objects (what they load is kept in memory), so they
run here, in the pipeline's directory, with the files they open recorded (SPEC §3a) and
refused if a user module they reach was edited after this process imported it (livecode).
A Ctrl-C (or `Pipeline.stop()`) stops the run; a KeyboardInterrupt the job raises itself
only fails the job.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from . import livecode, reads, tracebacks
from .errors import StaleModule
from .jobs import Job
from .records import Record


class Ran(NamedTuple):
    record: Record | None  # its start and duration; None if it failed
    found: reads.Found = reads.NOTHING  # what it read and wrote
    error: BaseException | None = None
    traceback: str = ""


def refused(job: Job, modules_seen: dict[str, list[str]]) -> StaleModule | None:
    """Why `job` must not run in this process: a user module it reaches was edited after
    this process imported it (`modules_seen`: the modules compared with their files in
    this run already)."""
    reach = job.code_reach()
    stale = livecode.problem(job.job_id, reach.modules, modules_seen) if reach else None
    return None if stale is None else StaleModule(stale)


def run_here(
    job: Job,
    workdir: str,
    record_reads: bool,
    scope: Callable[[], reads.Scope],
    interrupted: Callable[[], bool],
) -> Ran:
    """Run `job` now, in this process (`scope()`: what its reads are judged against;
    `interrupted()`: whether a KeyboardInterrupt is the user's, which stops the run)."""
    start = time.time()
    t0 = time.perf_counter()
    try:
        with working_directory(workdir), contextlib.ExitStack() as stack:
            recorded = stack.enter_context(reads.recording()) if record_reads else None
            job.load()  # type: ignore[attr-defined]
    except KeyboardInterrupt as e:
        if interrupted():
            raise  # the user's Ctrl-C, or stop(): the run stops
        return Ran(None, error=e, traceback=_traceback_from_user(e))  # the job's own
    except Exception as e:
        return Ran(None, error=e, traceback=_traceback_from_user(e))
    found = reads.summarize(recorded, scope()) if recorded is not None else reads.NOTHING
    return Ran({"t": start, "d": time.perf_counter() - t0}, found)


def _traceback_from_user(e: BaseException) -> str:
    return "".join(traceback.format_exception(type(e), e, tracebacks.user_frames(e)))


@contextlib.contextmanager
def noticing_ctrl_c() -> Iterator[threading.Event]:
    """Within the block, an event set when a real Ctrl-C (SIGINT) arrives, as opposed to a
    job that raises KeyboardInterrupt itself. Signals reach the main thread only: a run
    in another thread is stopped with Pipeline.stop()."""
    seen = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield seen
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: Any) -> None:
        if previous == signal.SIG_IGN:
            return
        seen.set()
        if callable(previous):
            previous(signum, frame)
        else:
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    try:
        yield seen
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def working_directory(path: str) -> Iterator[None]:
    before = os.getcwd()
    if before == path:
        yield
        return
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)
