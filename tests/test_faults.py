"""Fault injection in real subprocesses: kill -9, Ctrl-C, dying workers, failing jobs,
corrupt history, concurrent runs (SPEC §4, §5; issue 2 "Tests").

Long-running jobs block on flag files and announce themselves with marker files, so tests
poll for markers instead of sleeping for fixed times.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import kill_group, pid_alive, wait_for, wait_for_file

# first and second finish before `slow` starts (slow depends on them, so their records are
# committed before it is sent). slow writes half its file, then (with hang.flag) announces
# itself in slow.started and hangs. other_slow hangs alongside; `queued`, ready with them
# but declared after them, waits for a free core (sent to the pool, not started); `after`
# depends on slow.
HANGING = """
ppg.new_pipeline(cores=2)


def first(path):
    mark("first")
    path.write_text("first")


def second(path):
    mark("second")
    path.write_text("second")


def hang(name):
    if Path("hang.flag").exists():
        Path(name + ".tmp").write_text(str(os.getpid()))
        os.replace(name + ".tmp", name + ".started")  # (the test reads the pid it holds)
        deadline = time.time() + 60
        while time.time() < deadline:
            time.sleep(0.05)


def slow(path):
    mark("slow")
    with open(path, "w") as fh:
        fh.write("half")
        fh.flush()
        hang("slow")
        fh.write(" and the rest")


def other_slow(path):
    mark("other_slow")
    with open(path, "w") as fh:
        fh.write("partial")
        fh.flush()
        hang("other_slow")
        fh.write(" complete")


def queued(path):
    mark("queued")
    path.write_text("queued")


def after(path):
    mark("after")
    path.write_text(Path("slow.txt").read_text() + "!")


