"""The pipeline object: holds the declared jobs and wires graph, decision, runner and history.

One pipeline is "current" at a time (jobs join it when constructed); a notebook kernel or a
script usually has exactly one.
"""

from __future__ import annotations

import atexit
import functools
import gc
import os
import threading
import warnings
from collections.abc import Callable, Container, Iterable
from typing import Any

from . import current, explain, graph, hashing, statedir
from .codewalk import CodeWalker
from .dask_backend import DaskWorkers
from .decide import Reason
from .errors import (
    DependencyError,
    JobRedefinitionError,
    JobsFailed,
    PipelineWarning,
)
from .events import Listeners, Outcome, RunResult
from .graph import Edges
from .history import History
from .invariants import FileInvariant
from .jobs import Job, _Ref
from .kinds import NOWHERE
from .lock import DirectoryLock
from .pool import LokyWorkers
from .records import Record, Records
from .references import References
from .runner import Runner
from .userfiles import UserFiles

BACKENDS = ("loky", "dask")


class Pipeline:
    """A set of jobs, a directory that remembers what ran, and the means to run them."""

    def __init__(
        self,
        dir: str | os.PathLike[str] = ".ppg",
        cores: int | None = None,
        backend: str = "loky",
        *,
        scheduler: Any = None,
        allow_redefinition: bool = False,
        track: Iterable[str | os.PathLike[str]] = (),
        track_reads: bool = True,
    ) -> None:
        if backend not in BACKENDS:
            msg = f"unknown backend {backend!r}; available: {', '.join(BACKENDS)}"
            raise ValueError(msg)
        if scheduler is not None and backend != "dask":
            msg = "scheduler= is for backend='dask' (a dask.distributed scheduler or Client)"
            raise ValueError(msg)
        if cores is not None and (not isinstance(cores, int) or cores < 1):
            msg = f"cores must be a positive number or None (all CPUs), not {cores!r}"
            raise ValueError(msg)
        self.workdir = os.getcwd()
        self.dir = os.path.normpath(os.path.join(self.workdir, os.fspath(dir)))
        self.cores = cores or os.cpu_count() or 1
        self.backend = backend
        self.workers: Any = (
            DaskWorkers(scheduler, cores) if backend == "dask" else LokyWorkers(self.cores)
        )
        self.allow_redefinition = allow_redefinition
        if isinstance(track, (str, os.PathLike)):
            track = [track]
        self.track = tuple(os.fspath(t) for t in track)
        self.track_reads = track_reads
        self.files = UserFiles.of(self.workdir, self.track)  # what the user's code is
        self.code = CodeWalker(self.files, lambda: self.history)
        self.jobs: dict[str, Job] = {}
        self.producers: dict[str, str] = {}  # absolute output path -> job id
        self.references = References(self.jobs, self.producers, self.workdir, self._input_file)
        self.listeners = Listeners()  # (told of each run's events)
        # Called with the job's id after a job is declared, replaced or removed (the widget).
        self.graph_listeners: list[Callable[[str], None]] = []
        self._stop = threading.Event()
        self._history: History | None = None
        self.records_of_run: Records = Records()  # the records the current (last) run read
        # Jobs that failed in this session, with the inputs they failed with (runner.py).
        self._failures: dict[str, dict[str, str]] = {}

    # --- declaring -------------------------------------------------------------------
    def add_job(self, job: Job) -> Job:
        """Register a newly constructed job (called by the job constructors)."""
        if len(self.jobs) % _FREEZE_EVERY == _FREEZE_EVERY - 1:
            # The jobs live as long as the pipeline: the cyclic garbage collector's passes
            # leave them alone from now on (until a run ends, see run()). Declaring
            # 100,000 jobs spent half its time in those passes (and 8 % of it when they
            # were frozen every 10,000).
            gc.freeze()
        job_id = job.job_id
        old = self.jobs.get(job_id)
        if old is not None:
            self._redefine(old, job)
        if job.where != NOWHERE:
            for path in job.outputs:
                owner = self.producers.get(path)
                if owner is not None and owner != job_id:
                    msg = (
                        f"{path!r} would be written by two jobs: {owner!r} and {job_id!r}; "
                        f"each file must have exactly one job that writes it"
                    )
                    raise JobRedefinitionError(msg)
            for path in job.outputs:
                self.producers[path] = job_id
        job.pipeline = self
        self.jobs[job_id] = job
        if self.graph_listeners:
            self._graph_changed(job_id)
        return job

    def _graph_changed(self, job_id: str) -> None:
        for listener in self.graph_listeners:
            listener(job_id)

    def _redefine(self, old: Job, new: Job) -> None:
        if self.allow_redefinition:
            for path in old.outputs:
                if self.producers.get(path) == old.job_id:
                    del self.producers[path]
            return
        same = type(old) is type(new) and old.outputs == new.outputs
        if same and old.where == NOWHERE:
            same = getattr(old, "fingerprint", None) == getattr(new, "fingerprint", None)
        elif same:
            same = _function_key(old.fn) == _function_key(new.fn)
        if not same:
            msg = (
                f"job {old.job_id!r} is declared twice, differently: first as {_what(old)}, "
                f"then as {_what(new)}. Give each job its own id (output path or name)."
            )
            raise JobRedefinitionError(msg)
        for u in old.upstream:
            new.add_upstream(u)

    def remove_job(self, job_id: str) -> None:
        """Forget a declared job (notebook mode: a cell now declares a different job).

        Refused with DependencyError while another job depends on it; its history stays.
        """
        job = self.jobs.get(job_id)
        if job is None:
            return
        users = [other for other, j in self.jobs.items() if job_id in j.upstream]
        if users:
            shown = ", ".join(repr(u) for u in users)
            msg = f"job {job_id!r} is still needed: {shown} depend(s) on it"
            raise DependencyError(msg)
        del self.jobs[job_id]
        for path in job.outputs:
            if self.producers.get(path) == job_id:
                del self.producers[path]
        self._graph_changed(job_id)

    def _input_file(self, ref: _Ref) -> str:
        return FileInvariant(ref, pipeline=self).job_id

    def value_path(self, name: str) -> str:
        return statedir.value_file(self.dir, name)

    # --- the graph as it stands (references.py) -------------------------------------
    def _resolve(self, job_ids: Iterable[str]) -> Edges:
        return self.references.upstream(job_ids)

    def _graph(self, targets: Any = None) -> tuple[Edges, list[str]]:
        """(upstream, topological order) of the targets' closure (all jobs by default)."""
        upstream, order, _ = self.references.ordered(targets)
        return upstream, order

    def _ordered(self, targets: Any = None) -> tuple[Edges, list[str], Edges]:
        return self.references.ordered(targets)

    def _target_ids(self, targets: Any) -> list[str]:
        return self.references.targets(targets)

    @property
    def history(self) -> History:
        if self._history is None:
            os.makedirs(self.dir, exist_ok=True)
            self._history = History(os.path.join(self.dir, "history"))
        return self._history

    # --- running ---------------------------------------------------------------------
    def run(self, targets: Any = None) -> RunResult:
        """Run what must run (everything, or `targets` and their upstream)."""
        # While it runs, the garbage collector leaves alone what existed before (the jobs,
        # their records): at 10,000 jobs, its passes over them were a quarter of a run
        # with nothing to do. What becomes garbage meanwhile is collected as usual.
        gc.freeze()
        try:
            return self._run(targets)
        finally:
            gc.unfreeze()
            if len(self.jobs) >= _BIG:
                _no_final_collection()

    def _run(self, targets: Any) -> RunResult:
        upstream, order, down = self._ordered(targets)
        self.code.new_epoch()  # the user's modules are looked at again
        os.makedirs(self.dir, exist_ok=True)
        with DirectoryLock(os.path.join(self.dir, "lock")):
            self._stop.clear()
            runner = self._runner(targets, upstream, order, down)
            result = runner.execute()
            if runner.damaged:
                # A stored value could not be read, and was removed: its job runs now,
                # and so does what failed for want of it.
                result = _merged(result, self._runner(targets, upstream, order).execute())
            self.history.set_declared(list(self.jobs))  # (what `gc` may not remove)
        for warning in result.warnings:
            warnings.warn(warning, PipelineWarning, stacklevel=2)
        if result.errors:
            raise JobsFailed(_failure_message(result, self.dir), result.failed, result)
        return result

    def _runner(
        self,
        targets: Any,
        upstream: Edges,
        order: list[str],
        down: Edges | None = None,
    ) -> Runner:
        records = self.history.load()
        self.records_of_run = records  # (for the live progress's time left: read, not copied)
        gc.freeze()  # (the records too)
        return Runner(
            jobs=self._jobs_of(order),
            upstream=upstream,
            downstream=down,
            records=records,
            history=self.history,
            workdir=self.workdir,
            ppg_dir=self.dir,
            workers=self.workers,
            emit=self.listeners,
            extend=self._generated_jobs(),
            stop=self._stop,
            files=self.files,
            producers=self.producers,
            record_reads=self.track_reads,
            failures=self._failures,
            retry=None if targets is None else set(self._target_ids(targets)),
        )

    def _jobs_of(self, order: list[str]) -> dict[str, Job]:
        """The jobs of a run: the pipeline's own when it runs all of them (not copied:
        100,000 jobs; the jobs a generating job declares join it as they are declared,
        see `_generated_jobs`), else those of its targets' closure."""
        if len(order) == len(self.jobs):
            return self.jobs
        return {job_id: self.jobs[job_id] for job_id in order}

    def stop(self) -> None:
        """Stop the run in progress, from another thread, as Ctrl-C would: running jobs are
        stopped and their partial outputs removed, what finished stays recorded, and
        `run()` raises KeyboardInterrupt."""
        self._stop.set()

    def _generated_jobs(self) -> Callable[[Container[str]], tuple[dict[str, Job], Edges]] | None:
        """For the runner, after a generating job ran: the jobs declared since the last call
        (since the run started, at first) and those they need that the run (`known`) does
        not have yet, with their upstream ids. Declared jobs that were not targeted stay out.
        None if no job generates any: the run's jobs are all it will have."""
        if not any(job.policy.generates for job in self.jobs.values()):
            return None
        declared = set(self.jobs)

        def generated(known: Container[str]) -> tuple[dict[str, Job], Edges]:
            new = [job_id for job_id in self.jobs if job_id not in declared]
            declared.update(new)
            upstream = self.references.all_upstream(list(self.jobs))
            order = graph.topological_order(upstream)  # refuses a cycle
            needed = graph.upstream_closure(upstream, new)
            added = [job_id for job_id in order if job_id in needed and job_id not in known]
            return {job_id: self.jobs[job_id] for job_id in added}, {
                job_id: upstream[job_id] for job_id in added
            }

        return generated

    # --- explaining ------------------------------------------------------------------
    def plan(self, targets: Any = None) -> dict[str, Reason | None]:
        """What a run would do, without running: each job's reason to run (None: up to date).

        A job downstream of one that will run gets a `maybe` reason: it reruns only if that
        upstream's new output differs from what it consumed.
        """
        return self._plan(targets, self.history.load())

    def _plan(self, targets: Any, records: Records) -> dict[str, Reason | None]:
        return explain.plan(self, targets, records)

    def why(self, job: Job | str) -> str:
        """In words: will this job run on the next `run()`, and why?"""
        job_id = job.job_id if isinstance(job, Job) else self._target_ids([job])[0]
        return explain.why(self, job_id)

    def invalidate(self, *jobs: Job | str) -> None:
        """Make these jobs run again on the next run (their dependants rerun if outputs change)."""
        ids = self._target_ids(list(jobs))
        records = self.history.load()
        changed = []
        for job_id in ids:
            record: Record = {"i": {}, **(records.get(job_id) or {})}
            record["o"] = "invalidated"
            changed.append((job_id, record))
        self.history.put(changed)

    def status(self) -> list[dict[str, Any]]:
        """One row per job: id, kind, state, why it must run, last duration."""
        return explain.status_rows(self)

    def close(self) -> None:
        if self._history is not None:
            self._history.close()
            self._history = None


