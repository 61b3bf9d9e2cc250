"""What code reads: the global names and attribute chains a definition's syntax tree or a
compiled code object uses (`clean`, `np.mean` as ("np", "mean"), `utils.io.load`), and what
imports inside functions bring in, as chains ("<import>", "utils", "clean").

Both over-approximate, never under-: every name loaded anywhere counts, so a local that
shadows a global makes the walk follow that global too. Imports nothing of ours.
"""

from __future__ import annotations

import ast
import dis
import types
from collections.abc import Iterator
from typing import Any, NamedTuple

IMPORT = "<import>"  # first element of a chain that an import statement reads
LOCAL = "<local>"  # first element of a chain that starts at a local or closure variable
BARE = "<bare>"  # first element of a global or alias read on its own (not an attribute of it)
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_LOAD_GLOBAL = frozenset({"LOAD_GLOBAL", "LOAD_NAME", "LOAD_FROM_DICT_OR_GLOBALS"})
_LOAD_ATTR = frozenset({"LOAD_ATTR", "LOAD_METHOD"})
_LOAD_LOCAL = frozenset({"LOAD_FAST", "LOAD_DEREF", "LOAD_CLOSURE", "LOAD_FAST_CHECK"})
_STORES = frozenset({"STORE_FAST", "STORE_NAME", "STORE_GLOBAL", "STORE_DEREF"})


class Reads(NamedTuple):
    names: frozenset[str]
    chains: frozenset[tuple[str, ...]]


_cache: dict[int, tuple[types.CodeType, Reads]] = {}


def code_reads(code: types.CodeType) -> Reads:
    """What a compiled function (and the code nested in it) reads as globals."""
    cached = _cache.get(id(code))
    if cached is not None and cached[0] is code:
        return cached[1]
    names: set[str] = set()
    chains: set[tuple[str, ...]] = set()
    for c in _codes(code):
        _one_code(c, names, chains)
    reads = Reads(frozenset(names), frozenset(chains))
    _cache[id(code)] = (code, reads)  # (the code kept alive with its id)
    return reads


