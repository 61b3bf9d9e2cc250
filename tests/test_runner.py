"""The runner in-process: stopping a run from another thread (what a widget's Stop does),
what a no-op run reads, and worker reuse."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import ppg_notebook as ppg
from ppg_notebook import recording, runner


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


def _write_pid(path: Path) -> None:
    path.write_text(str(os.getpid()))


def test_a_no_op_run_reads_no_file_contents_and_workers_are_reused(
    tmp_path: Path, monkeypatch
) -> None:
    """SPEC §3: stat first (a no-op run hashes nothing); §4: loky workers are reused."""
    from ppg_notebook import hashing

    monkeypatch.chdir(tmp_path)
    (tmp_path / "input.csv").write_text("1,2,3")
    pipeline = ppg.new_pipeline(cores=1, allow_redefinition=True)
    ppg.FileGeneratingJob("pid.txt", _write_pid).depends_on("input.csv")
    ppg.FileGeneratingJob("again.txt", _write_pid).depends_on(ppg.ParameterInvariant("n", 1))
    assert sorted(pipeline.run().ran) == ["again.txt", "pid.txt"]
    first_pid = (tmp_path / "pid.txt").read_text()

    hashed: list[str] = []
    real = hashing.hash_file
    monkeypatch.setattr(hashing, "hash_file", lambda path: hashed.append(path) or real(path))
    assert pipeline.run().ran == []
    assert hashed == []  # nothing changed: only stat() was asked
    (tmp_path / "input.csv").write_text("1,2,3")  # same content, a new mtime
    assert pipeline.run().ran == []
    assert [Path(p).name for p in hashed] == ["input.csv"]  # hashed once, to confirm

    ppg.FileGeneratingJob("again.txt", _write_pid).depends_on(ppg.ParameterInvariant("n", 2))
    assert pipeline.run().ran == ["again.txt"]
    assert (tmp_path / "again.txt").read_text() == first_pid  # the same worker process
    assert first_pid != str(os.getpid())


def test_a_dependency_added_after_a_run_counts_in_the_next_one(tmp_path: Path, monkeypatch) -> None:
    """A run keeps each job's resolved upstream ids (shared with its edges); adding one
    later, in the same process, must still be seen."""
    monkeypatch.chdir(tmp_path)
    pipeline = ppg.new_pipeline(cores=1)

    def write(text: str) -> Any:
        return lambda path: path.write_text(text)

    a = ppg.FileGeneratingJob("a.txt", write("a"))
    b = ppg.FileGeneratingJob("b.txt", write("b")).depends_on(a)
    assert pipeline.run().outcomes["b.txt"] is ppg.Outcome.RAN
    b.depends_on(a, ppg.ParameterInvariant("p", 1))  # (a again: kept once)
    second = pipeline.run()
    assert second.outcomes["b.txt"] is ppg.Outcome.RAN
    assert "now depends on parameter 'p'" in second.reasons["b.txt"]
    assert pipeline.run().outcomes["b.txt"] is ppg.Outcome.UP_TO_DATE
    assert list(b.upstream) == ["a.txt", "PI:p"]


def _stored(ppg_dir: Path) -> dict[str, str]:
    with contextlib.closing(sqlite3.connect(ppg_dir / "history")) as conn:
        return dict(conn.execute("SELECT id, rec FROM jobs"))


def test_a_run_with_nothing_to_do_trusts_a_records_summary_only_while_it_holds(
    tmp_path: Path, monkeypatch
) -> None:
    """Records are stored with a summary of what the job consumed and wrote (read by a run
    with nothing to do without parsing the record). A history written before summaries
    (version 1) is read, and its records get one on the next run; a touched output, an
    edited output and a changed parameter are all still seen."""
    monkeypatch.chdir(tmp_path)
    pipeline = ppg.new_pipeline(cores=1)
    out = tmp_path / "a.txt"
    param = ppg.ParameterInvariant("p", 1)
    ppg.FileGeneratingJob("a.txt", lambda path: path.write_text("a")).depends_on(param)
    assert pipeline.run().outcomes["a.txt"] is ppg.Outcome.RAN
    assert _stored(tmp_path / ".ppg")["a.txt"].startswith('{"q":"')
    # A version-1 history: the same records, without summaries.
    with contextlib.closing(sqlite3.connect(tmp_path / ".ppg" / "history")) as conn:
        for job_id, text in _stored(tmp_path / ".ppg").items():
            record = json.loads(text)
            record.pop("q", None)
            conn.execute("UPDATE jobs SET rec = ? WHERE id = ?", (json.dumps(record), job_id))
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'version'")
        conn.commit()
    pipeline.history.close()
    pipeline = ppg.new_pipeline(cores=1, allow_redefinition=True)
    param = ppg.ParameterInvariant("p", 1)
    ppg.FileGeneratingJob("a.txt", lambda path: path.write_text("a")).depends_on(param)
    assert pipeline.run().outcomes["a.txt"] is ppg.Outcome.UP_TO_DATE
    assert _stored(tmp_path / ".ppg")["a.txt"].startswith('{"q":"')  # (written again)
    assert pipeline.run().outcomes["a.txt"] is ppg.Outcome.UP_TO_DATE
    stat = out.stat()
    os.utime(out, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))  # (touched)
    assert pipeline.run().outcomes["a.txt"] is ppg.Outcome.UP_TO_DATE
    assert pipeline.run().outcomes["a.txt"] is ppg.Outcome.UP_TO_DATE
    out.write_text("b")  # (edited by hand: the same size)
    second = pipeline.run()
    assert second.outcomes["a.txt"] is ppg.Outcome.RAN, second.reasons
    assert out.read_text() == "a"
    param = ppg.ParameterInvariant("p", 2)
    ppg.FileGeneratingJob("a.txt", lambda path: path.write_text("a")).depends_on(param)
    assert pipeline.run().outcomes["a.txt"] is ppg.Outcome.RAN


def test_records_written_again_during_a_run_are_written_a_few_at_a_time(
    tmp_path: Path, monkeypatch
) -> None:
    """A run that finds every record without its summary (or every output touched) writes
    them again in bounded groups, not all at its end; each is written, none reruns."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(runner, "_REFRESHED_AT_ONCE", 2)
    pipeline = ppg.new_pipeline(cores=1)
    for i in range(5):
        ppg.FileGeneratingJob(f"{i}.txt", lambda path: path.write_text("x"))
    assert set(pipeline.run().outcomes.values()) == {ppg.Outcome.RAN}
    with contextlib.closing(sqlite3.connect(tmp_path / ".ppg" / "history")) as conn:
        for job_id, text in _stored(tmp_path / ".ppg").items():
            record = {k: v for k, v in json.loads(text).items() if k != "q"}
            conn.execute("UPDATE jobs SET rec = ? WHERE id = ?", (json.dumps(record), job_id))
        conn.commit()
    flushes = []
    flush = recording.Recorder.flush
    monkeypatch.setattr(
        recording.Recorder, "flush", lambda self: (flushes.append(len(self.refreshed)), flush(self))
    )
    assert set(pipeline.run().outcomes.values()) == {ppg.Outcome.UP_TO_DATE}
    assert max(flushes) <= 2
    assert all(text.startswith('{"q":"') for text in _stored(tmp_path / ".ppg").values())
    assert set(pipeline.run().outcomes.values()) == {ppg.Outcome.UP_TO_DATE}
