"""The runner in-process: stopping a run from another thread (what a widget's Stop does)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import ppg_notebook as ppg


def test_stop_from_another_thread_keeps_what_finished(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    pipeline = ppg.new_pipeline(cores=2, allow_redefinition=True)

    def fast(path: Path) -> None:
        path.write_text("fast")

    def slow(path: Path) -> None:
        with open(path, "w") as f:
            f.write("partial")
            f.flush()
            time.sleep(60)

    ppg.FileGeneratingJob("fast.txt", fast)
    ppg.FileGeneratingJob("slow.txt", slow)
    outcome: dict[str, BaseException | None] = {}

    def run() -> None:
        try:
            pipeline.run()
            outcome["error"] = None
        except BaseException as e:
            outcome["error"] = e

    thread = threading.Thread(target=run)
    started = time.monotonic()
    thread.start()
    deadline = time.monotonic() + 30
    while not (tmp_path / "slow.txt").exists() or not (tmp_path / "fast.txt").exists():
        assert time.monotonic() < deadline, "the jobs never started"
        time.sleep(0.05)
    pipeline.stop()
    thread.join(timeout=20)
    assert not thread.is_alive()
    assert isinstance(outcome["error"], KeyboardInterrupt)
    assert time.monotonic() - started < 20
    assert not (tmp_path / "slow.txt").exists()  # the partial output is removed
    assert (tmp_path / "fast.txt").read_text() == "fast"

    ppg.FileGeneratingJob("slow.txt", lambda path: path.write_text("done"))
    result = pipeline.run()  # a later run is not stopped by the earlier request
    assert result.ran == ["slow.txt"]


def test_stop_without_a_run_does_nothing(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    pipeline = ppg.new_pipeline(cores=1)
    pipeline.stop()
    ppg.FileGeneratingJob("a.txt", lambda path: path.write_text("a"))
    assert pipeline.run().ran == ["a.txt"]
