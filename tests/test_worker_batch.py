"""A batch run in this process, as a worker runs it (worker_batch.run_batch): tasks in
order, chained ones only after theirs succeeded, functions that cannot be loaded, an
abandoned run, and the results left early in the spool while a later job runs long."""

from __future__ import annotations

import os
import pickle
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ppg_notebook import statedir
from ppg_notebook.kinds import TASK_FILE
from ppg_notebook.userfiles import UserFiles
from ppg_notebook.worker import Context, Functions, Task
from ppg_notebook.worker_batch import Spool, run_batch


@pytest.fixture(autouse=True)
def _in_workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # (run_batch goes to the context's workdir)


def _context(tmp_path: Path) -> Context:
    return Context(str(tmp_path), str(tmp_path / ".ppg"), UserFiles.of(str(tmp_path)), False)


def _task(tmp_path: Path, name: str, **chain: Any) -> Task:
    log = statedir.log_file(str(tmp_path / ".ppg"), name)
    output = str(tmp_path / name)
    return Task(name, TASK_FILE, None, (name,), (output,), True, False, False, None, log, **chain)


def _run(
    tmp_path: Path, tasks: list[Task], fns: list[Callable[..., Any]], **kwargs: Any
) -> list[Any]:
    functions = pickle.loads(pickle.dumps(Functions(fns)))  # (as it reaches a worker)
    return run_batch(_context(tmp_path), tasks, functions, watch_parent=False, **kwargs)


def _write(path: Path) -> None:
    path.write_text(path.name)


def _fail(path: Path) -> None:
    raise ValueError(path.name)


def test_tasks_run_in_order_and_one_failing_does_not_stop_the_others(tmp_path: Path) -> None:
    tasks = [_task(tmp_path, n) for n in ("a", "b", "c")]
    results = _run(tmp_path, tasks, [_write, _fail, _write])
    assert [(r.job_id, r.ok) for r in results] == [("a", True), ("b", False), ("c", True)]
    assert (tmp_path / "c").read_text() == "c"


def test_a_chained_task_runs_only_after_the_one_before_it_succeeded(tmp_path: Path) -> None:
    tasks = [_task(tmp_path, "a"), _task(tmp_path, "b", chained=True)]
    assert [r.ok for r in _run(tmp_path, tasks, [_write, _write])] == [True, True]
    (tmp_path / "b").unlink()
    results = _run(tmp_path, tasks, [_fail, _write])
    assert [r.job_id for r in results] == ["a"]  # (the main process settles b)
    assert not (tmp_path / "b").exists()


def test_a_chained_task_is_up_to_date_when_what_it_consumed_did_not_change(
    tmp_path: Path,
) -> None:
    first = _run(tmp_path, [_task(tmp_path, "a")], [_write])[0]
    same = _task(tmp_path, "b", chained=True, unless=first.fingerprint, kept="old")
    results = _run(tmp_path, [_task(tmp_path, "a"), same], [_write, _fail])
    assert results[1].ok and results[1].skipped and results[1].fingerprint == "old"
    other = same._replace(unless="something else")
    results = _run(tmp_path, [_task(tmp_path, "a"), other], [_write, _write])
    assert results[1].ok and not results[1].skipped and (tmp_path / "b").exists()


def test_a_job_that_changed_directory_does_not_move_the_next_one(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()

    def wander(path: Path) -> None:
        _write(path)
        os.chdir(tmp_path / "elsewhere")

    results = _run(tmp_path, [_task(tmp_path, "a"), _task(tmp_path, "b")], [wander, _write])
    assert [r.ok for r in results] == [True, True]
    assert (tmp_path / "b").exists() and not (tmp_path / "elsewhere" / "b").exists()
    assert os.getcwd() == str(tmp_path)


def test_an_abandoned_run_stops_the_batch(tmp_path: Path) -> None:
    marker = tmp_path / "abandoned"

    def abandon(path: Path) -> None:
        _write(path)
        marker.touch()

    tasks = [_task(tmp_path, "a"), _task(tmp_path, "b")]
    results = _run(tmp_path, tasks, [abandon, _write], abandoned=str(marker))
    assert [r.job_id for r in results] == ["a"]
    assert not (tmp_path / "b").exists()


def _unloadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, n: int) -> Functions:
    """Functions of a module that the worker cannot import."""
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "gone_helpers.py").write_text("def write(path):\n    path.touch()\n")
    monkeypatch.syspath_prepend(str(tmp_path / "lib"))
    import gone_helpers  # type: ignore[import-not-found]

    data = pickle.dumps(Functions([gone_helpers.write] * n))
    del sys.modules["gone_helpers"]
    (tmp_path / "lib" / "gone_helpers.py").unlink()
    return pickle.loads(data)  # type: ignore[no-any-return]


def test_a_function_that_cannot_be_loaded_fails_its_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    functions = _unloadable(tmp_path, monkeypatch, 1)
    [result] = run_batch(_context(tmp_path), [_task(tmp_path, "a")], functions, None, None, False)
    assert not result.ok and type(result.error) is RuntimeError
    assert "job 'a': its function could not be loaded in the worker process" in str(result.error)
    assert "ModuleNotFoundError" in str(result.error)


def test_a_batch_whose_functions_cannot_be_loaded_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    functions = _unloadable(tmp_path, monkeypatch, 2)
    tasks = [_task(tmp_path, "a"), _task(tmp_path, "b")]
    with pytest.raises(ModuleNotFoundError):  # (sent again one by one: one fails, not all)
        run_batch(_context(tmp_path), tasks, functions, None, None, False)


def test_results_are_left_in_the_spool_while_a_later_job_runs_long(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    seen: list[Any] = []

    def waits_for_the_spool(path: Path) -> None:
        deadline = time.monotonic() + 10 * Spool.AFTER + 5
        while not (spool / "000000.pkl").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        seen.extend(pickle.loads((spool / "000000.pkl").read_bytes()))
        _write(path)

    tasks = [_task(tmp_path, "a"), _task(tmp_path, "b")]
    results = run_batch(
        _context(tmp_path),
        tasks,
        Functions([_write, waits_for_the_spool]),
        spool=str(spool),
        watch_parent=False,
    )
    assert [r.job_id for r in seen] == ["a"] and seen[0] == results[0]
    assert [r.ok for r in results] == [True, True]
    assert sorted(os.listdir(spool)) == ["000000.pkl"]  # (nothing more once it returned)


def test_nothing_is_spooled_for_a_batch_of_quick_jobs(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    tasks = [_task(tmp_path, n) for n in ("a", "b", "c")]
    results = _run(tmp_path, tasks, [_write] * 3, spool=str(spool))
    assert len(results) == 3 and not spool.exists()
