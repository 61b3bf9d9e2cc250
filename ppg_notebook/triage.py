"""What the runner does with a batch that came back without results (SPEC §5: a failed job
takes down only what depends on it; a dead worker fails only the job that killed it).

Two ways a batch can fail as a whole: its worker process died (killed, out of memory, a
crash in native code), or the batch could not be sent or its results not received (a
function or value that cannot be pickled). Neither says which of its jobs is at fault, so
the jobs are tried again one at a time until the one at fault fails on its own:

- a worker died while the batch ran with nothing else in flight, and it held one job not
  recorded yet: that job killed it, and fails;
- else a worker died: every job of the batch (and of every batch in flight with it) is a
  suspect, run again alone, one at a time, nothing else in flight;
- the batch could not be sent or received, and held several jobs: each not recorded yet is
  sent again in a batch of its own;
- it held one job: that job fails, with what could not be pickled.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Action(Enum):
    FAIL_DIED = "the job killed its worker"
    SUSPECT = "run each alone, nothing else in flight"
    SEND_ALONE = "send each in a batch of its own"
    FAIL_SEND = "the job could not be sent"


@dataclass(frozen=True, slots=True)
class Verdict:
    action: Action
    jobs: list[str]


def triage(
    died: bool, nothing_else_in_flight: bool, sent: int, unrecorded: list[str], heads: list[str]
) -> Verdict:
    """What to do with a failed batch. `died`: its worker process died (else it could not
    be sent or received); `sent`: how many jobs it held; `unrecorded`: those not recorded
    yet (a long batch's worker leaves finished results early); `heads`: those of them that
    are not fused behind another (a fused job is decided again once its upstream has
    run)."""
    if died:
        if nothing_else_in_flight and len(unrecorded) == 1:
            return Verdict(Action.FAIL_DIED, unrecorded)
        return Verdict(Action.SUSPECT, heads)
    if sent > 1:
        return Verdict(Action.SEND_ALONE, heads)
    return Verdict(Action.FAIL_SEND, unrecorded)
