"""Lazy jobs (ondemand.py): a loading job or a temporary file runs only for a dependant
that must run, once for all of them, and a temporary file goes once none needs it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from inprocess import InProcessWorkers

import ppg_notebook as ppg
from ppg_notebook.ondemand import OnDemand


def test_a_job_waiting_for_two_lazy_jobs_is_released_once_both_loaded() -> None:
    ondemand = OnDemand()
    assert ondemand.wait("job", ["load_a", "load_b"]) == ["load_a", "load_b"]
    assert ondemand.ran("load_a") and not ondemand.is_loaded("load_a")
    assert ondemand.loaded("load_a", ok=True) == []  # (it still waits for load_b)
    assert ondemand.is_loaded("load_a")
    assert ondemand.loaded("load_b", ok=True) == ["job"]


def test_a_lazy_job_started_for_one_waiter_is_not_started_again_for_another() -> None:
    ondemand = OnDemand()
    assert ondemand.wait("first", ["load"]) == ["load"]
    assert ondemand.wait("second", ["load", "other"]) == ["other"]
    assert ondemand.loaded("load", ok=True) == ["first"]
    assert ondemand.loaded("other", ok=True) == ["second"]


def test_a_failed_lazy_job_returns_all_its_waiters() -> None:
    ondemand = OnDemand()
    ondemand.wait("a", ["load", "other"])
    ondemand.wait("b", ["load"])
    assert ondemand.loaded("load", ok=False) == ["a", "b"]
    assert not ondemand.is_loaded("load") and ondemand.ran("load")


def test_a_temp_file_is_unused_after_its_last_user_and_what_is_left_goes_at_the_end() -> None:
    ondemand = OnDemand()
    ondemand.users["temp"] = 2
    ondemand.users["never"] = 1
    assert not ondemand.used_by_one("temp")
    assert ondemand.used_by_one("temp")
    assert ondemand.unused() == ["never"]
    assert ondemand.unused() == []
    assert not ondemand.ran("never")


# --- through a pipeline ----------------------------------------------------------------


class Calls:
    """Counts calls (its count is no part of the job's code)."""

    def __init__(self) -> None:
        self.n = 0

    def __repr__(self) -> str:
        return "Calls()"

    def call(self) -> str:
        self.n += 1
        return "loaded"


def _write(path: Path) -> None:
    path.write_text(path.name)


def _pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(tmp_path)
    pipeline = ppg.new_pipeline(cores=1, allow_redefinition=True)
    pipeline.workers = InProcessWorkers(1)
    return pipeline


def _declare() -> Calls:
    calls = Calls()

    def load() -> str:
        return calls.call()

    loader = ppg.DataLoadingJob("loader", load)
    ppg.FileGeneratingJob("a.txt", _write).depends_on(loader)
    ppg.FileGeneratingJob("b.txt", _write).depends_on(loader)
    return calls


def test_one_loading_job_runs_once_for_two_dependants_and_not_when_none_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = _pipeline(tmp_path, monkeypatch)
    calls = _declare()
    result = pipeline.run()
    assert calls.n == 1
    assert sorted(result.ran) == ["a.txt", "b.txt", "loader"]
    assert result.reasons["loader"] == "job 'a.txt' needs it"
    calls = _declare()  # (the same jobs, as a notebook's cell runs again)
    result = pipeline.run()
    assert calls.n == 0, result.reasons  # (nothing needs it)
    assert result.outcomes["loader"] is ppg.Outcome.NOT_NEEDED
    (tmp_path / "b.txt").unlink()
    calls = _declare()
    result = pipeline.run()
    assert calls.n == 1 and sorted(result.ran) == ["b.txt", "loader"]


def test_a_failing_loading_job_fails_its_dependants_upstream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = _pipeline(tmp_path, monkeypatch)

    def load() -> str:
        raise ValueError("cannot load")

    loader = ppg.DataLoadingJob("loader", load)
    ppg.FileGeneratingJob("a.txt", lambda p: p.write_text("a")).depends_on(loader)
    with pytest.raises(ppg.JobsFailed) as failed:
        pipeline.run()
    outcomes = failed.value.result.outcomes
    assert outcomes["loader"] is ppg.Outcome.FAILED
    assert outcomes["a.txt"] is ppg.Outcome.UPSTREAM_FAILED
    assert not (tmp_path / "a.txt").exists()


def test_a_temp_file_exists_while_its_dependants_run_and_is_removed_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = _pipeline(tmp_path, monkeypatch)
    temp = ppg.TempFileGeneratingJob("temp.txt", lambda p: p.write_text("temp"))
    for name in ("a.txt", "b.txt"):
        job = ppg.FileGeneratingJob(name, lambda p: p.write_text(Path("temp.txt").read_text()))
        job.depends_on(temp)
    pipeline.run()
    assert (tmp_path / "a.txt").read_text() == "temp" == (tmp_path / "b.txt").read_text()
    assert not (tmp_path / "temp.txt").exists()
