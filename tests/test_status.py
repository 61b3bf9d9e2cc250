"""The words for a plan's verdict on a job (status.py), the same wherever they are shown."""

from __future__ import annotations

import pytest

from ppg_notebook import status
from ppg_notebook.decide import Reason, when_needed

CHANGED = Reason(3, "parameter 'n' changed")
WAITS = Reason(5, "job 'a' will run first; it reruns only if that output changes", maybe=True)
LOADS = when_needed("it runs only when a job that depends on it runs")


@pytest.mark.parametrize(
    ("reason", "record", "state", "sentence"),
    [
        (None, {"o": "ok"}, "up to date", "up to date"),
        (CHANGED, {"o": "ok"}, "must run", "will run: parameter 'n' changed"),
        (CHANGED, {"o": "failed"}, "failed", "will run: parameter 'n' changed"),
        (CHANGED, None, "must run", "will run: parameter 'n' changed"),
        (WAITS, {"o": "ok"}, "may run", f"may run: {WAITS.text}"),
        (LOADS, None, "on demand", LOADS.text),
    ],
)
def test_a_verdict_has_one_state_word_and_one_sentence(
    reason: Reason | None, record: dict | None, state: str, sentence: str
) -> None:
    assert status.state(reason, record) == state
    assert status.sentence(reason) == sentence


def test_only_a_job_no_rule_decides_runs_on_demand() -> None:
    assert LOADS.on_demand and not CHANGED.on_demand and not WAITS.on_demand
