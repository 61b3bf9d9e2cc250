"""Benchmark ppg_notebook (loky and dask backends) against pypipegraph2, pypipegraph and a
plain joblib baseline.

Usage (from the dev venv, one command; each phase runs as its own fresh process)::

    /work/venv/bin/python bench/run.py                       # everything, 3 repeats
    /work/venv/bin/python bench/run.py --quick               # tiny sizes: smoke test
    /work/venv/bin/python bench/run.py --tools ppg2,ppg1,joblib --repeats 1 \\
        --markdown /tmp/bench.md --json /tmp/bench.json

Options: ``--tools`` (ppg, ppg-notrack, ppg-dask, ppg2, ppg1, joblib; by default all of
them, except ppg-dask when ``distributed`` cannot be imported), ``--workloads``
(fanout-1000, fanout-10000, chain-500, cpu-8, helper-10000, fanout-100000, chain-5000),
``--slow-peers`` (pypipegraph2, pypipegraph and ppg-dask on fanout-100000 too: tens of
minutes each), ``--repeats N`` (default 3), ``--quick``, ``--timeout S`` per phase (default
600), ``--markdown PATH``, ``--json PATH``, ``--tmpdir DIR``.

Workloads (every job also depends on a tracked parameter)::

    fanout-N  N independent jobs, job i writes out/i.txt holding its parameter
    chain-N   job i reads out/(i-1).txt and writes it plus its parameter to out/i.txt
    cpu-8     8 jobs of 0.5 s CPU time each (busy loop on process_time) on cores=2
    helper-N  N jobs made by a function of the user's module bench_helpers.py that call a
              helper of it and read data.txt by path (ppg and ppg-notrack only: what
              following the user's code and reads costs, SPEC §3a)

ppg-notrack is ppg_notebook with ``track_reads=False`` and the helper module outside the
user's directories (ppg gives it as ``track=``).

fanout and chain use all CPUs (an explicit ``cores=os.cpu_count()`` for every tool).
Each (tool, workload, repeat) gets an empty temporary directory and three phases, each a
fresh Python process timed by its parent with ``time.perf_counter`` around the whole process:
*cold* (nothing there), *no-op* (rerun, nothing changed), *change* (one parameter edited: job 0
for fanout, the middle job for chain, so half the chain reruns). After each phase the
harness counts the output files whose mtime changed and flags a tool that rewrote more or
fewer than a correct tool would. Memory: the case process reports its own peak RSS
(``RUSAGE_SELF``); ``measure.py``, its only parent, reports ``RUSAGE_CHILDREN`` (the largest
process in the tree, workers included). The table shows medians, each peer's ratio to
ppg_notebook, and the targets.

ppg-dask (ppg_notebook with ``backend="dask"``) runs each case on a dask cluster of its own:
a scheduler and one single-threaded worker process per core of the case, started before the
case's cold phase and stopped after its change phase, outside every timing (cluster.py).
Its phases find the scheduler's address in the environment (``tools.SCHEDULER_ENV``); the
CPU time the cluster uses during a phase counts as the case's own, not as background load.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

from cluster import ClusterError, DaskCluster, dask_available, dask_cluster
from report import LEGEND, TOOL_TITLES, markdown_table, notes
from results import PhaseResult
from tools import ADAPTERS, DASK_TOOLS, DISTRIBUTIONS, SCHEDULER_ENV
from workloads import FULL_WORKLOADS, OUT_DIR, PHASES, Workload, expected_reruns, quick_variant

HERE = Path(__file__).resolve().parent
STDERR_TAIL_LINES = 15


@dataclasses.dataclass(frozen=True)
class Config:
    tools: list[str]
    workloads: list[Workload]
    repeats: int
    timeout: float
    tmpdir: str | None
    cores: int
    slow_peers: bool = False


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--tools", help="comma-separated (default: all; ppg-dask only if distributed imports)"
    )
    parser.add_argument(
        "--workloads", default=",".join(w.name for w in FULL_WORKLOADS), help="comma-separated"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for smoke tests")
    parser.add_argument(
        "--slow-peers",
        action="store_true",
        help="also run the peers on the 100,000-job workload (tens of minutes each)",
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per phase")
    parser.add_argument("--markdown", type=Path, help="write the report here")
    parser.add_argument("--json", type=Path, help="write every phase's raw result here")
    parser.add_argument("--tmpdir", help="where the per-case directories go")
    return parser.parse_args(argv)


def split_choices(text: str, known: list[str], what: str) -> list[str]:
    chosen = [item.strip() for item in text.split(",") if item.strip()]
    unknown = [item for item in chosen if item not in known]
    if unknown:
        sys.exit(f"unknown {what}: {', '.join(unknown)} (known: {', '.join(known)})")
    return chosen


def default_tools() -> str:
    """Every tool, leaving out the dask ones (with a note) if ``distributed`` is missing."""
    tools = list(ADAPTERS)
    if not dask_available():
        print(
            f"note: skipping {', '.join(sorted(DASK_TOOLS))}: `import distributed` fails "
            "(pip install 'ppg_notebook[dask]')",
            file=sys.stderr,
        )
        tools = [tool for tool in tools if tool not in DASK_TOOLS]
    return ",".join(tools)


def make_config(args: argparse.Namespace) -> Config:
    tools = split_choices(args.tools or default_tools(), list(ADAPTERS), "tool")
    by_name = {w.name: w for w in FULL_WORKLOADS}
    names = split_choices(args.workloads, list(by_name), "workload")
    workloads = [quick_variant(by_name[n]) if args.quick else by_name[n] for n in names]
    return Config(
        tools,
        workloads,
        args.repeats,
        args.timeout,
        args.tmpdir,
        os.cpu_count() or 1,
        args.slow_peers,
    )


# -- machine -----------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_total() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def version_of(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_info(tools: list[str]) -> dict[str, str]:
    info = {
        "nproc": str(os.cpu_count()),
        "usable CPUs": str(len(os.sched_getaffinity(0))),
        "CPU": cpu_model(),
        "memory": memory_total(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "OS": platform.platform(),
    }
    for tool in tools:
        versions = [(dist, version_of(dist)) for dist in DISTRIBUTIONS[tool]]
        if len(versions) == 1:
            info[TOOL_TITLES[tool]] = versions[0][1]
        else:
            info[TOOL_TITLES[tool]] = ", ".join(f"{dist} {version}" for dist, version in versions)
    return info


# -- running -----------------------------------------------------------------------------


def snapshot(out_dir: Path) -> dict[str, int]:
    """Output file name -> mtime in ns."""
    if not out_dir.is_dir():
        return {}
    return {entry.name: entry.stat().st_mtime_ns for entry in os.scandir(out_dir)}


def case_command(tool: str, workload: Workload, cores: int, phase: str, workdir: Path) -> list[str]:
    report = workdir.parent / f"{phase}.json"
    return [
        sys.executable, str(HERE / "case.py"), tool, workload.kind, str(workload.n),
        str(workload.cores or cores), str(workload.seconds), phase, str(workdir), str(report),
    ]  # fmt: skip


def measure(
    command: list[str], logs: Path, phase: str, timeout: float, cluster: DaskCluster | None
) -> dict[str, Any]:
    """Run ``command`` under measure.py; its JSON verdict, or an error verdict.

    With a ``cluster``, the command finds its address in ``SCHEDULER_ENV`` and the CPU time
    the cluster's processes use meanwhile counts as the command's own.
    """
    stdout, stderr = logs / f"{phase}.stdout", logs / f"{phase}.stderr"
    wrapper = [sys.executable, str(HERE / "measure.py"), str(timeout), str(stdout), str(stderr)]
    env = None
    if cluster is not None:
        wrapper += ["--own-sessions", ",".join(map(str, cluster.sessions))]
        env = {**os.environ, SCHEDULER_ENV: cluster.address}
    try:
        done = subprocess.run(
            [*wrapper, "--", *command],
            capture_output=True,
            text=True,
            timeout=timeout + 60,
            env=env,
        )
        return json.loads(done.stdout)
    except (subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
        return {"status": "error", "wrapper_failure": repr(exc)}


def print_stderr_tail(path: Path, title: str) -> None:
    text = path.read_text(errors="replace") if path.exists() else "(no stderr)"
    tail = "\n".join(text.splitlines()[-STDERR_TAIL_LINES:])
    print(f"--- {title}: stderr tail ---\n{tail}\n---", file=sys.stderr)


def run_phase(
    tool: str,
    workload: Workload,
    repeat: int,
    phase: str,
    workdir: Path,
    config: Config,
    cluster: DaskCluster | None,
) -> PhaseResult:
    before = snapshot(workdir / OUT_DIR)
    command = case_command(tool, workload, config.cores, phase, workdir)
    # What earlier phases and cases wrote (and removed: 100,000 files) is on disk before
    # this one starts, so their write-back does not slow it (not timed).
    os.sync()
    verdict = measure(command, workdir.parent, phase, config.timeout, cluster)
    report = workdir.parent / f"{phase}.json"
    status = str(verdict["status"])
    if status == "ok" and not report.exists():
        status = "error"  # the tool's run() returned to a process that then died
    base = PhaseResult(tool, workload.name, repeat, phase, status)
    if status != "ok":
        print_stderr_tail(workdir.parent / f"{phase}.stderr", f"{tool} {workload.name} {phase}")
        return dataclasses.replace(base, seconds=verdict.get("seconds"))
    after = snapshot(workdir / OUT_DIR)
    own = json.loads(report.read_text())
    return dataclasses.replace(
        base,
        seconds=verdict["seconds"],
        main_rss_mb=own["main_rss_mb"],
        tree_rss_mb=verdict["tree_rss_mb"],
        rewritten=sum(1 for name, mtime in after.items() if before.get(name) != mtime),
        expected=expected_reruns(workload, phase),
        missing=workload.n - len(after),
        stray_processes=bool(verdict.get("stray_processes")),
        background_cpu_s=verdict["background_cpu_s"],
    )


def run_case(tool: str, workload: Workload, repeat: int, config: Config) -> list[PhaseResult]:
    """The case's phases; a dask tool's inside a dask cluster started for this case alone
    (not timed: other tools' cases then never run beside an idle cluster)."""
    if tool not in DASK_TOOLS:
        return run_phases(tool, workload, repeat, config, None)
    try:
        with dask_cluster(workload.cores or config.cores, config.tmpdir) as cluster:
            return run_phases(tool, workload, repeat, config, cluster)
    except ClusterError as exc:
        print(f"--- {tool} {workload.name}: {exc}\n---", file=sys.stderr)
        results = [PhaseResult(tool, workload.name, repeat, PHASES[0], "error")]
        results += [PhaseResult(tool, workload.name, repeat, p, "skipped") for p in PHASES[1:]]
        for result in results:
            log_progress(result)
        return results


def run_phases(
    tool: str, workload: Workload, repeat: int, config: Config, cluster: DaskCluster | None
) -> list[PhaseResult]:
    """Cold, no-op and change phases in one fresh directory; stops at the first failure."""
    results: list[PhaseResult] = []
    prefix = f"ppgbench-{tool}-{workload.name}-"
    with tempfile.TemporaryDirectory(prefix=prefix, dir=config.tmpdir) as tmp:
        workdir = Path(tmp) / "work"
        workdir.mkdir()
        for phase in PHASES:
            if results and results[-1].status != "ok":
                results.append(PhaseResult(tool, workload.name, repeat, phase, "skipped"))
                continue
            results.append(run_phase(tool, workload, repeat, phase, workdir, config, cluster))
            log_progress(results[-1])
    return results


def log_progress(r: PhaseResult) -> None:
    seconds = "" if r.seconds is None else f" {r.seconds:.2f} s"
    memory = "" if r.main_rss_mb is None else f", main {r.main_rss_mb:.0f} MB"
    check = " (unexpected rewrites!)" if r.suspicious else ""
    noise = "" if r.background_cpu_s is None else f", background CPU {r.background_cpu_s:.1f} s"
    print(
        f"[{r.tool} {r.workload} #{r.repeat + 1} {r.phase}] {r.status}{seconds}{memory}{noise}"
        + check,
        file=sys.stderr,
        flush=True,
    )


def run_all(config: Config) -> list[PhaseResult]:
    """Repeats outermost, so slow drifts of the machine hit every tool alike."""
    results: list[PhaseResult] = []
    for repeat in range(config.repeats):
        for workload in config.workloads:
            for tool in config.tools:
                if workload.only and tool not in workload.only:
                    continue
                if tool in workload.slow and not config.slow_peers:
                    continue
                results.extend(run_case(tool, workload, repeat, config))
    return results


# -- output ------------------------------------------------------------------------------


def render(
    config: Config, info: dict[str, str], results: list[PhaseResult], argv: list[str]
) -> str:
    command = " ".join(["python bench/run.py", *argv])
    machine = "\n".join(f"- {key}: {value}" for key, value in info.items())
    table = markdown_table(config.workloads, results, config.tools, config.cores)
    remarks = "\n".join(f"- {line}" for line in notes(results, config.cores)) or "- none"
    return (
        f"Command: `{command}` (repeats: {config.repeats})\n\n{machine}\n\n{table}\n\n"
        f"{LEGEND}\n\nNotes:\n{remarks}\n"
    )


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    config = make_config(args)
    info = machine_info(config.tools)
    results = run_all(config)
    text = render(config, info, results, argv)
    print(text)
    if args.markdown:
        args.markdown.write_text(text)
    if args.json:
        raw = {"machine": info, "results": [dataclasses.asdict(r) for r in results]}
        args.json.write_text(json.dumps(raw, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
