"""Bad input (issue 2): each gets a clear error naming the culprit, and nothing is lost.

Every test first runs a good pipeline (a -> b), then adds the bad input, checks the error
and that nothing ran or was damaged, then fixes it and checks that a and b do not rerun.
Scripts run in real subprocesses, as in test_e2e.py.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

BASE = """
ppg.new_pipeline(cores=2)


a = ppg.FileGeneratingJob("a.txt", write("a"))
b = ppg.FileGeneratingJob("b.txt", write("b")).depends_on(a)


def bad():
BAD


try:
    bad()
    run_and_report()
except ppg.PipelineError as e:
    info = {"type": type(e).__name__, "message": str(e), "cycle": getattr(e, "cycle", None)}
    print("@@ERROR " + json.dumps(info))
"""


def _with(code: str) -> str:
    return BASE.replace("BAD\n", textwrap.indent(textwrap.dedent(code).strip("\n"), "    ") + "\n")


def _error(run) -> dict:
    assert run.returncode == 0, run.describe()
    assert "@@ERROR " in run.stdout, run.describe()
    return json.loads(run.stdout.split("@@ERROR ", 1)[1].splitlines()[0])


def _good_first(script):
    script.write(_with("pass"))
    first = script.run().ok()
    assert sorted(first.runs) == ["a", "b"]
    return script.history()


def _nothing_lost(script, records_before, bad_run):
    """The bad run ran nothing, left a and b and their records as they were."""
    assert bad_run.runs == [], bad_run.describe()
    assert (script.dir / "a.txt").read_text() == "a"
    assert (script.dir / "b.txt").read_text() == "b"
    after = script.history()
    for job_id in ("a.txt", "b.txt"):
        assert after[job_id] == records_before[job_id]


# --- a cycle ---------------------------------------------------------------------------


@pytest.mark.parametrize("via", ["jobs", "paths"])
def test_cycle(script, via):
    records = _good_first(script)
    if via == "jobs":
        cycle = """
        x = ppg.FileGeneratingJob("x.txt", write("x"))
        y = ppg.FileGeneratingJob("y.txt", write("y")).depends_on(x)
        z = ppg.FileGeneratingJob("z.txt", write("z")).depends_on(y, a)
        x.depends_on(z)
        ppg.FileGeneratingJob("new.txt", write("new"))
        """
    else:
        cycle = """
        ppg.FileGeneratingJob("x.txt", write("x")).depends_on("z.txt")
        ppg.FileGeneratingJob("y.txt", write("y")).depends_on("./x.txt")
        ppg.FileGeneratingJob("z.txt", write("z")).depends_on(os.path.abspath("y.txt"), a)
        ppg.FileGeneratingJob("new.txt", write("new"))
        """
    script.write(_with(cycle))
    run = script.run()
    error = _error(run)
    assert error["type"] == "CycleError"
    assert sorted(error["cycle"]) == ["x.txt", "y.txt", "z.txt"]
    for job_id in ("x.txt", "y.txt", "z.txt"):
        assert f"'{job_id}'" in error["message"]
    assert "a.txt" not in error["cycle"]
    _nothing_lost(script, records, run)
    assert not (script.dir / "new.txt").exists(), "a cycle is raised before anything runs"

    # fixed: the new jobs run, a and b do not
    script.write(_with(cycle.replace("x.depends_on(z)", "").replace('.depends_on("z.txt")', "")))
    fixed = script.run().ok()
    assert sorted(fixed.runs) == ["new", "x", "y", "z"], fixed.describe()


def test_job_depending_on_itself(script):
    _good_first(script)
    script.write(_with('ppg.FileGeneratingJob("x.txt", write("x")).depends_on("x.txt")'))
    run = script.run()
    assert run.returncode != 0
    assert "x.txt" in run.stderr and "itself" in run.stderr, run.describe()
    assert run.runs == []


# --- two jobs claiming the same output / the same id ------------------------------------

SAME_FILE = {
    "same spelling": '"out/a.txt"',
    "./ prefix": '"./out/a.txt"',
    "absolute": 'os.path.abspath("out/a.txt")',
    "dotdot": '"out/../out/a.txt"',
    "Path": 'Path("out") / "a.txt"',
}


@pytest.mark.parametrize("spelling", list(SAME_FILE))
def test_two_jobs_writing_the_same_file(script, spelling):
    (script.dir / "out").mkdir()
    records = _good_first(script)
    other = SAME_FILE[spelling]
    script.write(
        _with(
            f"""
            def first(path):
                path.write_text("one")

            def second(path):
                path.write_text("two")

            ppg.FileGeneratingJob("out/a.txt", first)
            ppg.FileGeneratingJob({other}, second)
            """
        )
    )
    run = script.run()
    error = _error(run)
    assert error["type"] == "JobRedefinitionError", error
    assert "out/a.txt" in error["message"]
    assert "first" in error["message"] and "second" in error["message"], error["message"]
    _nothing_lost(script, records, run)
    assert not (script.dir / "out" / "a.txt").exists()


def test_multi_file_job_overlapping_a_file_job(script):
    records = _good_first(script)
    script.write(
        _with(
            """
            def both(paths):
                for p in paths:
                    p.write_text("x")

            ppg.MultiFileGeneratingJob(["m.txt", os.path.abspath("a.txt")], both)
            """
        )
    )
    run = script.run()
    error = _error(run)
    assert error["type"] == "JobRedefinitionError"
    assert "a.txt" in error["message"] and "two jobs" in error["message"], error["message"]
    _nothing_lost(script, records, run)


def test_same_name_different_kind(script):
    records = _good_first(script)
    script.write(
        _with(
            """
            ppg.ValueJob("thing", lambda: 1)
            ppg.DataLoadingJob("thing", lambda: 2)
            """
        )
    )
    run = script.run()
    error = _error(run)
    assert error["type"] == "JobRedefinitionError"
    assert "'thing'" in error["message"]
    assert "ValueJob" in error["message"] and "DataLoadingJob" in error["message"]
    _nothing_lost(script, records, run)


def test_same_job_declared_twice_identically_is_fine(script):
    _good_first(script)
    script.write(
        _with(
            """
            for _ in range(2):
                ppg.FileGeneratingJob("a.txt", write("a"))
                ppg.FileGeneratingJob("./b.txt", write("b")).depends_on(a)
            """
        )
    )
    run = script.run().ok()
    assert run.runs == [], run.describe()


def test_one_input_file_however_spelled_is_one_invariant(script):
    (script.dir / "in.txt").write_text("in")
    script.write(
        """
        ppg.new_pipeline(cores=2)


        def r(path):
            mark(path.name)
            path.write_text(Path("in.txt").read_text())


        ppg.FileGeneratingJob("r1.txt", r).depends_on("in.txt")
        ppg.FileGeneratingJob("r2.txt", r).depends_on("./in.txt")
        ppg.FileGeneratingJob("r3.txt", r).depends_on(os.path.abspath("in.txt"))
        ppg.FileGeneratingJob("r4.txt", r).depends_on(ppg.FileInvariant(Path("sub/../in.txt")))
        run_and_report()
        print("@@IDS " + json.dumps(sorted(ppg.get_pipeline().jobs)))
        """
    )
    run = script.run().ok()
    ids = json.loads(run.stdout.split("@@IDS ", 1)[1].splitlines()[0])
    assert [i for i in ids if i.startswith("file:")] == ["file:in.txt"], ids
    (script.dir / "in.txt").write_text("in, edited")
    again = script.run().ok()
    assert sorted(again.runs) == ["r1.txt", "r2.txt", "r3.txt", "r4.txt"]


# --- jobs breaking their contract -------------------------------------------------------

CONTRACTS = {
    "file not written": (
        """
        def forgets(path):
            mark("x")
            Path("elsewhere.txt").write_text("oops")

        x = ppg.FileGeneratingJob("x.txt", forgets)
        """,
        ["finished without writing its output 'x.txt'"],
    ),
    "empty file": (
        """
        def empty(path):
            mark("x")
            path.write_text("")

        x = ppg.FileGeneratingJob("x.txt", empty)
        """,
        ["empty", "'x.txt'", "empty_ok"],
    ),
    "multi file, one not written": (
        """
        def half(paths):
            mark("x")
            paths[0].write_text("one")

        x = ppg.MultiFileGeneratingJob(["x.txt", "x2.txt"], half)
        """,
        ["finished without writing its output 'x2.txt'"],
    ),
    "loader returns None": (
        """
        def loader():
            mark("x")

        x = ppg.DataLoadingJob("x", loader)
        """,
        ["DataLoadingJob 'x' returned None"],
    ),
}


@pytest.mark.parametrize("broken", list(CONTRACTS))
def test_job_breaking_its_contract(script, broken):
    code, phrases = CONTRACTS[broken]
    records = _good_first(script)
    declare = (
        textwrap.dedent(code)
        + '\ndep = ppg.FileGeneratingJob("dep.txt", write("dep")).depends_on(x)\n'
        + 'ppg.FileGeneratingJob("indep.txt", write("indep"))\n'
    )
    script.write(_with(declare))
    run = script.run()
    assert run.returncode == 0, run.describe()
    result = run.result
    (job_id,) = result["failed"]
    assert result["exceptions"] == {job_id: "JobContractError"}
    message = result["failed"][job_id]
    for phrase in phrases:
        assert phrase in message, message
    assert f"'{job_id}'" in result["error"]
    assert result["upstream_failed"] == ["dep.txt"]
    assert "indep.txt" in result["ran"]
    assert sorted(run.runs) == ["indep", "x"]
    assert not (script.dir / "x.txt").exists(), "a broken output is not kept"
    assert script.history()["a.txt"] == records["a.txt"]

    # fixed: x and its dependant run; a, b and indep do not
    fixed_code = (
        declare.replace('Path("elsewhere.txt").write_text("oops")', 'path.write_text("x")')
        .replace('path.write_text("")', 'path.write_text("x")')
        .replace('paths[0].write_text("one")', 'paths[0].write_text("1"); paths[1].write_text("2")')
        .replace(
            'mark("x")\n\nx = ppg.DataLoadingJob',
            'mark("x")\n    return 1\n\nx = ppg.DataLoadingJob',
        )
    )
    script.write(_with(fixed_code))
    fixed = script.run().ok()
    assert sorted(fixed.runs) == ["dep", "x"], fixed.describe()


# --- a function that cannot be sent to a worker -----------------------------------------

UNPICKLABLE = {
    "closure": (
        """
        import threading

        lock = threading.Lock()

        def uses_lock(path):
            with lock:
                path.write_text("locked")

        x = ppg.FileGeneratingJob("x.txt", uses_lock)
        """,
        "the captured variable 'lock'",
    ),
    "global": (
        """
        global LOG_FILE
        LOG_FILE = open("job.log", "a")

        def logs(path):
            LOG_FILE.write("writing")
            path.write_text("logged")

        x = ppg.FileGeneratingJob("x.txt", logs)
        """,
        "the global 'LOG_FILE'",
    ),
    "default argument": (
        """
        import threading

        def with_default(path, guard=threading.Lock()):
            with guard:
                path.write_text("guarded")

        x = ppg.FileGeneratingJob("x.txt", with_default)
        """,
        "default argument",
    ),
    "value job": (
        """
        import threading

        lock = threading.Lock()

        def value():
            with lock:
                return 1

        x = ppg.ValueJob("x", value)
        """,
        "the captured variable 'lock'",
    ),
}


@pytest.mark.parametrize("where", list(UNPICKLABLE))
def test_function_that_cannot_be_pickled(script, where):
    code, culprit = UNPICKLABLE[where]
    records = _good_first(script)
    script.write(
        _with(
            textwrap.dedent(code)
            + 'ppg.FileGeneratingJob("indep.txt", write("indep"))\n'
            + 'ppg.FileGeneratingJob("dep.txt", write("dep")).depends_on(x)\n'
        )
    )
    run = script.run()
    assert run.returncode == 0, run.describe()
    result = run.result
    (job_id,) = result["failed"]
    assert job_id == "x.txt" or job_id == "x"
    assert result["exceptions"] == {job_id: "JobContractError"}
    message = result["failed"][job_id]
    assert f"job '{job_id}'" in message, message
    assert "pickle" in message, message
    assert culprit in message, message
    assert "inside the job's function" in message or "DataLoadingJob" in message  # the fix
    assert result["upstream_failed"] == ["dep.txt"]
    assert "indep.txt" in result["ran"]
    assert script.history()["a.txt"] == records["a.txt"]


# --- depends_on a path that nothing makes -----------------------------------------------


def test_depends_on_a_missing_path(script):
    records = _good_first(script)
    script.write(
        _with(
            """
            ppg.FileGeneratingJob("new.txt", write("new"))
            ppg.FileGeneratingJob("x.txt", write("x")).depends_on(a, "data/missing.csv")
            """
        )
    )
    run = script.run()
    error = _error(run)
    assert error["type"] == "DependencyError"
    assert "'x.txt'" in error["message"] and "data/missing.csv" in error["message"]
    _nothing_lost(script, records, run)
    assert not (script.dir / "new.txt").exists(), "raised before anything runs"

    (script.dir / "data").mkdir()
    (script.dir / "data" / "missing.csv").write_text("now it exists")
    fixed = script.run().ok()
    assert sorted(fixed.runs) == ["new", "x"], fixed.describe()


def test_an_input_file_that_went_missing_is_read_again_once_it_is_back(script):
    script.write(
        """
        ppg.FileGeneratingJob("x.txt", write("x")).depends_on(ppg.FileInvariant("in.csv"))
        run_and_report()
        """
    )
    (script.dir / "in.csv").write_text("1")
    assert script.run().ok().runs == ["x"]
    (script.dir / "in.csv").unlink()
    missing = script.run()
    assert missing.result is not None, missing.describe()
    assert "input file 'in.csv' does not exist" in missing.result["failed"]["file:in.csv"]
    assert missing.result["upstream_failed"] == ["x.txt"]
    (script.dir / "in.csv").write_text("2")
    assert script.run().ok().runs == ["x"]


def test_run_with_an_unknown_target(script):
    _good_first(script)
    script.write(_with("pass").replace("run_and_report()", 'run_and_report(["nope.txt"])'))
    error = _error(script.run())
    assert error["type"] == "DependencyError"
    assert "nope.txt" in error["message"]


# --- a foreign history: moved aside, the outputs stay -----------------------------------


def _foreign_history(script):
    history = script.ppg_dir / "history"
    history.unlink()
    for suffix in ("-wal", "-shm"):
        (script.ppg_dir / f"history{suffix}").unlink(missing_ok=True)
    conn = sqlite3.connect(history)
    conn.execute("CREATE TABLE jobs (id TEXT, something_else BLOB)")
    conn.execute("INSERT INTO jobs VALUES ('someone', x'00ff')")
    conn.commit()
    conn.close()
    return history


def _aside(script):
    (aside,) = [
        p
        for p in script.ppg_dir.glob("history.unreadable-*")
        if not p.name.endswith(("wal", "shm"))
    ]
    return aside


def test_foreign_history_loses_nothing(script):
    _good_first(script)
    _foreign_history(script)
    run = script.run()
    assert run.returncode == 0, run.describe()
    assert "PipelineWarning" in run.stderr
    conn = sqlite3.connect(_aside(script))
    assert conn.execute("SELECT id, something_else FROM jobs").fetchall() == [
        ("someone", b"\x00\xff")
    ]
    conn.close()
    assert (script.dir / "a.txt").read_text() == "a"
    assert (script.dir / "b.txt").read_text() == "b"
    assert script.run().ok().runs == []


def test_foreign_history_is_not_modified(script):
    """A database that is not ours is only moved aside, not written to (SPEC §5: report
    it, move it aside). Opening it must not, e.g., switch it to WAL journal mode."""
    _good_first(script)
    before = _foreign_history(script).read_bytes()
    run = script.run()
    assert run.returncode == 0, run.describe()
    assert _aside(script).read_bytes() == before


def test_file_names_that_are_not_valid_utf8(script):
    """Names as os.listdir returns them for bytes that are not UTF-8 (surrogate escapes):
    as outputs, an input file, a file a job reads, and a value job's name. They are
    recorded, so the next run has nothing to do, and listed by `status`."""
    script.write(
        r"""
        ppg.new_pipeline(cores=2)
        source = os.fsdecode(b"in-\xff.txt")
        Path(source).write_text("input")


        def copy(path):
            mark("copy")
            text = Path(os.fsdecode(b"side-\xfe.txt")).read_text()
            path.write_text(Path(source).read_text() + text)


        side = Path(os.fsdecode(b"side-\xfe.txt"))
        if not side.exists():
            side.write_text(" and side")
        ppg.FileGeneratingJob(os.fsdecode(b"caf\xe9.txt"), copy).depends_on(source)
        ppg.ValueJob(os.fsdecode(b"value-\xe9"), lambda: mark("value") or 1)
        run_and_report()
        """
    )
    assert sorted(script.run().ok().runs) == ["copy", "value"]
    assert (script.dir / os.fsdecode(b"caf\xe9.txt")).read_text() == "input and side"
    assert script.run().ok().runs == []
    (script.dir / os.fsdecode(b"side-\xfe.txt")).write_text(" changed")
    assert script.run().ok().runs == ["copy"]  # what it read is tracked too
    cli = Path(sys.executable).with_name("ppg-notebook")
    status = subprocess.run(
        [cli, "status", "--dir", str(script.ppg_dir)],
        cwd=script.dir,
        capture_output=True,
        encoding="utf-8",
        errors="surrogateescape",  # the name's own bytes, as `ls` prints them
        check=False,
    )
    assert status.returncode == 0, status.stderr
    assert os.fsdecode(b"caf\xe9.txt") in status.stdout and "succeeded" in status.stdout
