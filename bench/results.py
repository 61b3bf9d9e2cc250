"""What one measured phase produced, and the statistics drawn from many of them."""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median


@dataclass(frozen=True)
class PhaseResult:
    """One phase of one repeat of one (tool, workload) case."""

    tool: str
    workload: str
    repeat: int
    phase: str
    status: str  # ok | error | timeout | skipped (an earlier phase of the repeat failed)
    seconds: float | None = None
    main_rss_mb: float | None = None
    tree_rss_mb: float | None = None
    rewritten: int | None = None  # output files (re)written by this phase
    expected: int | None = None  # what a correct tool rewrites
    missing: int = 0  # outputs absent after the phase
    stray_processes: bool = False
    background_cpu_s: float | None = None  # other processes' CPU use during the phase

    @property
    def suspicious(self) -> bool:
        """The tool ran, but did not leave the outputs a correct run would."""
        return self.status == "ok" and (self.rewritten != self.expected or self.missing > 0)


@dataclass(frozen=True)
class Stat:
    """A median over repeats, or why there is none (``failure``: error | timeout | n/a)."""

    value: float | None
    failure: str | None = None
    suspicious: bool = False

    @classmethod
    def failed(cls, failure: str) -> Stat:
        return cls(None, failure)


def select(results: list[PhaseResult], tool: str, workload: str, phase: str) -> list[PhaseResult]:
    return [r for r in results if (r.tool, r.workload, r.phase) == (tool, workload, phase)]


def failure_of(rows: list[PhaseResult]) -> str | None:
    """``timeout``, ``error`` or ``skipped`` if any repeat did not complete, else None."""
    statuses = {r.status for r in rows}
    if "timeout" in statuses:
        return "timeout"
    if "error" in statuses:
        return "error"
    if "skipped" in statuses:
        return "skipped"
    return None


def median_of(
    results: list[PhaseResult], tool: str, workload: str, phase: str, field: str = "seconds"
) -> Stat:
    """Median of ``field`` over the repeats of one phase."""
    rows = select(results, tool, workload, phase)
    if not rows:
        return Stat.failed("n/a")
    failure = failure_of(rows)
    if failure:
        return Stat.failed(failure)
    values = [getattr(r, field) for r in rows]
    if any(v is None for v in values):
        return Stat.failed("n/a")
    return Stat(median(values), suspicious=any(r.suspicious for r in rows))


def difference(a: Stat, b: Stat) -> Stat:
    """``a - b``, failing if either side failed."""
    if a.value is None:
        return a
    if b.value is None:
        return b
    return Stat(a.value - b.value, suspicious=a.suspicious or b.suspicious)
