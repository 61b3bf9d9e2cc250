"""The pipeline as the DAG widget shows it: nodes, DOT text, and each node's state code.

Pure data in, data out: nothing here runs jobs or talks to a front end. `widget.py` sends
`GraphModel.dot` once per graph shape and `state_codes` changes after that.

A state code is the node's health (its fill) with a trailing `*` when the job must run (its
border: amber, dashed):

    ok        up to date (green)          running   running now (blue, animated)
    failed    failed (red)                queued    waiting to run (light blue)
    upstream  an upstream job failed      none      never ran, or invalidated
    lazy      a loading job: runs only when a dependant runs
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import graphviz

from .decide import Reason
from .events import Outcome

HIDDEN_KINDS = ("parameter", "function", "input")  # invariants: inputs, not steps

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

    def dot(self) -> str:
        """DOT text: node `n<i>` is `nodes[i]`; the front end finds it by that id."""
        attrs = {"rankdir": "LR", "bgcolor": "transparent", "nodesep": "0.15", "ranksep": "0.5"}
        if len(self.nodes) > LARGE:
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
        for i, (label, kind) in enumerate(zip(self.labels, self.kinds, strict=True)):
            shape = SHAPES.get(kind, "box")
            g.node(f"n{i}", label=label, id=f"n{i}", shape=shape)
        for a, b in self.edges:
            g.edge(f"n{a}", f"n{b}")
        return g.source

    def to_json(self) -> dict[str, Any]:
        return {
            "dot": self.dot(),
            "nodes": [list(t) for t in zip(self.nodes, self.labels, self.kinds, strict=True)],
        }


def build(
    upstream: dict[str, list[str]], order: list[str], kinds: dict[str, str], label: Any = None
) -> GraphModel:
    """The graph model of `order`'s jobs, without the invariants they depend on."""
    nodes = [job_id for job_id in order if kinds[job_id] not in HIDDEN_KINDS]
    index = {job_id: i for i, job_id in enumerate(nodes)}
    edges = [
        (index[u], index[job_id])
        for job_id in nodes
        for u in upstream.get(job_id, ())
        if u in index
    ]
    labels = [shorten(label(job_id) if label else job_id) for job_id in nodes]
    return GraphModel(
        tuple(nodes), tuple(labels), tuple(kinds[j] for j in nodes), tuple(sorted(edges))
    )


def shorten(text: str, width: int = 40) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1) :]


def state_code(reason: Reason | None, record: dict[str, Any] | None) -> str:
    """The code of a job between runs, from its plan reason and its history record."""
    if reason is None:
        return "ok"
    if reason.rule == 0:
        return "lazy"
    outcome = (record or {}).get("o")
    if outcome == "failed":
        return "failed*"
    if outcome == "ok":
        return "ok*"
    return "none*"
