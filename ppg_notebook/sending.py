"""The worker jobs of a run, from being queued until their results are back.

The runner queues each worker job it decided must run; this module sends the queue in
batches as the workers have room (batching.py says which jobs travel together, fusion.py
which dependants ride behind them), hands each result back to the runner as it arrives,
and, when a batch comes back without results, does what triage.py says: fail the job that
killed its worker, retry the suspects one at a time, or send one per batch what could not
be pickled together.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from . import batching, pool, tasks
from .errors import WorkerDied
from .events import Event
from .fusion import Chains
from .graph import Edges
from .inflight import InFlight
from .jobs import Job
from .records import Records
from .triage import Action, triage
from .worker import Context, Result, Task

# Jobs queued per core at most before the runner stops deciding more: enough for batches
# of `batching.MAX_JOBS` spread over every core, several times over.
QUEUED_PER_CORE = 8 * batching.MAX_JOBS


class Sender:
    def __init__(
        self,
        workers: Any,
        context: Context,
        jobs: dict[str, Job],
        upstream: Edges,
        records: Records,
        chains: Chains,
        emit: Callable[[Event], None],
    ) -> None:
        self.workers = workers  # pool.LokyWorkers or dask_backend.DaskWorkers
        self.flights = InFlight(workers, context.ppg_dir)
        self.context = context
        self.jobs = jobs
        self.up = upstream
        self.records = records
        self.chains = chains
        self.timings = batching.Timings()  # this run's job durations so far
        self.emit = emit
        self.cores = workers.cores
        self.connected = False  # workers are reached when the first job is queued for them
        self.queue: deque[str] = deque()
        self.send_alone: set[str] = set()  # jobs to send one per batch (after a pickling error)
        self.suspects: deque[str] = deque()  # in flight when a worker died

    def __len__(self) -> int:
        return len(self.flights)

    def enough(self) -> int:
        """How many queued jobs keep the workers busy: the runner decides no further
        ahead of them (what 100,000 jobs decided before the first ran consume was a
        tenth of a run's memory)."""
        return QUEUED_PER_CORE * self.cores

    def enqueue(self, job_id: str) -> None:
        """`job_id` must run in a worker: queue it, with its chain behind it."""
        if not self.queue and not self.flights:
            if not self.connected:  # (how many batches may be in flight)
                self.cores = self.workers.connect(self.context.workdir, self.context.ppg_dir)
                self.connected = True
            self.workers.warm()  # start workers while the rest is being decided
        self.queue.append(job_id)
        self.chains.behind(job_id, self.expected_seconds, self.cores_of)

    def expected_seconds(self, job_id: str) -> float:
        """How long the job will take, from its last run and this run's so far."""
        record = self.records.get(job_id)
        last = record.get("d") if record is not None else None
        return self.timings.expected(None if last is None else float(last))

    def task(self, job_id: str) -> Task:
        declared = tasks.declared(job_id, self.up, self.jobs) if self.context.record_reads else ()
        return tasks.task(
            self.jobs[job_id], self.context, declared, self.chains.task_fields(job_id)
        )

    def cores_of(self, job_id: str) -> int:
        need = self.jobs[job_id].cores_needed
        return self.cores if need < 1 or need > self.cores else need

    def submit(self) -> None:
        """Send what the workers have room for."""
        queue = self.queue
        while True:
            if self.suspects:
                if not self.flights:
                    self._send([self.suspects.popleft()], 1)
                return
            if not queue:
                return
            need = self.cores_of(queue[0])
            if not self.flights.room_for(need, self.cores):
                return
            if need > 1 or queue[0] in self.send_alone:
                self._send([queue.popleft()], need)
                continue
            size = batching.batch_size(self.timings, len(queue), self.cores)
            batch = batching.take_batch(
                queue, size, self.chains.chains, self.expected_seconds, self._batchable
            )
            self._send(batch, 1)

    def _batchable(self, job_id: str) -> bool:
        return job_id not in self.send_alone and self.cores_of(job_id) <= 1

    def _send(self, ids: list[str], cores: int) -> None:
        self.flights.send(self.context, [self.task(job_id) for job_id in ids], cores)
        for job_id in ids:
            self.emit(Event("running", job_id))

    def returned(
        self,
        future: Future[list[Result]],
        record: Callable[[Result], None],
        fail: Callable[[str, BaseException], None],
    ) -> list[str]:
        """A batch came back: each of its results is `record`ed; a job it failed is
        `fail`ed. The fused jobs it did not run, which are to be decided again now."""
        batch = self.flights.returned(future)
        try:
            results = future.result()
        except Exception as e:
            rest = batch.rest
            heads = [job_id for job_id in rest if job_id not in self.chains.fused]
            again = self.chains.unfuse(rest)
            how = self.workers.lost(e)
            verdict = triage(how is not None, batch.only_one, len(batch.ids), rest, heads)
            if verdict.action is Action.FAIL_DIED:
                fail(rest[0], worker_died(rest[0], str(how)))
            elif verdict.action is Action.SUSPECT:
                self.suspects.extend(verdict.jobs)
            elif verdict.action is Action.SEND_ALONE:
                self.send_alone.update(verdict.jobs)
                self.queue.extendleft(reversed(verdict.jobs))
            else:
                job_id = verdict.jobs[0]
                fail(job_id, pool.explain_send_failure(self.jobs[job_id], e))
            return again
        for r in results[batch.taken :]:
            record(r)
        # A batch stops at a chained job whose upstream failed: what it held after that
        # is decided again, and the independent jobs among it are sent again.
        rest = batch.ids[len(results) :]
        heads = [job_id for job_id in rest if job_id not in self.chains.fused]
        again = self.chains.unfuse(rest)
        self.queue.extendleft(reversed(heads))
        return again


def worker_died(job_id: str, how: str) -> WorkerDied:
    how = f" ({how})" if how else ""
    msg = (
        f"the worker process running job {job_id!r} died{how}: the job crashed it "
        f"(a segmentation fault, os._exit(), a kill signal, or running out of memory). "
        f"Other jobs were not affected."
    )
    return WorkerDied(msg)
