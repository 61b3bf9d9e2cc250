"""One task executed in a worker: its function run, its outputs checked and hashed.

`run_task` runs a job's function in the worker's working directory with its prints
captured (`LiveLog`, written through to the job's live log) and, if the run records them,
the files it reads recorded (reads.py). A value is stored (cache.py); each output file
must exist (and not be empty unless allowed) and is hashed. Whatever the job raises comes
back in its `Result` with the job's own frames; what a failed job wrote is removed.
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import time
import traceback
from pathlib import Path
from typing import Any

from . import cache, hashing, reads, statedir
from .errors import JobContractError
from .kinds import TASK_DUMP, TASK_PLOT, TASK_VALUE, TASK_VALUES
from .tracebacks import user_frames
from .worker import Context, Result, Task

_LOG_TAIL = 20_000


def run_task(context: Context, task: Task, abandoned: str | None = None) -> Result:
    """Run `task` (its function in `task.fn`) here and now; its result, failed or not.
    `abandoned`: as for worker_batch.run_batch (a failed job's outputs are then left)."""
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
