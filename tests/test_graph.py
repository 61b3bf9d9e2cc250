"""The pure DAG: order, cycles named, closures."""

from __future__ import annotations

import pytest

from ppg_notebook import graph
from ppg_notebook.errors import CycleError

# Each case: upstream map (id -> ids it depends on).
ORDER_CASES = [
    # a -> b -> c
    pytest.param({"a": [], "b": ["a"], "c": ["b"]}, id="chain"),
    #   a
    #  / \
    # b   c
    #  \ /
    #   d
    pytest.param({"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]}, id="diamond"),
    pytest.param({"x": [], "y": [], "z": []}, id="independent"),
]


@pytest.mark.parametrize("upstream", ORDER_CASES)
def test_every_job_comes_after_its_upstream(upstream: dict[str, list[str]]) -> None:
    order = graph.topological_order(upstream)
    assert sorted(order) == sorted(upstream)
    position = {node: i for i, node in enumerate(order)}
    for node, ups in upstream.items():
        assert all(position[u] < position[node] for u in ups)


CYCLE_CASES = [
    # a <-> b
    pytest.param({"a": ["b"], "b": ["a"]}, {"a", "b"}, id="two"),
    # x -> a -> b -> c -> a
    pytest.param({"x": [], "a": ["x", "c"], "b": ["a"], "c": ["b"]}, {"a", "b", "c"}, id="three"),
    # ok -> fine, and a self loop on s
    pytest.param({"ok": [], "fine": ["ok"], "s": ["s"]}, {"s"}, id="self"),
]


@pytest.mark.parametrize(("upstream", "on_cycle"), CYCLE_CASES)
def test_a_cycle_is_named(upstream: dict[str, list[str]], on_cycle: set[str]) -> None:
    with pytest.raises(CycleError) as caught:
        graph.topological_order(upstream)
    assert set(caught.value.cycle) == on_cycle
    for node in on_cycle:
        assert repr(node) in str(caught.value)


def test_upstream_closure() -> None:
    upstream = {"a": [], "b": ["a"], "c": ["b"], "d": []}
    assert graph.upstream_closure(upstream, ["c"]) == {"a", "b", "c"}
    assert graph.upstream_closure(upstream, ["d"]) == {"d"}


def test_reverse_edges_share_one_empty_tuple_and_grow_when_a_job_is_added() -> None:
    # (100,000 leaf jobs hold no list each)
    down = graph.downstream_of({"a": [], "b": ["a"], "c": ["a"], "d": []})
    assert down == {"a": ("b", "c"), "b": (), "c": (), "d": ()}
    assert down["b"] is down["d"] is graph.NONE
    graph.add_edge(down, "d", "e")  # (a job a generating job declared)
    graph.add_edge(down, "a", "e")
    assert down["d"] == ["e"] and down["a"] == ["b", "c", "e"] and graph.NONE == ()
