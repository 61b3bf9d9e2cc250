"""The top-level definitions of a user module, read from its file (not from the loaded module).

A module's fingerprints come from its source as it is on disk now, so that an edit is seen
even by a kernel that imported the module before the edit. Each top-level definition is a
`Symbol`: a function or class (fingerprinted by its canonical syntax tree: comments,
docstrings, positions and its own name do not count), or a value assignment. A symbol also
lists the global names and attribute chains its code reads (`clean`, `np.mean`,
`utils.io.load`), so that the walk (codewalk.py) goes on from it per function, not per
module. Parsed modules are cached by the file's size and mtime, in the process and in the
pipeline's history: a no-op run reads no source.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import codereads, hashing

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_BLOCKS = (ast.If, ast.Try, ast.With, ast.AsyncWith)


class SourceError(Exception):
    """A user module's file cannot be read or parsed."""


@dataclass
class Symbol:
    """A top-level name of a module and what defines it."""

    kind: str  # "function", "class" or "value"
    fingerprint: str  # of its definition(s): a syntax tree, or a literal's value
    names: frozenset[str]  # global names its code reads
    chains: frozenset[tuple[str, ...]]  # attribute chains read: ("np", "mean")
    literal: bool = False  # a value given as a literal: the fingerprint is the value's


@dataclass(frozen=True)
class Import:
    """A top-level name bound by an import: `from .io import load as read` binds `read` to
    Import(1, "io", "load"); `import numpy as np` binds `np` to Import(0, "numpy", None)."""

    level: int  # leading dots of a relative import
    module: str
    attr: str | None


@dataclass
class ModuleSource:
    """A module file's top-level symbols and imports, as parsed at `stat`."""

    path: str
    stat: tuple[int, int]  # (mtime_ns, size) when parsed
    symbols: dict[str, Symbol] = field(default_factory=dict)
    imports: dict[str, Import] = field(default_factory=dict)


class Store(Protocol):
    """Where parsed modules are kept between processes (the pipeline's history)."""

    def module_source(self, path: str, stat: tuple[int, int]) -> Any: ...

    def keep_module_source(self, path: str, stat: tuple[int, int], data: Any) -> None: ...


_cache: dict[str, ModuleSource] = {}


def read(path: str, store: Store | None = None) -> ModuleSource:
    """The parsed module at `path`: from this process's cache, or the `store`'s, while its
    size and mtime are unchanged (a run with nothing to do reads no source), else parsed
    now (and kept in both)."""
    st = os.stat(path)
    key = (st.st_mtime_ns, st.st_size)
    cached = _cache.get(path)
    if cached is not None and cached.stat == key:
        return cached
    kept = store.module_source(path, key) if store is not None else None
    module = _from_data(path, key, kept) if kept is not None else None
    if module is None:
        module = _parse(path, key)
        if store is not None:
            store.keep_module_source(path, key, _to_data(module))
    _cache[path] = module
    return module


def _parse(path: str, key: tuple[int, int]) -> ModuleSource:
    try:
        with open(path, "rb") as f:
            source = f.read()
        tree = ast.parse(source, path)
    except OSError as e:
        raise SourceError(f"cannot be read ({e.strerror or e})") from None
    except SyntaxError as e:
        msg = f"cannot be parsed ({type(e).__name__} at line {e.lineno}: {e.msg})"
        raise SourceError(msg) from None
    except ValueError as e:  # (null bytes)
        raise SourceError(f"cannot be parsed ({e})") from None
    return ModuleSource(path, key, _symbols(tree), _imports(tree))


def _to_data(module: ModuleSource) -> Any:
    """A parsed module as plain JSON data (see `_from_data`)."""
    symbols = {
        name: [s.kind, s.fingerprint, sorted(s.names), sorted(s.chains), s.literal]
        for name, s in module.symbols.items()
    }
    imports = {name: [i.level, i.module, i.attr] for name, i in module.imports.items()}
    return {"v": _FORMAT, "symbols": symbols, "imports": imports}


_FORMAT = 2  # of `_to_data`'s data (2: chains of names read on their own, and aliases)


