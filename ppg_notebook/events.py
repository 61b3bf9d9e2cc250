"""What a run reports: each job's outcome, events while running, and the final RunResult."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Outcome(enum.Enum):
    """How a job ended in one run."""

    RAN = "ran"
    UP_TO_DATE = "up to date"
    FAILED = "failed"
    UPSTREAM_FAILED = "upstream failed"
    NOT_NEEDED = "not needed"  # a loading/temp job no dependant needed this run


@dataclass(frozen=True, slots=True)
class Event:
    """A state change during a run. `kind` is one of:

    "run_started" (data: number of jobs in the run, invariants not counted), "queued",
    "running" (sent to a worker: a job batched behind others shows as running early),
    "done" (data: Outcome),
    "run_finished" (data: the RunResult).
    """

    kind: str
    job_id: str = ""
    data: Any = None


@dataclass
class RunResult:
    """What one `run()` did, job by job."""

    outcomes: dict[str, Outcome] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)  # why each job that ran had to
    errors: dict[str, BaseException] = field(default_factory=dict)
    tracebacks: dict[str, str] = field(default_factory=dict)
    logs: dict[str, str] = field(default_factory=dict)  # captured output of jobs that ran
    warnings: list[str] = field(default_factory=list)  # undeclared reads and writes (§3a)
    duration: float = 0.0

    def _with(self, outcome: Outcome) -> list[str]:
        return [job_id for job_id, o in self.outcomes.items() if o is outcome]

    @property
    def ran(self) -> list[str]:
        """Ids of the jobs that ran successfully, in the order they finished."""
        return self._with(Outcome.RAN)

    @property
    def up_to_date(self) -> list[str]:
        return self._with(Outcome.UP_TO_DATE)

    @property
    def failed(self) -> dict[str, BaseException]:
        return dict(self.errors)

    @property
    def upstream_failed(self) -> list[str]:
        return self._with(Outcome.UPSTREAM_FAILED)

    @property
    def ok(self) -> bool:
        return not self.errors

    def __repr__(self) -> str:
        return (
            f"RunResult(ran={len(self.ran)}, up_to_date={len(self.up_to_date)}, "
            f"failed={len(self.errors)}, upstream_failed={len(self.upstream_failed)}, "
            f"duration={self.duration:.2f}s)"
        )
