"""One adapter per tool: declare the workload's jobs with that tool's API and run them once.

Each adapter runs inside a fresh case process whose working directory is the case's own
directory, and imports its tool lazily so that a missing tool fails only its own cases.
The tools in ``DASK_TOOLS`` run on a dask cluster the orchestrator started beforehand
(``cluster.py``), whose scheduler address the case finds in ``SCHEDULER_ENV``.
Job functions are closures over plain strings and floats, the way users of these tools
write them; every job also depends on a parameter the tool tracks.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workloads import HELPER_MODULE, JobSpec, Workload, do_job, helper_dir

Adapter = Callable[[Workload, list[JobSpec], int], None]

SCHEDULER_ENV = "PPGBENCH_DASK_SCHEDULER"


def path_job(workload: Workload, spec: JobSpec) -> Callable[[Path], None]:
    """A job function called as ``fn(path)`` (ppg_notebook, pypipegraph2)."""
    kind, param, upstream, seconds = workload.kind, spec.param, spec.upstream, workload.seconds

    def job(path: Path) -> None:
        do_job(kind, path, param, upstream, seconds)

    return job


def plain_job(workload: Workload, spec: JobSpec) -> Callable[[], None]:
    """A job function called as ``fn()`` (pypipegraph)."""
    kind, path, param = workload.kind, spec.path, spec.param
    upstream, seconds = spec.upstream, workload.seconds

    def job() -> None:
        do_job(kind, path, param, upstream, seconds)

    return job


def helper_job(workload: Workload, spec: JobSpec) -> Callable[[Path], None]:
    """The helper workload's job: a function of the helper module (workloads.py)."""
    import importlib

    return importlib.import_module(HELPER_MODULE).make_job(spec.param)  # type: ignore[no-any-return]


def declare_graph(
    module: Any, workload: Workload, specs: list[JobSpec], make_fn: Callable[..., Any]
) -> None:
    """Declare the jobs with the pypipegraph-style API shared by all three graph tools."""
    jobs: dict[str, Any] = {}
    if workload.kind == "helper":
        make_fn = helper_job
    for spec in specs:
        job = module.FileGeneratingJob(spec.path, make_fn(workload, spec))
        job.depends_on(module.ParameterInvariant(spec.name, spec.param))
        if spec.upstream is not None:
            job.depends_on(jobs[spec.upstream])
        jobs[spec.path] = job


def run_ppg_notebook(workload: Workload, specs: list[JobSpec], cores: int) -> None:
    import ppg_notebook as ppg

    ppg.new_pipeline(dir=".ppg", cores=cores, track=[helper_dir(os.getcwd())])
    declare_graph(ppg, workload, specs, path_job)
    ppg.run()


def run_ppg_notebook_untracked(workload: Workload, specs: list[JobSpec], cores: int) -> None:
    """ppg_notebook following neither the user's modules nor the files jobs read."""
    import ppg_notebook as ppg

    ppg.new_pipeline(dir=".ppg", cores=cores, track_reads=False)
    declare_graph(ppg, workload, specs, path_job)
    ppg.run()


def run_ppg_notebook_dask(workload: Workload, specs: list[JobSpec], cores: int) -> None:
    """ppg_notebook's dask backend, on the cluster whose address is in ``SCHEDULER_ENV``."""
    scheduler = os.environ.get(SCHEDULER_ENV)
    if not scheduler:
        sys.exit(f"{SCHEDULER_ENV} is not set (bench/run.py starts a dask cluster and sets it)")
    import ppg_notebook as ppg

    ppg.new_pipeline(dir=".ppg", cores=cores, backend="dask", scheduler=scheduler)
    declare_graph(ppg, workload, specs, path_job)
    ppg.run()


def run_pypipegraph2(workload: Workload, specs: list[JobSpec], cores: int) -> None:
    import pypipegraph2 as ppg2
    from pypipegraph2.graph import DirConfig

    # NONINTERACTIVE: the default CONSOLE mode wants a terminal; everything else is default.
    ppg2.new(cores=cores, run_mode=ppg2.RunMode.NONINTERACTIVE, dir_config=DirConfig(".ppg"))
    declare_graph(ppg2, workload, specs, path_job)
    ppg2.run()


def run_pypipegraph(workload: Workload, specs: list[JobSpec], cores: int) -> None:
    import pypipegraph as ppg1
    from pypipegraph.resource_coordinators import LocalSystem

    # pypipegraph walks the graph recursively: a long chain needs a deep stack.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20 * workload.n + 1000))
    coordinator = LocalSystem(max_cores_to_use=cores, interactive=False)
    ppg1.new_pipegraph(
        resource_coordinator=coordinator, quiet=True, dump_graph=False, interactive=False
    )
    declare_graph(ppg1, workload, specs, plain_job)
    ppg1.run_pipegraph()


def run_joblib(workload: Workload, specs: list[JobSpec], cores: int) -> None:
    """No graph: joblib.Memory decides what reruns from the hashed arguments.

    Independent jobs are checked against the cache in this process and only the missing
    ones are sent to joblib.Parallel; a chain runs in order, each step hashing its upstream's
    content as an argument so that a changed upstream reruns it.
    """
    import joblib

    memory = joblib.Memory(".joblib", verbose=0)
    if workload.kind == "chain":
        step = memory.cache(chain_content)
        for spec in specs:
            upstream = Path(spec.upstream).read_text() if spec.upstream else ""
            step(spec.path, spec.param, upstream)
        return
    cached = memory.cache(do_job)
    calls = [(workload.kind, spec.path, spec.param, None, workload.seconds) for spec in specs]
    todo = [args for args in calls if not cached.check_call_in_cache(*args)]
    if todo:
        joblib.Parallel(n_jobs=cores)(joblib.delayed(cached)(*args) for args in todo)


def chain_content(path: str, param: str, upstream_content: str) -> None:
    """joblib's chain step: like ``workloads.chain_step``, with the upstream content hashed."""
    Path(path).write_text(upstream_content + param + "\n")


ADAPTERS: dict[str, Adapter] = {
    "ppg": run_ppg_notebook,
    "ppg-notrack": run_ppg_notebook_untracked,
    "ppg-dask": run_ppg_notebook_dask,
    "ppg2": run_pypipegraph2,
    "ppg1": run_pypipegraph,
    "joblib": run_joblib,
}

DASK_TOOLS = frozenset({"ppg-dask"})

# The distributions whose versions the report lists for each tool.
DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "ppg": ("ppg_notebook",),
    "ppg-notrack": ("ppg_notebook",),
    "ppg-dask": ("ppg_notebook", "distributed"),
    "ppg2": ("pypipegraph2",),
    "ppg1": ("pypipegraph",),
    "joblib": ("joblib",),
}