f1 = ppg.FileGeneratingJob("first.txt", first)
f2 = ppg.FileGeneratingJob("second.txt", second)
s = ppg.FileGeneratingJob("slow.txt", slow).depends_on(f1, f2)
o = ppg.FileGeneratingJob("other_slow.txt", other_slow).depends_on(f1, f2)
ppg.FileGeneratingJob("queued.txt", queued).depends_on(f1, f2)
ppg.FileGeneratingJob("after.txt", after).depends_on(s)
run_and_report()
"""


def _start_hanging(script):
    (script.dir / "hang.flag").write_text("1")
    script.write(HANGING)
    proc = script.start()
    wait_for_file(script.dir / "slow.started", proc=proc)
    wait_for_file(script.dir / "other_slow.started", proc=proc)
    return proc


def _assert_resumes(script):
    """After an interrupted first run: the rest runs, nothing that finished reruns."""
    (script.dir / "hang.flag").unlink()
    rerun = script.run().ok()
    assert sorted(rerun.runs) == ["after", "other_slow", "queued", "slow"], rerun.describe()
    assert (script.dir / "slow.txt").read_text() == "half and the rest"
    assert (script.dir / "other_slow.txt").read_text() == "partial complete"
    assert (script.dir / "after.txt").read_text() == "half and the rest!"
    assert script.run().ok().runs == []


def test_kill_9_of_the_whole_process_mid_run(script):
    proc = _start_hanging(script)
    kill_group(proc)  # SIGKILL the main process and its workers at once
    killed = script.finish(proc)
    assert killed.returncode == -signal.SIGKILL
    assert sorted(killed.runs) == ["first", "other_slow", "second", "slow"]

    # what finished is recorded; the half-written files are not taken for finished ones
    records = script.history()
    assert records["first.txt"]["o"] == "ok"
    assert records["second.txt"]["o"] == "ok"
    assert records.get("slow.txt", {}).get("o") != "ok"
    assert (script.dir / "slow.txt").read_text() == "half"  # left behind by the kill
    _assert_resumes(script)


def test_a_job_that_finished_in_a_chain_is_recorded_before_the_next_one_ends(script):
    """A line of single dependants may travel to a worker as one batch; a job that is not
    known to be short is not held back by the next: killed mid-chain, the first is kept."""
    script.write(
        """
        ppg.new_pipeline(cores=2)


        def long(path):
            mark("long")
            time.sleep(0.3)
            path.write_text("long")


        def hangs(path):
            mark("hangs")
            Path("hangs.started").write_text("")
            while Path("hang.flag").exists():
                time.sleep(0.05)
            path.write_text("hangs")


        ppg.FileGeneratingJob("hangs.txt", hangs).depends_on(
            ppg.FileGeneratingJob("long.txt", long)
        )
        run_and_report()
        """
    )
    (script.dir / "hang.flag").write_text("1")
    proc = script.start()
    wait_for_file(script.dir / "hangs.started", proc=proc)
    kill_group(proc)
    assert script.finish(proc).runs == ["long", "hangs"]
    assert script.history()["long.txt"]["o"] == "ok"
    (script.dir / "hang.flag").unlink()
    assert script.run().ok().runs == ["hangs"]


def test_a_short_job_is_not_held_back_by_a_long_one_fused_behind_it(script):
    """The history knows `quick` is short and `slow` long: `slow` is not fused behind
    `quick`, so `quick` is recorded as soon as it ends and a kill -9 during `slow` keeps it."""
    script.write(
        """
        ppg.new_pipeline(cores=2)
        parameter = ppg.ParameterInvariant("parameter", sys.argv[1])


        def quick(path):
            mark("quick")
            path.write_text("quick " + sys.argv[1])


        def slow(path):
            mark("slow")
            Path("slow.started").write_text("")
            time.sleep(0.3)
            while Path("hang.flag").exists():
                time.sleep(0.05)
            path.write_text("slow")


        ppg.FileGeneratingJob("slow.txt", slow).depends_on(
            ppg.FileGeneratingJob("quick.txt", quick).depends_on(parameter)
        )
        run_and_report()
        """
    )
    assert script.run("1").ok().runs == ["quick", "slow"]
    before = script.history()["quick.txt"]
    (script.dir / "slow.started").unlink()
    (script.dir / "hang.flag").write_text("1")
    proc = script.start("2")  # both rerun: the parameter changed
    wait_for_file(script.dir / "slow.started", proc=proc)

    def quick_recorded() -> bool:
        try:
            return script.history()["quick.txt"] != before
        except sqlite3.OperationalError:  # being written
            return False

    wait_for(quick_recorded, 10, "quick.txt to be recorded while slow.txt runs", proc)
    kill_group(proc)
    script.finish(proc)
    (script.dir / "hang.flag").unlink()
    assert script.run("2").ok().runs == ["slow"]


def test_a_job_known_to_be_long_is_not_batched_with_short_ones(script):
    """Short jobs travel to workers in batches, recorded when the batch returns. A job the
    history knows to be long is sent on its own, so the short jobs beside it in the queue
    are recorded while it runs (and survive a kill -9)."""
    script.write(
        """
        ppg.new_pipeline(cores=2)
        parameter = ppg.ParameterInvariant("parameter", sys.argv[1])


        def short(path):
            mark("short")
            path.write_text("s")


        def long(path):
            mark("long")
            Path("long.started").write_text("")
            time.sleep(0.3)
            while Path("hang.flag").exists():
                time.sleep(0.05)
            path.write_text("long")


        for i in range(300):
            ppg.FileGeneratingJob(f"out/{i}.txt", short).depends_on(parameter)
            if i == 150:
                ppg.FileGeneratingJob("long.txt", long).depends_on(parameter)
        run_and_report()
        """
    )
    assert script.run("1").ok().counts == {"short": 300, "long": 1}
    before = script.history()
    (script.dir / "long.started").unlink()
    (script.dir / "hang.flag").write_text("1")
    proc = script.start("2")  # every job reruns: the parameter changed
    wait_for_file(script.dir / "long.started", timeout=30, proc=proc)

    def shorts_recorded() -> bool:
        log = script.dir / "runs.log"
        done = log.read_text().count("short") if log.exists() else 0
        try:
            records = script.history()
        except sqlite3.OperationalError:  # being written
            return False
        shorts = [f"out/{i}.txt" for i in range(300)]
        return done == 300 and all(records[job] != before[job] for job in shorts)

    wait_for(shorts_recorded, 30, "the short jobs to be recorded while the long one runs", proc)
    kill_group(proc)
    script.finish(proc)
    (script.dir / "hang.flag").unlink()
    assert script.run("2").ok().runs == ["long"]


def test_jobs_finished_before_a_long_one_in_its_batch_are_recorded_while_it_runs(script):
    """A first run: no job's duration is known, so a long job may travel in a batch behind
    short ones. Those are recorded while it runs (the worker leaves their results early),
    so a kill -9 then loses only what had not finished."""
    script.write(
        """
        ppg.new_pipeline(cores=2)


        def short(path):
            mark("short")
            path.write_text("s")
            with open("finished.log", "a") as f:
                f.write(f"{path} {time.time()}\\n")


        def long(path):
            mark("long")
            Path("long.started").write_text("")
            while Path("hang.flag").exists():
                time.sleep(0.05)
            path.write_text("long")


        for i in range(300):
            ppg.FileGeneratingJob(f"out/{i}.txt", short)
            if i == 150:
                ppg.FileGeneratingJob("long.txt", long)
        run_and_report()
        """
    )
    (script.dir / "hang.flag").write_text("1")
    proc = script.start()
    wait_for_file(script.dir / "long.started", timeout=30, proc=proc)
    time.sleep(2)
    killed_at = time.time()
    kill_group(proc)
    script.finish(proc)
    finished = {}
    for line in (script.dir / "finished.log").read_text().splitlines():
        path, when = line.rsplit(" ", 1)
        finished[path] = float(when)
    long_before = {p for p, t in finished.items() if t < killed_at - 1.0}
    assert len(long_before) > 100  # (the kill came well after most had finished)
    (script.dir / "hang.flag").unlink()
    (script.dir / "finished.log").unlink()
    run = script.run().ok()
    assert "long" in run.runs
    log = script.dir / "finished.log"  # (absent if no short job had to run again)
    again = set(log.read_text().split()[::2]) if log.exists() else set()
    assert not again & long_before, sorted(again & long_before)


def test_kill_9_of_the_main_process_only(script):
    """Only the main process is killed: its workers notice and exit rather than go on
    writing outputs. The next run is not blocked: lock and history are free."""
    proc = _start_hanging(script)
    workers = [int((script.dir / f"{name}.started").read_text()) for name in ("slow", "other_slow")]
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=10) == -signal.SIGKILL
    for pid in workers:
        wait_for(lambda pid=pid: not pid_alive(pid), 10, f"orphaned worker {pid} to exit")
    assert script.history()["first.txt"]["o"] == "ok"
    (script.dir / "hang.flag").unlink()
    rerun = script.run().ok()
    assert sorted(rerun.runs) == ["after", "other_slow", "queued", "slow"], rerun.describe()
    assert (script.dir / "after.txt").read_text() == "half and the rest!"
    assert script.run().ok().runs == []


@pytest.mark.parametrize("target", ["main process", "process group"])
def test_sigint_mid_job(script, target):
    """Ctrl-C: KeyboardInterrupt out of run(); running jobs stopped, partial outputs
    removed, queued jobs dropped, finished jobs kept; the next run resumes.

    "process group" is what a terminal's Ctrl-C does: the workers get SIGINT too.
    """
    proc = _start_hanging(script)
    workers = [int((script.dir / f"{name}.started").read_text()) for name in ("slow", "other_slow")]
    t0 = time.monotonic()
    if target == "main process":
        os.kill(proc.pid, signal.SIGINT)
    else:
        os.killpg(proc.pid, signal.SIGINT)
    interrupted = script.finish(proc, timeout=15)
    assert time.monotonic() - t0 < 8, "Ctrl-C must stop the run promptly"
    assert interrupted.returncode != 0, interrupted.describe()
    assert "KeyboardInterrupt" in interrupted.stderr, interrupted.describe()
    assert interrupted.result is None  # run() did not return
    assert "queued" not in interrupted.runs and "after" not in interrupted.runs

    # running jobs were stopped, their partial outputs removed
    for pid in workers:
        wait_for(lambda pid=pid: not pid_alive(pid), 10, f"worker {pid} to be stopped")
    assert not (script.dir / "slow.txt").exists()
    assert not (script.dir / "other_slow.txt").exists()
    # finished jobs kept
    assert (script.dir / "first.txt").read_text() == "first"
    records = script.history()
    assert records["first.txt"]["o"] == "ok"
    assert records["second.txt"]["o"] == "ok"
    assert records.get("slow.txt", {}).get("o") != "ok"
    # no lock left behind
    assert (script.ppg_dir / "lock").read_text() == ""
    _assert_resumes(script)


def test_an_interrupt_signals_only_the_processes_the_pipeline_started(script):
    """SPEC §4: the user's own processes (a `sleep` child, the worker of their own loky
    pool) outlive an interrupted run; only the pipeline's workers are stopped."""
    (script.dir / "hang.flag").write_text("1")
    script.write(
        HANGING.replace(
            "run_and_report()",
            """
import subprocess

from loky import get_reusable_executor

theirs = subprocess.Popen(["sleep", "60"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
their_pool = get_reusable_executor(max_workers=1)
Path("theirs").write_text(f"{theirs.pid} {their_pool.submit(os.getpid).result()}")
try:
    run_and_report()
except KeyboardInterrupt:
    print("their pool's worker after:", their_pool.submit(os.getpid).result(), flush=True)
    raise
""",
        )
    )
    proc = script.start()
    wait_for_file(script.dir / "slow.started", proc=proc)
    ours = int((script.dir / "slow.started").read_text())
    child, worker = (int(pid) for pid in (script.dir / "theirs").read_text().split())
    try:
        os.kill(proc.pid, signal.SIGINT)
        interrupted = script.finish(proc, timeout=15)
        assert "KeyboardInterrupt" in interrupted.stderr, interrupted.describe()
        assert f"their pool's worker after: {worker}" in interrupted.stdout
        assert not pid_alive(ours)
        assert pid_alive(child), "the user's own child process was signalled"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)


