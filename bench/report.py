"""Turn phase results into the comparison table (markdown, also printed as plain text)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from results import PhaseResult, Stat, difference, median_of
from tools import DASK_TOOLS
from workloads import Workload, change_reruns

TOOL_TITLES = {
    "ppg": "ppg_notebook",
    "ppg-notrack": "ppg_notebook (no tracking)",
    "ppg-dask": "ppg_notebook (dask)",
    "ppg2": "pypipegraph2",
    "ppg1": "pypipegraph",
    "joblib": "joblib (no graph)",
}
BASELINE = "ppg"

# Targets for ppg_notebook, by (workload, metric).
TARGETS: dict[tuple[str, str], float] = {
    ("fanout-1000", "cold"): 1.0,
    ("fanout-10000", "cold"): 6.0,
    ("fanout-10000", "noop"): 1.0,
    ("chain-500", "cold"): 1.0,
    ("chain-500", "change"): 0.6,
    ("cpu-8", "work"): 2.06,
    ("fanout-10000", "main_rss"): 150.0,
    ("fanout-100000", "cold"): 15.0,
    ("fanout-100000", "noop"): 2.0,
    ("fanout-100000", "main_rss"): 250.0,
}

# Figures measured earlier on a machine like this one: pypipegraph2 / pypipegraph / joblib.
REFERENCE: dict[tuple[str, str], str] = {
    ("fanout-1000", "cold"): "11.5 / 5.1 / 0.54",
    ("fanout-10000", "cold"): "118.8 / 44.6 / 3.3",
    ("fanout-10000", "noop"): "4.15 / 1.21 / 1.27",
    ("chain-500", "cold"): "12.1 / 3.4 / 0.57",
    ("chain-500", "change"): "6.2 / 1.8 / 0.37",
    ("cpu-8", "work"): "2.53 / 2.08 / 2.05",
    ("fanout-10000", "main_rss"): "191 / 179 / 28",
    ("fanout-100000", "cold"): "1535 (published) / - / -",
    ("fanout-100000", "noop"): "about 60 (published) / - / -",
}

StatFn = Callable[[list[PhaseResult], str], Stat]


@dataclass(frozen=True)
class Metric:
    """One table row: a label, how to compute each tool's value, and its unit."""

    workload: str
    key: str
    label: str
    unit: str  # "s" | "MB"
    compute: StatFn


def phase_metric(workload: Workload, phase: str, label: str) -> Metric:
    def compute(results: list[PhaseResult], tool: str) -> Stat:
        return median_of(results, tool, workload.name, phase)

    return Metric(workload.name, phase, f"{workload.name} {label}", "s", compute)


def work_metric(workload: Workload, cores: int) -> Metric:
    def compute(results: list[PhaseResult], tool: str) -> Stat:
        cold = median_of(results, tool, workload.name, "cold")
        return difference(cold, median_of(results, tool, workload.name, "noop"))

    ideal = workload.ideal_work_seconds(cores)
    label = f"{workload.name} cold − no-op (ideal {ideal:.2f})"
    return Metric(workload.name, "work", label, "s", compute)


def memory_metric(workload: Workload, field: str, label: str) -> Metric:
    def compute(results: list[PhaseResult], tool: str) -> Stat:
        return median_of(results, tool, workload.name, "cold", field)

    key = field.removesuffix("_mb")
    return Metric(workload.name, key, f"{workload.name} cold: {label}", "MB", compute)


def metrics_for(workload: Workload, cores: int) -> list[Metric]:
    """The rows one workload contributes, in table order."""
    where = "middle" if workload.kind == "chain" else "one"
    rows = [
        phase_metric(workload, "cold", "cold"),
        phase_metric(workload, "noop", "no-op"),
        phase_metric(
            workload, "change", f"{where} param changed ({change_reruns(workload)} rerun)"
        ),
    ]
    if workload.kind == "cpu":
        rows.append(work_metric(workload, cores))
    if workload.measure_memory:
        rows.append(memory_metric(workload, "main_rss_mb", "peak RSS, main process"))
        rows.append(memory_metric(workload, "tree_rss_mb", "peak RSS, largest process"))
    return rows


