"""The benchmark workloads: which jobs exist, what each one does, and what a phase must rerun.

Imported both by the orchestrator (to check outputs) and by every case process (to build the
jobs), so it imports nothing of the tools under test.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

OUT_DIR = "out"
PHASES = ("cold", "noop", "change")


@dataclass(frozen=True)
class Workload:
    """One workload at one size; ``cores=None`` means all CPUs of the machine."""

    name: str
    kind: str  # "fanout" | "chain" | "cpu" | "helper"
    n: int
    cores: int | None = None
    seconds: float = 0.0  # CPU seconds per job, cpu workloads only
    measure_memory: bool = False  # its cold run feeds the peak-memory rows
    only: tuple[str, ...] = ()  # the tools that run it (all when empty)
    slow: tuple[str, ...] = ()  # tools that run it only with --slow-peers (tens of minutes)

    def ideal_work_seconds(self, cores: int) -> float:
        """Wall time of the pure CPU work on ``cores`` cores with zero overhead."""
        return self.n * self.seconds / cores


FULL_WORKLOADS = (
    Workload("fanout-1000", "fanout", 1000),
    Workload("fanout-10000", "fanout", 10000, measure_memory=True),
    Workload("chain-500", "chain", 500),
    Workload("cpu-8", "cpu", 8, cores=2, seconds=0.5),
    # What tracking the user's code and reads costs (SPEC §3a): ppg_notebook with and
    # without it, on a fanout whose jobs call a helper module and read a data file.
    Workload("helper-10000", "helper", 10000, only=("ppg", "ppg-notrack")),
    # Scale (pypipegraph2 publishes 100k jobs: first run 25 min 35 s, no-op about a minute).
    Workload(
        "fanout-100000", "fanout", 100000, measure_memory=True, slow=("ppg2", "ppg1", "ppg-dask")
    ),
    Workload("chain-5000", "chain", 5000),
)

# --quick: same shapes, tiny sizes, for smoke-testing the harness (minutes, not an hour).
QUICK_SIZES = {
    "fanout-1000": ("fanout-20", 20, 0.0),
    "fanout-10000": ("fanout-100", 100, 0.0),
    "chain-500": ("chain-10", 10, 0.0),
    "cpu-8": ("cpu-4", 4, 0.1),
    "helper-10000": ("helper-100", 100, 0.0),
    "fanout-100000": ("fanout-500", 500, 0.0),
    "chain-5000": ("chain-50", 50, 0.0),
}


def quick_variant(workload: Workload) -> Workload:
    """The small stand-in for a full-size workload."""
    name, n, seconds = QUICK_SIZES[workload.name]
    return replace(workload, name=name, n=n, seconds=seconds)


@dataclass(frozen=True)
class JobSpec:
    """One job: writes ``path``; tracks ``param``; reads ``upstream`` if it is set."""

    name: str
    path: str
    param: str
    upstream: str | None


def changed_index(kind: str, n: int) -> int:
    """The job whose parameter the *change* phase edits (the middle one for chains)."""
    return n // 2 if kind == "chain" else 0


def job_specs(workload: Workload, changed: bool) -> list[JobSpec]:
    """The jobs of ``workload``; with ``changed`` one parameter differs from the cold run."""
    target = changed_index(workload.kind, workload.n)
    specs = []
    for i in range(workload.n):
        param = f"{workload.kind}-{i}" + ("-changed" if changed and i == target else "")
        upstream = f"{OUT_DIR}/{i - 1}.txt" if workload.kind == "chain" and i > 0 else None
        specs.append(JobSpec(f"job{i}", f"{OUT_DIR}/{i}.txt", param, upstream))
    return specs


def change_reruns(workload: Workload) -> int:
    """Jobs the *change* phase must rerun: the edited one and, in a chain, all below it."""
    if workload.kind == "chain":
        return workload.n - changed_index(workload.kind, workload.n)
    return 1


def expected_reruns(workload: Workload, phase: str) -> int:
    """How many output files a correct tool (re)writes in ``phase``."""
    if phase == "cold":
        return workload.n
    if phase == "noop":
        return 0
    return change_reruns(workload)


# The helper workload's module: in a directory of its own beside the case's working
# directory (given to ppg_notebook as a tracked path), so that the same code is the user's
# code for one tool and a library's for the other. Its job functions are defined in it.
HELPER_MODULE = "bench_helpers"
HELPER_SOURCE = """
from pathlib import Path

DATA = "data.txt"


def render(param, data):
    return param + " " + str(len(data)) + "\\n"


def make_job(param):
    def job(path):
        path.write_text(render(param, Path(DATA).read_text()))

    return job
"""


def helper_dir(workdir: str | Path) -> Path:
    return Path(workdir).resolve().parent / "lib"


def prepare_helper(workdir: str | Path) -> Path:
    """Write the helper module and the data file its jobs read (once per case)."""
    lib = helper_dir(workdir)
    module = lib / f"{HELPER_MODULE}.py"
    if not module.exists():
        lib.mkdir(exist_ok=True)
        module.write_text(HELPER_SOURCE)
        (Path(workdir) / "data.txt").write_text("a small data file\n")
    return lib


def write_text(path: str | Path, param: str) -> None:
    """The fanout job body: a small text file holding the parameter."""
    Path(path).write_text(param + "\n")


def chain_step(path: str | Path, param: str, upstream: str | None) -> None:
    """The chain job body: upstream's content plus this job's parameter."""
    before = Path(upstream).read_text() if upstream else ""
    Path(path).write_text(before + param + "\n")


def burn_cpu(path: str | Path, param: str, seconds: float) -> None:
    """The cpu job body: busy-loop for ``seconds`` of this process's CPU time, then write.

    CPU time (not wall time) so a tool that oversubscribes the cores gains nothing.
    """
    start = time.process_time()
    spins = 0
    while time.process_time() - start < seconds:
        spins += 1
    Path(path).write_text(f"{param} {spins}\n")


def do_job(kind: str, path: str | Path, param: str, upstream: str | None, seconds: float) -> None:
    """Do one job's work; the single entry point the tool adapters call from their jobs.

    Takes plain values only, so a tool fingerprinting the calling closure sees strings and
    floats, not benchmark objects.
    """
    if kind == "fanout":
        write_text(path, param)
    elif kind == "chain":
        chain_step(path, param, upstream)
    else:
        burn_cpu(path, param, seconds)
