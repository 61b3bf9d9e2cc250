"""Executes a decided graph: worker jobs on loky, loading/generating jobs in the main process.

The runner walks the graph as upstream jobs finish. A job whose upstream is all settled is
decided (judge.py) with the actual fingerprints of what it would consume, so an upstream
rerun with identical output does not rerun it. Small worker jobs travel in batches, and a
line of single dependants is fused behind its head (batching.py); one job's failure never
fails its batch. A dead worker fails only the job that killed it: every job that was in
flight with it is retried alone first (triage.py). Each job's record is committed as soon
as its result arrives (recording.py). Loading jobs run when a dependant needs them
(ondemand.py), in this process (mainjob.py). Ctrl-C stops the workers (inflight.py),
removes partial outputs and keeps what finished.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Container
from concurrent.futures import Future
from typing import Any

from . import (
    facts,
    graph,
    mainjob,
    plotstate,
    reads,
    tasks,
    tracebacks,
    undeclared,
)
from .consumed import NO_DETAILS, inputs_fingerprint
from .events import FAILURES, Event, Listeners, Outcome, RunResult
from .failures import Failures
from .fusion import Chains
from .graph import Edges
from .jobs import Job
from .judge import Judge, Verdict
from .kinds import MAIN, NOWHERE
from .ondemand import OnDemand
from .recording import Recorder
from .records import Record, Records
from .sending import Sender
from .userfiles import UserFiles
from .worker import Context, Result

# Records written again with a new stat (or a summary) that a run holds before writing
# them: a run may find every output touched, or every record without its summary.
_REFRESHED_AT_ONCE = 1_000


class Runner:
    """One run over a resolved graph."""

    def __init__(
        self,
        *,
        jobs: dict[str, Job],
        upstream: Edges,
        records: Records,
        downstream: Edges | None = None,
        history: Any,
        workdir: str,
        ppg_dir: str,
        workers: Any,
        emit: Listeners,
        extend: Callable[[Container[str]], tuple[dict[str, Job], Edges]] | None,
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
        self.records = records
        self.workdir = workdir
        self.ppg_dir = ppg_dir
        self.emit = emit
        self.extend = extend
        self.result = RunResult()
        # (only jobs with upstream: an invariant has none, and there may be 100,000)
        self.remaining = {job_id: len(ups) for job_id, ups in upstream.items() if ups}
        self.released: set[str] = set()  # loading jobs released (when decided: before they run)
        self.ondemand = OnDemand()
        self.finals: list[str] = []
        self.ready: deque[str] = deque()
        self.modules_seen: dict[str, list[str]] = {}  # user modules compared with their files
        self.ctrl_c = threading.Event()  # (set while a run is on, see mainjob.noticing_ctrl_c)
        files = files or UserFiles.of(workdir)
        style = plotstate.kernel_style()
        key = plotstate.style_fingerprint(style) if style else ""
        self.context = Context(workdir, ppg_dir, files, record_reads, tuple(sys.path), style, key)
        self.producers = producers or {}
        # Jobs that failed earlier in this session, with the inputs they failed with
        # (`retry`: the run's targets, which run again all the same; None: every job).
        failed = failures if failures is not None else {}
        self.failures = Failures(failed, retry, self.producers, workdir)
        self.damaged = self.failures.damaged  # jobs whose stored value could not be read
        self.recorder = Recorder(history, records, ppg_dir)
        self.refreshed = self.recorder.refreshed
        self.judge = Judge(jobs, upstream, records, workdir, facts.FileStates(), self.refreshed)
        self.fp = self.judge.fp  # each settled job's output fingerprint
        self.inputs = self.judge.inputs  # what each decided job consumes (recorded if it runs)
        outcomes, reasons = self.result.outcomes, self.result.reasons
        self.chains = Chains(
            jobs, upstream, self.down, self.remaining, records, self.judge, outcomes, reasons, emit
        )
        self.sender = Sender(workers, self.context, jobs, upstream, records, self.chains, emit)
        self.flights = self.sender.flights

    # --- the loop --------------------------------------------------------------------
    def execute(self) -> RunResult:
        t0 = time.perf_counter()
        # (the run's jobs: the pipeline's, or its targets' closure; see Pipeline._jobs_of)
        jobs = sum(1 for job in self.jobs.values() if job.where != NOWHERE)
        self.emit(Event("run_started", data=jobs))
        # (the jobs with no upstream, in the order of `up`: as topological_order orders
        # them, first)
        self.ready.extend(job_id for job_id, ups in self.up.items() if not ups)
        try:
            with mainjob.noticing_ctrl_c() as self.ctrl_c:
                self._loop()
                self._run_finals()
        except BaseException:
            self._abort()
            raise
        finally:
            self.recorder.flush()
        outcomes, loaders = self.result.outcomes, set()
        for job_id, job in self.jobs.items():  # (one pass: there may be 100,000)
            if job.lazy:
                loaders.add(job_id)
                if job_id not in outcomes:
                    outcomes[job_id] = Outcome.NOT_NEEDED
        self.result.loaders = loaders
        self._remove_temp_files(self.ondemand.unused())
        self.result.duration = time.perf_counter() - t0
        self.emit(Event("run_finished", data=self.result))
        return self.result

    def _loop(self) -> None:
        ready, queued = self.ready, self.sender.queue
        while True:
            enough = self.sender.enough()
            while ready and len(queued) < enough:
                self._resolve(ready.popleft())
            self.recorder.flush()
            self.sender.submit()
            if not self.flights:
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
            future = self.flights.wait(self.stop)
            if future is not None:
                return future
            if self._take_spooled():
                self.recorder.flush()
                if self.ready:
                    return None

    def _take_spooled(self) -> bool:
        """Record the results that workers left for jobs of batches still running."""
        taken = False
        for r in self.flights.spooled():
            self._record_result(r)
            taken = True
        return taken

    # --- deciding --------------------------------------------------------------------
    def _resolve(self, job_id: str) -> None:
        """All upstream of `job_id` is settled: decide it, and run it if it must."""
        outcomes = self.result.outcomes
        for u in self.up[job_id]:
            if outcomes.get(u) in FAILURES:
                self._settle(job_id, Outcome.UPSTREAM_FAILED)
                return
        decision = self.judge.decide(job_id)
        verdict = decision.verdict
        if verdict is Verdict.UP_TO_DATE:
            self._settle(job_id, Outcome.UP_TO_DATE)
            self.inputs.pop(job_id, None)  # (recorded only by a job that runs)
            if not (self.refreshed and self.refreshed[-1] == job_id):
                self.records.done(job_id)  # (a refreshed one: once written)
            elif len(self.refreshed) >= _REFRESHED_AT_ONCE:
                self.recorder.flush()  # (100,000 touched outputs are not all held)
        elif verdict is Verdict.RUN or verdict is Verdict.ALWAYS:
            assert decision.reason is not None
            if verdict is Verdict.RUN and self._failed_again(job_id, self.inputs[job_id]):
                return
            self.result.reasons[job_id] = decision.reason.text
            self._want(job_id)
        elif verdict is Verdict.INVARIANT:
            if decision.record is not None:  # (an input file's stat changed, not its content)
                self.recorder.put(job_id, decision.record)
            self._settle(job_id, Outcome.UP_TO_DATE, quiet=True)
        elif verdict is Verdict.ON_DEMAND:
            self.ondemand.users[job_id] = len(self.down[job_id])
            self.released.add(job_id)
            self._release(job_id)
        elif verdict is Verdict.FINAL:
            self.finals.append(job_id)
        else:  # (it cannot run: a missing input file, code that cannot be fingerprinted)
            assert decision.error is not None
            self._fail(job_id, decision.error, "")

    def _failed_again(self, job_id: str, inputs: dict[str, str]) -> bool:
        """Reported failed again rather than run again (failures.py)?"""
        record = self.records.get(job_id)
        error = self.failures.again(job_id, inputs, record, self.recorder.last_error)
        if error is None:
            return False
        self.result.errors[job_id] = error
        self.result.tracebacks[job_id] = getattr(error, "ppg_traceback", "")
        self._settle(job_id, Outcome.FAILED)
        return True

    def _want(self, job_id: str) -> None:
        """`job_id` must run: first make the loading jobs it reads from available."""
        needed = [
            u for u in self.up[job_id] if self.jobs[u].lazy and not self.ondemand.is_loaded(u)
        ]
        if not needed:
            self._dispatch(job_id)
            return
        for lazy in self.ondemand.wait(job_id, needed):
            self.result.reasons[lazy] = f"job {job_id!r} needs it"
            self._want(lazy)

    def _dispatch(self, job_id: str) -> None:
        self.emit(Event("queued", job_id))
        if self.jobs[job_id].where == MAIN:
            self._run_main(job_id)
        else:
            self.sender.enqueue(job_id)

    # --- settling --------------------------------------------------------------------
    def _release(self, job_id: str) -> None:
        """Let dependants of `job_id` proceed (it is decided, ran, or failed)."""
        remaining = self.remaining
        fused = self.chains.fused
        for d in self.down[job_id]:
            remaining[d] -= 1
            if remaining[d] == 0 and d not in fused:
                self.ready.append(d)

    def _settle(self, job_id: str, outcome: Outcome, quiet: bool = False) -> None:
        self.result.outcomes[job_id] = outcome
        if not quiet and self.emit:  # (an emit that holds no listener is false)
            self.emit(Event("done", job_id, outcome))
        if self.jobs[job_id].lazy:
            ok = outcome is Outcome.RAN
            for waiter in self.ondemand.loaded(job_id, ok):
                if ok:
                    self._dispatch(waiter)
                elif waiter not in self.result.outcomes:
                    self._settle(waiter, Outcome.UPSTREAM_FAILED)
            if job_id not in self.released:
                self.released.add(job_id)
                self._release(job_id)
        else:
            self._release(job_id)
        users = self.ondemand.users
        if users:
            for u in self.up[job_id]:
                if u in users and self.ondemand.used_by_one(u):
                    self._remove_temp_files([u])

    def _consumed(self, job_id: str) -> bool:
        """Whether the output fingerprint of a job that ran may yet be consumed in this
        run: it has dependants, or a job may join the run and depend on it. Else it is
        not kept (100,000 kept to the end of a run were 13 MB). (One decided up to date
        keeps it: a run with nothing to do is not slowed down for it.)"""
        return bool(self.down[job_id]) or self.extend is not None

    def _remove_temp_files(self, temp_ids: list[str]) -> None:
        for temp_id in temp_ids:
            if self.ondemand.ran(temp_id) and self.jobs[temp_id].where != MAIN:
                for path in self.jobs[temp_id].outputs:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path)

    def _succeed(
        self, job_id: str, record: Record, log: str = "", found: reads.Found = reads.NOTHING
    ) -> None:
        job = self.jobs[job_id]
        details = self.judge.details_of(job_id) if job_id in self.inputs else NO_DETAILS
        self.judge.details.pop(job_id, None)
        inputs = self.inputs.pop(job_id, {})  # (its record holds them from now on)
        self.recorder.ran(record, inputs, details, found)
        upstream = functools.partial(graph.upstream_closure, self.up, [job_id])
        said = undeclared.warnings(job_id, found, self.producers, self.workdir, upstream)
        self.result.warnings.extend(said)
        if job.where == MAIN:
            if job.lazy and found.reads:  # what it provides rests on what it read now
                self.judge.read_now(job_id, record, self.down[job_id])
            if job_id not in self.fp:  # (a loading job's was set when it was decided)
                self.fp[job_id] = inputs_fingerprint(job_id, record["i"])
            record["fp"] = self.fp[job_id]
        elif self._consumed(job_id):
            self.fp[job_id] = record["fp"]
        if job.policy.stores:
            job.forget_value()  # type: ignore[attr-defined]
        self.failures.succeeded(job_id)
        self.recorder.put(job_id, record)
        if log:
            self.result.logs[job_id] = log
        self._settle(job_id, Outcome.RAN)

    def _fail(self, job_id: str, error: BaseException, tb: str, log: str = "") -> None:
        with contextlib.suppress(AttributeError, TypeError):
            error.ppg_traceback = tb  # type: ignore[attr-defined]
        self.result.errors[job_id] = error
        self.result.tracebacks[job_id] = tb
        if log:
            self.result.logs[job_id] = log
        unsaved = self.recorder.failed(job_id, error, tb)
        damaged = self.failures.failed_with(job_id, error, self.inputs.get(job_id, {}))
        self.result.warnings.extend(w for w in (unsaved, damaged) if w)
        self._settle(job_id, Outcome.FAILED)

    # --- main-process jobs -----------------------------------------------------------
    def _run_main(self, job_id: str) -> None:
        job = self.jobs[job_id]
        refused = mainjob.refused(job, self.modules_seen)
        if refused is not None:
            self._fail(job_id, refused, "")
            return
        self.emit(Event("running", job_id))
        ran = mainjob.run_here(
            job,
            self.workdir,
            self.context.record_reads,
            lambda: tasks.scope(job, tasks.declared(job_id, self.up, self.jobs), self.context),
            lambda: self.ctrl_c.is_set() or self.stop.is_set(),
        )
        if ran.record is None:
            assert ran.error is not None
            self._fail(job_id, ran.error, ran.traceback)
            return
        self._succeed(job_id, ran.record, found=ran.found)
        if job.policy.generates:
            self._add_generated_jobs()

    def _add_generated_jobs(self) -> None:
        # (the jobs the run knows have edges: its `jobs` may be the pipeline's own, which
        # already holds what the generating job declared)
        assert self.extend is not None  # (a generating job ran)
        new_jobs, new_upstream = self.extend(self.up.keys())
        for job_id, job in new_jobs.items():
            self.jobs[job_id] = job
            self.up[job_id] = new_upstream[job_id]
            self.down.setdefault(job_id, graph.NONE)
        for job_id in new_jobs:
            ups = self.up[job_id]
            for u in ups:
                graph.add_edge(self.down, u, job_id)
            self.remaining[job_id] = sum(1 for u in ups if not self._was_released(u))
            if self.remaining[job_id] == 0:
                self.ready.append(job_id)

    def _was_released(self, job_id: str) -> bool:
        if self.jobs[job_id].lazy:
            return job_id in self.released
        return job_id in self.result.outcomes  # (settled: released then)

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
                reason = self.judge.final_reason(job_id, anything_ran)
                if reason is None:
                    self._settle(job_id, Outcome.UP_TO_DATE)
                else:
                    self.result.reasons[job_id] = reason.text
                    self._dispatch(job_id)
            while self.ready:  # the finals that waited for these
                self._resolve(self.ready.popleft())

    # --- worker jobs -----------------------------------------------------------------
    def _handle(self, future: Future[list[Result]]) -> None:
        self._take_spooled()
        fail = functools.partial(self._fail, tb="")
        self.ready.extend(self.sender.returned(future, self._record_result, fail))

    def _record_result(self, r: Result) -> None:
        # (the job's own id string: the one unpickled from the worker would be kept as
        # the key of every dict of the run, a second copy of each id)
        job_id = self.jobs[r.job_id].job_id
        self.sender.timings.add(r.duration)
        if job_id in self.chains.fused:
            self.chains.ran_behind(job_id, self.fp)
        if r.skipped:
            if self._consumed(job_id):
                self.fp[job_id] = r.fingerprint
            self.result.reasons.pop(job_id, None)
            self._settle(job_id, Outcome.UP_TO_DATE)
        elif r.ok:
            record: Record = {"out": r.outputs, "fp": r.fingerprint, "t": r.start, "d": r.duration}
            self._succeed(job_id, record, r.log, r.found or reads.NOTHING)
        else:
            error = r.error or RuntimeError("unknown error")
            tb = tracebacks.render(self.jobs[job_id].fn, r.frames, error, r.traceback)
            self._fail(job_id, error, tb, r.log)

    # --- interruption ----------------------------------------------------------------
    def _abort(self) -> None:
        """Ctrl-C: keep what finished, stop what runs, remove partial outputs."""
        self._take_spooled()
        for r in self.flights.finished():
            self._record_result(r)
        for job_id in self.flights.cancel():
            if job_id not in self.result.outcomes:
                for path in self.jobs[job_id].outputs:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path)
        self._remove_temp_files(self.ondemand.unused())