def _from_data(path: str, key: tuple[int, int], data: Any) -> ModuleSource | None:
    """A parsed module from what `_to_data` made (None if it is not that)."""
    if not isinstance(data, dict) or data.get("v") != _FORMAT:
        return None  # (kept by an older version: what its definitions read has grown)
    try:
        symbols = {
            name: Symbol(kind, fp, frozenset(names), frozenset(map(tuple, chains)), literal)
            for name, (kind, fp, names, chains, literal) in data["symbols"].items()
        }
        imports = {name: Import(*parts) for name, parts in data["imports"].items()}
    except (KeyError, TypeError, ValueError):
        return None
    return ModuleSource(path, key, symbols, imports)


def _imports(tree: ast.Module) -> dict[str, Import]:
    found: dict[str, Import] = {}
    for node in _top_level(tree.body):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:  # `import a.b as c` binds c to a.b
                    found[alias.asname] = Import(0, alias.name, None)
                else:  # `import a.b` binds a
                    top = alias.name.split(".")[0]
                    found[top] = Import(0, top, None)
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name != "*":
                    found[alias.asname or alias.name] = Import(
                        node.level, node.module or "", alias.name
                    )
    return found


def _symbols(tree: ast.Module) -> dict[str, Symbol]:
    """Top-level definitions, including those inside `if`/`try`/`with` blocks; a name
    defined more than once is fingerprinted by all its definitions, in order."""
    parts: dict[str, list[tuple[str, ast.AST]]] = {}
    for node in _top_level(tree.body):
        if isinstance(node, _DEFS):
            kind = "class" if isinstance(node, ast.ClassDef) else "function"
            parts.setdefault(node.name, []).append((kind, node))
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            value = node.value
            if value is None:
                continue
            for target in targets:
                for name in _target_names(target):
                    parts.setdefault(name, []).append(("value", node))
    return {name: _symbol(defs) for name, defs in parts.items()}


def _top_level(body: list[ast.stmt]) -> list[ast.stmt]:
    found: list[ast.stmt] = []
    for node in body:
        if isinstance(node, _BLOCKS):
            for block in ("body", "orelse", "finalbody"):
                found.extend(_top_level(getattr(node, block, [])))
            for handler in getattr(node, "handlers", []):
                found.extend(_top_level(handler.body))
        else:
            found.append(node)
    return found


def _target_names(target: ast.AST) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for elt in target.elts for n in _target_names(elt)]
    if isinstance(target, ast.Starred):
        return _target_names(target.value)
    return []


def _symbol(defs: list[tuple[str, ast.AST]]) -> Symbol:
    kinds = {kind for kind, _ in defs}
    kind = defs[-1][0] if len(kinds) == 1 else "value"
    names: set[str] = set()
    chains: set[tuple[str, ...]] = set()
    dumps: list[str] = []
    literal: Any = _NOT_LITERAL
    for what, node in defs:
        codereads.tree_reads(node, names, chains)
        if what == "value" and len(defs) == 1 and isinstance(node, (ast.Assign, ast.AnnAssign)):
            literal = _literal(node.value)
        dumps.append(_canonical(node))
    if literal is not _NOT_LITERAL:
        return Symbol(kind, hashing.value_fingerprint(literal), frozenset(), frozenset(), True)
    fingerprint = hashing.hash_bytes("\n".join(dumps).encode())
    return Symbol(kind, fingerprint, frozenset(names), frozenset(chains))


_NOT_LITERAL = object()


def _literal(node: ast.expr | None) -> Any:
    if node is None:
        return _NOT_LITERAL
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _NOT_LITERAL


def _canonical(node: ast.AST) -> str:
    """The definition's syntax tree without positions, docstrings or its own name."""
    node = _without_docstrings(node)
    if isinstance(node, _DEFS):
        node.name = ""
    return ast.dump(node)


def _without_docstrings(node: ast.AST) -> ast.AST:
    copy = _copy(node)
    for sub in ast.walk(copy):
        if isinstance(sub, (*_DEFS, ast.Module)):
            body = sub.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                sub.body = body[1:] or [ast.Pass()]
    return copy


def _copy(node: ast.AST) -> Any:
    """A deep copy of a syntax tree (faster than copy.deepcopy for ASTs)."""
    fields = {}
    for name, value in ast.iter_fields(node):
        if isinstance(value, list):
            fields[name] = [_copy(v) if isinstance(v, ast.AST) else v for v in value]
        elif isinstance(value, ast.AST):
            fields[name] = _copy(value)
        else:
            fields[name] = value
    return type(node)(**fields)