# --- a worker that dies ---------------------------------------------------------------

CRASHING = """
ppg.new_pipeline(cores=2)


def crash(path):
    mark("crash")
    if Path("crash.flag").exists():
        HOW
    path.write_text("survived")


def make_ok(i):
    def ok(path):
        mark(f"ok{i}")
        time.sleep(0.2)
        path.write_text(f"ok{i}")

    return ok


def dependant(path):
    mark("dependant")
    path.write_text(Path("crash.txt").read_text() + "!")


for i in range(4):
    ppg.FileGeneratingJob(f"ok{i}.txt", make_ok(i))
c = ppg.FileGeneratingJob("crash.txt", crash)
ppg.FileGeneratingJob("dependant.txt", dependant).depends_on(c)
run_and_report()
"""

DEATHS = {
    "os._exit(3)": ("os._exit(3)", "3"),
    "segfault": ("import ctypes; ctypes.string_at(0)", "SIGSEGV"),
    "SIGKILL": ("os.kill(os.getpid(), 9)", "SIGKILL"),
}


@pytest.mark.parametrize("how", list(DEATHS))
def test_worker_death_fails_only_its_job(script, how):
    code, exit_code = DEATHS[how]
    (script.dir / "crash.flag").write_text("1")
    script.write(CRASHING.replace("HOW", code))
    run = script.run()
    assert run.returncode == 0, run.describe()
    result = run.result
    assert list(result["failed"]) == ["crash.txt"], run.describe()
    assert result["exceptions"] == {"crash.txt": "WorkerDied"}
    message = result["failed"]["crash.txt"]
    assert "worker" in message and "died" in message, message
    assert "'crash.txt'" in message
    assert "exit code" in message and exit_code in message.split("exit code", 1)[1][:20]
    assert result["upstream_failed"] == ["dependant.txt"]
    # the innocent jobs finished, even those that were in flight when the worker died
    assert sorted(result["ran"]) == ["ok0.txt", "ok1.txt", "ok2.txt", "ok3.txt"]
    assert "crash.txt" in result["error"] and "died" in result["error"]
    assert list((script.ppg_dir / "errors").iterdir())
    assert script.history()["crash.txt"]["o"] == "failed"

    # the next run retries it (and only it, and what depends on it)
    (script.dir / "crash.flag").unlink()
    rerun = script.run().ok()
    assert sorted(rerun.runs) == ["crash", "dependant"], rerun.describe()
    assert rerun.result["reasons"]["crash.txt"] == "it failed last time"
    assert (script.dir / "dependant.txt").read_text() == "survived!"


