"""What a worker is sent to run one job (worker.Task), and what the files a job opens are
judged against (reads.Scope), both worked out from the job and the jobs it depends on."""

from __future__ import annotations

from typing import Any

from . import reads, statedir
from .graph import Upstream
from .jobs import Job
from .kinds import TASK_PLOT, TASK_VALUES
from .worker import Context, Task


def declared(job_id: str, upstream: Upstream, jobs: dict[str, Job]) -> tuple[str, ...]:
    """The files the job's declared dependencies stand for (not discovered inputs)."""
    return tuple(p for u in upstream[job_id] for p in jobs[u].outputs)


def scope(job: Job, declared: tuple[str, ...], context: Context) -> reads.Scope:
    """What tells a job's own reads and writes from what it reads and writes undeclared."""
    return reads.Scope(
        context.files, context.workdir, context.ppg_dir, job.outputs, declared, job.ignored_reads
    )


def task(job: Job, context: Context, declared: tuple[str, ...], chain: dict[str, Any]) -> Task:
    """The task for `job` (`chain`: its place in a chain, fusion.Chains.task_fields)."""
    extra: Any = None
    if job.task == TASK_PLOT:
        extra = job.calc_job.outputs[0]  # type: ignore[attr-defined]
    elif job.task == TASK_VALUES:
        extra = job.names  # type: ignore[attr-defined]
    return Task(
        job.job_id,
        job.task,
        job.fn,
        job.paths,
        job.outputs,
        job.with_path,
        job.policy.several_files,
        job.empty_ok,
        extra,
        statedir.log_file(context.ppg_dir, job.job_id),
        **chain,
        declared=declared if context.record_reads else (),
        ignored=job.ignored_reads,
    )