def _function_key(fn: Any) -> str:
    return hashing.function_fingerprint(fn) if fn is not None else ""


def _what(job: Job) -> str:
    fn = getattr(job.fn, "__qualname__", None) if job.fn is not None else None
    return f"a {type(job).__name__}" + (f" running {fn}()" if fn else "")


def _failure_message(result: RunResult, ppg_dir: str) -> str:
    lines = [f"{len(result.errors)} job(s) failed:"]
    for i, (job_id, error) in enumerate(result.errors.items()):
        lines.append(f"  - {job_id!r}: {type(error).__name__}: {error}")
        tb = result.tracebacks.get(job_id, "")
        if i < 5 and tb.startswith("Traceback"):
            lines.extend("      " + line for line in tb.rstrip().splitlines()[-12:])
    skipped = result.upstream_failed
    if skipped:
        shown = ", ".join(repr(s) for s in skipped[:10]) + (" ..." if len(skipped) > 10 else "")
        lines.append(f"{len(skipped)} job(s) did not run because an upstream job failed: {shown}")
    lines.append(f"Tracebacks are in {os.path.join(ppg_dir, 'errors')}; the next run retries.")
    return "\n".join(lines)


# --- the module-level API (pypipegraph style) ----------------------------------------
def new_pipeline(
    dir: str | os.PathLike[str] = ".ppg",
    cores: int | None = None,
    backend: str = "loky",
    **opts: Any,
) -> Pipeline:
    """A fresh pipeline, made current: jobs constructed from now on join it."""
    pipeline = Pipeline(dir, cores, backend, **opts)
    current.set_current(pipeline)
    return pipeline


