"""What the next run would do, and why, without running: the pipeline's plan, `why` and
`status` (SPEC §3: the same rules the runner applies, walked over the whole graph with
the fingerprints known now; a job below one that will run gets a `maybe` reason)."""

from __future__ import annotations

from typing import Any

from . import status
from .decide import UNKNOWN, Reason, when_needed
from .facts import FileStates
from .judge import Judge, Verdict
from .kinds import NOWHERE
from .records import Record, Records


def plan(pipeline: Any, targets: Any, records: Records) -> dict[str, Reason | None]:
    """Each job's reason to run (None: up to date), given the history's `records`: the
    runner's verdicts (judge.py), with a job that would run taken to change its output."""
    upstream, order = pipeline._graph(targets)
    pipeline.code.new_epoch()
    judge = Judge(pipeline.jobs, upstream, records, pipeline.workdir, FileStates())
    found: dict[str, Reason | None] = {}
    for job_id in order:
        decision = judge.decide(job_id)
        verdict = decision.verdict
        reason = _PLANNED.get(verdict, decision.reason)
        if verdict is Verdict.CODE_ERROR:
            reason = Reason(3, f"its code cannot be fingerprinted: {decision.cause}")
        if verdict in _UNKNOWN_AFTER or (reason is not None and not reason.on_demand):
            judge.fp[job_id] = UNKNOWN  # (what it makes is not known before it runs)
        found[job_id] = reason
    return found


_PLANNED = {  # what the plan says of a verdict that no rule decides
    Verdict.INVARIANT: None,
    Verdict.MISSING_INPUT: None,  # (the run fails it; its dependants cannot run)
    Verdict.ON_DEMAND: when_needed("it runs only when a job that depends on it runs"),
    Verdict.FINAL: when_needed("it runs after the other jobs when any of them ran"),
}
_UNKNOWN_AFTER = {Verdict.MISSING_INPUT, Verdict.FINAL}


def why(pipeline: Any, job_id: str) -> str:
    """In words: will this job run on the next run, and why?"""
    records = pipeline.history.load()
    reason = plan(pipeline, [job_id], records)[job_id]
    if reason is None:
        text = f"{job_id!r} is {status.UP_TO_DATE}"
    elif reason.on_demand:
        text = f"{job_id!r}: {reason.text}"
    else:
        text = f"{job_id!r} {status.sentence(reason)}"
    record = records.get(job_id)
    lines = [text, *_failed_upstream_lines(pipeline, job_id, records)]
    return "\n".join([*lines, *tracked_lines(record, pipeline.history.modules(record))])


def _failed_upstream_lines(pipeline: Any, job_id: str, records: Records) -> list[str]:
    """The upstream jobs whose last run failed: why `job_id` could not run."""
    _, order = pipeline._graph([job_id])
    failed = [u for u in reversed(order) if u != job_id and records.get(u, {}).get("o") == "failed"]
    return [
        f"  an upstream job failed: {u!r} ({records[u].get('e', 'error unknown')}); "
        f"fix it, then run again"
        for u in failed
    ]


def status_rows(pipeline: Any) -> list[dict[str, Any]]:
    """One row per job: id, kind, state, why it must run, last duration."""
    records = pipeline.history.load()
    rows = []
    for job_id, reason in plan(pipeline, None, records).items():
        job = pipeline.jobs[job_id]
        if job.where == NOWHERE:
            continue
        record = records.get(job_id) or {}
        rows.append(
            {
                "job": job_id,
                "kind": job.kind,
                "state": status.state(reason, record),
                "why": reason.text if reason else "",
                "last_run": record.get("t"),
                "duration": record.get("d"),
                "error": record.get("e", ""),
                "reads": sorted(record.get("r", ())),
                "modules": pipeline.history.modules(record),
            }
        )
    return rows


def tracked_lines(record: Record | None, modules: list[str]) -> list[str]:
    """What a job's last successful run was seen to use besides what was declared: the
    files it read and the user modules its code reaches (SPEC §3a), for `why`."""
    if not record:
        return []
    lines = []
    found = sorted(record.get("r", ()))
    if found:
        shown = ", ".join(found[:10]) + (f" and {len(found) - 10} more" if len(found) > 10 else "")
        lines.append(f"  files it read at run time: {shown}")
    if modules:
        lines.append(f"  code followed into: {', '.join(modules)}")
    return lines
