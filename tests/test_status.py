"""The words for a plan's verdict on a job (status.py), the same wherever they are shown."""

from __future__ import annotations

import pytest

from ppg_notebook import dag_model, status
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


def test_every_state_code_the_widget_shows_has_words_and_a_meaning() -> None:
    healths = {"running", "queued", "upstream"} | set(dag_model.OUTCOME_CODES.values())
    for reason in (None, CHANGED, WAITS, LOADS):
        for record in (None, {"o": "ok"}, {"o": "failed"}):
            healths.add(status.code(reason, record).rstrip(status.MARKS))
    parts = healths | set(status.MARKS)
    assert set(status.CODE_WORDS) == parts == set(status.CODE_MEANINGS)
    # the words of the plan's verdict are the widget's words too
    assert status.CODE_WORDS["ok"] == status.state(None)
    assert status.CODE_WORDS["*"] == status.state(CHANGED)
    assert status.CODE_WORDS["?"] == status.state(WAITS)
    assert status.CODE_WORDS["lazy"] == status.state(LOADS)


@pytest.mark.parametrize(
    ("code", "words", "meaning"),
    [
        ("ok", "up to date", "up to date"),
        ("none*", "not run yet; must run", "never ran (or invalidated); must run"),
        (
            "ok?",
            "up to date; may run",
            "up to date; may run (if an upstream job's new output differs)",
        ),
        ("upstream", "upstream failed", "not run: an upstream job failed"),
        ("lazy", "on demand", "on demand (runs when a dependant needs it)"),
        ("mystery*", "mystery; must run", "mystery; must run"),
    ],
)
def test_a_state_code_in_words(code: str, words: str, meaning: str) -> None:
    assert status.code_words(code) == words
    assert status.code_words(code, status.CODE_MEANINGS) == meaning
