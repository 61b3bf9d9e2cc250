"""The batching policy (batching.py), table by table: how many jobs travel together, which
ones, and which dependants are fused behind a job, without a runner or a worker."""

from __future__ import annotations

from collections import deque

import pytest

from ppg_notebook.batching import (
    MAX_JOBS,
    TARGET_SECONDS,
    Timings,
    batch_size,
    chain_below,
    take_batch,
)

INF = float("inf")


@pytest.mark.parametrize(
    ("jobs", "seconds", "last_time", "expected"),
    [
        (0, 0.0, 0.5, 0.5),  # what it took last time comes first
        (10, 1.0, 0.0, 0.0),
        (2, 0.002, None, INF),  # fewer than three timed: unknown
        (3, 0.003, None, 0.001),  # else this run's average
        (100, 5.0, None, 0.05),
    ],
)
def test_a_job_is_expected_to_take_its_last_time_else_this_runs_average(
    jobs: int, seconds: float, last_time: float | None, expected: float
) -> None:
    assert Timings(jobs, seconds).expected(last_time) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("jobs", "seconds", "queued", "cores", "size"),
    [
        (0, 0.0, 10_000, 2, 1),  # nothing timed yet: one at a time, to learn
        (3, 0.003, 10_000, 2, 1),  # fewer than two per core timed
        (4, 0.0004, 10_000, 2, 100),  # 0.1 ms + transport 0.1 ms: 100 fit in 20 ms
        (4, 0.0, 10_000, 2, 200),  # transport alone
        (4, 0.0, 100_000, 2, 200),
        (1000, 0.0, 400, 2, 100),  # spread: a share of the queue for every core
        (1000, 0.0, 3, 2, 1),
        (4, 4.0, 10_000, 2, 1),  # jobs of a second: one per batch
        (16, 0.0, 10_000, 8, 200),
    ],
)
def test_a_batch_holds_about_the_target_time_of_work_spread_over_the_cores(
    jobs: int, seconds: float, queued: int, cores: int, size: int
) -> None:
    assert batch_size(Timings(jobs, seconds), queued, cores) == size


def test_a_batch_is_never_bigger_than_the_maximum() -> None:
    assert batch_size(Timings(1000, 0.0), 10**9, 1) <= MAX_JOBS


def _take(queue: list[str], size: int, times: dict[str, float], **kw: object) -> list[str]:
    left = deque(queue)
    chains: dict[str, list[str]] = kw.get("chains", {})  # type: ignore[assignment]
    alone: set[str] = kw.get("alone", set())  # type: ignore[assignment]
    batch = take_batch(left, size, chains, lambda j: times.get(j, 0.001), lambda j: j not in alone)
    assert list(left) == queue[len([j for j in queue if j in batch]) :]  # taken from the front
    return batch


@pytest.mark.parametrize(
    ("queue", "size", "times", "extra", "batch"),
    [
        (["a", "b", "c"], 2, {}, {}, ["a", "b"]),  # up to the size
        (["a", "b", "c"], 9, {}, {}, ["a", "b", "c"]),
        (["a", "b"], 9, {"b": 0.5}, {}, ["a"]),  # a long job starts a batch of its own
        (["a", "b"], 9, {"a": 0.5}, {}, ["a"]),  # and is alone in it
        (["a", "b"], 9, {"a": INF}, {}, ["a"]),  # unknown: as long
        (["a", "b", "c"], 9, {}, {"alone": {"b"}}, ["a"]),  # stops before a job sent alone
        (["a", "b"], 9, {}, {"chains": {"a": ["a1", "a2"]}}, ["a", "a1", "a2", "b"]),
        (["a", "b"], 9, {"a2": 0.5}, {"chains": {"a": ["a1", "a2"]}}, ["a", "a1", "a2"]),
        (["a", "b"], 1, {}, {"chains": {"a": ["a1"]}}, ["a", "a1"]),  # chains do not count
    ],
)
def test_a_batch_takes_queued_jobs_and_their_chains_while_they_are_expected_short(
    queue: list[str], size: int, times: dict[str, float], extra: dict, batch: list[str]
) -> None:
    assert _take(queue, size, times, **extra) == batch


def test_twenty_ms_of_known_jobs_fill_one_batch() -> None:
    queue = [f"j{i}" for i in range(100)]
    per_job = TARGET_SECONDS / 8
    batch = _take(queue, 100, dict.fromkeys(queue, per_job))
    assert len(batch) == 8


def _chain(
    edges: dict[str, str], times: dict[str, float], refused: set[str], failed: set[str]
) -> list[str]:
    return chain_below(
        "head",
        edges.get,
        lambda j: times.get(j, 0.001),
        lambda j, upstream: j not in refused,
        lambda j: j in failed,
    )


LINE = {"head": "a", "a": "b", "b": "c"}


@pytest.mark.parametrize(
    ("edges", "times", "refused", "failed", "chain"),
    [
        (LINE, {}, set(), set(), ["a", "b", "c"]),  # the whole line of single dependants
        ({}, {}, set(), set(), []),  # no single dependant
        (LINE, {"b": 0.5}, set(), set(), ["a"]),  # what it holds back stays short
        (LINE, {"a": 0.01, "b": 0.01, "c": 0.01}, set(), set(), ["a", "b"]),  # 0.02 at most
        (LINE, {}, {"b"}, set(), ["a"]),  # a job that need not run (decided later) ends it
        (LINE, {}, set(), {"head"}, []),  # a job that failed last time runs unchained
        (LINE, {}, set(), {"a"}, ["a"]),  # and nothing is fused behind it
    ],
)
def test_a_chain_follows_single_dependants_while_they_are_short_and_must_run(
    edges: dict[str, str],
    times: dict[str, float],
    refused: set[str],
    failed: set[str],
    chain: list[str],
) -> None:
    assert _chain(edges, times, refused, failed) == chain


def test_a_chain_is_never_longer_than_the_maximum() -> None:
    edges = {"head": "0", **{str(i): str(i + 1) for i in range(1000)}}
    assert len(_chain(edges, {j: 0.0 for j in edges.values()}, set(), set())) == MAX_JOBS
