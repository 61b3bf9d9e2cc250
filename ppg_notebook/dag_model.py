"""The pipeline as the DAG widget shows it: nodes, DOT text, and each node's state code.

Pure data in, data out: nothing here runs jobs or talks to a front end. `widget.py` sends
a `GraphView` (groups collapsed or expanded, maybe focused on one job) once per picture
and `status.code` changes after that.

A state code is the node's health (its fill: `ok`, `running`, `queued`, `failed`,
`upstream`, `none`, `lazy`) with a trailing `*` when the job must run (its border: amber,
dashed) or `?` when it may run (an upstream job runs first; this one runs only if that
output changes: amber, dotted). What each is called is `status.CODE_WORDS`'s to say.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import graphviz

from . import dag_groups
from . import widget_protocol as protocol
from .events import Outcome
from .kinds import KINDS, NOWHERE

# Invariants are inputs, not steps: not drawn (a value part stands for its job).
HIDDEN_KINDS = tuple(kind.name for kind in KINDS.values() if kind.where == NOWHERE)
_PARTS = frozenset(kind.name for kind in KINDS.values() if kind.part)

SHAPES = {
    "file": "box",
    "multifile": "box3d",
    "tempfile": "box",
    "plot": "tab",
    "value": "box",
    "cachecalc": "box",
    "load": "ellipse",
    "attribute": "ellipse",
    "loadcached": "ellipse",
    "generating": "hexagon",
    "final": "octagon",
}

OUTCOME_CODES = {
    Outcome.RAN: "ok",
    Outcome.UP_TO_DATE: "ok",
    Outcome.FAILED: "failed",
    Outcome.UPSTREAM_FAILED: "upstream",
    Outcome.NOT_NEEDED: "lazy",
}

# Above this many nodes the layout trades a little beauty for speed (straight edges, fewer
# crossing-minimisation passes): 3,000 nodes lay out in ~0.7 s instead of ~2.5 s.
LARGE = 400
_FAST = {
    "splines": "false",
    "nslimit": "1",
    "nslimit1": "1",
    "mclimit": "0.1",
    "searchsize": "10",
    "remincross": "false",
}


@dataclass(frozen=True)
class GraphModel:
    """The shown part of a pipeline's graph: job ids in topological order and their edges."""

    nodes: tuple[str, ...]
    labels: tuple[str, ...]
    kinds: tuple[str, ...]
    edges: tuple[tuple[int, int], ...]  # (upstream index, downstream index)

    @property
    def shape_key(self) -> tuple[Any, ...]:
        """Equal keys mean the same picture: no new layout needed."""
        return (self.nodes, self.labels, self.edges)

    def view(self, expanded: frozenset[str] = frozenset(), focus: str | None = None) -> GraphView:
        """What is drawn: groups collapsed but for `expanded` (group keys), and with `focus`
        only that job and everything up- and downstream of it."""
        focus = focus if focus in self.nodes else None
        jobs: Sequence[int] = range(len(self.nodes))
        if focus is not None:
            jobs = sorted(_closure(self.nodes.index(focus), self.edges))
        local = {j: k for k, j in enumerate(jobs)}
        sub_edges = [(local[a], local[b]) for a, b in self.edges if a in local and b in local]
        sub_names = [self.labels[j] for j in jobs]
        sub_kinds = [self.kinds[j] for j in jobs]
        groups = dag_groups.find_groups(sub_kinds, sub_edges, sub_names)
        expanded_jobs = frozenset(m for g in groups if g.key in expanded for m in g.members)
        if expanded_jobs:
            groups = dag_groups.find_groups(sub_kinds, sub_edges, sub_names, expanded_jobs)
        group_of = {m: g for g in groups for m in g.members}
        drawn: list[Drawn] = []
        where: dict[int, int] = {}  # job index (local) -> drawn index
        for k in range(len(jobs)):
            g = group_of.get(k)
            if g is None:
                where[k] = len(drawn)
                drawn.append(
                    Drawn(self.nodes[jobs[k]], self.labels[jobs[k]], sub_kinds[k], (jobs[k],))
                )
            elif g.members[0] == k:
                for m in g.members:
                    where[m] = len(drawn)
                label = f"{g.pattern} ×{len(g.members)}"
                members = tuple(jobs[m] for m in g.members)
                drawn.append(Drawn(g.key, label, sub_kinds[k], members))
        links = {(where[a], where[b]) for a, b in sub_edges if where[a] != where[b]}
        # In an order that depends on the picture alone, not on the order the jobs were
        # declared in: the same picture is the same DOT (one layout), and a job declared
        # again, or one more job, moves the others in Graphviz's ranks as little as it can.
        order = stable_order([d.key for d in drawn], links)
        at = {old: new for new, old in enumerate(order)}
        edges = sorted((at[a], at[b]) for a, b in links)
        return GraphView(tuple(drawn[i] for i in order), tuple(edges), focus)