def test_worker_death_while_it_keeps_failing(script):
    """A job that kills its worker every time fails every run; the others stay done."""
    (script.dir / "crash.flag").write_text("1")
    script.write(CRASHING.replace("HOW", "os._exit(3)"))
    script.run()
    again = script.run()
    assert again.returncode == 0, again.describe()
    assert list(again.result["failed"]) == ["crash.txt"]
    assert again.runs == ["crash"], again.describe()


# --- a job that raises ----------------------------------------------------------------

RAISING = """
ppg.new_pipeline(cores=2)


def compute_mean(path):
    mark("bad")
    path.write_text("partial")
    values = []
    if Path("fail.flag").exists():
        raise ValueError(f"no values to average in {len(values)} rows")
    path.write_text("mean")


def load_table():
    mark("load")
    if Path("fail.flag").exists():
        return {}["missing column"]
    return {"column": 1}


def good(path):
    mark("good")
    path.write_text("good")


def downstream(path):
    mark("downstream")
    path.write_text("downstream")


def downstream2(path):
    mark("downstream2")
    path.write_text("downstream2")


def uses_table(path):
    mark("uses_table")
    path.write_text("table")


bad = ppg.FileGeneratingJob("bad.txt", compute_mean)
d1 = ppg.FileGeneratingJob("downstream.txt", downstream).depends_on(bad)
ppg.FileGeneratingJob("downstream2.txt", downstream2).depends_on(d1)
ppg.FileGeneratingJob("good.txt", good)
table = ppg.DataLoadingJob("table", load_table)
ppg.FileGeneratingJob("uses_table.txt", uses_table).depends_on(table)
if "--uncaught" in sys.argv:
    ppg.run()
else:
    run_and_report()
"""


