"""What a session remembers of failed jobs (failures.py): one that failed with the inputs
it has now is not run again for a dependant, only when asked for itself; a damaged stored
value of another job is removed, and that job runs again."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from inprocess import InProcessWorkers

import ppg_notebook as ppg
from ppg_notebook.errors import DamagedValue, FailedBefore
from ppg_notebook.failures import Failures

FAILED = {"o": "failed", "e": "ValueError: broken", "i": {}}


def _tb(job_id: str) -> str:
    return f"traceback of {job_id}"


def test_a_job_failed_with_the_same_inputs_is_reported_not_run_again() -> None:
    failures = Failures({}, {"target"}, {}, "/w")
    assert failures.failed_with("a", ValueError("broken"), {"up": "1"}) == ""
    error = failures.again("a", {"up": "1"}, FAILED, _tb)
    assert isinstance(error, FailedBefore)
    assert str(error).startswith("ValueError: broken (it failed earlier in this session")
    assert error.ppg_traceback == "traceback of a"  # type: ignore[attr-defined]


def test_a_failed_job_runs_again_when_its_inputs_changed_or_it_is_asked_for() -> None:
    failures = Failures({"a": {"up": "1"}}, {"a"}, {}, "/w")
    assert failures.again("a", {"up": "1"}, FAILED, _tb) is None  # (a target)
    failures.retry = {"other"}
    assert failures.again("a", {"up": "2"}, FAILED, _tb) is None  # (other inputs)
    assert failures.again("b", {"up": "1"}, FAILED, _tb) is None  # (never failed)
    failures.retry = None  # (a run of every job: each is asked for)
    assert failures.again("a", {"up": "1"}, FAILED, _tb) is None
    failures.retry = {"other"}
    assert failures.again("a", {"up": "1"}, {"o": "ok"}, _tb) is None  # (ran well since)
    assert failures.again("a", {"up": "1"}, FAILED, _tb) is not None
    failures.succeeded("a")
    assert failures.again("a", {"up": "1"}, FAILED, _tb) is None


def test_a_damaged_value_of_another_job_is_removed_and_warned_about_once(
    tmp_path: Path,
) -> None:
    stored = tmp_path / "cache" / "calc.joblib"
    stored.parent.mkdir()
    stored.write_bytes(b"garbage")
    failures = Failures({}, None, {str(stored): "calc"}, str(tmp_path))
    damaged = DamagedValue("cannot be read back", str(stored))
    warning = failures.failed_with("plot.png", damaged, {"calc": "x"})
    assert warning == (
        "job 'calc': cannot be read back, needed by 'plot.png'; it was damaged on disk "
        "and is removed: 'calc' runs again"
    )
    assert not stored.exists()
    assert failures.damaged == {"calc"}
    assert "plot.png" not in failures.failed  # (not a failure of its own)
    assert failures.failed_with("other.png", damaged, {}) == ""  # (said once)


def test_a_damaged_value_of_the_job_itself_is_its_own_failure(tmp_path: Path) -> None:
    stored = tmp_path / "calc.joblib"
    stored.write_bytes(b"garbage")
    failures = Failures({}, None, {str(stored): "calc"}, str(tmp_path))
    assert failures.failed_with("calc", DamagedValue("bad", str(stored)), {"u": "1"}) == ""
    assert stored.exists() and failures.failed == {"calc": {"u": "1"}}


def test_a_failed_upstream_is_not_run_again_for_a_second_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One cell's failing upstream would otherwise run once per cell that needs it."""
    monkeypatch.chdir(tmp_path)
    pipeline = ppg.new_pipeline(cores=1, allow_redefinition=True)
    workers = InProcessWorkers(1)
    pipeline.workers = workers

    def broken(path: Path) -> None:
        raise ValueError("broken upstream")

    up = ppg.FileGeneratingJob("up.txt", broken)
    one = ppg.FileGeneratingJob("one.txt", lambda p: p.write_text("1")).depends_on(up)
    two = ppg.FileGeneratingJob("two.txt", lambda p: p.write_text("2")).depends_on(up)
    with pytest.raises(ppg.JobsFailed):
        pipeline.run([one])
    assert workers.batches == [["up.txt"]]
    with pytest.raises(ppg.JobsFailed) as failed:
        pipeline.run([two])
    assert workers.batches == [["up.txt"]]  # (not run again)
    error = failed.value.result.errors["up.txt"]
    assert isinstance(error, FailedBefore) and "broken upstream" in str(error)
    assert "broken upstream" in failed.value.result.tracebacks["up.txt"]
    with pytest.raises(ppg.JobsFailed):
        pipeline.run([up])  # (asked for itself: it runs)
    assert workers.batches == [["up.txt"], ["up.txt"]]
    assert os.path.exists(os.path.join(pipeline.dir, "errors"))
