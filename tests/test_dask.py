"""`backend="dask"`: the same jobs on a real dask.distributed cluster — a `dask scheduler`
and `dask worker` processes started here, as a user would start them — from a script, a
notebook kernel, an exported script and the command line.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest
from conftest import PipelineScript, kill_group, wait_for, wait_for_file
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from ppg_notebook.notebook import export

BIN = Path(sys.executable).parent
DASK = shutil.which("dask", path=str(BIN)) or "dask"
CLI = shutil.which("ppg-notebook", path=str(BIN)) or "ppg-notebook"


@dataclass
class Cluster:
    """A dask scheduler and its workers, each a process of its own."""

    dir: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    address: str = ""

    def start(self, *args: str, prefix: tuple[str, ...] = ()) -> None:
        log = open(self.dir / f"{len(self.procs)}.log", "wb")  # noqa: SIM115 - kept by the process
        env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
        proc = subprocess.Popen(
            [*prefix, DASK, *args], stdout=log, stderr=subprocess.STDOUT, env=env,
            start_new_session=True,
        )  # fmt: skip
        self.procs.append(proc)

    def scheduler(self) -> str:
        file = self.dir / "scheduler.json"
        self.start("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                   "--scheduler-file", str(file))  # fmt: skip
        wait_for_file(file, timeout=60)
        self.address = wait_for(lambda: _address(file), timeout=30, what="the scheduler")
        return self.address

    def workers(self, count: int, *, blind_to: Path | None = None) -> None:
        """`count` single-threaded worker processes; `blind_to`: a directory they do not
        see (a private, empty filesystem is mounted over it for them alone)."""
        args = ("worker", self.address, "--nthreads", "1", "--nworkers", str(count),
                "--no-dashboard")  # fmt: skip
        prefix: tuple[str, ...] = ()
        if blind_to is not None:
            script = 'mount -t tmpfs none "$1" && shift && exec "$@"'
            prefix = ("unshare", "--mount", "sh", "-c", script, "sh", str(blind_to))
        self.start(*args, prefix=prefix)

    def wait_for_workers(self, count: int) -> None:
        import distributed

        with distributed.Client(self.address, timeout=30) as client:
            client.wait_for_workers(count, timeout=60)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            kill_group(proc)  # type: ignore[arg-type]
            proc.wait(timeout=30)


def _address(file: Path) -> str | None:
    try:
        return str(json.loads(file.read_text())["address"])
    except (ValueError, KeyError):
        return None


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    running = Cluster(tmp_path_factory.mktemp("dask"))
    try:
        running.scheduler()
        running.workers(2)
        running.wait_for_workers(2)
        yield running.address
    finally:
        running.stop()


PIPELINE = """
    ppg.new_pipeline(backend="dask", scheduler=sys.argv[1])
    MAIN = os.getpid()


    def write(path):
        mark(path.name)
        path.write_text(str(os.getpid()))


    files = [ppg.FileGeneratingJob(f"out/{i}.txt", write) for i in range(6)]


    def pids():
        mark("pids")
        return sorted({int(Path(f"out/{i}.txt").read_text()) for i in range(6)})


    workers = ppg.ValueJob("pids", pids).depends_on(files)
    FAIL
    run_and_report()
    print("main", MAIN, "workers", workers.value if MAIN else None)