def test_a_failure_inside_a_batch_does_not_drop_the_jobs_sent_after_it(script):
    """Short jobs known to be short travel in batches, each with the line of dependants
    below it; one that fails stops its own line, not the independent jobs later in the
    same batch."""
    script.write(
        """
        ppg.new_pipeline(cores=1)
        failing = int(sys.argv[1])


        def head(i):
            def run(path):
                mark(f"h{i}")
                if i == failing:
                    raise ValueError(f"head {i} fails")
                path.write_text(str(i))

            return run


        for i in range(30):
            ppg.FileGeneratingJob(f"c{i}.txt", write(f"c{i}")).depends_on(
                ppg.FileGeneratingJob(f"h{i}.txt", head(i)).depends_on(
                    ppg.ParameterInvariant(f"p{i}", sys.argv[1])
                )
            )
        run_and_report()
        """
    )
    assert len(script.run("-1").ok().runs) == 60  # now their durations are known
    done = script.run("10")  # every head reruns: its parameter changed
    assert done.result is not None, done.describe()
    assert set(done.result["failed"]) == {"h10.txt"}
    assert done.result["upstream_failed"] == ["c10.txt"]
    assert sorted(done.runs) == sorted(f"h{i}" for i in range(30)), done.describe()
    others = [i for i in range(30) if i != 10]
    assert sorted(done.result["ran"]) == sorted(f"h{i}.txt" for i in others)
    # each head wrote what it wrote before: its dependant is up to date (rule 5)
    assert {f"c{i}.txt" for i in others} <= set(done.result["up_to_date"])


def test_failing_jobs(script):
    (script.dir / "fail.flag").write_text("1")
    script.write(RAISING)
    run = script.run()
    assert run.returncode == 0, run.describe()
    result = run.result
    assert result["exceptions"] == {"bad.txt": "ValueError", "table": "KeyError"}
    assert sorted(result["upstream_failed"]) == [
        "downstream.txt",
        "downstream2.txt",
        "uses_table.txt",
    ]
    assert result["ran"] == ["good.txt"]
    assert sorted(run.runs) == ["bad", "good", "load"], run.describe()
    assert not (script.dir / "bad.txt").exists(), "a failed job's partial output is removed"

    # JobsFailed's message names every failed job, with its error and traceback tail from
    # the user's code
    message = result["error"]
    assert "2 job(s) failed" in message
    assert "'bad.txt': ValueError: no values to average in 0 rows" in message
    assert "'table': KeyError: 'missing column'" in message
    assert "in compute_mean" in message and "in load_table" in message
    assert 'raise ValueError(f"no values to average' in message
    assert "downstream.txt" in message  # the upstream-failed jobs are named too

    # error files: the worker's traceback, starting in the user's code
    errors = {p.name: p.read_text() for p in (script.ppg_dir / "errors").iterdir()}
    assert len(errors) == 2, errors
    bad_tb = next(text for name, text in errors.items() if name.startswith("bad.txt"))
    assert str(script.path) in bad_tb
    assert "in compute_mean" in bad_tb
    assert "ValueError: no values to average in 0 rows" in bad_tb
    assert "ppg_notebook" not in bad_tb.split("Traceback", 1)[1], bad_tb
    table_tb = next(text for name, text in errors.items() if name.startswith("table"))
    assert "in load_table" in table_tb and "KeyError" in table_tb

    records = script.history()
    assert records["bad.txt"]["o"] == "failed"
    assert records["good.txt"]["o"] == "ok"

    # fixed: the failed ones and their dependants run; the good one does not
    (script.dir / "fail.flag").unlink()
    rerun = script.run().ok()
    assert sorted(rerun.runs) == [
        "bad",
        "downstream",
        "downstream2",
        "load",
        "uses_table",
    ], rerun.describe()
    assert script.run().ok().runs == []


def test_jobs_failed_uncaught_exits_with_the_message(script):
    (script.dir / "fail.flag").write_text("1")
    script.write(RAISING)
    run = script.run("--uncaught")
    assert run.returncode == 1, run.describe()
    assert "ppg_notebook.errors.JobsFailed" in run.stderr
    assert "'bad.txt': ValueError" in run.stderr and "'table': KeyError" in run.stderr
    assert (script.dir / "good.txt").exists()


# --- corrupt history ------------------------------------------------------------------

SIMPLE = """
ppg.new_pipeline(cores=2)


def a(path):
    mark("a")
    path.write_text("a")


def b(path):
    mark("b")
    path.write_text("b")


ppg.FileGeneratingJob("a.txt", a)
ppg.FileGeneratingJob("b.txt", b)
run_and_report()
"""


def _garbage(path):
    path.write_bytes(os.urandom(3000) + b"\0garbage\xff" * 100)