def format_value(value: float, unit: str) -> str:
    if unit == "MB":
        return f"{value:.0f}"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def format_cell(stat: Stat, unit: str, base: Stat | None, target: float | None) -> str:
    """A tool's cell: value, ratio to ppg_notebook (or target check for ppg_notebook)."""
    if stat.value is None:
        return stat.failure or "n/a"
    text = format_value(stat.value, unit)
    if base is None and target is not None:
        text += " ✓" if stat.value <= target else " ✗"
    elif base is not None and base.value:
        text += f" (×{stat.value / base.value:.1f})"
    return text + (" ‡" if stat.suspicious else "")


def table_row(metric: Metric, results: list[PhaseResult], tools: list[str]) -> list[str]:
    target = TARGETS.get((metric.workload, metric.key))
    stats = {tool: metric.compute(results, tool) for tool in tools}
    base = stats.get(BASELINE)
    cells = [f"{metric.label} [{metric.unit}]", "" if target is None else f"≤ {target:g}"]
    for tool in tools:
        is_base = tool == BASELINE
        ratio_base = None if is_base or base is None or base.value is None else base
        cells.append(format_cell(stats[tool], metric.unit, ratio_base, target if is_base else None))
    cells.append(REFERENCE.get((metric.workload, metric.key), ""))
    return cells


def markdown_table(
    workloads: list[Workload], results: list[PhaseResult], tools: list[str], cores: int
) -> str:
    header = [
        "metric",
        "target",
        *(TOOL_TITLES[t] for t in tools),
        "earlier (ppg2 / ppg1 / joblib)",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for workload in workloads:
        for metric in metrics_for(workload, workload.cores or cores):
            lines.append("| " + " | ".join(table_row(metric, results, tools)) + " |")
    return "\n".join(lines)


LEGEND = (
    "Medians over repeats; times are whole fresh processes (interpreter start included). "
    "`(×r)` = this tool / ppg_notebook; ✓/✗ = ppg_notebook against its target; "
    "`error` / `timeout` = at least one repeat failed (`skipped`: an earlier phase did); "
    "‡ = the run did not (re)write the outputs a correct run would (see notes)."
)


def stray_notes(results: list[PhaseResult]) -> list[str]:
    """One line per tool whose workers outlived its main process."""
    remarks = []
    for tool, title in TOOL_TITLES.items():
        phases = [r for r in results if r.tool == tool and r.stray_processes]
        if phases:
            remarks.append(
                f"{title}: in {len(phases)} phases, processes outlived the main process "
                "(killed by the harness right after it exited)"
            )
    return remarks


def noise_notes(results: list[PhaseResult], cpus: int) -> list[str]:
    """Per tool: the share of the machine other processes used while it was measured."""
    remarks = []
    for tool, title in TOOL_TITLES.items():
        timed = [r for r in results if r.tool == tool and r.background_cpu_s is not None]
        wall = sum(r.seconds or 0.0 for r in timed) * cpus
        if timed and wall > 0:
            share = sum(r.background_cpu_s or 0.0 for r in timed) / wall
            remarks.append(f"{title}: other processes used {share:.0%} of the CPUs meanwhile")
    return remarks


def cluster_notes(results: list[PhaseResult]) -> list[str]:
    """How the dask tools were run: on a cluster started beforehand, not timed."""
    remarks = []
    for tool in sorted({r.tool for r in results} & DASK_TOOLS):
        remarks.append(
            f"{TOOL_TITLES[tool]}: each case ran on a dask cluster (a scheduler and one "
            "single-threaded worker process per core of the case) started before its cold "
            "phase and stopped after its change phase; starting it is not timed. The cluster's "
            "CPU time counts as the tool's own, not as background; its memory rows cover the "
            "client process only (the workers are not its children)"
        )
    return remarks


def notes(results: list[PhaseResult], cpus: int) -> list[str]:
    """Human-readable remarks on load, failures, wrong reruns and stray processes."""
    remarks = cluster_notes(results) + noise_notes(results, cpus) + stray_notes(results)
    for r in results:
        where = f"{TOOL_TITLES[r.tool]} {r.workload} #{r.repeat + 1} {r.phase}"
        if r.status in ("error", "timeout"):
            remarks.append(f"{where}: {r.status}")
        if r.suspicious:
            remarks.append(
                f"{where}: rewrote {r.rewritten} outputs (expected {r.expected}), "
                f"{r.missing} missing"
            )
    return remarks
