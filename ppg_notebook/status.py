"""The words for what the next run does with a job, written once (SPEC §7a: one vocabulary).

`Pipeline.status`, `Pipeline.why`, the exported script's `--dry-run`, the command line and
the widget's details say a plan's verdict on a job with these words. A job is up to date,
must run (a rule of SPEC §3 says so), may run (an upstream job runs first; this one reruns
only if that output changes), or runs on demand (a loading job, when a dependant runs; a
final job, after the others when any of them ran).

The widget's state codes (`code`: a health, then `*` if the job must run
or `?` if it may run) are named here too, for the page (the widget sends it these tables)
and the static picture kept in saved notebooks (`dag_static.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .decide import Reason

UP_TO_DATE = "up to date"
MUST_RUN = "must run"
MAY_RUN = "may run"
ON_DEMAND = "on demand"
FAILED = "failed"  # (must run, after a failure)
SUCCEEDED = "succeeded"  # (what a history alone says of a job whose last run went well)
RUNNING = "running"
QUEUED = "queued"
UPSTREAM_FAILED = "upstream failed"
NOT_RUN_YET = "not run yet"

# A state code's parts in a word (the legend, the saved picture), in the legend's order:
# its health (the node's fill), then its mark (the border).
CODE_WORDS = {
    "ok": UP_TO_DATE,
    "running": RUNNING,
    "queued": QUEUED,
    "failed": FAILED,
    "upstream": UPSTREAM_FAILED,
    "none": NOT_RUN_YET,
    "lazy": ON_DEMAND,
    "*": MUST_RUN,
    "?": MAY_RUN,
}
# ... and what they mean, where there is room to say it (the details panel, tooltips).
CODE_MEANINGS = {
    **CODE_WORDS,
    "upstream": "not run: an upstream job failed",
    "none": "never ran (or invalidated)",
    "lazy": f"{ON_DEMAND} (runs when a dependant needs it)",
    "?": f"{MAY_RUN} (if an upstream job's new output differs)",
}
MARKS = "*?"


def code_words(code: str, table: Mapping[str, str] = CODE_WORDS) -> str:
    """A state code in words: "not run yet; must run" (or its meaning, with CODE_MEANINGS)."""
    health, mark = (code[:-1], code[-1]) if code[-1:] in MARKS else (code, "")
    said = table.get(health, health)
    return f"{said}; {table[mark]}" if mark else said


def code(reason: Reason | None, record: Mapping[str, Any] | None = None) -> str:
    """The state code of a job between runs, from its plan `reason` and history `record`:
    its health ("ok", "failed", "none", or "lazy"), then "*" if it must run, "?" if it may."""
    if reason is None:
        return "ok"
    if reason.on_demand:
        return "lazy"
    mark = "?" if reason.maybe else "*"
    outcome = (record or {}).get("o")
    if outcome in ("failed", "ok"):
        return outcome + mark
    return "none" + mark


def state(reason: Reason | None, record: Mapping[str, Any] | None = None) -> str:
    """The state word of a job with this plan `reason` and history `record` (its `code`,
    said in one word: a job that failed last time is "failed" whether it must or may run)."""
    found = code(reason, record)
    if found in ("ok", "lazy"):
        return CODE_WORDS[found]
    if found.startswith("failed"):
        return FAILED
    return CODE_WORDS[found[-1]]


def verb(reason: Reason) -> str:
    """What the next run does with a job that is not up to date: "will run", "may run"."""
    return "may run" if reason.maybe else "will run"


def sentence(reason: Reason | None) -> str:
    """The plan's verdict as a phrase: "up to date", "will run: <why>", "may run: <why>",
    or, for a job that runs on demand, when it runs."""
    if reason is None:
        return UP_TO_DATE
    if reason.on_demand:
        return reason.text
    return f"{verb(reason)}: {reason.text}"
