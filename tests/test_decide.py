"""The rerun decision, table-driven: record + current inputs -> (rule, words) or up to date."""

from __future__ import annotations

import pytest

from ppg_notebook.decide import UNKNOWN, reason_to_run

CODE = "FI:job"
INVARIANTS = {"PI:threshold", "file:data.csv"}
NAMES = {"PI:threshold": "parameter 'threshold'", "file:data.csv": "input file 'data.csv'"}


def ok(inputs: dict[str, str]) -> dict[str, object]:
    return {"o": "ok", "i": dict(inputs), "fp": "out"}


# The graph of every case:  threshold (parameter), data.csv (input file), upstream (a job)
#                                  \        |        /
#                                          job
BEFORE = {CODE: "c1", "PI:threshold": "t1", "file:data.csv": "d1", "up": "u1"}

CASES = [
    # (record, current inputs, output problem, expected rule or None, words in the reason)
    pytest.param(None, BEFORE, None, 1, "never run", id="never-ran"),
    pytest.param({"o": "failed", "i": {}}, BEFORE, None, 1, "failed", id="failed-last-time"),
    pytest.param({**ok(BEFORE), "o": "invalidated"}, BEFORE, None, 1, "invalidated", id="invalid"),
    pytest.param(ok(BEFORE), BEFORE, "its output 'a' is missing", 2, "missing", id="output"),
    pytest.param(ok(BEFORE), {**BEFORE, CODE: "c2"}, None, 3, "code changed", id="code"),
    pytest.param(
        ok(BEFORE), {**BEFORE, "PI:threshold": "t2"}, None, 3, "parameter 'threshold'", id="param"
    ),
    pytest.param(
        ok(BEFORE), {**BEFORE, "file:data.csv": "d2"}, None, 3, "input file 'data.csv'", id="file"
    ),
    pytest.param(ok(BEFORE), {**BEFORE, "new": "n"}, None, 4, "now depends on job 'new'", id="new"),
    pytest.param(
        ok(BEFORE),
        {k: v for k, v in BEFORE.items() if k != "up"},
        None,
        4,
        "no longer depends on job 'up'",
        id="removed",
    ),
    pytest.param(ok(BEFORE), {**BEFORE, "up": "u2"}, None, 5, "'up' produced different", id="up"),
    pytest.param(ok(BEFORE), BEFORE, None, None, "", id="up-to-date"),
    pytest.param(ok(BEFORE), {**BEFORE, "up": UNKNOWN}, None, 5, "will run first", id="maybe"),
    # The order of the rules: the first that holds is the one reported.
    pytest.param(
        ok(BEFORE), {**BEFORE, CODE: "c2", "up": "u2"}, "x", 2, "x", id="output-before-code"
    ),
    pytest.param(
        ok(BEFORE), {**BEFORE, CODE: "c2", "new": "n"}, None, 3, "code", id="code-before-deps"
    ),
    pytest.param(
        ok(BEFORE),
        {**BEFORE, CODE: "c2", "PI:threshold": "t2"},
        None,
        3,
        "parameter 'threshold' changed",
        id="parameter-before-code",
    ),
    pytest.param(
        ok(BEFORE),
        {**BEFORE, "up": UNKNOWN, "PI:threshold": "t2"},
        None,
        3,
        "parameter",
        id="known-change-before-maybe",
    ),
]


@pytest.mark.parametrize(("record", "inputs", "problem", "rule", "words"), CASES)
def test_reason_to_run(record, inputs, problem, rule, words) -> None:
    reason = reason_to_run(
        record,
        inputs,
        CODE,
        lambda: problem,
        lambda key: NAMES.get(key, f"job {key!r}"),
        lambda key: key in INVARIANTS,
    )
    if rule is None:
        assert reason is None
    else:
        assert reason is not None
        assert reason.rule == rule
        assert words in reason.text
        assert reason.maybe == (inputs.get("up") == UNKNOWN and rule == 5)


def test_outputs_are_not_checked_when_rule_one_holds() -> None:
    def explode() -> str:
        raise AssertionError("outputs must not be looked at for a job that never ran")

    reason = reason_to_run(None, BEFORE, CODE, explode, str, lambda k: False)
    assert reason is not None and reason.rule == 1
