"""What compiled code reads (codereads.code_reads): the globals, the attribute chains, and
what the walk needs to follow a module the code holds rather than names."""

from __future__ import annotations

import types

from ppg_notebook.codereads import BARE, IMPORT, LOCAL, code_reads


def _code(source: str, name: str = "f") -> types.CodeType:
    namespace: dict[str, object] = {}
    exec(compile(source, "<test>", "exec"), namespace)
    fn = namespace[name]
    assert isinstance(fn, types.FunctionType)
    return fn.__code__


def test_a_global_chain_and_a_global_read_on_its_own() -> None:
    reads = code_reads(_code("def f():\n    utils.io.load()\n    return helper(utils)\n"))
    assert {"utils", "helper"} <= reads.names
    assert ("utils", "io", "load") in reads.chains
    assert (BARE, "utils") in reads.chains  # (passed on: it may be used in any way)
    assert (BARE, "helper") in reads.chains


def test_a_local_bound_to_a_global_stands_for_it() -> None:
    reads = code_reads(_code("def f():\n    m = utils.sub\n    return m.word()\n"))
    assert ("utils", "sub", "word") in reads.chains
    assert (BARE, "utils", "sub") not in reads.chains  # (bound, not passed on)


def test_chains_through_closure_variables_and_parameters() -> None:
    source = (
        "def make(m):\n    def f(path, d=None):\n        return m.load(d.x, path)\n    return f\n"
    )
    namespace: dict[str, object] = {}
    exec(compile(source, "<test>", "exec"), namespace)
    fn = namespace["make"](None)  # type: ignore[operator]
    reads = code_reads(fn.__code__)
    assert (LOCAL, "m", "load") in reads.chains
    assert (LOCAL, "d", "x") in reads.chains
    assert (LOCAL, "path") in reads.chains  # (a variable used on its own)


def test_an_import_inside_the_function_is_followed_as_the_module() -> None:
    reads = code_reads(_code("def f():\n    import utils\n    return utils.load()\n"))
    assert (IMPORT, "utils") in reads.chains
    assert (IMPORT, "utils", "load") in reads.chains
    assert not any(c[0] == BARE for c in reads.chains if IMPORT in c)


def _tree(source: str) -> tuple[set[str], set[tuple[str, ...]]]:
    import ast

    from ppg_notebook.codereads import tree_reads

    names: set[str] = set()
    chains: set[tuple[str, ...]] = set()
    tree_reads(ast.parse(source).body[0], names, chains)
    return names, chains


def test_a_definition_passing_a_global_on_and_binding_one_to_a_local() -> None:
    _, chains = _tree(
        "def f(path):\n    m = utils.sub\n    helper(utils)\n    return m.word(path)\n"
    )
    assert (BARE, "utils") in chains  # (passed on)
    assert ("utils", "sub", "word") in chains  # (read through the local it is bound to)
    assert (BARE, "path") not in chains  # (a parameter is the definition's own)
    assert (BARE, "utils", "sub") not in chains  # (bound, then read through: not passed)
