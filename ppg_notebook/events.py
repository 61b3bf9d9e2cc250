"""What a run reports: each job's outcome, events while running, and the final RunResult."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from . import ids


class Outcome(enum.Enum):
    """How a job ended in one run."""

    RAN = "ran"
    UP_TO_DATE = "up to date"
    FAILED = "failed"
    UPSTREAM_FAILED = "upstream failed"
    NOT_NEEDED = "not needed"  # a loading/temp job no dependant needed this run


FAILURES = (Outcome.FAILED, Outcome.UPSTREAM_FAILED)  # what stops the job's dependants


class Event(NamedTuple):
    """A state change during a run (a named tuple: one is made per job and state, made
    in C). `kind` is one of:

    "run_started" (data: number of jobs in the run, invariants not counted), "queued",
    "running" (sent to a worker: a job batched behind others shows as running early),
    "done" (data: Outcome),
    "run_finished" (data: the RunResult).
    """

    kind: str
    job_id: str = ""
    data: Any = None


class Listeners(list[Callable[[Event], None]]):
    """The functions a pipeline tells of its runs' events; calling it tells them all.
    False while it holds none: a run then makes no event of each job it settles (one for
    each of 100,000 jobs was a thirtieth of a run with nothing to do)."""

    def __call__(self, event: Event) -> None:
        for listener in self:
            listener(event)


_TALLY = ("ran", "loaded", "up to date", "failed", "upstream failed")


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
    loaders: set[str] = field(default_factory=set)  # loading jobs: they load, not run

    @property
    def invariants(self) -> set[str]:
        """The invariants among the outcomes: inputs, not jobs (not counted). Told by
        their ids (a set of 100,000 made at the end of every run was a run's peak)."""
        return {job_id for job_id in self.outcomes if ids.is_invariant(job_id)}

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

    def tally(self) -> str:
        """The counts of a run, in the words used everywhere (cells, CLI, widget):
        "3 ran · 5 loaded · 2 up to date · 1 failed · 2 upstream failed"."""
        counts = dict.fromkeys(_TALLY, 0)
        for job_id, outcome in self.outcomes.items():
            if ids.is_invariant(job_id):
                continue
            if outcome is Outcome.RAN:
                counts["loaded" if job_id in self.loaders else "ran"] += 1
            elif outcome is not Outcome.NOT_NEEDED:
                counts[outcome.value] += 1
        if not counts["ran"] and not counts["loaded"] and not self.errors:
            return f"nothing to do: {counts['up to date']} up to date"
        return " · ".join(f"{n} {word}" for word, n in counts.items() if n)

    def __repr__(self) -> str:
        return (
            f"RunResult(ran={len(self.ran)}, up_to_date={len(self.up_to_date)}, "
            f"failed={len(self.errors)}, upstream_failed={len(self.upstream_failed)}, "
            f"duration={self.duration:.2f}s)"
        )
