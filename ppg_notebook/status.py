"""The words for what the next run does with a job, written once (SPEC §7a: one vocabulary).

`Pipeline.status`, `Pipeline.why`, the exported script's `--dry-run`, the command line and
the widget's details say a plan's verdict on a job with these words. A job is up to date,
must run (a rule of SPEC §3 says so), may run (an upstream job runs first; this one reruns
only if that output changes), or runs on demand (a loading job, when a dependant runs; a
final job, after the others when any of them ran).
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


def state(reason: Reason | None, record: Mapping[str, Any] | None = None) -> str:
    """The state word of a job with this plan `reason` and history `record`."""
    if reason is None:
        return UP_TO_DATE
    if reason.on_demand:
        return ON_DEMAND
    if (record or {}).get("o") == "failed":
        return FAILED
    return MAY_RUN if reason.maybe else MUST_RUN


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