def stable_order(keys: Sequence[str], edges: Iterable[tuple[int, int]]) -> list[int]:
    """The nodes `0..len(keys)-1` by depth (the longest path from a node without
    upstream), then key: a topological order that is a function of keys and edges only."""
    ups: list[list[int]] = [[] for _ in keys]
    downs: list[list[int]] = [[] for _ in keys]
    for a, b in edges:
        ups[b].append(a)
        downs[a].append(b)
    waiting = [len(u) for u in ups]
    depth = [0] * len(keys)
    ready = [i for i, n in enumerate(waiting) if n == 0]
    for i in ready:  # grows while we walk it (Kahn's algorithm)
        for d in downs[i]:
            depth[d] = max(depth[d], depth[i] + 1)
            waiting[d] -= 1
            if waiting[d] == 0:
                ready.append(d)
    return sorted(range(len(keys)), key=lambda i: (depth[i], keys[i]))


def _closure(start: int, edges: tuple[tuple[int, int], ...]) -> set[int]:
    """`start` and every job up- or downstream of it, transitively."""
    ups: dict[int, list[int]] = {}
    downs: dict[int, list[int]] = {}
    for a, b in edges:
        ups.setdefault(b, []).append(a)
        downs.setdefault(a, []).append(b)
    seen = {start}
    for links in (ups, downs):
        todo = [start]
        while todo:
            for j in links.get(todo.pop(), ()):
                if j not in seen:
                    seen.add(j)
                    todo.append(j)
    return seen


@dataclass(frozen=True)
class Drawn:
    """One node of the picture: a job (`key` = its id) or a group of them."""

    key: str
    label: str
    kind: str
    members: tuple[int, ...]  # job indices into GraphModel.nodes

    @property
    def is_group(self) -> bool:
        return self.key.startswith("group:")


@dataclass(frozen=True)
class GraphView:
    """The drawn nodes and their edges, and the DOT text Graphviz lays out."""

    drawn: tuple[Drawn, ...]
    edges: tuple[tuple[int, int], ...]  # (upstream drawn index, downstream drawn index)
    focus: str | None = None

    def dot(self) -> str:
        """DOT text: node `n<i>` is `drawn[i]`; the front end finds it by that id.

        Every node has a second label line: a job's last duration, a group's state bar (the
        page fills it in), so that neither changes the layout.
        """
        attrs = {"rankdir": "LR", "bgcolor": "transparent", "nodesep": "0.15", "ranksep": "0.5"}
        if len(self.drawn) > LARGE:
            attrs.update(_FAST)
        g = graphviz.Digraph(
            "pipeline",
            graph_attr=attrs,
            node_attr={
                "shape": "box",
                "style": "rounded,filled",
                "fontname": "sans-serif",
                "fontsize": "11",
                "height": "0.3",
                "margin": "0.08,0.03",
            },
            edge_attr={"arrowsize": "0.6"},
        )
        for i, d in enumerate(self.drawn):
            extra = {"peripheries": "2", "width": "1.6"} if d.is_group else {}
            second = "\u2007" * 12 if d.is_group else "\u2007" * 6
            g.node(
                f"n{i}",
                label=f"{d.label}\\n{second}",
                id=f"n{i}",
                shape=SHAPES.get(d.kind, "box"),
                **extra,
            )
        for a, b in self.edges:
            g.edge(f"n{a}", f"n{b}")
        return g.source

    def to_json(self, model: GraphModel) -> protocol.Graph:
        """The `graph` trait: this picture, and every job and edge of `model` (the page
        searches, focuses and links with these)."""
        return {
            "dot": self.dot(),
            "nodes": [(d.key, d.label, d.kind, list(d.members)) for d in self.drawn],
            "jobs": list(zip(model.nodes, model.labels, model.kinds, strict=True)),
            "edges": list(model.edges),
            "focus": self.focus,
        }


def build(
    upstream: Mapping[str, Sequence[str]],
    order: list[str],
    kinds: dict[str, str],
    label: Any = None,
) -> GraphModel:
    """The graph model of `order`'s jobs, without the invariants they depend on (a job
    reading one value of a job with several values is drawn reading that job)."""
    nodes = [job_id for job_id in order if kinds[job_id] not in HIDDEN_KINDS]
    index = {job_id: i for i, job_id in enumerate(nodes)}

    def drawn(u: str) -> str:
        return upstream[u][0] if kinds.get(u) in _PARTS and upstream.get(u) else u

    edges = {
        (index[drawn(u)], index[job_id])
        for job_id in nodes
        for u in upstream.get(job_id, ())
        if drawn(u) in index
    }
    labels = [shorten(label(job_id) if label else job_id) for job_id in nodes]
    return GraphModel(
        tuple(nodes), tuple(labels), tuple(kinds[j] for j in nodes), tuple(sorted(edges))
    )


def shorten(text: str, width: int = 40) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1) :]