def _foreign(path):
    path.unlink()
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (name TEXT, email TEXT)")
    conn.execute("INSERT INTO users VALUES ('ada', 'ada@example.org')")
    conn.commit()
    conn.close()


def _truncated(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2 + 7])


def _truncated_near_its_end(path):
    conn = sqlite3.connect(path)  # (its records moved from the write-ahead log into it)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 4096 - 900])  # into the last pages: the records


def _future_version(path):
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'version'")
    conn.commit()
    conn.close()


def _bad_record(path):
    conn = sqlite3.connect(path)
    conn.execute("UPDATE jobs SET rec = 'this is {not json' WHERE id = 'a.txt'")
    conn.commit()
    conn.close()


CORRUPTIONS = {
    "garbage": _garbage,
    "foreign sqlite": _foreign,
    "truncated": _truncated,
    "truncated near its end": _truncated_near_its_end,
    "future version": _future_version,
    "unreadable record": _bad_record,
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_corrupt_history_is_moved_aside_with_a_warning(script, corruption):
    script.write(SIMPLE)
    script.run().ok()
    history = script.ppg_dir / "history"
    CORRUPTIONS[corruption](history)
    before = history.read_bytes()

    run = script.run()
    assert run.returncode == 0, run.describe()
    assert "PipelineWarning" in run.stderr, run.describe()
    assert "moved" in run.stderr and "aside" in run.stderr
    aside = sorted(script.ppg_dir.glob("history.unreadable-*"))
    aside = [p for p in aside if not p.name.endswith(("-wal", "-shm"))]
    assert len(aside) == 1, list(script.ppg_dir.iterdir())
    assert str(aside[0]) in run.stderr  # says where it went
    if corruption in ("garbage", "truncated"):
        assert aside[0].read_bytes() == before  # kept as it was, for inspection
    assert not run.result["failed"]
    assert sorted(run.runs) == ["a", "b"], run.describe()  # no records: every job runs once
    assert "every job runs again once" in run.stderr

    # the new history works: nothing reruns, no more warnings
    third = script.run().ok()
    assert third.runs == [], third.describe()
    assert "PipelineWarning" not in third.stderr


def test_a_record_damaged_inside_reruns_its_job_only(script):
    """A record whose text is damaged but still looks like one (records are parsed when
    read): that job runs again, with a warning naming it; the others stay up to date."""
    script.write(SIMPLE)
    script.run().ok()
    conn = sqlite3.connect(script.ppg_dir / "history")
    conn.execute("""UPDATE jobs SET rec = '{"o": "ok", "fp": }' WHERE id = 'a.txt'""")
    conn.commit()
    conn.close()
    run = script.run()
    assert run.returncode == 0, run.describe()
    assert run.runs == ["a"], run.describe()
    assert "record of job 'a.txt' cannot be read" in run.stderr, run.stderr
    assert "that job runs again" in run.stderr
    assert not list(script.ppg_dir.glob("history.unreadable-*"))
    again = script.run().ok()
    assert again.runs == [] and "PipelineWarning" not in again.stderr, again.describe()


def test_an_emptied_history_is_said_not_silently_rerun(script):
    script.write(SIMPLE)
    script.run().ok()
    for suffix in ("", "-wal", "-shm"):
        path = script.ppg_dir / f"history{suffix}"
        if path.exists():
            path.write_bytes(b"")
    run = script.run().ok()
    assert "PipelineWarning" in run.stderr and "is empty (truncated?)" in run.stderr
    assert sorted(run.runs) == ["a", "b"], run.describe()
    assert "PipelineWarning" not in script.run().ok().stderr


# --- two concurrent runs --------------------------------------------------------------

BLOCKING = """
ppg.new_pipeline(cores=2)


def quick(path):
    mark("quick")
    path.write_text("quick")


def waiting(path):
    mark("waiting")
    Path("waiting.started").write_text(str(os.getpid()))
    deadline = time.time() + 30
    while not Path("release.flag").exists() and time.time() < deadline:
        time.sleep(0.05)
    path.write_text("waited")


q = ppg.FileGeneratingJob("quick.txt", quick)
ppg.FileGeneratingJob("waiting.txt", waiting).depends_on(q)
run_and_report()
"""


def test_concurrent_runs_on_one_dir(script):
    script.write(BLOCKING)
    first = script.start()
    wait_for_file(script.dir / "waiting.started", proc=first)
    holder = json.loads((script.ppg_dir / "lock").read_text())
    assert holder["pid"] == first.pid

    second = script.run(timeout=30)
    assert second.returncode != 0, second.describe()
    assert "PipelineLocked" in second.stderr, second.describe()
    assert f"pid {first.pid} on host {socket.gethostname()}, running since" in second.stderr
    assert second.runs == []

    (script.dir / "release.flag").write_text("1")
    done = script.finish(first)
    assert done.returncode == 0, done.describe()
    assert sorted(done.result["ran"]) == ["quick.txt", "waiting.txt"]

    # the refused run damaged nothing: after the first finished, nothing must run
    after = script.run().ok()
    assert after.runs == [], after.describe()


def test_a_run_that_has_just_taken_the_lock_is_named(script):
    """Two runs at the same instant: the loser may look between the winner's flock and
    the winner writing its name; it waits for the name rather than say "holder unknown"."""
    script.write(BLOCKING)
    script.ppg_dir.mkdir()
    winner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, json, os, socket, sys, time\n"
            "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('locked', flush=True)\n"
            "time.sleep(0.5)  # between its flock and its name\n"
            "info = {'pid': os.getpid(), 'host': socket.gethostname(), 'since': time.time()}\n"
            "os.pwrite(fd, json.dumps(info).encode(), 0)\n"
            "time.sleep(30)\n",
            str(script.ppg_dir / "lock"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert winner.stdout.readline() == "locked\n"
        loser = script.run(timeout=30)
        assert "PipelineLocked" in loser.stderr, loser.describe()
        assert f"pid {winner.pid} on host {socket.gethostname()}" in loser.stderr
    finally:
        winner.kill()
        winner.wait()


def test_a_process_forked_by_a_job_does_not_keep_the_lock_after_the_run_dies(script):
    """A loading job (main process) forks a child that lives on (multiprocessing): when
    the main process is killed, the child must not hold the pipeline's lock."""
    script.write(
        """
        import multiprocessing

        ppg.new_pipeline(cores=2)


        def linger():
            quiet = os.open(os.devnull, os.O_WRONLY)
            os.dup2(quiet, 1)  # (so that the test's pipes close with the main process)
            os.dup2(quiet, 2)
            Path("child.pid").write_text(str(os.getpid()))
            time.sleep(60)


        def load():
            multiprocessing.get_context("fork").Process(target=linger).start()
            while not Path("child.pid").exists():
                time.sleep(0.01)
            Path("loaded").write_text("")
            while True:
                time.sleep(0.05)


        ppg.DataLoadingJob("load", load)
        if sys.argv[1:] == ["again"]:
            ppg.FileGeneratingJob("other.txt", write("other"))
            ppg.run(["other.txt"])
            print("@@RAN")
        else:
            ppg.FileGeneratingJob("after.txt", write("after")).depends_on("load")
            run_and_report()
        """
    )
    proc = script.start()
    wait_for_file(script.dir / "loaded", proc=proc)
    child = int((script.dir / "child.pid").read_text())
    try:
        os.kill(proc.pid, signal.SIGKILL)  # the main process only: its child lives on
        script.finish(proc)
        assert pid_alive(child)
        again = script.run("again", timeout=30)
        assert "@@RAN" in again.stdout, again.describe()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)


CHAIN_CRASH = """
ppg.new_pipeline(cores=2)


def first(path):
    mark("first")
    path.write_text("1")


def second(path):
    mark("second")
    os._exit(3)


def third(path):
    mark("third")
    path.write_text("3")


a = ppg.FileGeneratingJob("first.txt", first)
b = ppg.FileGeneratingJob("second.txt", second).depends_on(a)
ppg.FileGeneratingJob("third.txt", third).depends_on(b)
run_and_report()
"""


def test_worker_death_inside_a_chain_blames_the_job_that_died(script):
    # A line of single dependants travels to one worker as one batch; when the second job
    # kills the worker, the first is not blamed: it is rerun on its own, then the second.
    script.write(CHAIN_CRASH)
    run = script.run()
    assert run.returncode == 0, run.describe()
    assert list(run.result["failed"]) == ["second.txt"], run.describe()
    assert "died" in run.stdout
    assert run.result["upstream_failed"] == ["third.txt"]
    assert (script.dir / "first.txt").read_text() == "1"
    assert "third" not in run.runs
    again = script.run()
    assert again.runs == ["second"], again.describe()  # first stays done


WARMED = """
ppg.new_pipeline(cores=2)


def work(path):
    path.write_text("work")


def generate():
    # Resolved right after `work` was queued (which started the workers) and before it
    # was sent: the workers have run nothing but their start.
    Path("generating.started").write_text(str(os.getpid()))
    while True:
        time.sleep(0.05)


ppg.FileGeneratingJob("work.txt", work)
ppg.JobGeneratingJob("generate", generate)
run_and_report()
"""


def test_kill_9_before_any_job_reached_the_workers_leaves_no_worker_behind(script):
    script.write(WARMED)
    proc = script.start()
    wait_for_file(script.dir / "generating.started", proc=proc)

    def workers_started() -> list[int]:
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                with contextlib.suppress(OSError), open(f"/proc/{entry}/stat") as fh:
                    if int(fh.read().rsplit(")", 1)[1].split()[1]) != proc.pid:
                        continue
                with contextlib.suppress(OSError), open(f"/proc/{entry}/cmdline") as fh:
                    if "LokyProcess" in fh.read():
                        found.append(int(entry))
        return found

    workers = wait_for(lambda: len(workers_started()) == 2 and workers_started(), 15, "workers")
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=10) == -signal.SIGKILL
    for pid in workers:
        wait_for(lambda pid=pid: not pid_alive(pid), 10, f"orphaned worker {pid} to exit")


