"""The runner's scheduling in-process, with a backend that runs each batch in this process
(one at a time, in order) and keeps what it was sent: which jobs travel together, which
are fused into a chain, what runs again alone after a worker died. The real workers are
tested end to end (test_e2e, test_faults); here the runner's decisions are read directly.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from inprocess import InProcessWorkers, pipeline_on, write_name

import ppg_notebook as ppg
from ppg_notebook import sending


def _chain(n: int) -> list[Any]:
    jobs = [ppg.FileGeneratingJob(f"c{i}.txt", write_name) for i in range(n)]
    for up, down in itertools.pairwise(jobs):
        down.depends_on(up)
    return jobs


def test_independent_jobs_go_one_by_one_until_timed_then_in_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workers = InProcessWorkers(2)
    pipeline = pipeline_on(tmp_path, monkeypatch, workers)
    for i in range(200):
        ppg.FileGeneratingJob(f"out/{i}.txt", write_name)
    assert len(pipeline.run().ran) == 200
    sizes = [len(b) for b in workers.batches]
    assert sizes[:4] == [1, 1, 1, 1]  # two per core, timed one by one first
    assert max(sizes) > 1 and sum(sizes) == 200
    assert len(workers.batches) < 200 // 2
    # (they keep their order: a batch is taken from the front of the queue)
    assert [j for b in workers.batches for j in b] == [f"out/{i}.txt" for i in range(200)]


def test_a_line_of_single_dependants_travels_in_one_batch_and_is_decided_in_the_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workers = InProcessWorkers(1)
    pipeline = pipeline_on(tmp_path, monkeypatch, workers)
    _chain(5)
    pipeline.run()
    # Durations unknown until three jobs were timed: nothing is held back behind those.
    assert workers.batches == [["c0.txt"], ["c1.txt"], ["c2.txt"], ["c3.txt", "c4.txt"]]
    workers.batches.clear()
    ppg.FileGeneratingJob("c0.txt", lambda path: path.write_text("changed"))
    result = pipeline.run()
    # Known to be short now: the head and the whole line below it in one batch; the
    # worker runs c1 (its input changed), and spares c2 (c1 wrote what it wrote before).
    assert workers.batches == [[f"c{i}.txt" for i in range(5)]]
    assert sorted(result.ran) == ["c0.txt", "c1.txt"]
    assert result.outcomes["c2.txt"] is ppg.Outcome.UP_TO_DATE


def test_a_job_that_failed_last_time_runs_unchained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If it kills its worker again, it is then known to be the one that did."""
    workers = InProcessWorkers(1)
    pipeline = pipeline_on(tmp_path, monkeypatch, workers)
    for i in range(4):  # (so that the chain's durations are known after the first run)
        ppg.FileGeneratingJob(f"warm{i}.txt", write_name)
    jobs = _chain(3)
    pipeline.run()

    def broken(path: Path) -> None:
        raise ValueError("broken")

    ppg.FileGeneratingJob("c1.txt", broken).depends_on(jobs[0])
    with pytest.raises(ppg.JobsFailed):
        pipeline.run()
    ppg.FileGeneratingJob("c1.txt", write_name).depends_on(jobs[0])
    workers.batches.clear()
    result = pipeline.run()
    # c2 is short and may be spared: it would travel behind c1, but c1 failed last time.
    assert workers.batches == [["c1.txt"]]
    assert result.ran == ["c1.txt"]  # (and c2, deciding after it, is spared)


def test_a_worker_death_fails_only_the_job_that_killed_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workers = InProcessWorkers(2, kills=lambda ids: "out/7.txt" in ids)
    pipeline = pipeline_on(tmp_path, monkeypatch, workers)
    for i in range(40):
        ppg.FileGeneratingJob(f"out/{i}.txt", write_name)
    with pytest.raises(ppg.JobsFailed) as failed:
        pipeline.run()
    result = failed.value.result
    assert list(result.failed) == ["out/7.txt"]
    assert isinstance(result.errors["out/7.txt"], ppg.WorkerDied)
    assert "killed by the test" in str(result.errors["out/7.txt"])
    assert len(result.ran) == 39
    # Every job of the batch that died ran again alone, the one at fault among them.
    died = next(b for b in workers.batches if "out/7.txt" in b and len(b) > 1)
    for job_id in died:
        assert [job_id] in workers.batches[workers.batches.index(died) + 1 :], job_id


def test_jobs_are_decided_no_further_ahead_of_the_workers_than_keeps_them_busy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runner stops deciding while enough jobs are queued (what each decided job
    will consume is held until it runs: for 100,000 jobs decided at once, a tenth of a
    run's memory), and goes on as batches leave."""
    monkeypatch.setattr(sending, "QUEUED_PER_CORE", 8)
    workers = InProcessWorkers(1)
    pipeline = pipeline_on(tmp_path, monkeypatch, workers)
    for i in range(100):
        ppg.FileGeneratingJob(f"out/{i}.txt", write_name)
    waiting: set[str] = set()
    most = 0

    def listen(event: Any) -> None:
        nonlocal most
        if event.kind == "queued":
            waiting.add(event.job_id)
            most = max(most, len(waiting))
        elif event.kind == "running":
            waiting.discard(event.job_id)

    pipeline.listeners.append(listen)
    assert len(pipeline.run().ran) == 100
    assert 1 < most <= 8
    assert all((tmp_path / f"out/{i}.txt").read_text() == f"{i}.txt" for i in range(100))


def test_a_listener_attached_during_a_run_is_told_of_the_jobs_settled_from_then_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run makes no event of a job it settles while nobody listens (100,000 events
    for nobody), yet one who starts listening meanwhile (a widget shown while a run goes
    on in the background) is told of every job settled after that."""
    pipeline = pipeline_on(tmp_path, monkeypatch, InProcessWorkers(1))
    done: list[str] = []

    def late(event: Any) -> None:
        if event.kind == "done":
            done.append(event.job_id)

    def attach(path: Path) -> None:  # (run here: the backend runs batches in this process)
        pipeline.listeners.append(late)
        write_name(path)

    for i in range(10):
        ppg.FileGeneratingJob(f"out/{i}.txt", attach if i == 5 else write_name)
    assert not pipeline.listeners
    result = pipeline.run()
    assert len(result.ran) == 10
    # (settled from then on: the rest of the batch it ran in, and every later job)
    assert set(done) >= {f"out/{i}.txt" for i in range(5, 10)} and len(set(done)) == len(done)
    assert "out/0.txt" not in done  # (settled, alone, before anyone listened)
