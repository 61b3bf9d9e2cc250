"""Shared fixtures for the test suite."""

from __future__ import annotations

# =====================================================================================
# End-to-end / fault / bad-input helpers (tests/test_e2e.py, test_faults.py,
# test_bad_input.py): pipeline scripts written to a tmp dir and run in real subprocesses.
# Other fixtures go below this section, not inside it.
# =====================================================================================
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

# Tests send Ctrl-C (SIGINT) to the scripts and kernels they start. A process started in the
# background by a shell without job control (`cmd &` in a script, nohup) ignores SIGINT,
# and so would everything it starts: the interrupted runs would then go on forever. A
# handler, unlike an ignored signal, is not inherited: what the tests start gets Python's.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# Prepended to every script. Jobs call `mark(name)` to append their name to runs.log (in
# the pipeline's workdir), so tests count what actually executed, independent of the
# engine's own report; `write(name)` is a file job's function that marks and writes `name`.
# `run_and_report()` runs the pipeline and prints the RunResult as one
# JSON line (prefixed with @@RESULT) that the test parses; JobsFailed is caught and its
# message included, so the process exits 0 unless something else went wrong.
PREAMBLE = """\
import faulthandler
import json
import os
import signal
import sys
import time
from pathlib import Path

import ppg_notebook as ppg

faulthandler.register(signal.SIGUSR1, all_threads=True)  # a hung test shows where


def mark(name):
    with open("runs.log", "a") as fh:
        fh.write(name + "\\n")


def write(name):
    def w(path):
        mark(name)
        path.write_text(name)

    return w


def report(result, error=None, exceptions=None):
    data = {
        "ran": sorted(result.ran),
        "up_to_date": sorted(result.up_to_date),
        "failed": {k: type(v).__name__ + ": " + str(v) for k, v in result.failed.items()},
        "upstream_failed": sorted(result.upstream_failed),
        "outcomes": {k: v.value for k, v in result.outcomes.items()},
        "reasons": dict(result.reasons),
        "error": error,
        "exceptions": exceptions,
    }
    print("@@RESULT " + json.dumps(data), flush=True)


def run_and_report(targets=None):
    try:
        result = ppg.run(targets)
    except ppg.JobsFailed as e:
        exceptions = {k: type(v).__name__ for k, v in e.exceptions.items()}
        report(e.result, str(e), exceptions)
        return e.result
    report(result)
    return result


"""


@dataclass
class ScriptRun:
    """What one subprocess run of a pipeline script did."""

    returncode: int
    stdout: str
    stderr: str
    runs: list[str]  # lines appended to runs.log during this run (what actually executed)
    result: dict[str, Any] | None = None  # the parsed @@RESULT line, if any

    @property
    def ran(self) -> list[str]:
        assert self.result is not None, self.describe()
        return self.result["ran"]

    @property
    def counts(self) -> Counter[str]:
        return Counter(self.runs)

    def describe(self) -> str:
        return (
            f"rc={self.returncode}\nruns={self.runs}\n--- stdout ---\n{self.stdout}\n"
            f"--- stderr ---\n{self.stderr}"
        )

    def ok(self) -> ScriptRun:
        """Assert the process exited 0 and the run had no failed job; return self."""
        assert self.returncode == 0, self.describe()
        assert self.result is not None, self.describe()
        assert not self.result["failed"], self.describe()
        return self


def _parse_result(stdout: str) -> dict[str, Any] | None:
    found = None
    for line in stdout.splitlines():
        if line.startswith("@@RESULT "):
            found = json.loads(line[len("@@RESULT ") :])
    return found


