"""Executes a decided graph: worker jobs on loky, loading/generating jobs in the main process.

The runner walks the graph as upstream jobs finish. A job whose upstream is all settled is
decided (decide.reason_to_run) with the actual fingerprints of what it would consume, so an
upstream rerun with identical output does not rerun it. Small worker jobs travel in batches;
one job's failure never fails its batch. A dead worker fails only the job that killed it:
every job that was in flight with it is retried alone first. Each job's record is committed
as soon as its result arrives. Ctrl-C stops the workers, removes partial outputs and keeps
what finished.
"""

from __future__ import annotations

import contextlib
import functools
import os
import pickle
import queue
import shutil
import signal
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from . import (
    batching,
    cache,
    facts,
    graph,
    livecode,
    plotstate,
    pool,
    reads,
    statedir,
    tracebacks,
)
from .consumed import (
    NO_DETAILS,
    CodeDetails,
    code_details,
    describe,
    inputs_fingerprint,
    job_inputs,
    job_reason,
)
from .decide import UNKNOWN, Reason
from .errors import (
    CodeError,
    DamagedValue,
    FailedBefore,
    JobContractError,
    StaleModule,
    WorkerDied,
)
from .events import Event, Outcome, RunResult
from .invariants import FileInvariant
from .jobs import Job
from .kinds import MAIN, NOWHERE, TASK_PLOT, TASK_VALUES, WORKER
from .records import Records
from .triage import Action, triage
from .userfiles import UserFiles, normalize_path
from .worker import Context, Functions, Result, Task

_BAD = (Outcome.FAILED, Outcome.UPSTREAM_FAILED)


@dataclass(slots=True)
class _Batch:
    ids: list[str]
    cores: int
    only_one: bool  # nothing else was in flight while it ran (to find who kills workers)
    spool: str | None = None  # where its worker leaves results early (worker.Spool)
    taken: int = 0  # how many of its results were recorded from there

    @property
    def rest(self) -> list[str]:
        """Its jobs not recorded yet."""
        return self.ids[self.taken :]