def _damage_in_place(path: Path) -> None:
    """Overwrite a stored value's bytes, keeping its size and modification time: only
    reading it can tell."""
    st = path.stat()
    path.write_bytes(b"\x80\x04garbage" + b"\0" * (st.st_size - 9))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def _stored_value(script, name: str) -> Path:
    (path,) = (script.ppg_dir / "cache" / "values").glob(f"{name}-*.joblib")
    return path


DAMAGED_VALUE = """
ppg.new_pipeline(cores=2)


def table():
    mark("table")
    return list(range(10))


def summary(path):
    mark("summary")
    path.write_text(f"{sys.argv[1]}: {sum(stored.value)}")


stored = ppg.ValueJob("table", table)
ppg.FileGeneratingJob("summary.txt", summary).depends_on(
    stored, ppg.ParameterInvariant("label", sys.argv[1])
)
if sys.argv[2:] == ["read"]:
    try:
        print("@@VALUE", stored.value)
    except ppg.DamagedValue as e:
        print("@@DAMAGED", e)
else:
    run_and_report()
"""


def test_a_damaged_stored_value_makes_its_job_run_again_in_the_same_run(script):
    """A job needs an upstream value that cannot be read (damaged in place, stat kept): the
    value is removed with a warning naming its job, which runs again, then the one that
    needed it; the run succeeds."""
    script.write(DAMAGED_VALUE)
    assert sorted(script.run("a").ok().runs) == ["summary", "table"]
    _damage_in_place(_stored_value(script, "table"))
    run = script.run("b").ok()  # the label changed: summary runs, and reads table's value
    assert run.counts == {"summary": 2, "table": 1}  # the failed read, then again
    assert run.result["outcomes"] == {
        "table": "ran",
        "summary.txt": "ran",
        "PI:label": "up to date",
    }
    assert "job 'table': the stored value" in run.stderr
    assert "cannot be read" in run.stderr and "'table' runs again" in run.stderr
    assert (script.dir / "summary.txt").read_text() == "b: 45"
    assert script.run("b").ok().runs == []  # and all of it is recorded