@dataclass
class PipelineScript:
    """A pipeline script in its own directory, run as a real subprocess."""

    dir: Path
    name: str = "pipeline.py"
    procs: list[subprocess.Popen[str]] = field(default_factory=list)

    @property
    def path(self) -> Path:
        return self.dir / self.name

    @property
    def ppg_dir(self) -> Path:
        return self.dir / ".ppg"

    @property
    def runs_log(self) -> Path:
        return self.dir / "runs.log"

    def write(self, body: str, preamble: bool = True) -> PipelineScript:
        text = textwrap.dedent(body)
        self.path.write_text((PREAMBLE if preamble else "") + text)
        return self

    def edit(self, old: str, new: str, count: int = 1) -> PipelineScript:
        """Replace `old` by `new` in the script (asserting `old` occurs exactly `count` times)."""
        text = self.path.read_text()
        assert text.count(old) == count, f"{old!r} occurs {text.count(old)} times in the script"
        self.path.write_text(text.replace(old, new))
        return self

    def _take_runs(self) -> list[str]:
        try:
            lines = self.runs_log.read_text().splitlines()
        except FileNotFoundError:
            return []
        self.runs_log.unlink()
        return lines

    def run(self, *args: str, timeout: float = 60, cwd: Path | None = None) -> ScriptRun:
        """Run the script to completion; runs.log is consumed (each run starts counting at 0)."""
        self._take_runs()
        proc = subprocess.run(
            [sys.executable, str(self.path), *args],
            cwd=cwd or self.dir,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=_env(),
        )
        runs = self._take_runs()
        return ScriptRun(
            proc.returncode, proc.stdout, proc.stderr, runs, _parse_result(proc.stdout)
        )

    def start(self, *args: str, name: str | None = None) -> subprocess.Popen[str]:
        """Start the script in its own session (process group), without waiting for it."""
        script = self.dir / name if name else self.path
        proc = subprocess.Popen(
            [sys.executable, str(script), *args],
            cwd=self.dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def finish(self, proc: subprocess.Popen[str], timeout: float = 30) -> ScriptRun:
        """Wait for a started process; runs.log is consumed."""
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            stdout, stderr = stop_hung(proc)
            pytest.fail(f"the script did not finish in {timeout} s\n{stdout}\n{stderr}")
        runs = self._take_runs()
        return ScriptRun(proc.returncode, stdout, stderr, runs, _parse_result(stdout))

    def history(self) -> dict[str, dict[str, Any]]:
        """The job records in .ppg/history, read directly (read-only)."""
        uri = f"file:{self.ppg_dir / 'history'}?mode=ro"
        conn = sqlite3.connect(uri, uri=True)
        try:
            rows = conn.execute("SELECT id, rec FROM jobs").fetchall()
        finally:
            conn.close()
        return {job_id: json.loads(rec) for job_id, rec in rows}

    def cleanup(self) -> None:
        for proc in self.procs:
            kill_group(proc)
            with contextlib.suppress(Exception):
                proc.communicate(timeout=5)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("PYTHONWARNINGS", None)
    return env


def kill_group(proc: subprocess.Popen[str]) -> None:
    """SIGKILL the process group a `start()`ed process leads (it and its loky workers)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def stop_hung(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """Kill a script that hangs; returns its output, which ends with every thread's stack
    (the preamble has faulthandler print them on SIGUSR1)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGUSR1)
        time.sleep(1)
    kill_group(proc)
    return proc.communicate()


def wait_for(
    condition: Callable[[], Any],
    timeout: float = 15,
    what: str = "condition",
    proc: subprocess.Popen[str] | None = None,
) -> Any:
    """Poll `condition` every 20 ms until it is truthy; fail the test after `timeout` s, or
    as soon as `proc` exits first (with its output, as also on a timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the script exited ({proc.returncode}) before {what}\n{out}\n{err}")
        if time.monotonic() > deadline:
            output = ""
            if proc is not None:
                out, err = stop_hung(proc)
                output = f"; the script printed:\n{out}\n{err}"
            pytest.fail(f"timed out after {timeout} s waiting for {what}{output}")
        time.sleep(0.02)


def wait_for_file(
    path: Path, timeout: float = 15, proc: subprocess.Popen[str] | None = None
) -> None:
    """Wait until `path` exists (failing early, with its output, if `proc` exits first)."""
    wait_for(path.exists, timeout, f"{path.name} to appear", proc)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) counts as dead.
    with contextlib.suppress(OSError), open(f"/proc/{pid}/stat") as fh:
        if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


@pytest.fixture
def script(tmp_path: Path) -> Iterator[PipelineScript]:
    """A pipeline script in its own tmp directory (the pipeline's workdir)."""
    s = PipelineScript(tmp_path)
    yield s
    s.cleanup()


# ============================ end of the e2e helper section ===========================


# --- one in-process IPython shell per test process (magics and widget tests) ---------------
@pytest.fixture(scope="session")
def ip() -> Any:
    """IPython's test shell with the extension loaded (IPython allows one per process)."""
    from IPython.testing.globalipapp import get_ipython, start_ipython

    shell = start_ipython() or get_ipython()
    shell.run_line_magic("load_ext", "ppg_notebook")
    return shell
