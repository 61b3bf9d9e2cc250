"""The user's code a function reaches, and one fingerprint for all of it (SPEC §3a).

From a job's function (or the globals a `%%ppg_job` body reads) the walk follows the global
names and attribute chains the code reads, its closure values and defaults, to every
function, class and module-level value that is the user's code (userfiles.py):

- defined in `__main__` (the notebook or the script): live objects, fingerprinted by their
  compiled code (hashing.function_fingerprint);
- defined in a module whose file is the user's: fingerprinted from that file as it is now,
  per top-level definition (modsource.py), so an edit is seen by a kernel that imported
  the module before it. Names are resolved through the file's own imports.

Third-party and standard-library code is not followed. Each item reached has a key
(`utils.clean_rows`, `__main__.factor`) and a fingerprint; a job's code fingerprint
combines its function's own with those of everything it reaches, so editing one function
reruns exactly the jobs that reach it, and a comment, a docstring or another function of
the same module reruns nothing.

Module-level values are parameters of the code that reads them: always in user modules;
in `__main__` as `main_values` says. A `%%ppg_job` body's globals are all tracked
(TRACK_ALL); the job functions of a script track only immutable constants of the script
(TRACK_CONSTANTS: pypipegraph's idiom of one function shared by many jobs that each read
their own entry of a script-level list, declared per job as a ParameterInvariant).
Objects of the user's classes count through their class's code as well as their state.

Results are cached per *epoch* (a run, a plan): within one, each module file is looked
at (stat) once and each function's reach computed once.
"""

from __future__ import annotations

import contextlib
import dis
import functools
import importlib.util
import inspect
import os
import sys
import types
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from . import hashing, modsource
from .errors import CodeError
from .modsource import IMPORT, ModuleSource
from .userfiles import UserFiles

TRACK_ALL = "all"
TRACK_CONSTANTS = "constants"
MAIN = "__main__"
_MAX_ITEMS = 5000  # items one walk follows (a runaway guard)
_MAX_ELEMENTS = 256  # elements of a captured container searched for code
_LOAD_GLOBAL = frozenset({"LOAD_GLOBAL", "LOAD_NAME", "LOAD_FROM_DICT_OR_GLOBALS"})
_LOAD_ATTR = frozenset({"LOAD_ATTR", "LOAD_METHOD"})
_CONSTANTS = (int, float, complex, bool, str, bytes, type(None))


@dataclass(frozen=True)
class Reach:
    """What a walk found: one fingerprint, and its parts for explanations."""

    fingerprint: str
    own: str  # of the function or value itself
    items: dict[str, str]  # key -> fingerprint of each user function, class or value reached
    modules: tuple[str, ...]  # names of the user modules whose code it covers
    values: tuple[tuple[str, Any, str], ...]  # (key, value, reader) of __main__ values
    children: tuple[Any, ...] = ()  # where the walk started (refs), to walk again
    main_values: str = TRACK_ALL


class _Item(NamedTuple):
    key: str
    fingerprint: str
    children: list[Any]  # refs (see _expand)
    module: str | None  # the user module it is defined in (None: __main__, or nothing)
    value: Any


_NO_VALUE = object()


