"""What the notebook layer shows: one-line run summaries, the status table, job errors.

Plain data in, text or HTML out; nothing here runs or declares jobs.
"""

from __future__ import annotations

import html
import linecache
import os
import re
import time
from typing import Any

from .. import status
from ..errors import FailedBefore
from ..events import Outcome, RunResult
from . import cellfunc

_FRAME = re.compile(r'^  File "(?P<file>.+)", line (?P<line>\d+), in (?P<fn>.+)$')
COLUMNS = ("job", "kind", "state", "why", "uses", "last run", "duration")
_STATE_COLOURS = {
    status.UP_TO_DATE: "#2e7d32",
    status.MUST_RUN: "#b26a00",
    status.MAY_RUN: "#b26a00",
    status.FAILED: "#c62828",
    status.ON_DEMAND: "#616161",
}


def seconds(duration: float | None) -> str:
    if duration is None:
        return ""
    return f"{duration * 1000:.0f} ms" if duration < 1 else f"{duration:.2f} s"


def when(timestamp: float | None) -> str:
    """A job's last start, in local time ("never" if it never ran)."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp)) if timestamp else "never"


def uses(row: dict[str, Any]) -> str:
    """What a job was seen to use beyond what it declares (SPEC §3a): files it read at run
    time, and the user modules its code reaches."""
    parts = []
    found = list(row.get("reads") or ())
    if found:
        more = f" and {len(found) - 3} more" if len(found) > 3 else ""
        parts.append("reads " + ", ".join(found[:3]) + more)
    modules = list(row.get("modules") or ())
    if modules:
        parts.append("code in " + ", ".join(modules))
    return "; ".join(parts)


def failed_why(row: dict[str, Any]) -> str:
    """A status row's reason to run; for a failed job, its error."""
    return row["why"] or (row["error"] if row["state"] == "failed" else "")


def summary(
    result: RunResult,
    targets: list[str],
    label: Any,
    values: set[str] | frozenset[str] = frozenset(),
) -> str:
    """One line: what happened to the jobs asked for, what else ran, the run's counts
    (`RunResult.tally`, the words used everywhere) and how long it took.

    `label(job_id)` names a job for people; `values` are the targets whose value is loaded.
    """
    outcomes = result.outcomes
    parts = []
    for job_id in targets:
        outcome = outcomes.get(job_id)
        name = label(job_id)
        if outcome is Outcome.RAN:
            why = result.reasons.get(job_id)
            parts.append(f"{name} ran" + (f" ({why})" if why else ""))
        elif outcome is Outcome.UP_TO_DATE:
            loaded = " - loaded the stored value" if job_id in values else ""
            parts.append(f"{name} is up to date{loaded}")
        elif outcome is Outcome.FAILED:
            parts.append(f"{name} failed")
        elif outcome is Outcome.UPSTREAM_FAILED:
            parts.append(f"{name} did not run: a job it depends on failed")
    others = [j for j in result.ran if j not in targets and j not in result.loaders]
    if others:
        parts.append(("upstream ran: " if targets else "ran: ") + some(others, label))
    failed = [j for j in result.errors if j not in targets]
    if failed:
        parts.append("failed: " + some(failed, label))
    parts.append(result.tally())
    return "ppg: " + "; ".join(parts) + f" [{seconds(result.duration)}]"


def some(job_ids: list[str], label: Any = str, shown: int = 5) -> str:
    """A few jobs by name (only those are named: a run may have 100,000), and how many
    more."""
    more = f" and {len(job_ids) - shown} more" if len(job_ids) > shown else ""
    return ", ".join(map(label, job_ids[:shown])) + more


def failure_lines(job_id: str, label: str, result: RunResult, cause: str = "") -> list[str]:
    """A failed job's error as the user's own traceback, headed by the job it came from."""
    error = result.errors[job_id]
    text = result.tracebacks.get(job_id, "")
    header = f"job {label} failed in its worker process"
    if isinstance(error, FailedBefore):
        name = label.strip("'").split(" (")[0]  # (a file job's label names its files too)
        header = (
            f"job {label} failed earlier in this session with the inputs it has now, and was "
            f"not run again (fix it, or run it again: %ppg_run {name})"
        )
    if cause:
        header = f"{cause}: {header}"
    body = user_traceback(text) if text.startswith("Traceback") else []
    if not body:
        body = [f"{type(error).__name__}: {error}"]
    return [header + ":", *body]


class StatusTable:
    """The pipeline's jobs: an HTML table in a notebook, aligned text elsewhere."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    def _cells(self, row: dict[str, Any]) -> tuple[str, ...]:
        last_run = when(row.get("last_run"))
        return (
            row["job"],
            row["kind"],
            row["state"],
            failed_why(row),
            uses(row),
            last_run,
            seconds(row["duration"]),
        )

    def __repr__(self) -> str:
        if not self.rows:
            return "no jobs declared yet"
        table = [COLUMNS, *(self._cells(r) for r in self.rows)]
        widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS) - 1)]
        lines = []
        for line in table:
            cells = [c.ljust(w) for c, w in zip(line, widths, strict=False)]
            lines.append("  ".join([*cells, line[-1]]).rstrip())
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        if not self.rows:
            return "<p>no jobs declared yet</p>"
        head = "".join(f"<th style='text-align:left'>{c}</th>" for c in COLUMNS)
        body = []
        for row in self.rows:
            cells = [html.escape(c) for c in self._cells(row)]
            colour = _STATE_COLOURS.get(row["state"], "inherit")
            cells[2] = f"<span style='color:{colour};font-weight:bold'>{cells[2]}</span>"
            tds = "".join(f"<td style='text-align:left'>{c}</td>" for c in cells)
            body.append(f"<tr>{tds}</tr>")
        return (
            "<table class='ppg-status'><thead><tr>"
            + head
            + "</tr></thead><tbody>"
            + "".join(body)
            + "</tbody></table>"
        )


def user_traceback(text: str) -> list[str]:
    """A worker traceback reduced to the user's frames, each with its source line.

    The engine already names each frame's real file (see tracebacks.py); this drops the
    frames of the module that runs a body (cellfunc.py), should any remain, and fills in
    source lines.
    """
    ours = os.path.abspath(cellfunc.__file__)
    lines = text.rstrip("\n").splitlines()
    shown: list[str] = []
    i = 0
    while i < len(lines):
        match = _FRAME.match(lines[i])
        if match is None:
            shown.append(lines[i])
            i += 1
            continue
        j = i + 1
        while j < len(lines) and lines[j].startswith("    "):
            j += 1
        filename = match["file"]
        if os.path.abspath(filename) != ours:
            shown.append(lines[i])
            source = lines[i + 1 : j]
            if not source:
                found = linecache.getline(filename, int(match["line"])).strip()
                source = [f"    {found}"] if found else []
            shown.extend(source)
        i = j
    return shown
