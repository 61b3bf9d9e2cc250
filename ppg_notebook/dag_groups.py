"""Groups of sibling jobs of one shape, drawn by the DAG widget as one node (SPEC §7a).

Pure: node indices, kinds and edges in; groups out. Jobs are of one shape when they are of
the same kind and their dependencies and dependants are the same, counting a group as one
node. That is a coarsest partition refined until stable (as in bisimulation), so that
parallel chains fan out as chains of groups:

    genome ─┬─ align_1 ── count_1 ─┐          genome ── align_* ×2000 ── count_* ×2000
            ├─ align_2 ── count_2 ─┼─ sum       ──▶                            └── sum
            └─ …                   ┘

A group never holds a job and one of its own upstreams (a chain is not a group), and only
more than `MIN_SIZE - 1` jobs make one. A graph still too big to draw after that groups
jobs by kind, name pattern and depth (`_loose`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

MIN_SIZE = 13  # "more than 12 of them"
_ROUNDS = 40  # refinement rounds; a pipeline deeper than this keeps its deep part ungrouped
_WORD = re.compile(r"[0-9A-Za-z]")
_DIGITS = re.compile(r"[0-9]+")
# Above this many nodes even after grouping siblings, jobs that are alike but for their
# neighbours are grouped too (a tree of 10,000 jobs): Graphviz cannot lay out that many
# readably, and not at all past ~10,000 (its recursion overflows the browser's stack).
LOOSE_ABOVE = 1500


@dataclass(frozen=True)
class Group:
    """Jobs (indices, in topological order) drawn as one node labelled `pattern`."""

    pattern: str
    members: tuple[int, ...]

    @property
    def key(self) -> str:
        return "group:" + self.pattern


def find_groups(
    kinds: Sequence[str],
    edges: Sequence[tuple[int, int]],
    names: Sequence[str],
    fixed: frozenset[int] = frozenset(),
) -> list[Group]:
    """The groups of jobs `0..len(kinds)-1`; `fixed` jobs are never grouped (expanded)."""
    n = len(kinds)
    ups: list[list[int]] = [[] for _ in range(n)]
    downs: list[list[int]] = [[] for _ in range(n)]
    for a, b in edges:
        ups[b].append(a)
        downs[a].append(b)
    single = set(fixed)
    while True:
        cls = _refine(kinds, ups, downs, single)
        classes = _classes(cls, single)
        # A small class is drawn job by job: its jobs are not alike to their neighbours.
        drop = [m for m in classes.values() if len(m) < MIN_SIZE]
        drop += [
            m for m in classes.values() if m not in drop and not _groupable(m, cls, ups, downs)
        ]
        if not drop:
            break
        for members in drop:
            single.update(members)
    found = list(classes.values())
    if n - sum(len(m) for m in found) + len(found) > LOOSE_ABOVE:
        found += _loose(kinds, ups, names, single - fixed)
    groups = [Group(_pattern([names[i] for i in m]), tuple(sorted(m))) for m in found]
    return _unique(sorted(groups, key=lambda g: g.members[0]))


def _loose(
    kinds: Sequence[str], ups: list[list[int]], names: Sequence[str], jobs: set[int]
) -> list[list[int]]:
    """Jobs of one kind, one name but for its numbers, and one depth (the longest path from
    a job without dependencies): too many nodes to draw otherwise, and no edge inside."""
    depth = [0] * len(kinds)
    for i in range(len(kinds)):  # indices are in topological order
        depth[i] = max((depth[u] + 1 for u in ups[i]), default=0)
    by: dict[tuple[str, str, int], list[int]] = {}
    for i in sorted(jobs):
        by.setdefault((kinds[i], _DIGITS.sub("#", names[i]), depth[i]), []).append(i)
    return [m for m in by.values() if len(m) >= MIN_SIZE]


def _refine(
    kinds: Sequence[str], ups: list[list[int]], downs: list[list[int]], single: set[int]
) -> list[int]:
    """Each job's class: same class = same kind and same classes up- and downstream."""
    ids: dict[object, int] = {}
    cls = [ids.setdefault(("one", i) if i in single else k, len(ids)) for i, k in enumerate(kinds)]
    count = len(ids)
    for _ in range(_ROUNDS):
        ids = {}
        cls = [
            ids.setdefault(
                (c, frozenset(cls[u] for u in ups[i]), frozenset(cls[d] for d in downs[i])),
                len(ids),
            )
            for i, c in enumerate(cls)
        ]
        if len(ids) == count:
            break
        count = len(ids)
    return cls


def _classes(cls: list[int], single: set[int]) -> dict[int, list[int]]:
    members: dict[int, list[int]] = {}
    for i, c in enumerate(cls):
        if i not in single:
            members.setdefault(c, []).append(i)
    return members


def _groupable(
    members: list[int], cls: list[int], ups: list[list[int]], downs: list[list[int]]
) -> bool:
    """No edge inside the group, and every member has the same classes up and down."""
    own = cls[members[0]]
    shape = None
    for i in members:
        up = frozenset(cls[u] for u in ups[i])
        down = frozenset(cls[d] for d in downs[i])
        if own in up or own in down:
            return False
        if shape is None:
            shape = (up, down)
        elif shape != (up, down):
            return False
    return True


def _pattern(names: list[str]) -> str:
    """`out/17.txt`, `out/2000.txt` -> `out/*.txt`: the common ends, cut at word edges."""
    first, last = min(names), max(names)
    p = 0
    while p < min(len(first), len(last)) and first[p] == last[p]:
        p += 1
    prefix = first[:p]
    if any(len(s) > p and _WORD.match(s[p]) for s in names):
        while prefix and _WORD.match(prefix[-1]):
            prefix = prefix[:-1]
    rest = [s[len(prefix) :] for s in names]
    short = min(len(s) for s in rest)
    q = 0
    while q < short and len({s[len(s) - 1 - q] for s in rest}) == 1:
        q += 1
    suffix = rest[0][len(rest[0]) - q :] if q else ""
    if q and any(len(s) > q and _WORD.match(s[len(s) - 1 - q]) for s in rest):
        while suffix and _WORD.match(suffix[0]):
            suffix = suffix[1:]
    return f"{prefix}*{suffix}"


def _unique(groups: list[Group]) -> list[Group]:
    """Two groups of one pattern (same names, other neighbours) get `#2`, `#3`, … keys."""
    seen: dict[str, int] = {}
    out = []
    for g in groups:
        k = seen[g.pattern] = seen.get(g.pattern, 0) + 1
        out.append(g if k == 1 else Group(f"{g.pattern} #{k}", g.members))
    return out
