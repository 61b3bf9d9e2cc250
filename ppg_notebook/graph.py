"""A pure DAG of job ids: topological order, cycles (named), closures. Knows no jobs."""

from __future__ import annotations

import graphlib
from collections.abc import Iterable, Mapping, Sequence

from .errors import CycleError

Upstream = Mapping[str, Sequence[str]]  # job id -> ids it depends on


def topological_order(upstream: Upstream) -> list[str]:
    """Every id after all ids it depends on; raises CycleError naming a cycle's jobs."""
    sorter = graphlib.TopologicalSorter(upstream)
    try:
        return list(sorter.static_order())
    except graphlib.CycleError as e:
        cycle = list(e.args[1])  # graphlib gives [a, b, ..., a]
        if len(cycle) > 1 and cycle[0] == cycle[-1]:
            cycle = cycle[:-1]
        cycle.reverse()  # in dependency order: each depends on the one before it
        shown = " -> ".join(repr(c) for c in [*cycle, cycle[0]])
        msg = (
            f"the jobs depend on each other in a cycle: {shown}. "
            f"Remove one of these dependencies to break it."
        )
        raise CycleError(msg, cycle) from None


def downstream_of(upstream: Upstream) -> dict[str, list[str]]:
    """The reverse edges: id -> ids that depend on it."""
    down: dict[str, list[str]] = {node: [] for node in upstream}
    for node, ups in upstream.items():
        for up in ups:
            down.setdefault(up, []).append(node)
    return down


def upstream_closure(upstream: Upstream, targets: Iterable[str]) -> set[str]:
    """The targets and everything they (transitively) depend on."""
    seen: set[str] = set()
    stack = list(targets)
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        stack.extend(upstream.get(node, ()))
    return seen
