"""How the runner groups worker jobs into batches: the policy alone, without the runner.

Short independent jobs travel in batches of about `TARGET_SECONDS` of work (one round
trip to a worker instead of one per job), and a line of single dependants travels in one
batch behind its head (a chain, decided by the worker as it goes). A job's record is
written when its batch returns (or, for a batch that runs long, when the worker leaves its
results early: worker_batch.Spool), so a job is added only while the jobs held back behind it
are expected to be short: a kill or an interrupt then loses little finished work.

How long a job takes is what it took last time (its record), else this run's average so
far; before three jobs were timed, unknown (infinite: nothing is held back behind it).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

TARGET_SECONDS = 0.02  # batches of tiny jobs are sized to take about this long
MAX_JOBS = 256  # jobs in one batch, or fused in one chain, at most
TRANSPORT_SECONDS = 1e-4  # what sending a job costs, beyond its run


@dataclass(slots=True)
class Timings:
    """This run's job durations so far."""

    jobs: int = 0
    seconds: float = 0.0

    def add(self, seconds: float) -> None:
        self.jobs += 1
        self.seconds += seconds

    def expected(self, last_time: float | None) -> float:
        """How long a job is expected to take, given what it took last time (None if it
        has no record of that)."""
        if last_time is not None:
            return last_time
        if self.jobs < 3:
            return float("inf")
        return self.seconds / self.jobs


def batch_size(timings: Timings, queued: int, cores: int) -> int:
    """How many independent jobs to send in the next batch: one until two per core were
    timed, then as many as fit in `TARGET_SECONDS`, spread so that every core gets a
    share of what is queued, at most `MAX_JOBS`."""
    if timings.jobs < 2 * cores:
        return 1  # learn how long jobs take before batching them
    per_job = timings.seconds / timings.jobs + TRANSPORT_SECONDS
    fit = int(TARGET_SECONDS / per_job)
    spread = queued // (2 * cores)
    return max(1, min(fit, spread, MAX_JOBS))


def take_batch(
    queue: deque[str],
    size: int,
    chains: dict[str, list[str]],
    expected: Callable[[str], float],
    batchable: Callable[[str], bool],
) -> list[str]:
    """The next batch, taken from the front of `queue`: up to `size` queued jobs, each
    followed by the chain fused behind it (taken from `chains`), stopping before a job
    that is not `batchable` or whose expected time would make the batch hold more than
    `TARGET_SECONDS` (a job known to be long starts a batch of its own)."""
    batch: list[str] = []
    held = 0.0
    while queue and len(batch) < size:
        nxt = queue[0]
        if not batchable(nxt):
            break
        held += sum(map(expected, (nxt, *chains.get(nxt, ()))))
        if batch and held > TARGET_SECONDS:
            break
        batch.append(queue.popleft())
        batch.extend(chains.pop(nxt, ()))
    return batch


def chain_below(
    head: str,
    single_dependant: Callable[[str], str | None],
    expected: Callable[[str], float],
    fuse: Callable[[str, str], bool],
    failed_before: Callable[[str], bool],
) -> list[str]:
    """The line of single dependants to fuse behind `head`: each the one dependant of the
    job before it (`single_dependant`), while what is held back is expected to take at
    most `TARGET_SECONDS` and `fuse(job, upstream)` accepts it (it must run, decided
    before its upstream ran). A job that failed last time ends the line: if it kills its
    worker again, it is then known to be the one that did."""
    chain: list[str] = []
    last = head
    held = 0.0
    while len(chain) < MAX_JOBS and not failed_before(last):
        nxt = single_dependant(last)
        if nxt is None:
            break
        held += expected(nxt)
        if held > TARGET_SECONDS or not fuse(nxt, last):
            break
        chain.append(nxt)
        last = nxt
    return chain