def _codes(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _codes(const)


def _one_code(code: types.CodeType, names: set[str], chains: set[tuple[str, ...]]) -> None:
    """Global names read by one code object, and attribute chains starting at them
    (`utils.io.load` -> ("utils", "io", "load")); imports as ("<import>", "a", "b"), and
    the names an import binds in the code followed as the module they stand for
    (`import utils` ... `utils.clean` -> ("<import>", "utils", "clean")). Chains that
    start at a local or closure variable are kept as ("<local>", "m", "load"), and a
    variable loaded on its own as ("<local>", "m"): what it holds is known only from a
    live function's closure or defaults (`m = utils; lambda: m.load()`, `def f(m=utils)`),
    and one used on its own (passed on, `helper(m)`) may be used in any way. So may a
    global or an alias read on its own, kept as ("<bare>", "utils"); a local bound to a
    global or its attribute (`m = utils`) stands for it."""
    chain: list[str] = []
    attrs = 0  # attributes read along `chain` so far
    consts: list[Any] = [None, None]
    aliases: dict[str, list[str]] = {}  # local name -> the module (and attribute) it binds
    binding: list[str] | None = None  # what the next STORE binds, right after an import
    imported: list[str] = []
    as_form = False  # `import a.b as c` (IMPORT_FROM walks the dotted path)
    for ins in dis.get_instructions(code):
        op = ins.opname
        if op in _LOAD_ATTR and chain:
            chain.append(ins.argval)
            attrs += 1
            continue
        if len(chain) > 1:
            chains.add(tuple(chain))
        if chain and not attrs and chain[0] != LOCAL and op not in _STORES:
            chains.add((BARE, *chain))  # a global or an alias on its own: `helper(utils)`
        last, chain, attrs = chain, [], 0
        if op in _STORES:
            if binding is not None:
                aliases[ins.argval] = [IMPORT, *binding]
            elif last and last[0] != LOCAL:
                aliases[ins.argval] = last  # `m = utils`, `m = utils.io`: m stands for it
            else:
                aliases.pop(ins.argval, None)
            binding = None
            continue
        if op == "IMPORT_NAME":
            level, fromlist = consts[-2], consts[-1]
            imported = [] if level else ins.argval.split(".")
            as_form = fromlist is None
            if imported:
                chains.add((IMPORT, *imported))
            binding = imported[:1] if imported else None  # `import a.b` binds `a`
        elif op == "IMPORT_FROM" and imported:
            if as_form:
                binding = imported  # `import a.b as c` binds `c` to a.b
            else:
                chains.add((IMPORT, *imported, ins.argval))
                binding = [*imported, ins.argval]
            continue
        elif op in _LOAD_LOCAL and ins.argval in aliases:
            chain = list(aliases[ins.argval])
        elif op in _LOAD_LOCAL:
            chain = [LOCAL, ins.argval]
        elif op in _LOAD_GLOBAL:
            names.add(ins.argval)
            chain = list(aliases[ins.argval]) if ins.argval in aliases else [ins.argval]
        if op == "LOAD_CONST":
            consts = [consts[-1], ins.argval]
        elif op not in ("IMPORT_NAME", "IMPORT_FROM"):
            binding = None
    if len(chain) > 1:
        chains.add(tuple(chain))


def tree_reads(node: ast.AST, names: set[str], chains: set[tuple[str, ...]]) -> None:
    """Global names and attribute chains the definition's code may read.

    Every name loaded anywhere in it counts (a local that shadows a global makes the walk
    follow that global too: more than needed, never less). A name an import inside it
    binds stands for that module: `import utils` ... `utils.clean` reads
    ("<import>", "utils", "clean"); so does a local bound to a global or its attribute
    (`m = utils.io` ... `m.load` reads ("utils", "io", "load")). A global (or such a local)
    read on its own, not as the start of an attribute, is kept as ("<bare>", "utils"):
    passed on (`helper(utils)`), a module may be used in any way.
    """
    aliases: dict[str, tuple[str, ...]] = {}
    bound: dict[str, tuple[str, ...]] = {}  # `m = utils.io`: m -> ("utils", "io")
    local: set[str] = set()  # what the definition binds itself (never a global)
    quiet: set[int] = set()  # names read as the start of an attribute, or bound to a local
    if isinstance(node, _SCOPES):
        for sub in ast.walk(node):
            if isinstance(sub, (ast.Import, ast.ImportFrom)):
                chains.update(import_chains(sub))
                aliases.update(_bound_by(sub))
            elif isinstance(sub, ast.arg):
                local.add(sub.arg)
            elif isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                local.add(sub.id)
            elif isinstance(sub, ast.Assign) and len(sub.targets) == 1:
                target, value = sub.targets[0], sub.value
                stands: tuple[str, ...] | None = None
                if isinstance(value, ast.Name):
                    stands = (value.id,)
                    quiet.add(id(value))  # (bound to a local: read through it, or not)
                elif isinstance(value, ast.Attribute):
                    stands = attribute_chain(value)
                if isinstance(target, ast.Name) and stands is not None:
                    bound[target.id] = stands
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute):
            base = sub.value
            while isinstance(base, ast.Attribute):
                base = base.value
            quiet.add(id(base))
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and not isinstance(sub.ctx, ast.Store):
            names.add(sub.id)
            if id(sub) not in quiet and (sub.id in bound or sub.id not in local):
                chains.add((BARE, *bound.get(sub.id, (sub.id,))))
        elif isinstance(sub, ast.Attribute):
            found = attribute_chain(sub)
            if found is not None:
                chains.add(found)
                if found[0] in aliases:
                    chains.add((IMPORT, *aliases[found[0]], *found[1:]))
                if found[0] in bound:
                    chains.add((*bound[found[0]], *found[1:]))


def _bound_by(node: ast.Import | ast.ImportFrom) -> dict[str, tuple[str, ...]]:
    """The names an import binds, and the module (or module attribute) each stands for."""
    if isinstance(node, ast.Import):
        return {
            (alias.asname or alias.name.split(".")[0]): tuple(
                alias.name.split(".") if alias.asname else alias.name.split(".")[:1]
            )
            for alias in node.names
        }
    if node.level or not node.module:
        return {}
    base = tuple(node.module.split("."))
    return {(a.asname or a.name): (*base, a.name) for a in node.names if a.name != "*"}


def attribute_chain(node: ast.Attribute) -> tuple[str, ...] | None:
    """`a.b.c` as ("a", "b", "c"); None if it does not start at a name."""
    parts = [node.attr]
    value = node.value
    while isinstance(value, ast.Attribute):
        parts.append(value.attr)
        value = value.value
    if not isinstance(value, ast.Name):
        return None
    parts.append(value.id)
    return tuple(reversed(parts))


IMPORT = "<import>"  # first element of a chain that an import statement reads


def import_chains(node: ast.Import | ast.ImportFrom) -> list[tuple[str, ...]]:
    """An import inside a function, as chains of absolute module names: `from utils
    import clean` reads ("<import>", "utils", "clean")."""
    if isinstance(node, ast.Import):
        return [(IMPORT, *alias.name.split(".")) for alias in node.names]
    if node.level or not node.module:
        return []  # relative imports are resolved by the module's own imports
    base = node.module.split(".")
    return [(IMPORT, *base, alias.name) for alias in node.names if alias.name != "*"]
