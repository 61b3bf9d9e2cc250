"""Space a pipeline directory uses, and reclaiming what jobs no longer declared left there.

`usage()` lists, per job, the bytes of its stored value, log, error file, output files and
history record, marking the jobs that the most recent run did not declare. `collect()`
removes what those jobs left (never anything of a declared job; output files only when
asked), under the pipeline's lock. Files first, then records: interrupted at any instant,
a job whose value or record is gone simply runs again if it is declared again.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass, field

from .errors import PipelineError
from .history import History
from .lock import DirectoryLock
from .statedir import PER_JOB, safe_name

_DAY = 86400.0


@dataclass
class JobUsage:
    job: str  # job id, or "" for a file no job's name accounts for
    declared: bool
    files: list[tuple[str, int]] = field(default_factory=list)  # (path, bytes) in the dir
    outputs: list[tuple[str, int]] = field(default_factory=list)  # output files it wrote
    record: int = 0  # bytes of its history record
    last_run: float | None = None

    @property
    def total(self) -> int:
        return sum(n for _, n in self.files) + sum(n for _, n in self.outputs) + self.record


@dataclass
class Usage:
    ppg_dir: str
    jobs: list[JobUsage]  # biggest first
    known: bool  # the most recent run said which jobs it declared
    declared: int = 0  # how many it declared
    notebook: bool = False  # `declared`: all of a notebook's jobs, not the last run's

    @property
    def total(self) -> int:
        return sum(j.total for j in self.jobs)


def usage(ppg_dir: str, declared: set[str] | None = None) -> Usage:
    """What each job takes in (and beside) the pipeline directory `ppg_dir`; "declared":
    the jobs of `declared` (a notebook's, all declared at once), by default those the most
    recent run declared."""
    ppg_dir = os.path.abspath(ppg_dir)
    if not os.path.exists(os.path.join(ppg_dir, "history")):
        msg = f"no pipeline history in {ppg_dir} (run the pipeline first, or pass --dir)"
        raise PipelineError(msg)
    given = declared is not None
    history = History(os.path.join(ppg_dir, "history"))
    try:
        records = history.load()
        if declared is None:
            declared = history.declared()
    finally:
        history.close()
    ids = set(records) | (declared or set())
    owners = {}  # a file of the job's own under ppg_dir -> its job id
    for job_id in ids:
        name = safe_name(job_id)
        for sub, suffix in PER_JOB:
            owners[os.path.join(ppg_dir, sub, name + suffix)] = job_id
    jobs = {job_id: JobUsage(job_id, declared is None or job_id in declared) for job_id in ids}
    stored = os.path.join(ppg_dir, "cache") + os.sep
    for job_id, record in records.items():
        job = jobs[job_id]
        job.record = len(json.dumps(record))
        job.last_run = record.get("t")
        for path, *_ in record.get("out", ()):
            if path.startswith(stored):
                owners[path] = job_id  # (a stored value by another name: one of several)
            elif os.path.isfile(path):
                job.outputs.append((path, os.path.getsize(path)))
    strays = JobUsage("", False)
    for sub, _ in PER_JOB:
        for path, size in _files(os.path.join(ppg_dir, sub)):
            owner = owners.get(path)
            (jobs[owner] if owner is not None else strays).files.append((path, size))
    found = [j for j in jobs.values() if j.total] + ([strays] if strays.files else [])
    found.sort(key=lambda j: j.total, reverse=True)
    return Usage(ppg_dir, found, declared is not None, len(declared or ()), given)


def _files(directory: str) -> list[tuple[str, int]]:
    found = []
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(directory):
            if entry.is_file(follow_symlinks=False):
                found.append((entry.path, entry.stat(follow_symlinks=False).st_size))
    return found


@dataclass
class Collected:
    jobs: list[JobUsage]  # what was (or would be) removed
    freed: int
    dry_run: bool
    declared: int  # how many jobs the most recent run declared (what is kept)
    notebook: bool  # ... or the notebook


def collect(
    ppg_dir: str,
    *,
    dry_run: bool = False,
    older_than: float | None = None,
    outputs: bool = False,
    declared: set[str] | None = None,
) -> Collected:
    """Remove what the jobs that the most recent run (or `declared`, see usage) did not
    declare left: stored values, logs, error files and history records (and, with
    `outputs`, their output files). With `older_than` (days), only jobs that last ran
    longer ago than that."""
    ppg_dir = os.path.abspath(ppg_dir)
    with DirectoryLock(os.path.join(ppg_dir, "lock")):
        found = usage(ppg_dir, declared)
        if not found.known:
            msg = (
                f"the pipeline in {ppg_dir} has not recorded which jobs it declares yet: "
                f"run it once (all of it), then collect"
            )
            raise PipelineError(msg)
        cutoff = None if older_than is None else time.time() - older_than * _DAY
        keep = _declared_outputs(found)
        chosen = []
        for job in found.jobs:
            if job.declared or (cutoff is not None and job.job and (job.last_run or 0) > cutoff):
                continue
            if not outputs:
                job.outputs = []
            job.outputs = [(p, n) for p, n in job.outputs if p not in keep]
            chosen.append(job)
        if not dry_run:
            _remove(ppg_dir, chosen)
        return Collected(
            chosen, sum(j.total for j in chosen), dry_run, found.declared, found.notebook
        )


def _declared_outputs(found: Usage) -> set[str]:
    return {path for job in found.jobs if job.declared for path, _ in job.outputs}


def _remove(ppg_dir: str, jobs: list[JobUsage]) -> None:
    for job in jobs:
        for path, _ in [*job.files, *job.outputs]:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
    history = History(os.path.join(ppg_dir, "history"))
    try:
        history.delete([job.job for job in jobs if job.job and job.record])
    finally:
        history.close()


def size(n: int) -> str:
    """Bytes for people."""
    value = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"


def usage_lines(found: Usage, limit: int | None = None) -> list[str]:
    """The du listing: biggest first, "not declared" marked, then the total."""
    lines = []
    shown = found.jobs if limit is None else found.jobs[:limit]
    for job in shown:
        name = job.job or "(files of no known job)"
        mark = "" if job.declared else "  not declared"
        lines.append(f"{size(job.total):>10}  {name}{mark}")
    if limit is not None and len(found.jobs) > limit:
        lines.append(f"{'':>10}  ... and {len(found.jobs) - limit} more")
    stale = sum(j.total for j in found.jobs if not j.declared)
    lines.append(f"{size(found.total):>10}  in total ({size(stale)} of jobs not declared)")
    if found.known:
        lines.append(_basis(found.declared, found.notebook))
    else:
        lines.append("(the most recent run did not say which jobs it declares: run it once)")
    return lines


def _basis(declared: int, notebook: bool) -> str:
    if notebook:
        return f"(not declared: not among the notebook's {declared} job(s))"
    return (
        f"(not declared: by the most recent run, which declared {declared} job(s); run the "
        f"whole pipeline or notebook first if it declared only part of it, or name the "
        f"notebook: ppg-notebook gc NOTEBOOK.ipynb)"
    )


def collected_lines(done: Collected) -> list[str]:
    verb = "would remove" if done.dry_run else "removed"
    lines = []
    for job in done.jobs:
        what = [f"{len(job.files)} file(s)"] if job.files else []
        if job.outputs:
            what.append(f"{len(job.outputs)} output(s)")
        if job.record:
            what.append("its record")
        name = job.job or "(files of no known job)"
        lines.append(f"{verb} {name}: {', '.join(what)} ({size(job.total)})")
    freed = "would free" if done.dry_run else "freed"
    lines.append(f"{freed} {size(done.freed)} ({len(done.jobs)} job(s) not declared)")
    lines.append(_basis(done.declared, done.notebook))
    return lines
