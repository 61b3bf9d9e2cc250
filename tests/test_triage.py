"""What the runner does with a batch that came back without results (triage.py), case by
case: which job fails, which are tried again, and how."""

from __future__ import annotations

import pytest

from ppg_notebook.triage import Action, triage


@pytest.mark.parametrize(
    ("died", "only_one", "sent", "unrecorded", "heads", "action", "jobs"),
    [
        # A worker died running one job with nothing else in flight: that job killed it.
        (True, True, 1, ["a"], ["a"], Action.FAIL_DIED, ["a"]),
        # ... or the last unrecorded job of a long batch (the others were recorded early).
        (True, True, 3, ["c"], ["c"], Action.FAIL_DIED, ["c"]),
        # Other batches were in flight: any of their jobs may have done it.
        (True, False, 1, ["a"], ["a"], Action.SUSPECT, ["a"]),
        # Several jobs not recorded: each is a suspect; fused ones are decided again later.
        (True, True, 3, ["a", "b", "c"], ["a", "c"], Action.SUSPECT, ["a", "c"]),
        # Not sent or not received, several jobs: each again, in a batch of its own.
        (False, True, 3, ["a", "b", "c"], ["a", "b", "c"], Action.SEND_ALONE, ["a", "b", "c"]),
        (False, False, 2, ["b"], ["b"], Action.SEND_ALONE, ["b"]),
        # ... one job: it is the one that cannot be pickled.
        (False, True, 1, ["a"], ["a"], Action.FAIL_SEND, ["a"]),
        (False, False, 1, ["a"], ["a"], Action.FAIL_SEND, ["a"]),
    ],
)
def test_a_failed_batch_is_tried_again_until_the_job_at_fault_fails_alone(
    died: bool,
    only_one: bool,
    sent: int,
    unrecorded: list[str],
    heads: list[str],
    action: Action,
    jobs: list[str],
) -> None:
    verdict = triage(died, only_one, sent, unrecorded, heads)
    assert (verdict.action, verdict.jobs) == (action, jobs)