class CodeWalker:
    """Walks the user's code for one pipeline (its project directory and tracked paths)."""

    def __init__(self, files: UserFiles) -> None:
        self.files = files
        self.epoch = 0
        self._held_epoch = -1
        self._values: dict[tuple[str, str], tuple[Any, tuple[int, int], str, list[Any]]] = {}
        self._module_files: dict[str, str | None] = {}
        self._sources: dict[str, ModuleSource] = {}
        self._closures: dict[Any, tuple[dict[str, _Item], dict[str, str], Any]] = {}
        self._merges: dict[Any, tuple[Any, Any]] = {}
        self._reads: dict[int, tuple[types.CodeType, _Reads]] = {}

    def hold(self) -> None:
        """The next `new_epoch()` keeps this one: what a cell's job reads was looked at
        just now, when the cell declared it (a value is not hashed twice)."""
        self._held_epoch = self.epoch

    def new_epoch(self) -> None:
        """Look at module files (and rebindings of globals) again from now on."""
        if self._held_epoch == self.epoch:
            self._held_epoch = -1
            return
        self.epoch += 1
        self._module_files.clear()
        self._sources.clear()
        self._closures.clear()
        self._merges.clear()

    # --- the entry points ----------------------------------------------------------
    def function(self, fn: Any, main_values: str = TRACK_CONSTANTS) -> Reach:
        """The reach of `fn`: its own fingerprint (code, closure, defaults) combined with
        that of the user's code it reaches."""
        symbol = self._symbol_of(fn) if isinstance(fn, (types.FunctionType, type)) else None
        if symbol is not None:  # its code is read from its module's file, as it is now
            children: list[Any] = [("symbol", *symbol)]
            held = self._held(fn, children)
            return self._reach(held or _FROM_SOURCE, children, main_values)
        own = hashing.function_fingerprint(fn)
        reader = f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', '')}"
        return self._reach(own, self._children_of_root(fn), main_values, reader)

    def value(self, value: Any, main_values: str = TRACK_ALL) -> Reach:
        """The reach of a parameter value: its own fingerprint (classes and functions of the
        user's in it counted by their code) combined with that code's."""
        children: list[Any] = []
        own = hashing.hash_bytes(self._value_key(value, children))
        return self._reach(own, children, main_values)

    def reads_of(
        self, code: types.CodeType, namespace: dict[str, Any], main_values: str = TRACK_ALL
    ) -> Reach:
        """The user's code that `code` (a cell's body) reads through the names of
        `namespace` (the user's modules it uses: `utils.clean_rows(...)`); the body's own
        code does not count (its job fingerprints that)."""
        refs = self._resolve_live(namespace, MAIN, self._code_reads(code))
        return self._reach(_FROM_SOURCE, refs, main_values)

    def again(self, reach: Reach) -> Reach:
        """The same walk in this epoch (the user's modules may have changed since)."""
        return self._reach(reach.own, list(reach.children), reach.main_values)

    def is_user(self, obj: Any) -> bool:
        """A function or class defined in `__main__` or in a user module; a user module."""
        if isinstance(obj, types.ModuleType):
            return self._user_file(obj.__name__) is not None
        module = getattr(obj, "__module__", None)
        if not isinstance(module, str):
            return False
        return module == MAIN or self._user_file(module) is not None

    def chain_target(self, obj: Any, chain: tuple[str, ...]) -> tuple[str, Any] | None:
        """What `module.a.b` reads in a user module (`obj` the module, `chain` the
        attributes): (key, object) of the user function, class or value, or None."""
        ref = self._descend(obj, chain)
        if ref is None:
            return None
        item = self._expand(ref, TRACK_ALL)
        if item is None:
            return None
        value = item.value if item.value is not _NO_VALUE else None
        return item.key, value

    # --- combining -----------------------------------------------------------------
    def _reach(self, own: str, children: list[Any], main_values: str, reader: str = "") -> Reach:
        """`reader`: the code the walk starts from, named as what reads its first items."""
        kept = tuple(children)
        if not children:
            return Reach(own, own, {}, (), (), kept, main_values)
        merged = self._merged(kept, main_values, reader)
        if merged is None:
            return Reach(own, own, {}, (), (), kept, main_values)
        fingerprints, digest, modules, values = merged
        fingerprint = hashing.combine([own, digest])
        return Reach(fingerprint, own, fingerprints, modules, values, kept, main_values)

    def _merged(
        self, children: tuple[Any, ...], main_values: str, reader: str
    ) -> tuple[dict[str, str], str, tuple[str, ...], tuple[tuple[str, Any, str], ...]] | None:
        """What a set of refs reaches, merged (memoised for the epoch: the many jobs made
        by one function reach the same code)."""
        memo_key = (tuple(_ref_key(ref) for ref in children), main_values, reader)
        if memo_key in self._merges:
            return self._merges[memo_key][0]
        items: dict[str, _Item] = {}
        readers: dict[str, str] = {}
        for ref in children:
            closure, reader_map = self._closure(ref, main_values)
            for key, item in closure.items():
                if key not in items:
                    items[key] = item
                    readers.setdefault(key, reader_map.get(key) or reader)
        result = None
        if items:
            fingerprints = {key: item.fingerprint for key, item in sorted(items.items())}
            digest = hashing.combine([f"{k}={v}" for k, v in fingerprints.items()])
            modules = tuple(sorted({i.module for i in items.values() if i.module}))
            values = tuple(
                (key, item.value, readers.get(key, ""))
                for key, item in items.items()
                if item.value is not _NO_VALUE and key.startswith(MAIN + ".")
            )
            result = (fingerprints, digest, modules, values)
        self._merges[memo_key] = (result, children)  # (the refs kept alive with their ids)
        return result

    def _closure(self, ref: Any, main_values: str) -> tuple[dict[str, _Item], dict[str, str]]:
        """Everything reachable from `ref` (memoised for the epoch)."""
        memo_key = (_ref_key(ref), main_values)
        cached = self._closures.get(memo_key)
        if cached is not None:
            return cached[0], cached[1]
        items: dict[str, _Item] = {}
        readers: dict[str, str] = {}
        todo: deque[tuple[Any, str]] = deque([(ref, "")])
        seen: set[Any] = set()
        while todo and len(items) < _MAX_ITEMS and len(seen) < 4 * _MAX_ITEMS:
            current, reader = todo.popleft()
            key = _ref_key(current)
            if key in seen:
                continue
            seen.add(key)
            item = self._expand(current, main_values)
            if item is None:
                continue
            if item.key:
                if item.key in items:
                    continue
                items[item.key] = item
                readers[item.key] = reader
            todo.extend((child, item.key or reader) for child in item.children)
        self._closures[memo_key] = (items, readers, ref)  # (ref kept alive with its id)
        return items, readers

    # --- what a reference stands for -------------------------------------------------
    # A ref is ("live", obj, module, name): an object found under `name` (None when it was
    # found inside another one) in module `module`; or ("symbol", module, name): a
    # top-level definition of a user module.
    def _expand(self, ref: Any, main_values: str) -> _Item | None:
        if ref[0] == "symbol":
            return self._symbol(ref[1], ref[2], main_values)
        return self._live(ref[1], ref[2], ref[3], main_values)

    def _live(self, obj: Any, module: str, name: str | None, main_values: str) -> _Item | None:
        if isinstance(obj, types.ModuleType):
            return None
        if isinstance(obj, types.MethodType):
            return _parts([obj.__func__, obj.__self__])
        if isinstance(obj, functools.partial):
            return _parts([obj.func, *obj.args, *obj.keywords.values()])
        inner = _unwrapped(obj)
        if isinstance(obj, (types.FunctionType, type)):
            if not self.is_user(obj):
                return _parts([inner]) if inner is not obj else None
            symbol = self._symbol_of(obj)
            if symbol is not None:
                children: list[Any] = [("symbol", *symbol)]
                held = self._held(obj, children)
                if held is None:
                    return self._symbol(*symbol, main_values)
                # Made by a function of the module (a closure): that function's source,
                # and the values this one holds.
                key = f"{obj.__module__}.{obj.__qualname__}@{held[:8]}"
                return _Item(key, held, children, obj.__module__, _NO_VALUE)
            if isinstance(obj, type):
                return self._class(obj)
            return self._function(obj, [_live_ref(inner)] if inner is not obj else [])
        if inner is not obj:  # a library's wrapper (functools.lru_cache) of a function
            return _parts([inner])
        if name is None:  # found inside a function or value: its state counted there
            return self._contents(obj)
        if module != MAIN and self._user_file(module) is None:
            return None  # a library's module-level value
        if module == MAIN and main_values == TRACK_CONSTANTS and not _is_constant(obj):
            return self._contents(obj)
        children: list[Any] = []
        fingerprint = hashing.hash_bytes(self._value_key(obj, children))
        return _Item(f"{module}.{name}", fingerprint, children, None, obj)

    def _contents(self, obj: Any) -> _Item | None:
        """The user's code inside an object whose state is counted elsewhere (or not at
        all): its class, and the functions and objects in a container."""
        inside: list[Any] = []
        if type(obj) in (list, tuple, set, frozenset, dict):
            elements = obj.values() if type(obj) is dict else obj
            inside = [v for v in list(elements)[:_MAX_ELEMENTS] if type(v) not in _CONSTANTS]
        elif self.is_user(type(obj)):
            inside = [type(obj)]
        return _parts(inside) if inside else None

    def _function(self, fn: types.FunctionType, extra: list[Any]) -> _Item:
        """A live function (of `__main__`, or made at run time): its compiled code."""
        reads = self._code_reads(fn.__code__)
        children = self._resolve_live(fn.__globals__, fn.__module__, reads)
        children.extend(_live_ref(value) for value in _closure_values(fn))
        children.extend(_live_ref(d) for d in fn.__defaults__ or ())
        children.extend(_live_ref(d) for d in (fn.__kwdefaults__ or {}).values())
        key = f"{fn.__module__}.{fn.__qualname__}"
        return _Item(key, hashing.function_fingerprint(fn), children + extra, None, _NO_VALUE)

    def _class(self, cls: type) -> _Item:
        """A live class (of `__main__`): its bases by name, its attributes by value, and
        each of its methods as code of its own."""
        key = f"{cls.__module__}.{cls.__qualname__}"
        parts: list[bytes] = [f"{b.__module__}.{b.__qualname__}".encode() for b in cls.__bases__]
        children: list[Any] = [_live_ref(b) for b in cls.__bases__]
        for name, value in sorted(vars(cls).items()):
            for part_name, part in _members(name, value):
                if isinstance(part, types.FunctionType):
                    if self.is_user(part):
                        children.append(_live_ref(part))
                    continue
                if name.startswith("__") and name.endswith("__"):
                    continue  # what Python puts there (__dict__, __module__, ...)
                parts.append(part_name.encode() + b"=" + self._value_key(part, children))
        return _Item(key, hashing.hash_bytes(b"\n".join(parts)), children, None, _NO_VALUE)

    def _symbol(self, module: str, name: str, main_values: str) -> _Item | None:
        """A top-level definition of a user module, from its file."""
        source = self._source(module)
        if source is None:
            return None
        symbol = source.symbols.get(name)
        if symbol is None:
            return None
        key = f"{module}.{name}"
        children = self._resolve_source(module, source, symbol.names, symbol.chains)
        value = _NO_VALUE
        fingerprint = symbol.fingerprint
        if symbol.kind == "value" and not symbol.literal:
            live = sys.modules.get(module)
            if live is not None and name in vars(live):
                value = vars(live)[name]
                if not callable(value) and not isinstance(value, types.ModuleType):
                    state = self._module_value(module, name, value, source.stat)
                    fingerprint = hashing.combine([fingerprint, state[0]])
                    children.extend(state[1])
        return _Item(key, fingerprint, children, module, value)

    def _module_value(
        self, module: str, name: str, value: Any, stat: tuple[int, int]
    ) -> tuple[str, list[Any]]:
        """The fingerprint of a module-level value a user module computed (a table it
        loaded, say), hashed once while the module file and the object are the same."""
        cached = self._values.get((module, name))
        if cached is not None and cached[0] is value and cached[1] == stat:
            return cached[2], cached[3]
        children: list[Any] = []
        fingerprint = hashing.hash_bytes(self._value_key(value, children))
        self._values[(module, name)] = (value, stat, fingerprint, children)
        return fingerprint, children

    # --- resolving names ---------------------------------------------------------------
    def _resolve_live(self, namespace: dict[str, Any], module: str, reads: _Reads) -> list[Any]:
        refs: list[Any] = []
        for name in sorted(reads.names):
            obj = namespace.get(name, _NO_VALUE)
            if obj is not _NO_VALUE and not isinstance(obj, types.ModuleType):
                refs.append(("live", obj, module, name))
        for chain in sorted(reads.chains):
            if chain[0] == IMPORT:
                ref = self._import_ref(chain[1:])
            elif chain[0] in namespace and isinstance(namespace[chain[0]], types.ModuleType):
                ref = self._descend(namespace[chain[0]], chain[1:])
            else:
                continue
            if ref is not None:
                refs.append(ref)
        return refs

    def _resolve_source(
        self,
        module: str,
        source: ModuleSource,
        names: frozenset[str],
        chains: frozenset[tuple[str, ...]],
    ) -> list[Any]:
        refs: list[Any] = []
        package = _package(module, source.path)
        for name in sorted(names):
            ref = self._source_name(module, source, package, name)
            if ref is not None and ref[0] != "module":
                refs.append(ref)
        for chain in sorted(chains):
            if chain[0] == IMPORT:
                ref = self._import_ref(chain[1:])
            else:
                start = self._source_name(module, source, package, chain[0])
                if start is None or start[0] != "module":
                    continue
                ref = self._descend(start[1], chain[1:])
            if ref is not None:
                refs.append(ref)
        return refs

    def _source_name(
        self, module: str, source: ModuleSource, package: str, name: str, depth: int = 0
    ) -> Any:
        """What top-level `name` of a user module is: a symbol, what an import binds
        (("module", obj) for a module), or the loaded module's attribute."""
        if name in source.symbols:
            return ("symbol", module, name)
        imported = source.imports.get(name)
        if imported is not None:
            target = _absolute(imported.level, imported.module, package)
            if imported.attr is None:
                loaded = self._load(target)
                return ("module", loaded) if loaded is not None else None
            inner = self._source(target)
            if inner is not None and depth < 8:  # (a re-export: `from .core import clean`)
                found = self._source_name(
                    target, inner, _package(target, inner.path), imported.attr, depth + 1
                )
                if found is not None:
                    return found
            sub = self._load(f"{target}.{imported.attr}" if target else imported.attr)
            if sub is not None:
                return ("module", sub)
            loaded = self._load(target)
            if loaded is not None and hasattr(loaded, imported.attr):
                return ("live", getattr(loaded, imported.attr), target, imported.attr)
            return None
        live = sys.modules.get(module)
        if live is not None and name in vars(live):
            obj = vars(live)[name]
            if isinstance(obj, types.ModuleType):
                return ("module", obj)
            return ("live", obj, module, name)
        return None

    def _descend(self, obj: Any, chain: tuple[str, ...]) -> Any:
        """The ref that `module.a.b` reads (`obj` the module, `chain` the attributes):
        modules are followed down the chain, user modules through their source."""
        target = obj
        for attr in chain:
            if not isinstance(target, types.ModuleType):
                break  # (`utils.Scale.apply`: the class is the unit)
            module = target.__name__
            source = self._source(module)
            if source is not None:
                found = self._source_name(module, source, _package(module, source.path), attr)
                if found is None or found[0] != "module":
                    return found
                target = found[1]
                continue
            nxt = getattr(target, attr, None)
            if nxt is None:
                return None
            if not isinstance(nxt, types.ModuleType):
                return ("live", nxt, module, attr)
            target = nxt
        if isinstance(target, types.ModuleType):
            return None
        return ("live", target, "", None)

    def _import_ref(self, parts: tuple[str, ...]) -> Any:
        """An import inside a function (`from utils import clean`): what it binds."""
        for cut in range(len(parts), 0, -1):
            module = self._load(".".join(parts[:cut]))
            if module is not None:
                return self._descend(module, parts[cut:]) if parts[cut:] else None
        return None

    def _held(self, fn: Any, children: list[Any]) -> str | None:
        """What a function that a user module's code made at run time (a closure) holds:
        the fingerprint of its closure values and defaults, which its source does not say
        (the user's code among them appended to `children`); None for a function the
        module defines at its top level, whose source says it all."""
        if not isinstance(fn, types.FunctionType) or "<locals>" not in fn.__qualname__:
            return None
        held = _closure_values(fn)
        plain = not fn.__defaults__ and not fn.__kwdefaults__
        if plain and all(type(v) in _CONSTANTS for v in held):  # (the common case, kept fast)
            return hashing.hash_bytes(b"held:" + hashing.value_key(tuple(held)))
        parts = [self._value_key(v, children) for v in held]
        parts.append(self._value_key(fn.__defaults__ or (), children))
        parts.append(self._value_key(fn.__kwdefaults__ or {}, children))
        return hashing.hash_bytes(b"held:" + b"\0".join(parts))

    def _symbol_of(self, obj: Any) -> tuple[str, str] | None:
        """(module, top-level name) a user module's function or class is defined as."""
        module = obj.__module__
        if module == MAIN:
            return None
        source = self._source(module)
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
    def _user_file(self, module: str) -> str | None:
        """The source file of a user module (None if it is not the user's)."""
        if module in self._module_files:
            return self._module_files[module]
        path: str | None = None
        if module and module != MAIN:
            loaded = sys.modules.get(module)
            origin = getattr(loaded, "__file__", None) if loaded is not None else _origin(module)
            if isinstance(origin, str) and origin.endswith(".py"):
                absolute = os.path.abspath(origin)
                if self.files.contains(absolute):
                    path = absolute
        self._module_files[module] = path
        return path

    def _source(self, module: str) -> ModuleSource | None:
        path = self._user_file(module)
        if path is None:
            return None
        cached = self._sources.get(path)
        if cached is not None:
            return cached
        try:
            source = modsource.read(path)
        except (modsource.SourceError, OSError) as e:
            reason = e if isinstance(e, modsource.SourceError) else f"cannot be read ({e})"
            msg = f"the module {module!r} ({path}) {reason}"
            raise CodeError(msg, module, path) from None
        self._sources[path] = source
        return source

    def _load(self, module: str) -> types.ModuleType | None:
        """The module of that name: loaded already, or a user module imported now (the job
        imports it anyway); None for a module that is not loaded and not the user's."""
        if not module:
            return None
        loaded = sys.modules.get(module)
        if loaded is not None:
            return loaded
        if self._user_file(module) is None:
            return None
        try:
            return importlib.import_module(module)
        except Exception:
            return None  # the job will fail importing it, and say why

    # --- values ----------------------------------------------------------------------
    def _value_key(self, value: Any, children: list[Any]) -> bytes:
        """A value's identity, with the user's functions and classes in it named (their
        code is walked as items of their own: appended to `children`)."""

        def found(obj: Any) -> str | None:
            if isinstance(obj, (types.FunctionType, type)) and self.is_user(obj):
                children.append(_live_ref(obj))
                return f"user:{obj.__module__}.{obj.__qualname__}"
            return None

        def leaf(obj: Any) -> bytes:
            token = found(obj)
            if token is not None:
                return token.encode()
            if isinstance(obj, types.FunctionType) and hashing.is_importable(obj):
                return f"fn:{obj.__module__}.{obj.__qualname__}".encode()  # a library's
            if isinstance(obj, (types.MethodType, functools.partial)):
                children.append(_live_ref(obj))
                return hashing.leaf_key(obj)
            if isinstance(obj, type) or hashing.is_function(obj):
                return hashing.leaf_key(obj)
            if isinstance(obj, (types.ModuleType, os.PathLike)):
                return hashing.leaf_key(obj)
            if self.is_user(type(obj)):
                children.append(_live_ref(type(obj)))
                return b"obj:" + hashing.state_hash(obj, found).encode()
            return hashing.object_key(obj, found)

        return hashing.value_key(value, leaf)

    # --- bytecode --------------------------------------------------------------------
    def _code_reads(self, code: types.CodeType) -> _Reads:
        cached = self._reads.get(id(code))
        if cached is not None and cached[0] is code:
            return cached[1]
        names: set[str] = set()
        chains: set[tuple[str, ...]] = set()
        for c in _codes(code):
            _bytecode_reads(c, names, chains)
        reads = _Reads(frozenset(names), frozenset(chains))
        self._reads[id(code)] = (code, reads)  # (the code kept alive with its id)
        return reads

    def _children_of_root(self, fn: Any) -> list[Any]:
        """The refs of a job's own function: what its code reads, in its own module."""
        if isinstance(fn, functools.partial):
            return [_live_ref(p) for p in (fn.func, *fn.args, *fn.keywords.values())]
        if isinstance(fn, types.MethodType):
            return [_live_ref(fn.__self__), *self._children_of_root(fn.__func__)]
        if not isinstance(fn, types.FunctionType):
            return [_live_ref(fn)]
        if not self.is_user(fn):
            # A wrapper of ours (a %%ppg_job cell's runner): only what it holds.
            return [_live_ref(value) for value in _closure_values(fn)]
        return self._function(fn, []).children


