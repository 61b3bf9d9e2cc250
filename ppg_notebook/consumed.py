"""What a job consumes, and whether that makes it run (SPEC §3), in terms of jobs.

decide.py holds the rules over plain fingerprints; this module asks the jobs and the
filesystem for them: a job's inputs (its upstream jobs' output fingerprints and its own
code's), what a loading job provides, the pieces of the user's code behind its code
inputs (to say which changed), and the rules applied to a job and its record. Used alike
by the runner, as upstream jobs finish, and by the pipeline's plan, before anything runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from . import facts, hashing, ids
from .decide import UNKNOWN, Reason, consumes_as_before, reason_to_run
from .jobs import Job
from .kinds import NOWHERE
from .records import Record


def inputs_fingerprint(job_id: str, inputs: dict[str, str], seen: str = "") -> str:
    """What a job of the main process provides (a loading job's data) is determined by
    what it consumed: its inputs, and the files it read at run time (`seen`, see
    facts.reads_fingerprint; "" if none). Its own code is hashed under its former key,
    "FI:" + its id, so that fingerprints recorded before stay valid."""
    parts = {(ids.old_own_code(job_id) if k == ids.OWN_CODE else k): v for k, v in inputs.items()}
    if seen:
        parts[""] = seen
    return hashing.combine([f"{k}={v}" for k, v in sorted(parts.items())])


def code_key(job_id: str) -> str:
    """The input key under which a job's own code fingerprint is recorded: "", which no
    job or invariant id can be (a FunctionInvariant named like the job is another input;
    records of the old key, "FI:" + the job's id, are read as this, see records.py)."""
    return ids.OWN_CODE


def job_inputs(
    job: Job, upstream: Sequence[str], fp: dict[str, str], pending: str = ""
) -> dict[str, str]:
    """What `job` consumes: its upstream jobs' output fingerprints (`pending`: one not
    known yet) and its own code fingerprint."""
    inputs = {}
    for u in upstream:  # (a loop, not a comprehension: one call fewer, once per job)
        inputs[u] = UNKNOWN if u == pending else fp[u]
    code = job.code_fingerprint()
    if code is not None:
        inputs[ids.OWN_CODE] = code  # (code_key's)
    return inputs


class CodeDetails(NamedTuple):
    """The pieces of the user's code behind a job's code inputs (its own, under "", and
    the function invariants it depends on), for saying which changed (SPEC §3a)."""

    digests: dict[str, str]  # input key -> digest of the pieces it covers
    pieces: dict[str, dict[str, str]]  # digest -> {piece: fingerprint}
    modules: dict[str, tuple[str, ...]]  # digest -> the user modules the pieces lie in


NO_DETAILS = CodeDetails({}, {}, {})  # (shared by the jobs that reach no user code)


def code_details(job: Job, upstream: Sequence[str], jobs: dict[str, Job]) -> CodeDetails:
    """What `CodeDetails` says of `job` now."""
    reach = job.code_reach()
    invariants = [u for u in upstream if u in jobs and jobs[u].policy.code]
    if not invariants:
        if reach is None or not reach.items:
            return NO_DETAILS  # (the common case, kept small: thousands of jobs hold it)
        shared = _shared_details.get(reach.digest)
        if shared is None or shared[0] is not reach:  # (many jobs of one function)
            d = reach.digest
            shared = (reach, CodeDetails({"": d}, {d: reach.items}, {d: reach.modules}))
            _shared_details[reach.digest] = shared
        return shared[1]
    found = CodeDetails({}, {}, {})
    covered = [("", reach), *((u, jobs[u].reach()) for u in invariants)]  # type: ignore[attr-defined]
    for key, part in covered:
        if part is not None and part.items:
            found.digests[key] = part.digest
            found.pieces[part.digest] = part.items
            found.modules[part.digest] = part.modules
    return found


_shared_details: dict[str, tuple[Any, CodeDetails]] = {}


def job_reason(
    job: Job,
    record: Record | None,
    inputs: dict[str, str],
    jobs: dict[str, Job],
    refreshed: list[Any],
    details: Callable[[str], CodeDetails] | None = None,
    states: facts.FileStates | None = None,
) -> Reason | None:
    """SPEC §3's rules for `job` given its history `record` and what it would consume
    (`refreshed` collects the ids of records whose outputs' or reads' stat changed but
    content did not; `details(job_id)`: the job's CodeDetails, asked for only to say which
    piece of code changed; `states`: the files looked at in this run). A value part
    counts as the output of its job (rule 5), not as an invariant."""
    pipeline: Any = job.pipeline  # (the session's Pipeline: the rules read its history)
    workdir = pipeline.workdir
    files = facts.FileStates() if states is None else states
    if record is not None and consumes_as_before(record, inputs):
        # (the common case of a run, kept fast: what reason_to_run then checks, in its
        # order, without making the functions it is given)
        problem = facts.check_outputs(job, record, refreshed)
        if problem is not None:
            return Reason(2, problem)
        problem = facts.read_problem(job.job_id, record, workdir, files, refreshed)
        return None if problem is None else Reason(3, problem)
    history = pipeline.history
    job_id = job.job_id
    return reason_to_run(
        record,
        inputs,
        code_key(job.job_id),
        lambda: facts.check_outputs(job, record, refreshed),  # type: ignore[arg-type]
        lambda i: describe(jobs.get(i), i),
        lambda i: i not in jobs or (jobs[i].where == NOWHERE and not jobs[i].policy.part),
        lambda key: _pieces(details(job_id) if details is not None else NO_DETAILS, key),
        lambda: facts.read_problem(job.job_id, record, workdir, files, refreshed),  # type: ignore[arg-type]
        history.pieces,
    )


def _pieces(details: CodeDetails, key: str) -> dict[str, str] | None:
    return details.pieces.get(details.digests.get(key, ""))


def describe(job: Job | None, job_id: str) -> str:
    """Names an input for people: 'parameter x', 'input file a.csv', 'job b'."""
    if job is None:
        return f"job {job_id!r}"
    if job.policy.part:
        return f"job {job.owner!r} (its value {job.name!r})"  # type: ignore[attr-defined]
    if job.policy.named:
        return f"{job.policy.named} {ids.name_of(job_id)!r}"
    return f"job {job_id!r}"