def test_a_damaged_value_read_after_the_run_names_its_job_and_is_recomputed(script):
    script.write(DAMAGED_VALUE)
    script.run("a").ok()
    _damage_in_place(_stored_value(script, "table"))
    out = script.run("a", "read").stdout
    assert "@@DAMAGED ValueJob 'table': the stored value" in out
    assert "the next run of the pipeline runs 'table' again" in out
    assert script.run("a").ok().runs == ["table"]
    assert "@@VALUE [0, 1, 2" in script.run("a", "read").stdout


def test_a_traceback_or_log_that_cannot_be_saved_does_not_crash_the_run(script):
    """(As on a full disk: the errors/ and logs/ places cannot be written.) The failure is
    reported with its error, the job's output is still shown, and the other jobs run."""
    script.write(
        """
        ppg.new_pipeline(cores=1)


        def talks(path):
            print("talking")
            path.write_text("t")


        def breaks(path):
            raise ValueError("broken on purpose")


        ppg.FileGeneratingJob("talks.txt", talks)
        ppg.FileGeneratingJob("breaks.txt", breaks)
        run_and_report()
        """
    )
    script.ppg_dir.mkdir()
    (script.ppg_dir / "errors").write_text("not a directory")
    (script.ppg_dir / "logs").write_text("not a directory")
    run = script.run()
    assert run.returncode == 0, run.describe()
    assert "ValueError: broken on purpose" in run.result["failed"]["breaks.txt"]
    assert (script.dir / "talks.txt").read_text() == "t"
    assert "its traceback could not be saved" in run.stderr
    assert run.result["outcomes"]["talks.txt"] == "ran"  # its log could not be saved
