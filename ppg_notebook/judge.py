"""The verdict on one job once what it consumes is known: the one step of every walk.

The runner decides each job as its upstream settles; `explain.plan` walks the whole graph
before anything runs. Both ask a `Judge`, which owns what the walk has learned so far:
each settled job's output fingerprint (`fp`), what each job would consume (`inputs`), and
the pieces of code behind a job's code inputs, worked out only when asked (`details`). The
walker says what happens next; the judge only says what the rules (SPEC §3, through
consumed.job_reason) and the job's kind make of it. A job that must run leaves its `fp`
unset: the runner sets it from the result, the plan from `UNKNOWN`.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import NamedTuple

from . import facts
from .consumed import CodeDetails, code_details, inputs_fingerprint, job_inputs, job_reason
from .decide import UNKNOWN, Reason
from .errors import CodeError, JobContractError, PipelineError
from .graph import Edges
from .invariants import FileInvariant
from .jobs import Job
from .kinds import NOWHERE
from .records import Record, Records, unchanged


class Verdict(enum.Enum):
    INVARIANT = "invariant"  # its fingerprint is known (fp); nothing runs
    MISSING_INPUT = "missing input"  # an input file invariant whose file does not exist
    CODE_ERROR = "code error"  # its code cannot be fingerprinted (error)
    ON_DEMAND = "on demand"  # a loading job: runs when a dependant that runs needs it
    FINAL = "final"  # runs after all else, when anything ran
    ALWAYS = "always"  # runs on every run
    UP_TO_DATE = "up to date"
    RUN = "run"  # a rule says it must (reason); a `maybe` reason: it may


class Decision(NamedTuple):
    verdict: Verdict
    reason: Reason | None = None
    error: PipelineError | None = None  # what the job fails with, if it cannot run
    cause: CodeError | None = None  # (a code error: in the module's own words)
    record: Record | None = None  # an input file's new record (its stat changed)


ALWAYS = Reason(1, "it runs on every run")
_INVARIANT = Decision(Verdict.INVARIANT)
_UP_TO_DATE = Decision(Verdict.UP_TO_DATE)
_ON_DEMAND = Decision(Verdict.ON_DEMAND)
_FINAL = Decision(Verdict.FINAL)
_ALWAYS = Decision(Verdict.ALWAYS, ALWAYS)


class Judge:
    """What the walk knows of the jobs it has passed, and the verdict on the next one."""

    def __init__(
        self,
        jobs: dict[str, Job],
        upstream: Edges,
        records: Records,
        workdir: str,
        states: facts.FileStates,
        refreshed: list[str] | None = None,
    ) -> None:
        self.jobs = jobs
        self.up = upstream
        self.records = records
        self.workdir = workdir
        self.states = states  # the files looked at in this walk (stat once)
        # Records whose outputs' or reads' stat changed but content did not (written
        # again with the new stat by the runner; the plan leaves them alone).
        self.refreshed = refreshed if refreshed is not None else []
        self.fp: dict[str, str] = {}
        self.inputs: dict[str, dict[str, str]] = {}
        self.details: dict[str, CodeDetails] = {}

    def decide(self, job_id: str) -> Decision:
        """The verdict on `job_id`, whose upstream jobs all have a fingerprint in `fp`."""
        job = self.jobs[job_id]
        if job.where == NOWHERE:
            return self._invariant(job)
        if job.last:
            return _FINAL
        try:  # (inputs_of, inline: this runs once per job of every run)
            inputs = job_inputs(job, self.up[job_id], self.fp)
        except CodeError as e:
            return Decision(Verdict.CODE_ERROR, error=e.in_job(job_id), cause=e)
        stored = None if job.lazy or job.always else self.records.summary(job_id)
        if stored is not None and UNKNOWN not in inputs.values():
            # (a run with nothing to do: the record's stored summary says it consumed
            # this and wrote these files as they are, read without parsing the record;
            # a job with no such record, as in a cold run, stats nothing here. What it
            # consumes is not kept, nor one kept from an earlier decision of this run
            # dropped here: the runner drops that, see Runner._resolve)
            digest = facts.outputs_summary(job, inputs)
            fp = None if digest is None else unchanged(stored, digest)
            if fp is not None:
                self.fp[job_id] = fp
                return _UP_TO_DATE
        self.inputs[job_id] = inputs
        self.details.pop(job_id, None)
        if job.lazy:
            if UNKNOWN in inputs.values():  # (the plan: an upstream job will run first)
                self.fp[job_id] = UNKNOWN
            else:
                seen = facts.reads_fingerprint(self.records.get(job_id), self.workdir, self.states)
                self.fp[job_id] = inputs_fingerprint(job_id, inputs, seen)
            return _ON_DEMAND
        if job.always:
            return _ALWAYS
        record = self.records.get(job_id)
        reason = job_reason(
            job, record, inputs, self.jobs, self.refreshed, self.details_of, self.states
        )
        if reason is None:
            self.fp[job_id] = record["fp"]
            refreshed = self.refreshed
            if not (refreshed and refreshed[-1] == job_id) and self.records.lacks_summary(
                job_id, record
            ):
                refreshed.append(job_id)  # (written again, with its summary: see records.py)
            return _UP_TO_DATE
        return Decision(Verdict.RUN, reason)

    def inputs_of(self, job_id: str, pending: str = "") -> dict[str, str]:
        """What the job would consume now (`pending`: an upstream whose output is not known
        yet). Remembered as the job's inputs, recorded if it runs."""
        inputs = job_inputs(self.jobs[job_id], self.up[job_id], self.fp, pending)
        self.inputs[job_id] = inputs
        self.details.pop(job_id, None)  # (worked out when asked for: see details_of)
        return inputs

    def details_of(self, job_id: str) -> CodeDetails:
        """The job's CodeDetails, as of its inputs (needed only if it runs, or its code
        changed: most jobs of a run with nothing to do never need them)."""
        found = self.details.get(job_id)
        if found is None:
            found = code_details(self.jobs[job_id], self.up[job_id], self.jobs)
            self.details[job_id] = found
        return found

    def reason(self, job_id: str, inputs: dict[str, str]) -> Reason | None:
        """SPEC §3's rules for the job, were it to consume `inputs`."""
        record = self.records.get(job_id)
        job = self.jobs[job_id]
        return job_reason(
            job, record, inputs, self.jobs, self.refreshed, self.details_of, self.states
        )

    def read_now(self, job_id: str, record: Record, downstream: Sequence[str]) -> None:
        """A loading job's fingerprint with the files it has just read, also in what its
        dependants (which run now, after it) consume."""
        seen = facts.reads_fingerprint(record, self.workdir, facts.FileStates())
        fp = inputs_fingerprint(job_id, record["i"], seen)
        self.fp[job_id] = fp
        for d in downstream:
            consumed = self.inputs.get(d)
            if consumed is not None and job_id in consumed:
                consumed[job_id] = fp

    def final_reason(self, job_id: str, anything_ran: bool) -> Reason | None:
        """A final job's reason to run, once every other job has settled."""
        inputs = self.inputs_of(job_id)
        record = self.records.get(job_id)
        if anything_ran:
            return Reason(1, "other jobs ran")
        if record is None or record.get("o") != "ok" or record.get("i") != inputs:
            return Reason(1, "it has not run with these inputs")
        problem = facts.read_problem(job_id, record, self.workdir, self.states, self.refreshed)
        if problem is not None:
            return Reason(3, problem)
        self.fp[job_id] = inputs_fingerprint(job_id, inputs)  # as recorded when it ran
        return None

    def _invariant(self, job: Job) -> Decision:
        job_id = job.job_id
        ups = self.up[job_id]
        if ups and any(self.fp[u] == UNKNOWN for u in ups):
            self.fp[job_id] = UNKNOWN  # (the plan: a value part waits for its job)
            return _INVARIANT
        if isinstance(job, FileInvariant):
            before = self.records.get(job_id)
            record = facts.input_file_record(job.outputs[0], before)
            if record is None:
                msg = (
                    f"input file {job.paths[0]!r} does not exist; create it, or declare "
                    f"the job that writes it"
                )
                return Decision(Verdict.MISSING_INPUT, error=JobContractError(msg))
            self.fp[job_id] = record["fp"]
            return _INVARIANT if record is before else Decision(Verdict.INVARIANT, record=record)
        try:
            self.fp[job_id] = job.output_key() or ""
        except CodeError as e:
            return Decision(Verdict.CODE_ERROR, error=e.in_job(job_id), cause=e)
        return _INVARIANT
