"""Pure decision: given a job's record and its current inputs, must it run, and why?

The rules (SPEC §3), checked in this order:
  1. it never finished successfully, failed last time, or was invalidated;
  2. an output is missing, empty, or no longer what it wrote (asked of the host);
  3. an invariant it depends on changed (its code and the user's code it reaches, a
     parameter, an input file, a file it read at run time);
  4. the set of jobs it depends on changed;
  5. an upstream job produced different output than this job consumed last time.
An upstream that will run but has not yet is UNKNOWN: the job *may* run (decided again once
that upstream has produced its output: an identical output does not rerun the job).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

UNKNOWN = "?"  # the fingerprint of an output that is about to be (re)made


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a job must run: the rule (1-5 of SPEC §3) and a sentence for people; or, for a
    job that no rule decides (`on_demand`, see `when_needed`), when it runs."""

    rule: int  # 1-5; 0 for a job that runs on demand
    text: str
    maybe: bool = False  # only if an upstream's new output differs

    def __str__(self) -> str:
        return self.text

    @property
    def on_demand(self) -> bool:
        """It runs when it is needed (a loading job, a final job), not by a rule."""
        return self.rule == 0


def when_needed(text: str) -> Reason:
    """The plan's word on a job that runs only when it is needed (`text`: when that is)."""
    return Reason(0, text)


def reason_to_run(
    record: Mapping[str, Any] | None,
    inputs: Mapping[str, str],
    code_key: str,
    check_outputs: Callable[[], str | None],
    describe: Callable[[str], str],
    is_invariant: Callable[[str], bool],
    pieces_now: Callable[[str], Mapping[str, str] | None] | None = None,
    check_reads: Callable[[], str | None] | None = None,
    pieces_of: Callable[[str], Mapping[str, str] | None] | None = None,
) -> Reason | None:
    """The first rule that makes the job run, or None if it is up to date.

    `inputs` maps upstream ids (and `code_key`, the job's own code) to fingerprints.
    `describe(id)` names an upstream for people; `is_invariant(id)` tells rule 3 from 5.
    `pieces_now(key)`: for a code input (the job's own under ""), the fingerprint of each
    piece of the user's code it covers; compared with the pieces behind the record's
    digest (`pieces_of(digest)`) to say which changed. `check_reads`: why a file the job
    read at run time makes it run, or None.
    """
    if record is None:
        return Reason(1, "it has never run")
    outcome = record.get("o")
    if outcome == "failed":
        return Reason(1, "it failed last time")
    if outcome == "invalidated":
        return Reason(1, "it was invalidated")
    problem = check_outputs()
    if problem is not None:
        return Reason(2, problem)
    before: Mapping[str, str] = record.get("i", {})
    if before == inputs and UNKNOWN not in inputs.values():
        # (the common case, kept fast: it consumes what it consumed, so rules 3 to 5 can
        # only say so one by one)
        problem = check_reads() if check_reads is not None else None
        return None if problem is None else Reason(3, problem)

    # Declared invariants first: a parameter that is also captured by the function's closure
    # is better reported as "parameter x changed" than as "its code changed".
    for key, fp in inputs.items():
        if key != code_key and is_invariant(key) and key in before and before[key] != fp:
            where = _which(record, key, pieces_now, pieces_of)
            return Reason(3, f"{describe(key)} changed{where}")
    if code_key in inputs:
        was = before.get(code_key)
        if was is None:
            return Reason(3, "its code is now tracked")
        if was != inputs[code_key]:
            where = _which(record, "", pieces_now, pieces_of)
            return Reason(3, f"its code changed{where}")
    problem = check_reads() if check_reads is not None else None
    if problem is not None:
        return Reason(3, problem)
    added = [k for k in inputs if k not in before and k != code_key]
    removed = [k for k in before if k not in inputs and k != code_key]
    if added or removed:
        parts = []
        if added:
            parts.append("now depends on " + ", ".join(describe(k) for k in sorted(added)))
        if removed:
            parts.append("no longer depends on " + ", ".join(describe(k) for k in sorted(removed)))
        return Reason(4, "its dependencies changed: it " + " and ".join(parts))
    pending = []
    for key, fp in inputs.items():
        if key == code_key or is_invariant(key):
            continue
        if fp == UNKNOWN:
            pending.append(key)
        elif before[key] != fp:
            return Reason(5, f"{describe(key)} produced different output than it used last time")
    if pending:
        names = ", ".join(describe(k) for k in pending)
        return Reason(
            5,
            f"{names} will run first; it reruns only if that output changes",
            maybe=True,
        )
    return None


def consumes_as_before(record: Mapping[str, Any], inputs: Mapping[str, str]) -> bool:
    """Of the rules, only 2 (its outputs) and the files it read at run time (3) can still
    make the job run: it finished (rule 1 passes), it consumes what it consumed, and no
    upstream is about to run (rules 3 to 5 pass one by one)."""
    return record.get("i") == inputs and record.get("o") == "ok" and UNKNOWN not in inputs.values()


def _which(
    record: Mapping[str, Any],
    key: str,
    pieces_now: Callable[[str], Mapping[str, str] | None] | None,
    pieces_of: Callable[[str], Mapping[str, str] | None] | None,
) -> str:
    """Which pieces of the user's code that code input `key` covers changed since the
    record: ": utils.clean_rows changed", or "" when it is the function itself (or
    unknown)."""
    digest = record.get("c", {}).get(key)
    known = pieces_of(digest) if pieces_of is not None and isinstance(digest, str) else None
    before = known or {}
    now = (pieces_now(key) if pieces_now is not None else None) or {}
    changed = [k for k in now if k in before and before[k] != now[k]]
    added = [k for k in now if k not in before]
    removed = [k for k in before if k not in now]
    parts = []
    if changed:
        parts.append(_names(changed) + " changed")
    if added:
        parts.append("it now uses " + _names(added))
    if removed:
        parts.append("it no longer uses " + _names(removed))
    return ": " + "; ".join(parts) if parts else ""


def _names(keys: list[str]) -> str:
    shown = [k.removeprefix("__main__.") for k in sorted(keys)]
    return ", ".join(shown[:5]) + (f" and {len(shown) - 5} more" if len(shown) > 5 else "")