class Runner:
    """One run over a resolved graph."""

    def __init__(
        self,
        *,
        jobs: dict[str, Job],
        upstream: dict[str, list[str]],
        order: list[str],
        records: Records,
        downstream: dict[str, list[str]] | None = None,
        history: Any,
        workdir: str,
        ppg_dir: str,
        workers: Any,
        emit: Callable[[Event], None],
        extend: Callable[[set[str]], tuple[dict[str, Job], dict[str, list[str]]]],
        stop: threading.Event | None = None,
        files: UserFiles | None = None,
        producers: dict[str, str] | None = None,
        record_reads: bool = True,
        failures: dict[str, dict[str, str]] | None = None,
        retry: set[str] | None = None,
    ) -> None:
        self.jobs = jobs
        self.stop = stop or threading.Event()  # set from another thread: stop like Ctrl-C
        self.up = upstream
        self.down = downstream if downstream is not None else graph.downstream_of(upstream)
        self.order = order
        self.records = records
        self.history = history
        self.workdir = workdir
        self.workers = workers  # pool.LokyWorkers or dask_backend.DaskWorkers
        self.ppg_dir = ppg_dir
        # Workers whose jobs outlive an interrupt (a cluster's) are told through this file
        # that their run was abandoned: they then leave the outputs alone.
        self.abandoned = os.path.join(ppg_dir, "abandoned", f"{os.getpid()}-{id(self):x}")
        # Results of finished jobs of batches still running (what a kill left there is
        # stale: the lock is held, nothing else writes here).
        self.spool = os.path.join(ppg_dir, "spool")
        if os.path.isdir(self.spool):
            shutil.rmtree(self.spool, ignore_errors=True)
        self.batches_sent = 0
        self.connected = False  # workers are reached when the first job is queued for them
        self.cores = workers.cores
        self.emit = emit
        self.extend = extend
        self.result = RunResult()
        self.remaining = {job_id: len(upstream[job_id]) for job_id in order}
        self.released: set[str] = set()
        self.fp: dict[str, str] = {}
        self.inputs: dict[str, dict[str, str]] = {}
        self.lazy_state: dict[str, str] = {}  # "running", "ok", "failed"
        self.waiters: dict[str, list[str]] = {}
        self.blocked: dict[str, int] = {}
        self.temp_users: dict[str, int] = {}
        self.finals: list[str] = []
        self.ready: deque[str] = deque()
        self.queue: deque[str] = deque()
        self.send_alone: set[str] = set()  # jobs to send one per batch (after a pickling error)
        self.chains: dict[str, list[str]] = {}  # queued job -> dependants fused after it
        self.fused: set[str] = set()  # jobs travelling chained behind their upstream
        self.unless: dict[str, str] = {}  # fused job -> upstream output that spares it
        self.suspects: deque[str] = deque()  # in flight when a worker died
        self.inflight: dict[Future[list[Result]], _Batch] = {}
        self.reserved = 0
        self.multi_inflight = 0
        self.completions: queue.SimpleQueue[Future[list[Result]]] = queue.SimpleQueue()
        self.pending_records: list[tuple[str, dict[str, Any]]] = []
        self.refreshed: list[str] = []
        self.timings = batching.Timings()  # this run's job durations so far
        self.modules_seen: dict[str, list[str]] = {}  # user modules compared with their files
        self.ctrl_c = threading.Event()  # (set while a run is on, see _noticing_ctrl_c)
        # Jobs that failed earlier in this session, with the inputs they failed with: one
        # that has the same inputs now is not run again for a dependant, only when asked
        # for itself (`retry`: the run's targets; None: every job is asked for).
        self.failures = failures if failures is not None else {}
        self.damaged: set[str] = set()  # jobs whose stored value could not be read
        self.retry = retry
        files = files or UserFiles.of(workdir)
        style = plotstate.kernel_style()
        key = plotstate.style_fingerprint(style) if style else ""
        self.context = Context(workdir, ppg_dir, files, record_reads, tuple(sys.path), style, key)
        self.producers = producers or {}
        self.states = facts.FileStates()
        self.details: dict[str, CodeDetails] = {}
        self.pending_code: dict[str, dict[str, Any]] = {}  # pieces of code to store
        self.stored_code: set[str] = set()

    # --- the loop --------------------------------------------------------------------
    def execute(self) -> RunResult:
        t0 = time.perf_counter()
        jobs = sum(1 for job_id in self.order if self.jobs[job_id].where != NOWHERE)
        self.emit(Event("run_started", data=jobs))
        self.ready.extend(job_id for job_id in self.order if self.remaining[job_id] == 0)
        try:
            with _noticing_ctrl_c() as self.ctrl_c:
                self._loop()
                self._run_finals()
        except BaseException:
            self._abort()
            raise
        finally:
            self._flush()
        for job_id in self.jobs:
            if job_id not in self.result.outcomes and self.jobs[job_id].lazy:
                self.result.outcomes[job_id] = Outcome.NOT_NEEDED
        self._remove_temp_files(list(self.temp_users))
        self.result.loaders = {job_id for job_id, job in self.jobs.items() if job.lazy}
        self.result.invariants = {j for j, job in self.jobs.items() if job.where == NOWHERE}
        self.result.duration = time.perf_counter() - t0
        self.emit(Event("run_finished", data=self.result))
        return self.result

    def _loop(self) -> None:
        while True:
            while self.ready:
                self._resolve(self.ready.popleft())
            self._flush()
            self._submit()
            if not self.inflight:
                if self.ready:
                    continue
                break
            future = self._next_completion()
            if future is not None:
                self._handle(future)

    def _next_completion(self) -> Future[list[Result]] | None:
        """The next batch that returned; None when, meanwhile, results a worker left
        early (see _take_spooled) released jobs that are ready now."""
        while True:
            if self.stop.is_set():
                msg = "the run was stopped (Pipeline.stop())"
                raise KeyboardInterrupt(msg)
            try:  # a timeout keeps the wait interruptible by Ctrl-C, and by stop()
                return self.completions.get(timeout=0.25)
            except queue.Empty:
                if self._take_spooled():
                    self._flush()
                    if self.ready:
                        return None

    def _take_spooled(self) -> bool:
        """Record the results that workers left for jobs of batches still running."""
        taken = False
        for batch in list(self.inflight.values()):
            if batch.spool is None:
                continue
            while True:
                path = os.path.join(batch.spool, f"{batch.taken:06d}.pkl")
                try:
                    with open(path, "rb") as f:
                        results = pickle.load(f)
                except FileNotFoundError:
                    break
                for r in results:
                    self._record_result(r)
                batch.taken += len(results)
                taken = True
        return taken

    # --- deciding --------------------------------------------------------------------
    def _resolve(self, job_id: str) -> None:
        """All upstream of `job_id` is settled: decide it, and run it if it must."""
        job = self.jobs[job_id]
        ups = self.up[job_id]
        outcomes = self.result.outcomes
        if any(outcomes.get(u) in _BAD for u in ups):
            self._settle(job_id, Outcome.UPSTREAM_FAILED)
            return
        if job.where == NOWHERE:
            self._resolve_invariant(job)
            return
        if job.policy.last:
            self.finals.append(job_id)
            return
        try:
            inputs = self._inputs(job_id)
        except CodeError as e:
            self._fail(job_id, _code_error(job_id, e), "")
            return
        if job.lazy:
            seen = facts.reads_fingerprint(self.records.get(job_id), self.workdir, self.states)
            self.fp[job_id] = inputs_fingerprint(job_id, inputs, seen)
            self.temp_users[job_id] = len(self.down[job_id])
            self._release(job_id)
            return
        if job.always:
            self.result.reasons[job_id] = "it runs on every run"
            self._want(job_id)
            return
        if self._failed_again(job_id, inputs):
            return
        reason = self._reason(job_id, inputs)
        if reason is None:
            self.fp[job_id] = self.records[job_id]["fp"]
            self._settle(job_id, Outcome.UP_TO_DATE)
            del self.inputs[job_id]  # (recorded only by a job that runs)
            if not (self.refreshed and self.refreshed[-1] == job_id):
                self.records.forget(job_id)  # (read again if asked: its text is kept)
        else:
            self.result.reasons[job_id] = reason.text
            self._want(job_id)

    def _failed_again(self, job_id: str, inputs: dict[str, str]) -> bool:
        """A job that failed earlier in this session with these same inputs, and that is
        not asked for itself, is reported failed again rather than run again (one cell's
        failing upstream would otherwise run once for each cell that depends on it)."""
        before = self.failures.get(job_id)
        if before is None or before != inputs or self.retry is None or job_id in self.retry:
            return False
        record = self.records.get(job_id) or {}
        if record.get("o") != "failed":
            return False
        tb = _read_error(statedir.error_file(self.ppg_dir, job_id))
        msg = (
            f"{record.get('e', 'it failed')} (it failed earlier in this session with the "
            f"inputs it has now, so it was not run again: fix it, or run it itself again)"
        )
        error = FailedBefore(msg)
        with contextlib.suppress(AttributeError, TypeError):
            error.ppg_traceback = tb  # type: ignore[attr-defined]
        self.result.errors[job_id] = error
        self.result.tracebacks[job_id] = tb
        self._settle(job_id, Outcome.FAILED)
        return True

    def _inputs(self, job_id: str, pending: str = "") -> dict[str, str]:
        """What the job would consume now (`pending`: an upstream whose output is not known
        yet). Remembered as the job's inputs, recorded if it runs."""
        job = self.jobs[job_id]
        inputs = job_inputs(job, self.up[job_id], self.fp, pending)
        self.inputs[job_id] = inputs
        self.details.pop(job_id, None)  # (worked out when asked for: see _details)
        return inputs

    def _details(self, job_id: str) -> CodeDetails:
        """The job's CodeDetails, as of its inputs (needed only if it runs, or its code
        changed: most jobs of a run with nothing to do never need them)."""
        found = self.details.get(job_id)
        if found is None:
            found = code_details(self.jobs[job_id], self.up[job_id], self.jobs)
            self.details[job_id] = found
        return found

    def _reason(self, job_id: str, inputs: dict[str, str]) -> Reason | None:
        record = self.records.get(job_id)
        job = self.jobs[job_id]
        details = functools.partial(self._details, job_id)
        return job_reason(job, record, inputs, self.jobs, self.refreshed, details, self.states)

    def _describe(self, job_id: str) -> str:
        return describe(self.jobs.get(job_id), job_id)

    def _resolve_invariant(self, job: Job) -> None:
        if isinstance(job, FileInvariant):
            record = facts.input_file_record(job.outputs[0], self.records.get(job.job_id))
            if record is None:
                msg = (
                    f"input file {job.paths[0]!r} does not exist; create it, or declare "
                    f"the job that writes it"
                )
                self._fail(job.job_id, JobContractError(msg), "")
                return
            if record is not self.records.get(job.job_id):
                self.records[job.job_id] = record
                self.pending_records.append((job.job_id, record))
            self.fp[job.job_id] = record["fp"]
        else:
            try:
                self.fp[job.job_id] = job.output_key()  # type: ignore[assignment]
            except CodeError as e:
                self._fail(job.job_id, _code_error(job.job_id, e), "")
                return
        self._settle(job.job_id, Outcome.UP_TO_DATE, quiet=True)

    def _want(self, job_id: str) -> None:
        """`job_id` must run: first make the loading jobs it reads from available."""
        needed = [
            u for u in self.up[job_id] if self.jobs[u].lazy and self.lazy_state.get(u) != "ok"
        ]
        if not needed:
            self._dispatch(job_id)
            return
        self.blocked[job_id] = len(needed)
        for lazy in needed:
            self.waiters.setdefault(lazy, []).append(job_id)
            if lazy not in self.lazy_state:
                self.lazy_state[lazy] = "running"
                self.result.reasons[lazy] = f"job {job_id!r} needs it"
                self._want(lazy)

    def _dispatch(self, job_id: str) -> None:
        self.emit(Event("queued", job_id))
        if self.jobs[job_id].where == MAIN:
            self._run_main(job_id)
        else:
            if not self.queue and not self.inflight:
                self._connect()
                self.workers.warm()  # start workers while the rest is being decided
            self.queue.append(job_id)
            self._fuse_behind(job_id)

    # --- chains ----------------------------------------------------------------------
    def _connect(self) -> None:
        """Reach the workers (once per run): how many batches may be in flight."""
        if not self.connected:
            self.cores = self.workers.connect(self.workdir, self.ppg_dir)
            self.connected = True

    def _fuse_behind(self, head: str) -> None:
        """Send the line of single dependants below `head` in the same batch, each run by
        the worker right after its upstream: a chain costs one round trip, not one per job.
        A dependant that may be spared (rule 5) is decided in the worker, by comparing the
        upstream's new output with what it consumed last time."""
        chain = batching.chain_below(
            head, self._single_dependant, self._expected_seconds, self._fuse, self._failed_before
        )
        if chain:
            self.chains[head] = chain
            self.fused.update(chain)

    def _expected_seconds(self, job_id: str) -> float:
        record = self.records.get(job_id)
        last = record.get("d") if record is not None else None
        return self.timings.expected(None if last is None else float(last))

    def _failed_before(self, job_id: str) -> bool:
        # A job that failed last time runs unchained: if it kills its worker again, it is
        # then known to be the one that did.
        record = self.records.get(job_id)
        return record is not None and record.get("o") == "failed"

    def _single_dependant(self, upstream: str) -> str | None:
        """The one dependant of `upstream`, if a worker can run it right after it."""
        down = self.down[upstream]
        if len(down) != 1:
            return None
        job_id = down[0]
        job = self.jobs[job_id]
        if job.where != WORKER or job.lazy or job.always or self._cores_of(job_id) != 1:
            return None
        if self.remaining.get(job_id) != 1:
            return None  # it waits for other upstream jobs too
        for u in self.up[job_id]:
            if u != upstream and (self.jobs[u].lazy or self.result.outcomes.get(u) in _BAD):
                return None
        return job_id

    def _fuse(self, job_id: str, upstream: str) -> bool:
        """Decide `job_id` before its upstream has run; False if it must be decided later."""
        try:
            reason = self._reason(job_id, self._inputs(job_id, pending=upstream))
        except CodeError:
            return False  # decided alone, and failed, once its upstream is done
        if reason is None:
            return False
        if reason.maybe:
            self.unless[job_id] = self.records[job_id]["i"][upstream]
        self.result.reasons[job_id] = reason.text
        self.emit(Event("queued", job_id))
        return True

    def _unfuse(self, ids: list[str]) -> None:
        """Fused jobs that did not run with their batch are decided again, normally."""
        for job_id in ids:
            self.chains.pop(job_id, None)
            if job_id in self.fused:
                self.fused.discard(job_id)
                self.unless.pop(job_id, None)
                self.result.reasons.pop(job_id, None)
                if self.remaining[job_id] == 0 and job_id not in self.result.outcomes:
                    self.ready.append(job_id)

    # --- settling --------------------------------------------------------------------
    def _release(self, job_id: str) -> None:
        """Let dependants of `job_id` proceed (it is decided, ran, or failed)."""
        self.released.add(job_id)
        remaining = self.remaining
        for d in self.down[job_id]:
            remaining[d] -= 1
            if remaining[d] == 0 and d not in self.fused:
                self.ready.append(d)

    def _settle(self, job_id: str, outcome: Outcome, quiet: bool = False) -> None:
        self.result.outcomes[job_id] = outcome
        if not quiet:
            self.emit(Event("done", job_id, outcome))
        job = self.jobs[job_id]
        if job.lazy:
            self.lazy_state[job_id] = "ok" if outcome is Outcome.RAN else "failed"
            self._wake(job_id, ok=outcome is Outcome.RAN)
            if job_id not in self.released:
                self._release(job_id)
        else:
            self._release(job_id)
        for u in self.up[job_id]:
            if u in self.temp_users:
                self.temp_users[u] -= 1
                if self.temp_users[u] == 0:
                    self._remove_temp_files([u])

    def _wake(self, lazy: str, ok: bool) -> None:
        for waiter in self.waiters.pop(lazy, ()):
            if not ok:
                if waiter not in self.result.outcomes:
                    self._settle(waiter, Outcome.UPSTREAM_FAILED)
                continue
            self.blocked[waiter] -= 1
            if self.blocked[waiter] == 0:
                del self.blocked[waiter]
                self._dispatch(waiter)

    def _remove_temp_files(self, temp_ids: list[str]) -> None:
        for temp_id in temp_ids:
            del self.temp_users[temp_id]
            if self.lazy_state.get(temp_id) and self.jobs[temp_id].where != MAIN:
                for path in self.jobs[temp_id].outputs:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path)

    def _succeed(
        self, job_id: str, record: dict[str, Any], log: str = "", found: reads.Found = reads.NOTHING
    ) -> None:
        job = self.jobs[job_id]
        record["o"] = "ok"
        details = self._details(job_id) if job_id in self.inputs else NO_DETAILS
        record["i"] = self.inputs.pop(job_id, {})  # (its record holds them from now on)
        self.details.pop(job_id, None)
        if details.digests:
            record["c"] = details.digests
            for digest, pieces in details.pieces.items():
                if digest not in self.stored_code:
                    self.stored_code.add(digest)
                    self.pending_code[digest] = {
                        "pieces": pieces,
                        "modules": details.modules[digest],
                    }
        if found.reads:
            record["r"] = found.reads
        self._note_found(job_id, found)
        if job.where == MAIN:
            if job.lazy and found.reads:  # what it provides rests on what it read now
                self._refingerprint(job_id, record)
            if job_id not in self.fp:  # (a loading job's was set when it was decided)
                self.fp[job_id] = inputs_fingerprint(job_id, record["i"])
            record["fp"] = self.fp[job_id]
        else:
            self.fp[job_id] = record["fp"]
        if job.policy.stores:
            job.forget_value()  # type: ignore[attr-defined]
        self.failures.pop(job_id, None)
        previous = self.records.get(job_id)
        if previous is not None and previous.get("o") == "failed":
            with contextlib.suppress(FileNotFoundError):
                os.unlink(statedir.error_file(self.ppg_dir, job_id))
        self.records[job_id] = record
        self.pending_records.append((job_id, record))
        if log:
            self.result.logs[job_id] = log
        self._settle(job_id, Outcome.RAN)

    def _damaged_upstream(self, job_id: str, error: BaseException) -> bool:
        """`job_id` failed because an upstream job's stored value cannot be read: the
        value is removed, so that job runs again (the session then runs again what
        failed for it, see `damaged`)."""
        if not isinstance(error, DamagedValue):
            return False
        owner = self.producers.get(normalize_path(error.path, self.workdir)[1])
        if owner is None or owner == job_id:
            return False
        cache.discard(error.path)
        if owner not in self.damaged:
            self.damaged.add(owner)
            self.result.warnings.append(
                f"job {owner!r}: {error}, needed by {job_id!r}; it was damaged on disk and "
                f"is removed: {owner!r} runs again"
            )
        return True

    def _refingerprint(self, job_id: str, record: dict[str, Any]) -> None:
        """A loading job's fingerprint with the files it has just read, also in what its
        dependants (which run now, after it) record as consumed."""
        seen = facts.reads_fingerprint(record, self.workdir, facts.FileStates())
        fp = inputs_fingerprint(job_id, record["i"], seen)
        self.fp[job_id] = fp
        for d in self.down[job_id]:
            consumed = self.inputs.get(d)
            if consumed is not None and job_id in consumed:
                consumed[job_id] = fp

    def _fail(self, job_id: str, error: BaseException, tb: str, log: str = "") -> None:
        with contextlib.suppress(AttributeError, TypeError):
            error.ppg_traceback = tb  # type: ignore[attr-defined]
        self.result.errors[job_id] = error
        self.result.tracebacks[job_id] = tb
        if log:
            self.result.logs[job_id] = log
        text = tb or "".join(traceback.format_exception_only(type(error), error))
        path = statedir.error_file(self.ppg_dir, job_id)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(f"job: {job_id}\nat: {time.ctime()}\n\n{text}")
        except OSError as e:  # (a full disk): the failure is reported all the same
            with contextlib.suppress(OSError):
                os.unlink(path)  # (not half a traceback)
            self.result.warnings.append(f"job {job_id!r}: its traceback could not be saved: {e}")
        record = {"o": "failed", "i": {}, "t": time.time(), "e": f"{type(error).__name__}: {error}"}
        if not self._damaged_upstream(job_id, error):  # (then it is tried again at once)
            self.failures[job_id] = self.inputs.get(job_id, {})
        self.records[job_id] = record
        self.pending_records.append((job_id, record))
        self._settle(job_id, Outcome.FAILED)

    def _flush(self) -> None:
        if self.refreshed:
            self.pending_records.extend((i, self.records[i]) for i in set(self.refreshed))
            self.refreshed.clear()
        if self.pending_records:
            texts = self.history.put(self.pending_records, self.pending_code)
            for (job_id, _), text in zip(self.pending_records, texts, strict=True):
                self.records.written(job_id, text)  # (held as text from now on)
            self.pending_records = []
            self.pending_code = {}

    # --- main-process jobs -----------------------------------------------------------
    def _run_main(self, job_id: str) -> None:
        job = self.jobs[job_id]
        reach = job.code_reach()
        stale = livecode.problem(job_id, reach.modules, self.modules_seen) if reach else None
        if stale is not None:  # (a kernel that imported the module before its last edit)
            self._fail(job_id, StaleModule(stale), "")
            return
        self.emit(Event("running", job_id))
        start = time.time()
        t0 = time.perf_counter()
        recording_on = self.context.record_reads
        try:
            with _working_directory(self.workdir), contextlib.ExitStack() as stack:
                recorded = stack.enter_context(reads.recording()) if recording_on else None
                job.load()  # type: ignore[attr-defined]
        except KeyboardInterrupt as e:
            if self.ctrl_c.is_set() or self.stop.is_set():
                raise  # the user's Ctrl-C, or stop(): the run stops
            self._fail(job_id, e, _traceback_from_user(e))  # the job's own: it fails
            return
        except Exception as e:
            self._fail(job_id, e, _traceback_from_user(e))
            return
        found = reads.NOTHING
        if recorded is not None:
            found = reads.summarize(recorded, self._scope(job_id))
        record = {"t": start, "d": time.perf_counter() - t0}
        self._succeed(job_id, record, found=found)
        if job.policy.generates:
            self._add_generated_jobs()

    def _add_generated_jobs(self) -> None:
        new_jobs, new_upstream = self.extend(set(self.jobs))
        for job_id, job in new_jobs.items():
            self.jobs[job_id] = job
            self.up[job_id] = new_upstream[job_id]
            self.down.setdefault(job_id, [])
        for job_id in new_jobs:
            ups = self.up[job_id]
            for u in ups:
                self.down[u].append(job_id)
            self.remaining[job_id] = sum(1 for u in ups if u not in self.released)
            if self.remaining[job_id] == 0:
                self.ready.append(job_id)

    def _run_finals(self) -> None:
        """Final jobs, once all else settled; one that depends on another runs after it."""
        if not self.finals:
            return
        anything_ran = any(
            outcome is not Outcome.UP_TO_DATE and not self.jobs[job_id].always
            for job_id, outcome in self.result.outcomes.items()
        )
        while self.finals:
            finals, self.finals = self.finals, []
            for job_id in finals:
                self._run_final(job_id, anything_ran)
            while self.ready:  # the finals that waited for these
                self._resolve(self.ready.popleft())

    def _run_final(self, job_id: str, anything_ran: bool) -> None:
        inputs = self._inputs(job_id)
        record = self.records.get(job_id)
        problem = None
        if record is not None and record.get("o") == "ok":
            problem = facts.read_problem(job_id, record, self.workdir, self.states, self.refreshed)
        if anything_ran:
            self.result.reasons[job_id] = "other jobs ran"
        elif record is None or record.get("o") != "ok" or record.get("i") != inputs:
            self.result.reasons[job_id] = "it has not run with these inputs"
        elif problem is not None:
            self.result.reasons[job_id] = problem
        else:
            self.fp[job_id] = inputs_fingerprint(job_id, inputs)  # as recorded when it ran
            self._settle(job_id, Outcome.UP_TO_DATE)
            return
        self._dispatch(job_id)

    # --- worker jobs -----------------------------------------------------------------
    def _task(self, job_id: str) -> Task:
        job = self.jobs[job_id]
        extra: Any = None
        if job.task == TASK_PLOT:
            extra = job.calc_job.outputs[0]  # type: ignore[attr-defined]
        elif job.task == TASK_VALUES:
            extra = job.names  # type: ignore[attr-defined]
        return Task(
            job_id,
            job.task,
            job.fn,
            job.paths,
            job.outputs,
            job.with_path,
            job.policy.several_files,
            job.empty_ok,
            extra,
            statedir.log_file(self.ppg_dir, job_id),
            chained=job_id in self.fused,
            unless=self.unless.get(job_id),
            kept=self.records[job_id]["fp"] if job_id in self.unless else "",
            declared=self._declared(job_id) if self.context.record_reads else (),
            ignored=job.ignored_reads,
        )

    def _declared(self, job_id: str) -> tuple[str, ...]:
        """The files the job's declared dependencies stand for (not discovered inputs)."""
        return tuple(p for u in self.up[job_id] for p in self.jobs[u].outputs)

    def _scope(self, job_id: str) -> reads.Scope:
        job = self.jobs[job_id]
        declared = self._declared(job_id)
        return reads.Scope(
            self.context.files, self.workdir, self.ppg_dir, job.outputs, declared, job.ignored_reads
        )

    def _note_found(self, job_id: str, found: reads.Found) -> None:
        """Warnings about what a job read or wrote without saying so (SPEC §3a)."""
        if found is reads.NOTHING:
            return
        warn = self.result.warnings.append
        upstream: set[str] | None = None
        for shown in found.reads:
            producer = self.producers.get(normalize_path(shown, self.workdir)[1])
            if producer is None or producer == job_id:
                continue
            if upstream is None:
                upstream = graph.upstream_closure(self.up, [job_id])
            if producer not in upstream:
                warn(
                    f"job {job_id!r} read {shown!r}, which job {producer!r} writes, but does "
                    f"not depend on it: it may have read it before that job wrote it. Declare "
                    f"the dependency (in a script `.depends_on(...)` that job, in a notebook "
                    f"name it in the cell or add --deps {shown}); until then it reruns when "
                    f"that file changes"
                )
        for shown in found.writes:
            owner = self.producers.get(normalize_path(shown, self.workdir)[1])
            whose = f", which is job {owner!r}'s output," if owner and owner != job_id else ""
            warn(
                f"job {job_id!r} wrote {shown!r}{whose} which is not one of its declared "
                f"outputs: nothing checks or rebuilds that file. Declare it as an output "
                f"(MultiFileGeneratingJob, or --out in a notebook) or write it elsewhere "
                f"(a temporary directory)"
            )
        for shown in found.unreadable:
            warn(
                f"job {job_id!r} read {shown!r}, which cannot be read to fingerprint it "
                f"(permission denied?): the job runs again on every run until it can be read"
            )
        if found.dropped:
            warn(
                f"job {job_id!r} read {len(found.reads) + found.dropped} files under the "
                f"project at run time; only {len(found.reads)} are tracked as its inputs, "
                f"so a change to the other {found.dropped} does not rerun it. Exclude files "
                f"that do not matter with job.ignore_reads(DIRECTORY), or declare a "
                f"FileInvariant for what does"
            )

    def _cores_of(self, job_id: str) -> int:
        need = self.jobs[job_id].cores_needed
        return self.cores if need < 1 or need > self.cores else need

    def _submit(self) -> None:
        while True:
            if self.suspects:
                if not self.inflight:
                    self._send([self.suspects.popleft()], 1)
                return
            if not self.queue:
                return
            need = self._cores_of(self.queue[0])
            if need > 1 or self.multi_inflight:
                if self.reserved + need > self.cores:
                    return
            elif len(self.inflight) >= 2 * self.cores:
                return
            if need > 1 or self.queue[0] in self.send_alone:
                self._send([self.queue.popleft()], need)
                continue
            size = batching.batch_size(self.timings, len(self.queue), self.cores)
            batch = batching.take_batch(
                self.queue, size, self.chains, self._expected_seconds, self._batchable
            )
            self._send(batch, 1)

    def _batchable(self, job_id: str) -> bool:
        return job_id not in self.send_alone and self._cores_of(job_id) <= 1

    def _send(self, ids: list[str], cores: int) -> None:
        tasks = [self._task(job_id) for job_id in ids]
        functions = Functions([task.fn for task in tasks])
        tasks = [task._replace(fn=None) for task in tasks]
        marker = self.abandoned if self.workers.lingers else None
        spool = None
        if len(ids) > 1:
            self.batches_sent += 1
            spool = os.path.join(self.spool, str(self.batches_sent))
        future = self.workers.run_batch(self.context, tasks, functions, marker, spool)
        for other in self.inflight.values():
            other.only_one = False
        self.inflight[future] = _Batch(ids, cores, only_one=not self.inflight, spool=spool)
        self.reserved += cores
        if cores > 1:
            self.multi_inflight += 1
        for job_id in ids:
            self.emit(Event("running", job_id))
        future.add_done_callback(self.completions.put)

    def _handle(self, future: Future[list[Result]]) -> None:
        self._take_spooled()
        batch = self.inflight.pop(future)
        if batch.spool is not None:
            shutil.rmtree(batch.spool, ignore_errors=True)
        self.reserved -= batch.cores
        if batch.cores > 1:
            self.multi_inflight -= 1
        try:
            results = future.result()
        except Exception as e:
            rest = batch.rest
            heads = [job_id for job_id in rest if job_id not in self.fused]
            self._unfuse(rest)
            how = self.workers.lost(e)
            verdict = triage(how is not None, batch.only_one, len(batch.ids), rest, heads)
            if verdict.action is Action.FAIL_DIED:
                self._fail(rest[0], _worker_died(rest[0], str(how)), "")
            elif verdict.action is Action.SUSPECT:
                self.suspects.extend(verdict.jobs)
            elif verdict.action is Action.SEND_ALONE:
                self.send_alone.update(verdict.jobs)
                self.queue.extendleft(reversed(verdict.jobs))
            else:
                job_id = verdict.jobs[0]
                self._fail(job_id, pool.explain_send_failure(self.jobs[job_id], e), "")
            return
        for r in results[batch.taken :]:
            self._record_result(r)
        # A batch stops at a chained job whose upstream failed: what it held after that
        # is decided again, and the independent jobs among it are sent again.
        rest = batch.ids[len(results) :]
        heads = [job_id for job_id in rest if job_id not in self.fused]
        self._unfuse(rest)
        self.queue.extendleft(reversed(heads))

    def _record_result(self, r: Result) -> None:
        self.timings.add(r.duration)
        if r.job_id in self.fused:
            self._settle_fused(r)
        if r.skipped:
            self.fp[r.job_id] = r.fingerprint
            self.result.reasons.pop(r.job_id, None)
            self._settle(r.job_id, Outcome.UP_TO_DATE)
        elif r.ok:
            record = {"out": r.outputs, "fp": r.fingerprint, "t": r.start, "d": r.duration}
            self._succeed(r.job_id, record, r.log, r.found or reads.NOTHING)
        else:
            error = r.error or RuntimeError("unknown error")
            tb = tracebacks.render(self.jobs[r.job_id].fn, r.frames, error, r.traceback)
            self._fail(r.job_id, error, tb, r.log)

    def _settle_fused(self, r: Result) -> None:
        """A fused job's upstream has run: fill in what it consumed, say why it ran."""
        job_id = r.job_id
        self.fused.discard(job_id)
        inputs = self.inputs[job_id]
        for u, value in inputs.items():
            if value == UNKNOWN:
                inputs[u] = self.fp[u]
                if self.unless.pop(job_id, None) is not None:
                    self.result.reasons[job_id] = (
                        f"{self._describe(u)} produced different output than it used last time"
                    )

    # --- interruption ----------------------------------------------------------------
    def _abort(self) -> None:
        """Ctrl-C: keep what finished, stop what runs, remove partial outputs."""
        self._take_spooled()
        for future, batch in list(self.inflight.items()):
            if future.done() and not future.cancelled() and future.exception() is None:
                for r in future.result()[batch.taken :]:
                    self._record_result(r)
                del self.inflight[future]
        if self.inflight:
            if self.workers.lingers:
                with contextlib.suppress(OSError):
                    os.makedirs(os.path.dirname(self.abandoned), exist_ok=True)
                    with open(self.abandoned, "w"):
                        pass
            for future in self.inflight:
                future.cancel()
            self.workers.stop()
            for batch in self.inflight.values():
                for job_id in batch.ids:
                    if job_id not in self.result.outcomes:
                        for path in self.jobs[job_id].outputs:
                            with contextlib.suppress(FileNotFoundError):
                                os.unlink(path)
            self.inflight.clear()
        self._remove_temp_files(list(self.temp_users))


def _read_error(path: str) -> str:
    """The traceback an error file holds (after its header lines)."""
    try:
        with open(path, errors="replace") as fh:
            text = fh.read()
    except OSError:
        return ""
    return text.split("\n\n", 1)[1] if "\n\n" in text else text


def _code_error(job_id: str, error: CodeError) -> CodeError:
    msg = (
        f"job {job_id!r} uses code of {error}, so what it computes cannot be fingerprinted. "
        f"Fix the module; nothing of this job ran"
    )
    return CodeError(msg, error.module, error.path)


def _worker_died(job_id: str, how: str) -> WorkerDied:
    how = f" ({how})" if how else ""
    msg = (
        f"the worker process running job {job_id!r} died{how}: the job crashed it "
        f"(a segmentation fault, os._exit(), a kill signal, or running out of memory). "
        f"Other jobs were not affected."
    )
    return WorkerDied(msg)


def _traceback_from_user(e: BaseException) -> str:
    return "".join(traceback.format_exception(type(e), e, tracebacks.user_frames(e)))


@contextlib.contextmanager
def _noticing_ctrl_c() -> Any:
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
def _working_directory(path: str) -> Any:
    before = os.getcwd()
    if before == path:
        yield
        return
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)
