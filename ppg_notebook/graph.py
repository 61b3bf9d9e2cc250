"""A pure DAG of job ids: topological order, cycles (named), closures. Knows no jobs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from .errors import CycleError

Upstream = Mapping[str, Sequence[str]]  # job id -> ids it depends on
# Edges of a graph being built or run: a node with none has the shared empty tuple (most
# nodes of a big graph: an invariant has no upstream, a leaf job no downstream).
Edges = dict[str, Sequence[str]]
NONE: tuple[str, ...] = ()


def downstream_of(upstream: Upstream) -> Edges:
    """The reverse edges: id -> ids that depend on it (ids named only as an upstream, not
    as keys of `upstream`, are left out)."""
    down: dict[str, Sequence[str]] = dict.fromkeys(upstream, NONE)
    grown: list[str] = []  # (the nodes with more than one: lists until the end)
    for node, ups in upstream.items():
        for up in ups:
            found = down.get(up)
            if found is None:
                continue
            if not found:
                down[up] = (node,)  # (most nodes of a big graph have one, or none)
            elif type(found) is tuple:
                down[up] = [*found, node]
                grown.append(up)
            else:
                found.append(node)  # type: ignore[attr-defined]
    for node in grown:  # (tuples: a list built by appending holds room for more)
        down[node] = tuple(down[node])
    return down


def add_edge(down: Edges, node: str, dependant: str) -> None:
    """`dependant` depends on `node` too (in reverse edges `down`)."""
    found = down.get(node, NONE)
    if isinstance(found, list):
        found.append(dependant)
    else:
        down[node] = [*found, dependant]


def topological_order(upstream: Upstream, down: Upstream | None = None) -> list[str]:
    """Every id after all ids it depends on; raises CycleError naming a cycle's jobs.

    Every id named as an upstream must itself be a key of `upstream`. `down`: its
    `downstream_of`, if the caller has it.
    """
    if down is None:
        down = downstream_of(upstream)
    remaining = {node: len(ups) for node, ups in upstream.items() if ups}
    order = [node for node, ups in upstream.items() if not ups]
    for node in order:  # grows while we walk it (Kahn's algorithm)
        for d in down[node]:
            left = remaining[d] - 1
            remaining[d] = left
            if left == 0:
                order.append(d)
    if len(order) < len(upstream):
        cycle = _find_cycle(upstream, [n for n, k in remaining.items() if k > 0])
        shown = " -> ".join(repr(c) for c in [*cycle, cycle[0]])
        msg = (
            f"the jobs depend on each other in a cycle: {shown} (each depends on the one "
            f"after it). Remove one of these dependencies to break it."
        )
        raise CycleError(msg, cycle)
    return order


def _find_cycle(upstream: Upstream, stuck: list[str]) -> list[str]:
    """A cycle among nodes Kahn's algorithm could not order (each has a stuck upstream)."""
    stuck_set = set(stuck)
    node = stuck[0]
    seen: dict[str, int] = {}
    path: list[str] = []
    while node not in seen:
        seen[node] = len(path)
        path.append(node)
        node = next(u for u in upstream[node] if u in stuck_set)
    return path[seen[node] :]


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
