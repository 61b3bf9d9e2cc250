"""What a session remembers of the jobs that failed, for the next run of the same session.

A job that failed with the inputs it has now is not run again for a dependant (one cell's
failing upstream would otherwise run once for each cell that depends on it), only when it
is asked for itself. A job that failed only because an upstream job's stored value could
not be read is not a failure of its own: that value is removed, its job runs again, and
the session runs again what failed for it (`damaged`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from . import cache
from .errors import DamagedValue, FailedBefore
from .records import Record
from .userfiles import normalize_path


class Failures:
    def __init__(
        self,
        failed: dict[str, dict[str, str]],
        retry: set[str] | None,
        producers: dict[str, str],
        workdir: str,
    ) -> None:
        self.failed = failed  # job -> the inputs it failed with (kept by the session)
        self.retry = retry  # the run's targets (None: every job is asked for)
        self.producers = producers  # an output's relative path -> the job that writes it
        self.workdir = workdir
        self.damaged: set[str] = set()  # jobs whose stored value could not be read

    def again(
        self,
        job_id: str,
        inputs: dict[str, str],
        record: Record | None,
        last_error: Callable[[str], str],
    ) -> FailedBefore | None:
        """The error to report for a job not run again (`last_error(job_id)`: the
        traceback it failed with), or None if it is to run."""
        before = self.failed.get(job_id)
        if before is None or before != inputs or self.retry is None or job_id in self.retry:
            return None
        record = record or {}
        if record.get("o") != "failed":
            return None
        msg = (
            f"{record.get('e', 'it failed')} (it failed earlier in this session with the "
            f"inputs it has now, so it was not run again: fix it, or run it itself again)"
        )
        error = FailedBefore(msg)
        with contextlib.suppress(AttributeError, TypeError):
            error.ppg_traceback = last_error(job_id)  # type: ignore[attr-defined]
        return error

    def failed_with(self, job_id: str, error: BaseException, inputs: dict[str, str]) -> str:
        """`job_id` failed, consuming `inputs`. A warning if an upstream job's stored value
        was found damaged (removed now: that job runs again), else ""."""
        owner = self._damaged_owner(job_id, error)
        if owner is None:
            self.failed[job_id] = inputs
            return ""
        if owner in self.damaged:
            return ""
        self.damaged.add(owner)
        return (
            f"job {owner!r}: {error}, needed by {job_id!r}; it was damaged on disk and "
            f"is removed: {owner!r} runs again"
        )

    def succeeded(self, job_id: str) -> None:
        self.failed.pop(job_id, None)

    def _damaged_owner(self, job_id: str, error: BaseException) -> str | None:
        if not isinstance(error, DamagedValue):
            return None
        owner = self.producers.get(normalize_path(error.path, self.workdir)[1])
        if owner is None or owner == job_id:
            return None
        cache.discard(error.path)
        return owner
