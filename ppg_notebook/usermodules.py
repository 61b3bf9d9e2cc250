"""The user's modules: which modules are the user's, their source as it is now, and what a
name read in one stands for (SPEC §3a).

A name is resolved the way Python would, but from the module's file rather than the loaded
module: a top-level definition is a *symbol* of that file (modsource.py), an import names
another module (followed if it is the user's too, a re-export included), and only what
neither says is looked up in the loaded module. What a name stands for is a ref:

    ("symbol", module, name)   a top-level definition of a user module
    ("live", obj, module, name)  an object found under `name` in `module` (name None:
                                 found inside another object)
    ("module", obj)              a module (to go on down an attribute chain)

Within one epoch (a run, a plan) each module is looked at once.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import types
from collections.abc import Callable
from typing import Any

from . import modsource
from .codereads import BARE, IMPORT, Reads
from .errors import CodeError
from .hashing import attribute, is_a
from .modsource import ModuleSource
from .userfiles import UserFiles

MAIN = "__main__"
_MISSING = object()


class UserModules:
    """The user's modules of one pipeline (its project directory and tracked paths)."""

    def __init__(
        self, files: UserFiles, store: Callable[[], modsource.Store] | None = None
    ) -> None:
        self.files = files
        self.store = store  # where parsed modules are kept between processes
        self._files: dict[str, str | None] = {}
        self._sources: dict[str, ModuleSource] = {}
        self._symbols: dict[tuple[str, str, str], Any] = {}

    def new_epoch(self) -> None:
        self._files.clear()
        self._sources.clear()
        self._symbols.clear()

    def is_user(self, obj: Any) -> bool:
        """A function or class defined in `__main__` or in a user module; a user module."""
        kind = type(obj)
        if kind is types.FunctionType:  # (the common case: its __module__ is its own)
            module = obj.__module__
        elif issubclass(kind, types.ModuleType):
            return self.user_file(obj.__name__) is not None
        else:
            module = attribute(obj, "__module__")
        if type(module) is not str:
            return False
        return module == MAIN or self.user_file(module) is not None

    # --- what a name stands for ------------------------------------------------------
    def resolve_live(
        self, namespace: dict[str, Any], module: str, reads: Reads, imports: bool = True
    ) -> list[Any]:
        """What the `reads` of live code in `module` (its globals `namespace`) stand for;
        `imports`: with what the code's own imports bring in."""
        refs: list[Any] = []
        for name in sorted(reads.names):
            obj = namespace.get(name, _MISSING)
            if obj is not _MISSING and not is_a(obj, types.ModuleType):
                refs.append(("live", obj, module, name))
        for chain in sorted(reads.chains):
            if chain[0] == BARE:  # (a module passed on: all of it counts)
                passed = self._module_at(namespace, chain[1:], imports)
                if passed is not None:
                    refs.append(("live", passed, "", None))
                continue
            if chain[0] == IMPORT:
                if not imports:
                    continue
                ref = self.import_ref(chain[1:])
            elif chain[0] in namespace and is_a(namespace[chain[0]], types.ModuleType):
                ref = self.descend(namespace[chain[0]], chain[1:])
            else:
                continue
            if ref is not None:
                refs.append(ref)
        return refs

    def _module_at(
        self, namespace: dict[str, Any], chain: tuple[str, ...], imports: bool
    ) -> types.ModuleType | None:
        """The module a chain read on its own stands for (None: not a module)."""
        if chain[0] == IMPORT:
            return _module_down(self.load(".".join(chain[1:])) if imports else None, ())
        return _module_down(namespace.get(chain[0]), chain[1:])

    def resolve_source(
        self,
        module: str,
        source: ModuleSource,
        names: frozenset[str],
        chains: frozenset[tuple[str, ...]],
    ) -> list[Any]:
        """What the names and chains a user module's definition reads stand for."""
        refs: list[Any] = []
        package = _package(module, source.path)
        for name in sorted(names):
            ref = self.source_name(module, source, package, name)
            if ref is not None and ref[0] != "module":
                refs.append(ref)
        for chain in sorted(chains):
            if chain[0] == BARE:  # (a module passed on: all of it counts)
                start = self.source_name(module, source, package, chain[1])
                top = start[1] if start is not None and start[0] == "module" else None
                passed = _module_down(top, chain[2:])
                if passed is not None:
                    refs.append(("live", passed, "", None))
                continue
            if chain[0] == IMPORT:
                ref = self.import_ref(chain[1:])
            else:
                start = self.source_name(module, source, package, chain[0])
                if start is None or start[0] != "module":
                    continue
                ref = self.descend(start[1], chain[1:])
            if ref is not None:
                refs.append(ref)
        return refs

    def source_name(
        self, module: str, source: ModuleSource, package: str, name: str, depth: int = 0
    ) -> Any:
        """What top-level `name` of a user module is: a symbol, what an import binds
        (("module", obj) for a module), or the loaded module's attribute."""
        if name in source.symbols:
            if source.symbols[name].kind == "value":  # (`u = utils` at the top: a module)
                live = sys.modules.get(module)
                value = vars(live).get(name) if live is not None else None
                if is_a(value, types.ModuleType):
                    return ("module", value)
            return ("symbol", module, name)
        imported = source.imports.get(name)
        if imported is not None:
            target = _absolute(imported.level, imported.module, package)
            if imported.attr is None:
                loaded = self.load(target)
                return ("module", loaded) if loaded is not None else None
            inner = self.source(target)
            if inner is not None and depth < 8:  # (a re-export: `from .core import clean`)
                found = self.source_name(
                    target, inner, _package(target, inner.path), imported.attr, depth + 1
                )
                if found is not None:
                    return found
            sub = self.load(f"{target}.{imported.attr}" if target else imported.attr)
            if sub is not None:
                return ("module", sub)
            loaded = self.load(target)
            if loaded is not None and hasattr(loaded, imported.attr):
                return ("live", getattr(loaded, imported.attr), target, imported.attr)
            return None
        live = sys.modules.get(module)
        if live is not None and name in vars(live):
            obj = vars(live)[name]
            if is_a(obj, types.ModuleType):
                return ("module", obj)
            return ("live", obj, module, name)
        return None

    def descend(self, obj: Any, chain: tuple[str, ...]) -> Any:
        """The ref that `module.a.b` reads (`obj` the module, `chain` the attributes):
        modules are followed down the chain, user modules through their source."""
        target = obj
        for attr in chain:
            if not is_a(target, types.ModuleType):
                break  # (`utils.Scale.apply`: the class is the unit)
            module = target.__name__
            source = self.source(module)
            if source is not None:
                found = self.source_name(module, source, _package(module, source.path), attr)
                if found is None or found[0] != "module":
                    return found
                target = found[1]
                continue
            nxt = getattr(target, attr, None)
            if nxt is None:
                return None
            if not is_a(nxt, types.ModuleType):
                return ("live", nxt, module, attr)
            target = nxt
        if is_a(target, types.ModuleType):
            return None
        return ("live", target, "", None)

    def import_ref(self, parts: tuple[str, ...]) -> Any:
        """An import inside a function (`from utils import clean`): what it binds."""
        for cut in range(len(parts), 0, -1):
            module = self.load(".".join(parts[:cut]))
            if module is not None:
                return self.descend(module, parts[cut:]) if parts[cut:] else None
        return None

    def symbol_of(self, obj: Any) -> tuple[str, str] | None:
        """(module, top-level name) a user module's function or class is defined as."""
        key = (obj.__module__, obj.__qualname__, obj.__name__)
        if key in self._symbols:
            found = self._symbols[key]
            if found is None or found[1] is obj or "<locals>" in key[1]:
                return None if found is None else found[0]
        symbol = self._symbol_of(obj)
        self._symbols[key] = None if symbol is None else (symbol, obj)
        return symbol

    def _symbol_of(self, obj: Any) -> tuple[str, str] | None:
        module = obj.__module__
        if module == MAIN:
            return None
        source = self.source(module)
        if source is None:
            return None
        name = obj.__name__
        if name in source.symbols and source.symbols[name].kind != "value":
            return module, name
        top = obj.__qualname__.split(".")[0]
        if top in source.symbols and top != "<lambda>":
            return module, top
        live = sys.modules.get(module)
        for key, value in vars(live).items() if live is not None else ():
            if value is obj and key in source.symbols:
                return module, key
        return None

    # --- modules -----------------------------------------------------------------------
    def user_file(self, module: str) -> str | None:
        """The source file of a user module (None if it is not the user's)."""
        known = self._files.get(module, _MISSING)
        if known is not _MISSING:
            return known  # type: ignore[return-value]
        path: str | None = None
        if module and module != MAIN:
            loaded = sys.modules.get(module)
            origin = getattr(loaded, "__file__", None) if loaded is not None else _origin(module)
            if isinstance(origin, str) and origin.endswith(".py"):
                absolute = os.path.abspath(origin)
                if self.files.contains(absolute):
                    path = absolute
        self._files[module] = path
        return path

    def source(self, module: str) -> ModuleSource | None:
        """A user module's symbols as its file says now (None if it is not the user's);
        CodeError if the file cannot be read or parsed."""
        path = self.user_file(module)
        if path is None:
            return None
        cached = self._sources.get(path)
        if cached is not None:
            return cached
        try:
            source = modsource.read(path, self.store() if self.store is not None else None)
        except (modsource.SourceError, OSError) as e:
            reason = e if isinstance(e, modsource.SourceError) else f"cannot be read ({e})"
            msg = f"the module {module!r} ({path}) {reason}"
            raise CodeError(msg, module, path) from None
        self._sources[path] = source
        return source

    def load(self, module: str) -> types.ModuleType | None:
        """The module of that name: loaded already, or a user module imported now (the job
        imports it anyway); None for a module that is not loaded and not the user's."""
        if not module:
            return None
        loaded = sys.modules.get(module)
        if loaded is not None:
            return loaded
        if self.user_file(module) is None:
            return None
        try:
            return importlib.import_module(module)
        except Exception:
            return None  # the job will fail importing it, and say why


def _origin(module: str) -> str | None:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError, AttributeError):
        return None
    return spec.origin if spec is not None else None


def _package(module: str, path: str) -> str:
    """The package relative imports in `module` start from."""
    if os.path.basename(path) == "__init__.py":
        return module
    return module.rpartition(".")[0]


def _absolute(level: int, module: str, package: str) -> str:
    if not level:
        return module
    base = package.split(".") if package else []
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def _module_down(target: Any, attrs: tuple[str, ...]) -> types.ModuleType | None:
    """The module `target.a.b` is, following modules only (None: not a module)."""
    for attr in attrs:
        target = getattr(target, attr, None) if is_a(target, types.ModuleType) else None
    return target if is_a(target, types.ModuleType) else None