class _Reads(NamedTuple):
    names: frozenset[str]
    chains: frozenset[tuple[str, ...]]


_FROM_SOURCE = hashing.hash_bytes(b"a function of a user module")


def _live_ref(obj: Any) -> tuple[Any, ...]:
    """A ref to an object found inside another (a closure value, a default, ...)."""
    return ("live", obj, "", None)


def _parts(objects: list[Any]) -> _Item:
    """Not an item itself: only what it holds (a bound method, a partial, a wrapper)."""
    return _Item("", "", [_live_ref(o) for o in objects], None, _NO_VALUE)


def _ref_key(ref: Any) -> Any:
    if ref[0] == "symbol":
        return ref
    return ("live", id(ref[1]), ref[2], ref[3])


def _closure_values(fn: types.FunctionType) -> list[Any]:
    values = []
    for cell in fn.__closure__ or ():
        with contextlib.suppress(ValueError):  # an empty cell: a name bound later
            values.append(cell.cell_contents)
    return values


def _unwrapped(obj: Any) -> Any:
    """What a decorator built with functools.wraps wraps (the object itself if nothing)."""
    if not callable(obj) or isinstance(obj, type):
        return obj
    try:
        return inspect.unwrap(obj)
    except Exception:  # (a cycle of __wrapped__, an object answering every getattr)
        return obj