"""


def test_jobs_run_in_the_cluster_workers_and_are_recorded_as_with_loky(
    script: PipelineScript, cluster: str
) -> None:
    script.write(PIPELINE.replace("FAIL", ""))
    first = script.run(cluster).ok()
    assert sorted(first.runs) == ["0.txt", "1.txt", "2.txt", "3.txt", "4.txt", "5.txt", "pids"]
    main, used = first.stdout.split("main ")[1].split(" workers ")
    pids = json.loads(used)
    assert 1 <= len(pids) <= 2 and int(main) not in pids  # the cluster's two processes
    assert script.run(cluster).ok().runs == []  # recorded: nothing to do
    output = script.dir / "out" / "3.txt"
    before = output.read_text()
    output.write_text("edited by hand")
    again = script.run(cluster).ok()
    # rewritten by a worker; `pids` reruns only if that output differs from what it read
    assert again.runs[0] == "3.txt" and int(output.read_text()) in pids
    assert again.runs[1:] == ([] if output.read_text() == before else ["pids"])


def test_a_failing_job_and_a_crashed_worker_fail_alone(
    script: PipelineScript, cluster: str
) -> None:
    failing = """
    def broken():
        raise ValueError("no such station")


    def crash():
        os._exit(3)


    ppg.ValueJob("broken", broken)
    ppg.ValueJob("crash", crash)
    """
    script.write(PIPELINE.replace("FAIL", textwrap.indent(textwrap.dedent(failing), "    ")))
    done = script.run(cluster, timeout=120)
    assert done.result is not None, done.describe()
    failed = done.result["failed"]
    assert set(failed) == {"broken", "crash"}, done.describe()
    assert "ValueError: no such station" in failed["broken"]
    assert "WorkerDied: the worker process running job 'crash' died" in failed["crash"]
    assert "Other jobs were not affected" in failed["crash"]
    assert sorted(done.result["ran"]) == [*(f"out/{i}.txt" for i in range(6)), "pids"]
    assert 'raise ValueError("no such station")' in done.result["error"]


def test_ctrl_c_keeps_what_finished_and_the_abandoned_job_leaves_outputs_alone(
    script: PipelineScript, cluster: str
) -> None:
    script.write(
        """
        ppg.new_pipeline(backend="dask", scheduler=sys.argv[1])


        def quick(path):
            mark("quick")
            path.write_text("done")


        def slow(path):
            with open(path, "w") as f:
                f.write("half")
                f.flush()
                mark("slow started")
                while not os.path.exists("release"):
                    time.sleep(0.05)
                mark("slow ended")
                if os.path.exists("fail late"):
                    raise RuntimeError("failed after the run was interrupted")
                f.write(" and the rest")


        ppg.FileGeneratingJob("slow.txt", slow).depends_on(
            ppg.FileGeneratingJob("quick.txt", quick)
        )
        run_and_report()
        """
    )
    proc = script.start(cluster)
    wait_for(lambda: "slow started" in _read(script.runs_log), 60, "the slow job to start", proc)
    wait_for(lambda: _recorded(script, "quick.txt"), 30, "the quick job to be recorded", proc)
    os.kill(proc.pid, signal.SIGINT)
    interrupted = script.finish(proc, timeout=15)
    assert "KeyboardInterrupt" in interrupted.stderr, interrupted.describe()
    records = script.history()
    assert records["quick.txt"]["o"] == "ok"
    assert "slow.txt" not in records
    assert not (script.dir / "slow.txt").exists()  # removed, though its job goes on

    # The abandoned job fails on its worker after a later run wrote its output: it must
    # not remove that output.
    (script.dir / "slow.txt").write_text("written by the next run")
    (script.dir / "fail late").write_text("")
    (script.dir / "release").write_text("")
    wait_for(lambda: "slow ended" in _read(script.runs_log), 30, "the abandoned job to end")
    time.sleep(0.5)  # it has raised by now; its worker would remove outputs next
    assert (script.dir / "slow.txt").read_text() == "written by the next run"

    (script.dir / "fail late").unlink()
    (script.dir / "slow.txt").unlink()
    resumed = script.run(cluster, timeout=60).ok()
    assert resumed.ran == ["slow.txt"]
    assert (script.dir / "slow.txt").read_text() == "half and the rest"


def _recorded(script: PipelineScript, job_id: str) -> bool:
    try:
        return script.history().get(job_id, {}).get("o") == "ok"
    except sqlite3.Error:  # not created yet
        return False


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def test_workers_that_do_not_share_the_directory_stop_the_run_before_any_job(
    tmp_path: Path,
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    own = Cluster(tmp_path)
    try:
        address = own.scheduler()
        own.workers(1)
        own.workers(1, blind_to=project)
        own.wait_for_workers(2)
        script = PipelineScript(project)
        script.write(PIPELINE.replace("FAIL", ""))
        done = script.run(address, timeout=120)
    finally:
        own.stop()
    assert done.returncode != 0
    assert "does not see this pipeline's directory" in done.stderr, done.describe()
    assert str(project / ".ppg") in done.stderr
    assert "1 of 2 workers cannot" in done.stderr
    assert "filesystem they share" in done.stderr
    assert done.runs == [] and not (project / "out").exists()


def test_a_run_waits_for_workers_to_join_and_says_when_none_do(tmp_path: Path) -> None:
    """A nanny restarts a worker a job crashed within seconds: a run starting meanwhile
    waits for it; with no worker at all it stops, saying how to start one."""
    project = tmp_path / "project"
    project.mkdir()
    own = Cluster(tmp_path)
    script = PipelineScript(project)
    try:
        address = own.scheduler()
        script.write(PIPELINE.replace("FAIL", ""))
        alone = script.run(address, timeout=120)
        assert alone.returncode == 1
        assert f"the dask scheduler at {address} has no workers (waited 10 s)" in alone.stderr
        assert f"start some with `dask worker {address}`" in alone.stderr, alone.describe()
        waiting = script.start(address)
        time.sleep(1)
        own.workers(1)
        done = script.finish(waiting, timeout=120).ok()
    finally:
        script.cleanup()
        own.stop()
    assert done.result is not None and len(done.result["ran"]) == 7, done.describe()


def test_a_running_client_can_be_given_instead_of_an_address(
    script: PipelineScript, cluster: str
) -> None:
    script.write(
        """
        from distributed import Client

        if __name__ == "__main__":
            with Client(sys.argv[1]) as client:
                ppg.new_pipeline(backend="dask", scheduler=client)
                ppg.FileGeneratingJob("pid.txt", lambda path: path.write_text(str(os.getpid())))
                run_and_report()
        """
    )
    done = script.run(cluster, timeout=60).ok()
    assert done.ran == ["pid.txt"]
    assert int((script.dir / "pid.txt").read_text()) != os.getpid()


@pytest.mark.parametrize(
    ("scheduler", "says"),
    [
        (None, "backend='dask' needs a cluster: pass scheduler='tcp://host:8786'"),
        ("'tcp://127.0.0.1:1'", "cannot reach the dask scheduler at 'tcp://127.0.0.1:1'"),
    ],
)
def test_without_a_cluster_the_run_says_how_to_get_one(
    script: PipelineScript, scheduler: str | None, says: str
) -> None:
    script.write(
        f"""
        ppg.new_pipeline(backend="dask", scheduler={scheduler})
        ppg.FileGeneratingJob("a.txt", lambda path: path.write_text("a"))
        ppg.run()
        """
    )
    done = script.run(timeout=60)
    assert done.returncode == 1
    assert f"ppg_notebook.errors.PipelineError: {says}" in done.stderr, done.describe()
    assert not (script.dir / "a.txt").exists()


NOTEBOOK = [
    "%load_ext ppg_notebook",
    "%ppg_new --backend dask --scheduler {address}",
    "import os\n\nMAIN = os.getpid()",
    "%%ppg_job worker_pid\nworker_pid = os.getpid()",
    "%%ppg_job doubled --out doubled.txt\nout.write_text(str(worker_pid * 2))",
    "assert worker_pid != MAIN, (worker_pid, MAIN)",
]


def test_a_notebook_runs_its_cells_on_the_cluster_and_exports_a_script_that_does_too(
    tmp_path: Path, cluster: str
) -> None:
    cells = [source.format(address=cluster) for source in NOTEBOOK]
    notebook = new_notebook(cells=[new_code_cell(source) for source in cells])
    where = {"metadata": {"path": str(tmp_path)}}
    NotebookClient(notebook, timeout=180, kernel_name="python3", resources=where).execute()
    pid = int((tmp_path / "doubled.txt").read_text()) // 2
    assert pid != os.getpid()

    nbformat.write(notebook, tmp_path / "cluster.ipynb")
    script = export.export([("code", source) for source in cells])
    assert f'"--scheduler", default="{cluster}"' in script.text
    (tmp_path / "pipeline.py").write_text(script.text)
    (tmp_path / "doubled.txt").unlink()
    done = subprocess.run(
        [sys.executable, "pipeline.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "ran: doubled" in done.stdout and "1 up to date" in done.stdout
    (tmp_path / "doubled.txt").unlink()
    run = subprocess.run(
        [CLI, "run", "cluster.ipynb", "--backend", "dask", "--scheduler", cluster],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert int((tmp_path / "doubled.txt").read_text()) == pid * 2
