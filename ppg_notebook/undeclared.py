"""What a job read or wrote without saying so, in words that say how to declare it (SPEC §3a).

reads.py records the files a job opened while it ran; this module turns what was found
into the run's warnings: a file another job writes, read without depending on that job; an
output that is not declared; a file that cannot be read to fingerprint it; more files than
are tracked.
"""

from __future__ import annotations

from collections.abc import Callable

from . import reads
from .userfiles import normalize_path


def warnings(
    job_id: str,
    found: reads.Found,
    producers: dict[str, str],
    workdir: str,
    upstream_of: Callable[[], set[str]],
) -> list[str]:
    """The warnings for `job_id`, which ran and was `found` to read and write these files
    (`producers`: each declared output's relative path -> the job that writes it;
    `upstream_of()`: every job `job_id` depends on, directly or not)."""
    if found is reads.NOTHING:
        return []
    said = []
    upstream: set[str] | None = None
    for shown in found.reads:
        producer = producers.get(normalize_path(shown, workdir)[1])
        if producer is None or producer == job_id:
            continue
        if upstream is None:
            upstream = upstream_of()
        if producer not in upstream:
            said.append(
                f"job {job_id!r} read {shown!r}, which job {producer!r} writes, but does "
                f"not depend on it: it may have read it before that job wrote it. Declare "
                f"the dependency (in a script `.depends_on(...)` that job, in a notebook "
                f"name it in the cell or add --deps {shown}); until then it reruns when "
                f"that file changes"
            )
    for shown in found.writes:
        owner = producers.get(normalize_path(shown, workdir)[1])
        whose = f", which is job {owner!r}'s output," if owner and owner != job_id else ""
        said.append(
            f"job {job_id!r} wrote {shown!r}{whose} which is not one of its declared "
            f"outputs: nothing checks or rebuilds that file. Declare it as an output "
            f"(MultiFileGeneratingJob, or --out in a notebook) or write it elsewhere "
            f"(a temporary directory)"
        )
    for shown in found.unreadable:
        said.append(
            f"job {job_id!r} read {shown!r}, which cannot be read to fingerprint it "
            f"(permission denied?): the job runs again on every run until it can be read"
        )
    if found.dropped:
        said.append(
            f"job {job_id!r} read {len(found.reads) + found.dropped} files under the "
            f"project at run time; only {len(found.reads)} are tracked as its inputs, "
            f"so a change to the other {found.dropped} does not rerun it. Exclude files "
            f"that do not matter with job.ignore_reads(DIRECTORY), or declare a "
            f"FileInvariant for what does"
        )
    return said
