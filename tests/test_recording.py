"""What a run writes (recording.py): records committed to the history at a flush, and
the error file of a job that failed, gone once it ran well."""

from __future__ import annotations

import os
from pathlib import Path

from ppg_notebook import reads, statedir
from ppg_notebook.consumed import NO_DETAILS
from ppg_notebook.history import History
from ppg_notebook.recording import Recorder


def _recorder(tmp_path: Path) -> tuple[Recorder, History, str]:
    ppg_dir = str(tmp_path / ".ppg")
    os.makedirs(ppg_dir, exist_ok=True)
    history = History(os.path.join(ppg_dir, "history"))
    return Recorder(history, history.load(), ppg_dir), history, ppg_dir


def _reloaded(history: History) -> dict:
    again = History(history.path)
    try:
        return dict(again.load().items())
    finally:
        again.close()


def test_a_record_is_in_the_history_after_a_flush_not_before(tmp_path: Path) -> None:
    recorder, history, _ = _recorder(tmp_path)
    record = {"out": [], "fp": "f1", "t": 1.0, "d": 0.5}
    recorder.ran(record, {"up": "u1"}, NO_DETAILS, reads.NOTHING)
    recorder.put("a.txt", record)
    assert recorder.records["a.txt"]["o"] == "ok"
    assert _reloaded(history) == {}  # (not yet)
    recorder.flush()
    stored = _reloaded(history)
    assert stored["a.txt"] == {
        "out": [],
        "fp": "f1",
        "t": 1.0,
        "d": 0.5,
        "o": "ok",
        "i": {"up": "u1"},
    }
    assert recorder.pending == []
    history.close()


def test_a_failed_job_has_an_error_file_with_its_traceback(tmp_path: Path) -> None:
    recorder, history, ppg_dir = _recorder(tmp_path)
    error = ValueError("bad input")
    assert recorder.failed("a.txt", error, "Traceback: line 3\nValueError: bad input") is None
    path = statedir.error_file(ppg_dir, "a.txt")
    text = Path(path).read_text()
    assert text.startswith("job: a.txt\nat: ")
    assert recorder.last_error("a.txt") == "Traceback: line 3\nValueError: bad input"
    recorder.flush()
    stored = _reloaded(history)["a.txt"]
    assert stored["o"] == "failed" and stored["e"] == "ValueError: bad input"
    history.close()


def test_without_a_traceback_the_error_itself_is_kept(tmp_path: Path) -> None:
    recorder, history, _ = _recorder(tmp_path)
    recorder.failed("a.txt", KeyError("k"), "")
    assert recorder.last_error("a.txt") == "KeyError: 'k'\n"
    assert recorder.last_error("never.txt") == ""
    history.close()


def test_the_error_file_goes_once_the_job_runs_well(tmp_path: Path) -> None:
    recorder, history, ppg_dir = _recorder(tmp_path)
    recorder.failed("a.txt", ValueError("x"), "tb")
    recorder.failed("b.txt", ValueError("y"), "tb")
    recorder.flush()
    path = statedir.error_file(ppg_dir, "a.txt")
    assert os.path.exists(path)
    recorder.put("a.txt", {"o": "ok", "fp": "f", "i": {}})
    assert not os.path.exists(path)
    assert recorder.last_error("a.txt") == ""
    assert os.path.exists(statedir.error_file(ppg_dir, "b.txt"))  # (another job's stays)
    history.close()


def test_an_error_file_that_cannot_be_written_is_a_warning_and_no_half_file(
    tmp_path: Path,
) -> None:
    recorder, history, ppg_dir = _recorder(tmp_path)
    errors = os.path.dirname(statedir.error_file(ppg_dir, "a.txt"))
    Path(errors).write_text("not a directory")  # (as a full disk, an OSError)
    warning = recorder.failed("a.txt", ValueError("x"), "tb")
    assert warning is not None
    assert warning.startswith("job 'a.txt': its traceback could not be saved: ")
    assert Path(errors).read_text() == "not a directory"
    recorder.flush()  # (the failure is recorded all the same)
    assert _reloaded(history)["a.txt"]["o"] == "failed"
    history.close()


def test_a_traceback_cut_off_by_a_full_disk_is_removed(tmp_path: Path, monkeypatch) -> None:
    recorder, history, ppg_dir = _recorder(tmp_path)
    real_open = open

    class Full:
        def __init__(self, f) -> None:
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            self.f.close()

        def write(self, text: str) -> None:
            self.f.write(text[:10])
            self.f.flush()
            raise OSError(28, "No space left on device")

    def full_open(path, mode="r", *args, **kw):
        f = real_open(path, mode, *args, **kw)
        return Full(f) if "w" in mode and str(path).endswith(".txt") else f

    monkeypatch.setattr("builtins.open", full_open)
    warning = recorder.failed("a.txt", ValueError("x"), "tb")
    monkeypatch.undo()
    assert warning is not None and "No space left on device" in warning
    assert not os.path.exists(statedir.error_file(ppg_dir, "a.txt"))
    history.close()