def _members(name: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, (staticmethod, classmethod)):
        yield name, value.__func__
    elif isinstance(value, property):
        for part in ("fget", "fset", "fdel"):
            if getattr(value, part) is not None:
                yield f"{name}.{part}", getattr(value, part)
    else:
        yield name, value


def _is_constant(value: Any) -> bool:
    t = type(value)
    if t in _CONSTANTS:
        return True
    if t in (tuple, frozenset):
        return all(_is_constant(v) for v in value)
    return False


def _codes(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _codes(const)


def _bytecode_reads(code: types.CodeType, names: set[str], chains: set[tuple[str, ...]]) -> None:
    """Global names read by one code object, and attribute chains starting at them
    (`utils.io.load` -> ("utils", "io", "load")); imports as ("<import>", "a", "b")."""
    chain: list[str] = []
    imported: list[str] = []
    level = 0
    consts: list[Any] = []
    for ins in dis.get_instructions(code):
        op = ins.opname
        if op in _LOAD_ATTR and chain:
            chain.append(ins.argval)
            continue
        if len(chain) > 1:
            chains.add(tuple(chain))
        chain = []
        if op in _LOAD_GLOBAL:
            names.add(ins.argval)
            chain = [ins.argval]
        elif op == "LOAD_CONST":
            consts = [*consts[-1:], ins.argval]
        elif op == "IMPORT_NAME":
            level = consts[0] if len(consts) == 2 and isinstance(consts[0], int) else 0
            imported = [] if level else ins.argval.split(".")
            if imported:
                chains.add((IMPORT, *imported))
        elif op == "IMPORT_FROM" and imported:
            chains.add((IMPORT, *imported, ins.argval))
    if len(chain) > 1:
        chains.add(tuple(chain))


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
