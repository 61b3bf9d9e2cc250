"""Chains (fusion.py): single dependants fused behind the job queued at their head; a
chain whose head failed is decided again (upstream failed), not run; what may not travel
fused is decided on its own."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from inprocess import InProcessWorkers, pipeline_on, write_name

import ppg_notebook as ppg


def _broken(path: Path) -> None:
    raise ValueError("broken head")


def _pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, InProcessWorkers]:
    workers = InProcessWorkers(1)
    return pipeline_on(tmp_path, monkeypatch, workers), workers


def _chain(head_fn: Any = write_name, n: int = 3) -> list[Any]:
    jobs = [ppg.FileGeneratingJob("c0.txt", head_fn)]
    jobs += [ppg.FileGeneratingJob(f"c{i}.txt", write_name) for i in range(1, n)]
    for up, down in itertools.pairwise(jobs):
        down.depends_on(up)
    return jobs


def _warm() -> None:
    for i in range(4):  # (so that durations are known after the first run)
        ppg.FileGeneratingJob(f"warm{i}.txt", write_name)


def _chain_that_ran(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, InProcessWorkers]:
    """A chain of three that ran once, beside jobs that timed the run; the batches sent so
    far forgotten."""
    pipeline, workers = _pipeline(tmp_path, monkeypatch)
    _warm()
    _chain()
    pipeline.run()
    workers.batches.clear()
    return pipeline, workers


def test_a_fused_job_that_runs_says_its_upstream_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline, workers = _chain_that_ran(tmp_path, monkeypatch)
    ppg.FileGeneratingJob("c0.txt", lambda p: p.write_text("changed"))
    result = pipeline.run()
    assert workers.batches == [["c0.txt", "c1.txt", "c2.txt"]]
    assert result.reasons["c1.txt"] == (
        "job 'c0.txt' produced different output than it used last time"
    )
    assert result.outcomes["c2.txt"] is ppg.Outcome.UP_TO_DATE  # (spared in the worker)
    assert sorted(result.ran) == ["c0.txt", "c1.txt"]
    result = pipeline.run()  # (what the fused job consumed was recorded)
    assert result.ran == []


def test_a_chain_whose_head_fails_is_not_run_but_upstream_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline, workers = _chain_that_ran(tmp_path, monkeypatch)
    _chain(_broken)
    with pytest.raises(ppg.JobsFailed) as failed:
        pipeline.run()
    result = failed.value.result
    assert workers.batches == [["c0.txt", "c1.txt", "c2.txt"]]
    assert result.outcomes["c0.txt"] is ppg.Outcome.FAILED
    assert result.outcomes["c1.txt"] is ppg.Outcome.UPSTREAM_FAILED
    assert result.outcomes["c2.txt"] is ppg.Outcome.UPSTREAM_FAILED
    assert list(result.errors) == ["c0.txt"]


def _zs(names: list[str]) -> None:
    for z in names:
        ppg.FileGeneratingJob(z, write_name)


def test_independent_jobs_behind_a_stopped_chain_are_sent_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline, workers = _pipeline(tmp_path, monkeypatch)
    zs = [f"z{i:02d}.txt" for i in range(30)]
    _zs(zs[:10])  # (timed first in the run, so that a batch holds several)
    _chain(n=2)
    _zs(zs[10:])
    pipeline.run()
    workers.batches.clear()
    for z in zs:
        (tmp_path / z).unlink()
    _chain(_broken, n=2)
    with pytest.raises(ppg.JobsFailed) as failed:
        pipeline.run()
    result = failed.value.result
    stopped = next(b for b in workers.batches if "c0.txt" in b)
    at = stopped.index("c0.txt")
    assert stopped[at + 1] == "c1.txt"
    behind = stopped[at + 2 :]  # (the batch stopped at c1: these did not run in it)
    assert behind, workers.batches
    later = workers.batches[workers.batches.index(stopped) + 1 :]
    assert set(behind) <= {j for b in later for j in b}, workers.batches
    assert sorted(result.ran) == zs
    assert result.outcomes["c1.txt"] is ppg.Outcome.UPSTREAM_FAILED


def test_a_dependant_waiting_for_two_jobs_is_not_fused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline, workers = _pipeline(tmp_path, monkeypatch)
    _warm()
    a = ppg.FileGeneratingJob("a.txt", write_name)
    b = ppg.FileGeneratingJob("b.txt", write_name)
    ppg.FileGeneratingJob("both.txt", write_name).depends_on(a, b)
    pipeline.run()
    workers.batches.clear()
    for name in ("a.txt", "b.txt", "both.txt"):
        (tmp_path / name).unlink()
    pipeline.run()
    assert workers.batches[-1] == ["both.txt"]
    assert all("both.txt" not in b for b in workers.batches[:-1])
