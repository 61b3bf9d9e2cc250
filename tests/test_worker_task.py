"""One task executed in this process, as a worker executes it (worker_task.run_task): what
it writes, the Result it gives (hashes, errors with the job's frames, its log), and what a
failed job leaves behind."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ppg_notebook import cache, hashing, statedir
from ppg_notebook.errors import JobContractError
from ppg_notebook.kinds import TASK_FILE, TASK_PLOT, TASK_VALUE, TASK_VALUES
from ppg_notebook.userfiles import UserFiles
from ppg_notebook.worker import Context, Task
from ppg_notebook.worker_task import LiveLog, run_task


@pytest.fixture(autouse=True)
def _in_workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # (a worker runs its tasks in the workdir: run_batch)


def _context(tmp_path: Path, record_reads: bool = False) -> Context:
    return Context(str(tmp_path), str(tmp_path / ".ppg"), UserFiles.of(str(tmp_path)), record_reads)


def _task(
    tmp_path: Path,
    fn: Callable[..., Any],
    kind: str = TASK_FILE,
    paths: tuple[str, ...] = ("out.txt",),
    *,
    with_path: bool = True,
    empty_ok: bool = False,
    extra: Any = None,
) -> Task:
    outputs = tuple(str(tmp_path / p) for p in paths)
    log = statedir.log_file(str(tmp_path / ".ppg"), "job")
    return Task("job", kind, fn, paths, outputs, with_path, False, empty_ok, extra, log)


def test_a_file_task_writes_its_output_and_returns_its_hash(tmp_path: Path) -> None:
    result = run_task(_context(tmp_path), _task(tmp_path, lambda p: p.write_text("hello")))
    out = tmp_path / "out.txt"
    assert result.ok and result.error is None and not result.skipped
    assert out.read_text() == "hello"
    st = out.stat()
    assert result.outputs == [[str(out), st.st_mtime_ns, st.st_size, hashing.hash_file(str(out))]]
    assert result.fingerprint == hashing.combine([hashing.hash_file(str(out))])


def test_the_directories_of_its_outputs_are_made_first(tmp_path: Path) -> None:
    task = _task(tmp_path, lambda p: p.write_text("x"), paths=("a/b/out.txt",))
    assert run_task(_context(tmp_path), task).ok
    assert (tmp_path / "a" / "b" / "out.txt").read_text() == "x"


def test_a_value_task_stores_its_value_and_returns_its_fingerprint(tmp_path: Path) -> None:
    task = _task(tmp_path, lambda: {"n": 41}, TASK_VALUE, ("v.joblib",), with_path=False)
    result = run_task(_context(tmp_path), task)
    assert result.ok
    assert cache.load(str(tmp_path / "v.joblib")) == {"n": 41}
    assert result.fingerprint == cache.store({"n": 41}, str(tmp_path / "again.joblib"))


def test_a_multi_value_task_must_return_exactly_its_values(tmp_path: Path) -> None:
    paths = ("a.joblib", "b.joblib")
    good = _task(tmp_path, lambda: {"a": 1, "b": 2}, TASK_VALUES, paths, extra=("a", "b"))
    assert run_task(_context(tmp_path), good).ok
    assert cache.load(str(tmp_path / "b.joblib")) == 2
    bad = _task(tmp_path, lambda: {"a": 1}, TASK_VALUES, paths, extra=("a", "b"))
    result = run_task(_context(tmp_path), bad)
    assert isinstance(result.error, JobContractError)
    assert "exactly the values a, b; it returned ['a']" in str(result.error)
    assert not (tmp_path / "a.joblib").exists()  # (what it wrote is removed)


def test_a_plot_function_that_returns_no_figure_is_said_so(tmp_path: Path) -> None:
    cache.store([1, 2], str(tmp_path / "calc.joblib"))
    task = _task(tmp_path, len, TASK_PLOT, ("p.png",), extra=str(tmp_path / "calc.joblib"))
    result = run_task(_context(tmp_path), task)
    assert isinstance(result.error, JobContractError)
    assert "returned int, not a matplotlib figure" in str(result.error)


def _fails(path: Path) -> None:
    path.write_text("partial")
    raise ValueError("no good")


def test_a_failing_function_gives_its_error_and_its_own_frames(tmp_path: Path) -> None:
    result = run_task(_context(tmp_path), _task(tmp_path, _fails))
    assert not result.ok and isinstance(result.error, ValueError)
    assert result.outputs == [] and result.fingerprint == ""
    assert [name for _, _, name in result.frames] == ["_fails"]
    assert result.frames[0][0] == __file__
    assert 'raise ValueError("no good")' in result.traceback
    assert "ppg_notebook/" not in result.traceback  # (only the user's frames)
    assert not (tmp_path / "out.txt").exists()  # the partial output is removed


def test_a_failed_jobs_outputs_stay_once_the_run_was_abandoned(tmp_path: Path) -> None:
    marker = tmp_path / "abandoned"
    marker.touch()
    result = run_task(_context(tmp_path), _task(tmp_path, _fails), str(marker))
    assert isinstance(result.error, ValueError)
    assert (tmp_path / "out.txt").read_text() == "partial"  # (the next run may write it)


def test_an_output_not_written_or_empty_is_the_jobs_error(tmp_path: Path) -> None:
    result = run_task(_context(tmp_path), _task(tmp_path, lambda p: None))
    assert isinstance(result.error, JobContractError)
    assert "finished without writing its output 'out.txt'" in str(result.error)
    result = run_task(_context(tmp_path), _task(tmp_path, lambda p: p.touch()))
    assert "wrote an empty file 'out.txt'" in str(result.error)
    assert run_task(_context(tmp_path), _task(tmp_path, Path.touch, empty_ok=True)).ok


class _Unpicklable(Exception):
    def __init__(self, lock: Any) -> None:
        super().__init__("holds a lock")
        self.lock = lock


def test_an_error_that_cannot_travel_back_is_replaced_by_its_text(tmp_path: Path) -> None:
    def fn(path: Path) -> None:
        raise _Unpicklable(threading.Lock())

    result = run_task(_context(tmp_path), _task(tmp_path, fn))
    assert type(result.error) is RuntimeError
    assert str(result.error) == "_Unpicklable: holds a lock"


def test_what_a_job_prints_is_its_log(tmp_path: Path) -> None:
    def fn(path: Path) -> None:
        print("to stdout")
        print("to stderr", file=sys.stderr)
        path.write_text("x")

    task = _task(tmp_path, fn)
    result = run_task(_context(tmp_path), task)
    assert result.log == "to stdout\nto stderr\n"
    assert Path(task.log_path).read_text() == result.log
    assert not Path(task.log_path + statedir.LIVE).exists()  # (only while it runs)
    quiet = run_task(_context(tmp_path), _task(tmp_path, lambda p: p.write_text("x")))
    assert quiet.log == "" and not Path(task.log_path).exists()  # (the old log is gone)


def test_a_log_is_written_through_while_the_job_runs(tmp_path: Path) -> None:
    seen: list[str] = []
    task = _task(tmp_path, lambda p: None)

    def fn(path: Path) -> None:
        print("step 1")
        seen.append(Path(task.log_path + statedir.LIVE).read_text())
        path.write_text("x")

    assert run_task(_context(tmp_path), task._replace(fn=fn)).ok
    assert seen == ["step 1\n"]


def test_a_live_log_that_cannot_be_written_keeps_the_text(tmp_path: Path) -> None:
    (tmp_path / "file").touch()
    with LiveLog(str(tmp_path / "file" / "job.log.live")) as log:  # (a file as directory)
        log.write("kept")
    assert log.getvalue() == "kept"


@pytest.mark.parametrize("record_reads", [True, False])
def test_the_files_a_job_read_come_back_when_reads_are_recorded(
    tmp_path: Path, record_reads: bool
) -> None:
    (tmp_path / "data.txt").write_text("input")

    def fn(path: Path) -> None:
        path.write_text((path.parent / "data.txt").read_text())

    result = run_task(_context(tmp_path, record_reads), _task(tmp_path, fn))
    assert result.ok
    if record_reads:
        assert result.found is not None and list(result.found.reads) == ["data.txt"]
        assert result.found.reads["data.txt"][2] == hashing.hash_file(str(tmp_path / "data.txt"))
    else:
        assert result.found is None