def get_pipeline() -> Pipeline:
    return current.get()


def run(targets: Any = None) -> RunResult:
    """Run the current pipeline: what must run, for all jobs or `targets` and their upstream."""
    return current.get().run(targets)


def why(job: Job | str) -> str:
    return current.get().why(job)


def invalidate(*jobs: Job | str) -> None:
    current.get().invalidate(*jobs)


_FREEZE_EVERY = 1_000  # jobs declared between two freezes (see add_job)
_BIG = 10_000  # jobs of a pipeline whose process skips the final collection at exit

current.set_factory(Pipeline)


def _merged(first: RunResult, again: RunResult) -> RunResult:
    """One result for a run done in two passes: what the second did (to the jobs it ran,
    or that failed again) replaces what the first said of them."""
    for job_id, outcome in again.outcomes.items():
        if outcome is not Outcome.UP_TO_DATE or job_id not in first.outcomes:
            first.outcomes[job_id] = outcome
            if outcome is not Outcome.FAILED:
                first.errors.pop(job_id, None)
                first.tracebacks.pop(job_id, None)
    first.errors.update(again.errors)
    first.tracebacks.update(again.tracebacks)
    first.reasons.update(again.reasons)
    first.logs.update(again.logs)
    first.warnings.extend(again.warnings)
    first.loaders |= again.loaders
    first.duration += again.duration
    return first


@functools.cache
def _no_final_collection() -> None:
    """At exit the interpreter searches everything still alive for reference cycles; for
    a pipeline of 100,000 jobs that search took about a second after the work was done.
    Frozen objects are left out of it (the operating system reclaims the memory anyway),
    so a process that ran a big pipeline freezes what is left when it exits."""
    atexit.register(gc.freeze)
