"""The dask.distributed cluster the ``ppg-dask`` tool runs on, started outside any timing.

A ``dask scheduler`` and ``dask worker --nthreads 1 --nworkers N`` (N single-threaded worker
processes), started the way a user starts them, each command in a session of its own so
that killing its process group also takes the processes it spawned (the nanny's workers).
Both run in the cluster's own temporary directory, which also holds dask's scratch space,
with ``bench/`` first on their ``PYTHONPATH``: the job functions call ``workloads.do_job``,
which the case pickles by reference (a loky worker finds it on the case's ``sys.path``).

The orchestrator starts one cluster per ppg-dask case (see ``run.py``); its phases reach it
through the address in ``tools.SCHEDULER_ENV``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
START_TIMEOUT = 60.0  # seconds for the scheduler, then for all workers, to come up
LOG_TAIL_LINES = 15

# Run in a child, so that the orchestrator itself never imports distributed.
WAIT_FOR_WORKERS = """
import sys, distributed
with distributed.Client(sys.argv[1], timeout=float(sys.argv[3])) as client:
    client.wait_for_workers(int(sys.argv[2]), timeout=float(sys.argv[3]))
"""


class ClusterError(RuntimeError):
    """The cluster did not come up; the message ends with its logs' tail."""


def dask_available() -> bool:
    """Whether this interpreter can ``import distributed`` (tried in a child process)."""
    done = subprocess.run([sys.executable, "-c", "import distributed"], capture_output=True)
    return done.returncode == 0


def kill_group(pgid: int) -> None:
    """SIGKILL the process group ``pgid``, if anything is left in it."""
    with suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def read_address(file: Path) -> str | None:
    """The address in a scheduler file, or None while it is absent or half written."""
    try:
        return str(json.loads(file.read_text())["address"])
    except (OSError, ValueError, KeyError):
        return None


def dask_env(directory: Path) -> dict[str, str]:
    """This environment, with ``bench/`` first on ``PYTHONPATH`` (for ``workloads``) and
    dask's scratch space in ``directory`` (a killed scheduler leaves its own behind)."""
    paths = [str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(paths),
        "DASK_TEMPORARY_DIRECTORY": str(directory),
    }


@dataclass
class DaskCluster:
    """A scheduler and ``workers`` single-threaded worker processes, logging to ``directory``."""

    directory: Path
    workers: int
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    address: str = ""

    @property
    def sessions(self) -> list[int]:
        """The session ids of the cluster's processes (each command leads its own)."""
        return [proc.pid for proc in self.procs]

    def spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        """Start ``python -m dask ARGS`` in a new session, output to ``NAME.log``."""
        with open(self.directory / f"{name}.log", "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "dask", *args], stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, cwd=self.directory, env=dask_env(self.directory),
                start_new_session=True,
            )  # fmt: skip
        self.procs.append(proc)
        return proc

    def start(self) -> str:
        """Start the scheduler, then the workers; return once all workers have joined."""
        file = self.directory / "scheduler.json"
        scheduler = self.spawn("scheduler", "scheduler", "--host", "127.0.0.1", "--port", "0",
                               "--no-dashboard", "--scheduler-file", str(file))  # fmt: skip
        self.address = self.wait_for_address(file, scheduler)
        self.spawn("workers", "worker", self.address, "--nthreads", "1",
                   "--nworkers", str(self.workers), "--no-dashboard")  # fmt: skip
        self.wait_for_workers()
        return self.address

    def wait_for_address(self, file: Path, scheduler: subprocess.Popen[bytes]) -> str:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and scheduler.poll() is None:
            address = read_address(file)
            if address:
                return address
            time.sleep(0.1)
        raise ClusterError(f"the dask scheduler did not start\n{self.log_tail()}")

    def wait_for_workers(self) -> None:
        waiter = [sys.executable, "-c", WAIT_FOR_WORKERS, self.address, str(self.workers),
                  str(START_TIMEOUT)]  # fmt: skip
        try:
            done = subprocess.run(waiter, capture_output=True, text=True, timeout=START_TIMEOUT * 2)
        except subprocess.TimeoutExpired:
            done = None
        if done is None or done.returncode != 0:
            why = done.stderr.strip().splitlines()[-1:] if done else ["timed out"]
            raise ClusterError(
                f"{self.workers} dask workers did not join ({' '.join(why)})\n{self.log_tail()}"
            )

    def log_tail(self) -> str:
        """The last lines of every log of the cluster."""
        parts = []
        for log in sorted(self.directory.glob("*.log")):
            lines = log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
            parts.append(f"[{log.name}]\n" + "\n".join(lines))
        return "\n".join(parts)

    def stop(self) -> None:
        """Kill every process group of the cluster (workers first) and reap the leaders."""
        for proc in reversed(self.procs):
            kill_group(proc.pid)
            proc.wait(timeout=30)


@contextmanager
def dask_cluster(workers: int, tmpdir: str | None) -> Iterator[DaskCluster]:
    """A running cluster of ``workers`` worker processes, stopped and removed on exit."""
    with tempfile.TemporaryDirectory(
        prefix="ppgbench-dask-", dir=tmpdir, ignore_cleanup_errors=True
    ) as tmp:
        cluster = DaskCluster(Path(tmp), workers)
        try:
            cluster.start()
            yield cluster
        finally:
            cluster.stop()
