"""The worker jobs of a run from queued to back (sending.py), through a pipeline with an
in-process backend: what could not be pickled goes alone, a dead worker fails only its
job, a job of several cores travels alone."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import cloudpickle
import pytest
from inprocess import InProcessWorkers, pipeline_on, write_name

import ppg_notebook as ppg
from ppg_notebook.sending import worker_died

LOCK = threading.Lock()


class PicklingWorkers(InProcessWorkers):
    """Pickles what it is sent, as a real backend does."""

    def __init__(self, cores: int) -> None:
        super().__init__(cores)
        self.connects = 0

    def connect(self, workdir: str, ppg_dir: str) -> int:
        self.connects += 1
        return self.cores

    def run_batch(self, context: Any, tasks: list[Any], functions: Any, abandoned, spool):
        try:
            cloudpickle.dumps(functions)
        except Exception as e:
            self.batches.append([t.job_id for t in tasks])
            future: Future[Any] = Future()
            future.set_exception(e)
            return future
        return super().run_batch(context, tasks, functions, abandoned, spool)


def test_a_job_that_cannot_be_pickled_is_sent_alone_and_fails_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workers = PicklingWorkers(1)
    pipeline = pipeline_on(tmp_path, monkeypatch, workers)
    lock = LOCK

    def unpicklable(path: Path) -> None:
        with lock:
            path.write_text("x")

    for i in range(30):
        if i == 20:
            ppg.FileGeneratingJob("bad.txt", unpicklable)
        ppg.FileGeneratingJob(f"out/{i}.txt", write_name)
    with pytest.raises(ppg.JobsFailed) as failed:
        pipeline.run()
    result = failed.value.result
    assert list(result.failed) == ["bad.txt"]
    assert len(result.ran) == 30
    error = str(result.errors["bad.txt"])
    assert "job 'bad.txt' cannot be sent to a worker process" in error
    shared = next(b for b in workers.batches if "bad.txt" in b)
    assert len(shared) > 1  # (it first travelled with others)
    after = workers.batches[workers.batches.index(shared) + 1 :]
    assert ["bad.txt"] in after
    for job_id in shared:  # (each sent again in a batch of its own)
        assert [job_id] in after, job_id
    assert workers.connects == 1


def test_a_job_alone_that_kills_its_worker_fails_once_with_how(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workers = InProcessWorkers(1, kills=lambda ids: "crash.txt" in ids)
    pipeline = pipeline_on(tmp_path, monkeypatch, workers)
    ppg.FileGeneratingJob("crash.txt", write_name)
    ppg.FileGeneratingJob("after.txt", write_name).depends_on("crash.txt")
    with pytest.raises(ppg.JobsFailed) as failed:
        pipeline.run()
    result = failed.value.result
    assert workers.batches == [["crash.txt"]]  # (known at once: nothing else was out)
    assert str(result.errors["crash.txt"]) == worker_died("crash.txt", "killed by the test").args[0]
    assert result.outcomes["after.txt"] is ppg.Outcome.UPSTREAM_FAILED


def test_worker_died_says_which_job_and_that_others_were_not_affected() -> None:
    error = worker_died("a.txt", "SIGKILL")
    assert isinstance(error, ppg.WorkerDied)
    assert str(error).startswith("the worker process running job 'a.txt' died (SIGKILL): ")
    assert "Other jobs were not affected." in str(error)
    assert "died: the job" in str(worker_died("a.txt", ""))


def test_a_job_of_several_cores_travels_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workers = InProcessWorkers(2)
    pipeline = pipeline_on(tmp_path, monkeypatch, workers)
    for i in range(20):
        ppg.FileGeneratingJob(f"small/{i}.txt", write_name)
    ppg.FileGeneratingJob("big.txt", write_name, cores_needed=2)
    for i in range(20, 40):
        ppg.FileGeneratingJob(f"small/{i}.txt", write_name)
    pipeline.run()  # (timed)
    workers.batches.clear()
    for path in tmp_path.glob("**/*.txt"):
        path.unlink()
    pipeline.run()
    assert ["big.txt"] in workers.batches
    assert max(len(b) for b in workers.batches) > 1  # (the small ones are batched)
