"""Chains: a line of single dependants fused behind the job queued at its head.

A job whose only dependant waits for nothing else can take that dependant along in its
batch: the worker runs it right after, so a chain costs one round trip, not one per job.
Such a dependant is decided before its upstream has run (judge.py, with that upstream's
output `UNKNOWN`). One that may be spared (rule 5) is decided in the worker, by comparing
the upstream's new output with what it consumed last time (`unless`). batching.chain_below
says how long a chain may grow; this module keeps, for one run, which jobs travel fused,
and puts them back to be decided normally when their batch did not run them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import batching
from .consumed import describe
from .decide import UNKNOWN
from .errors import CodeError
from .events import FAILURES, Event, Outcome
from .graph import Edges
from .jobs import Job
from .judge import Judge
from .kinds import WORKER
from .records import Records


class Chains:
    def __init__(
        self,
        jobs: dict[str, Job],
        upstream: Edges,
        downstream: Edges,
        remaining: dict[str, int],
        records: Records,
        judge: Judge,
        outcomes: dict[str, Outcome],
        reasons: dict[str, str],
        emit: Callable[[Event], None],
    ) -> None:
        self.jobs = jobs
        self.up = upstream
        self.down = downstream
        self.remaining = remaining  # job with upstream -> upstream jobs not settled yet
        self.records = records
        self.judge = judge
        self.outcomes = outcomes
        self.reasons = reasons
        self.emit = emit
        self.chains: dict[str, list[str]] = {}  # queued job -> dependants fused after it
        self.fused: set[str] = set()  # jobs travelling chained behind their upstream
        self.unless: dict[str, str] = {}  # fused job -> upstream output that spares it

    def behind(
        self,
        head: str,
        expected_seconds: Callable[[str], float],
        cores_of: Callable[[str], int],
    ) -> None:
        """Fuse the line of single dependants below `head`, queued now, behind it."""

        def single_dependant(upstream: str) -> str | None:
            return self._single_dependant(upstream, cores_of)

        chain = batching.chain_below(
            head, single_dependant, expected_seconds, self._fuse, self._failed_before
        )
        if chain:
            self.chains[head] = chain
            self.fused.update(chain)

    def task_fields(self, job_id: str) -> dict[str, Any]:
        """What the worker is told of a job's place in a chain (worker.Task's fields)."""
        unless = self.unless.get(job_id)
        return {
            "chained": job_id in self.fused,
            "unless": unless,
            "kept": self.records[job_id]["fp"] if unless is not None else "",
        }

    def unfuse(self, ids: list[str]) -> list[str]:
        """Fused jobs that did not run with their batch are decided again, normally: the
        ones among `ids` that are ready for that now."""
        ready = []
        for job_id in ids:
            self.chains.pop(job_id, None)
            if job_id in self.fused:
                self.fused.discard(job_id)
                self.unless.pop(job_id, None)
                self.reasons.pop(job_id, None)
                if self.remaining.get(job_id, 0) == 0 and job_id not in self.outcomes:
                    ready.append(job_id)
        return ready

    def ran_behind(self, job_id: str, fp: dict[str, str]) -> None:
        """A fused job's upstream has run: fill in what it consumed, say why it ran."""
        self.fused.discard(job_id)
        inputs = self.judge.inputs[job_id]
        for u, value in inputs.items():
            if value == UNKNOWN:
                inputs[u] = fp[u]
                if self.unless.pop(job_id, None) is not None:
                    self.reasons[job_id] = (
                        f"{describe(self.jobs.get(u), u)} produced different output than it "
                        f"used last time"
                    )

    def _failed_before(self, job_id: str) -> bool:
        # A job that failed last time runs unchained: if it kills its worker again, it is
        # then known to be the one that did.
        record = self.records.get(job_id)
        return record is not None and record.get("o") == "failed"

    def _single_dependant(self, upstream: str, cores_of: Callable[[str], int]) -> str | None:
        """The one dependant of `upstream`, if a worker can run it right after it."""
        down = self.down[upstream]
        if len(down) != 1:
            return None
        job_id = down[0]
        job = self.jobs[job_id]
        if job.where != WORKER or job.lazy or job.always or cores_of(job_id) != 1:
            return None
        if self.remaining.get(job_id) != 1:
            return None  # it waits for other upstream jobs too
        for u in self.up[job_id]:
            if u != upstream and (self.jobs[u].lazy or self.outcomes.get(u) in FAILURES):
                return None
        return job_id

    def _fuse(self, job_id: str, upstream: str) -> bool:
        """Decide `job_id` before its upstream has run; False if it must be decided later."""
        judge = self.judge
        try:
            reason = judge.reason(job_id, judge.inputs_of(job_id, pending=upstream))
        except CodeError:
            return False  # decided alone, and failed, once its upstream is done
        if reason is None:
            return False
        if reason.maybe:
            self.unless[job_id] = self.records[job_id]["i"][upstream]
        self.reasons[job_id] = reason.text
        self.emit(Event("queued", job_id))
        return True
