"""Groups of sibling jobs (dag_groups.py) and the pictures built from them (dag_model.py)."""

from __future__ import annotations

import itertools

import pytest

from ppg_notebook import dag_model, status
from ppg_notebook.dag_groups import MIN_SIZE, _pattern, find_groups
from ppg_notebook.decide import Reason


def _model(
    names: list[str], edges: list[tuple[str, str]], kind: str = "file"
) -> dag_model.GraphModel:
    upstream: dict[str, list[str]] = {n: [] for n in names}
    for a, b in edges:
        upstream[b].append(a)
    return dag_model.build(upstream, names, dict.fromkeys(names, kind))


def _fan(n: int) -> dag_model.GraphModel:
    #   genome ─┬─ align_0 ── count_0 ─┐
    #           ├─ …                   ├─ sum
    #           └─ align_n ── count_n ─┘
    names = ["genome", *(f"align_{i}" for i in range(n)), *(f"count_{i}" for i in range(n))]
    edges = [("genome", f"align_{i}") for i in range(n)]
    edges += [(f"align_{i}", f"count_{i}") for i in range(n)]
    edges += [(f"count_{i}", "sum") for i in range(n)]
    return _model([*names, "sum"], edges)


@pytest.mark.parametrize(
    ("names", "pattern"),
    [
        (["out/1.txt", "out/17.txt", "out/2000.txt"], "out/*.txt"),
        (["align_sample_A", "align_sample_B"], "align_sample_*"),
        (["a_1", "a_11"], "a_*"),
        (["chr1/genes.tsv", "chrX/genes.tsv"], "*/genes.tsv"),
        (["x", "y"], "*"),
    ],
)
def test_a_group_is_named_by_what_its_ids_share(names: list[str], pattern: str) -> None:
    assert _pattern(names) == pattern


@pytest.mark.parametrize(
    ("case", "n", "groups"),
    [
        # 2,000 outputs of one input: one group (and the input).
        ("fan-out", 2000, [("out/*.txt", 2000)]),
        # 12 are drawn one by one: "more than 12" make a group.
        ("fan-out", MIN_SIZE - 1, []),
        ("fan-out", MIN_SIZE, [("out/*.txt", MIN_SIZE)]),
        # a chain is never a group, however long.
        ("chain", 500, []),
        # parallel chains: a chain of groups.
        ("chains", 100, [("align_*", 100), ("count_*", 100)]),
    ],
)
def test_siblings_of_one_shape_are_grouped(
    case: str, n: int, groups: list[tuple[str, int]]
) -> None:
    if case == "fan-out":
        names = ["in.txt", *(f"out/{i}.txt" for i in range(n))]
        model = _model(names, [("in.txt", x) for x in names[1:]])
    elif case == "chain":
        names = [f"step_{i}" for i in range(n)]
        model = _model(names, list(itertools.pairwise(names)), "value")
    else:
        model = _fan(n)
    found = find_groups(model.kinds, model.edges, model.labels)
    assert [(g.pattern, len(g.members)) for g in found] == groups


def test_jobs_with_other_dependants_are_not_siblings() -> None:
    #   in ─┬─ out/0..19 ── a        out/0..19 and out/20..39 have other dependants:
    #       └─ out/20..39 ── b       two groups (keys told apart), not one.
    names = ["in", *(f"out/{i}.txt" for i in range(40)), "a", "b"]
    edges = [("in", f"out/{i}.txt") for i in range(40)]
    edges += [(f"out/{i}.txt", "a" if i < 20 else "b") for i in range(40)]
    found = find_groups(*_args(_model(names, edges)))
    assert [len(g.members) for g in found] == [20, 20]
    assert [g.key for g in found] == ["group:out/*.txt", "group:out/*.txt #2"]


def _args(model: dag_model.GraphModel) -> tuple:
    return model.kinds, model.edges, model.labels


def test_a_2000_job_fan_out_is_drawn_as_a_handful_of_nodes_labelled_with_the_count() -> None:
    view = _fan(2000).view()
    assert [d.label for d in view.drawn] == ["genome", "align_* ×2000", "count_* ×2000", "sum"]
    assert view.edges == ((0, 1), (1, 2), (2, 3))
    dot = view.dot()
    assert "align_* ×2000" in dot and dot.count("->") == 3


def test_expand_draws_a_groups_members_one_by_one() -> None:
    model = _fan(20)
    view = model.view(frozenset({"group:align_*"}))
    labels = [d.label for d in view.drawn]
    assert "align_7" in labels and "align_* ×20" not in labels
    assert len(view.drawn) == 2 + 2 * 20  # count_i now have distinct upstreams too


def test_focus_shows_a_job_and_everything_up_and_downstream_of_it() -> None:
    model = _fan(20)
    view = model.view(focus="align_3")
    assert [d.label for d in view.drawn] == ["genome", "align_3", "count_3", "sum"]
    assert view.focus == "align_3"
    assert model.view(focus="gone").focus is None


def test_10000_jobs_in_a_tree_are_grouped_by_depth_rather_than_drawn_one_by_one() -> None:
    n = 10_000
    names = [f"job_{i:05d}.txt" for i in range(n)]
    model = _model(names, [(names[(i - 1) // 3], names[i]) for i in range(1, n)])
    view = model.view()
    assert len(view.drawn) < 100
    assert sum(len(d.members) for d in view.drawn) == n


def test_may_run_is_told_apart_from_must_run() -> None:
    ok = {"o": "ok"}
    assert status.code(Reason(5, "x will run first", maybe=True), ok) == "ok?"
    assert status.code(Reason(2, "its code changed"), ok) == "ok*"
    assert status.code(None, ok) == "ok"


#   a ─┬─ b ─┐
#      └─ c ─┴─ d        e
DIAMOND = [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]


@pytest.mark.parametrize(
    "declared",
    [["a", "b", "c", "d", "e"], ["e", "a", "c", "b", "d"], ["a", "c", "e", "b", "d"]],
)
def test_the_dot_is_the_same_in_whatever_order_the_jobs_were_declared(declared: list[str]) -> None:
    view = _model(declared, DIAMOND).view()
    assert [d.key for d in view.drawn] == ["a", "e", "b", "c", "d"]  # by depth, then id
    assert view.dot() == _model(["a", "b", "c", "d", "e"], DIAMOND).view().dot()


@pytest.mark.parametrize(
    ("declared", "edges"),
    [
        (["a", "b", "c", "d", "e", "0"], []),
        (["a", "bb", "b", "c", "d", "e"], [("a", "bb")]),
        (["a", "b", "c", "d", "e", "z"], [("d", "z")]),
        (["a", "b", "c", "c2", "d", "e"], [("c", "c2"), ("c2", "d")]),
        (["a", "x", "e", "b", "c", "d"], [("x", "b")]),  # b now waits for x
    ],
)
def test_one_more_job_leaves_the_others_in_their_order(
    declared: list[str], edges: list[tuple[str, str]]
) -> None:
    before = [d.key for d in _model(["a", "b", "c", "d", "e"], DIAMOND).view().drawn]
    after = [d.key for d in _model(declared, DIAMOND + edges).view().drawn]
    assert [k for k in after if k in before] == before
