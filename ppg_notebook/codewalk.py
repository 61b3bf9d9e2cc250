"""The user's code a function reaches, and one fingerprint for all of it (SPEC §3a).

From a job's function (or the globals a `%%ppg_job` body reads) the walk follows the global
names and attribute chains the code reads, its closure values and defaults, to every
function, class and module-level value that is the user's code (userfiles.py):

- defined in `__main__` (the notebook or the script): live objects, fingerprinted by their
  compiled code (hashing.function_fingerprint);
- defined in a module whose file is the user's: fingerprinted from that file as it is now,
  per top-level definition (modsource.py), so an edit is seen by a kernel that imported
  the module before it. Names are resolved through the file's own imports
  (usermodules.py); what code reads is found in its bytecode or syntax (codereads.py).

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
import functools
import inspect
import os
import sys
import types
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from . import hashing
from .codereads import code_reads
from .modsource import Store
from .userfiles import UserFiles
from .usermodules import MAIN, UserModules

TRACK_ALL = "all"
TRACK_CONSTANTS = "constants"
_MAX_ITEMS = 5000  # items one walk follows (a runaway guard)
_MAX_ELEMENTS = 256  # elements of a captured container searched for code
_CONSTANTS = (int, float, complex, bool, str, bytes, type(None))
_NO_ITEMS: dict[str, str] = {}  # (shared by every reach of nothing: never changed)


@dataclass(frozen=True, slots=True)
class Reach:
    """What a walk found: one fingerprint, and its parts for explanations."""

    fingerprint: str
    own: str  # of the function or value itself
    items: dict[str, str]  # key -> fingerprint of each user function, class or value reached
    modules: tuple[str, ...]  # names of the user modules whose code it covers
    values: tuple[tuple[str, Any, str], ...]  # (key, value, reader) of __main__ values
    children: tuple[Any, ...] = ()  # where the walk started (refs), to walk again
    main_values: str = TRACK_ALL
    digest: str = ""  # of `items` ("" if none)


class _Item(NamedTuple):
    key: str
    fingerprint: str
    children: list[Any]  # refs (see _expand)
    module: str | None  # the user module it is defined in (None: __main__, or nothing)
    value: Any


_NO_VALUE = object()


class CodeWalker:
    """Walks the user's code for one pipeline (its project directory and tracked paths)."""

    def __init__(self, files: UserFiles, store: Callable[[], Store] | None = None) -> None:
        """`store`: gives where parsed modules are kept between processes."""
        self.epoch = 0
        self._held_epoch = -1
        self._values: dict[tuple[str, str], tuple[Any, tuple[int, int], str, list[Any]]] = {}
        self.modules = UserModules(files, store)
        self._closures: dict[Any, tuple[dict[str, _Item], dict[str, str], Any]] = {}
        self._merges: dict[Any, tuple[Any, Any]] = {}
        self._value_reaches: dict[tuple[int, str], tuple[Any, Reach]] = {}
        self._codes: dict[tuple[Any, ...], tuple[dict[str, Any], Reach]] = {}

    @contextlib.contextmanager
    def holding(self) -> Iterator[None]:
        """Within the block, the first `new_epoch()` keeps this epoch: what a cell's job
        reads was looked at just now, when the cell declared it (a value is not hashed
        twice)."""
        self._held_epoch = self.epoch
        try:
            yield
        finally:
            self._held_epoch = -1

    def new_epoch(self) -> None:
        """Look at module files (and rebindings of globals) again from now on."""
        if self._held_epoch == self.epoch:
            self._held_epoch = -1
            return
        self.epoch += 1
        self.modules.new_epoch()
        self._closures.clear()
        self._merges.clear()
        self._value_reaches.clear()
        self._codes.clear()

    # --- the entry points ----------------------------------------------------------
    def function(self, fn: Any, main_values: str = TRACK_CONSTANTS) -> Reach:
        """The reach of `fn`: its own fingerprint (code, closure, defaults) combined with
        that of the user's code it reaches."""
        symbol = self.modules.symbol_of(fn) if isinstance(fn, (types.FunctionType, type)) else None
        if symbol is not None:  # its code is read from its module's file, as it is now
            children: list[Any] = [("symbol", *symbol)]
            held = self._held(fn, children)
            return self._reach(held or _FROM_SOURCE, children, main_values)
        reader = f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', '')}"
        if isinstance(fn, types.FunctionType) and self.is_user(fn):
            if _holds_plain_values(fn):  # (thousands of jobs one function made: walked once)
                return self._plain_closure(fn, main_values, reader)
            item = self._function(fn, [])  # (its fingerprint and what it reads, at once)
            return self._reach(item.fingerprint, item.children, main_values, reader)
        own = hashing.function_fingerprint(fn)
        return self._reach(own, self._children_of_root(fn), main_values, reader)

    def value(self, value: Any, main_values: str = TRACK_ALL) -> Reach:
        """The reach of a parameter value: its own fingerprint (classes and functions of the
        user's in it counted by their code) combined with that code's. Hashed once per
        epoch, however many cells read the same object."""
        if type(value) in _CONSTANTS:  # (it reaches no code)
            own = hashing.value_fingerprint(value)
            return Reach(own, own, _NO_ITEMS, (), (), (), main_values)
        memo = self._value_reaches.get((id(value), main_values))
        if memo is not None and memo[0] is value:
            return memo[1]
        children: list[Any] = []
        own = hashing.hash_bytes(self._value_key(value, children))
        reach = self._reach(own, children, main_values)
        self._value_reaches[(id(value), main_values)] = (value, reach)  # (kept alive)
        return reach

    def reads_of(
        self, code: types.CodeType, namespace: dict[str, Any], main_values: str = TRACK_ALL
    ) -> Reach:
        """The user's code that `code` (a cell's body) reads through the names of
        `namespace` (the user's modules it uses: `utils.clean_rows(...)`), or, with an
        empty namespace, through its own imports (`from utils import clean_rows` in the
        body); the body's own code does not count (its job fingerprints that)."""
        reads = code_reads(code)
        refs = self.modules.resolve_live(namespace, MAIN, reads, imports=not namespace)
        return self._reach(_FROM_SOURCE, refs, main_values)

    def again(self, reach: Reach) -> Reach:
        """The same walk in this epoch (the user's modules may have changed since)."""
        return self._reach(reach.own, list(reach.children), reach.main_values)

    def is_user(self, obj: Any) -> bool:
        """A function or class defined in `__main__` or in a user module; a user module."""
        return self.modules.is_user(obj)

    def _plain_closure(self, fn: types.FunctionType, main_values: str, reader: str) -> Reach:
        """`function()` of a live function whose closure values and defaults are plain
        values (numbers, strings): what its code reaches through its globals is the same
        for every function of that code (a loop's closures), so it is walked once per
        epoch; only the function's own fingerprint is worked out per function."""
        memo_key = (fn.__code__, id(fn.__globals__), fn.__module__, main_values, reader)
        found = self._codes.get(memo_key)
        if found is None or found[0] is not fn.__globals__:
            reads = code_reads(fn.__code__)
            refs = self.modules.resolve_live(fn.__globals__, fn.__module__, reads)
            template = self._reach("", refs, main_values, reader)
            found = (fn.__globals__, template)
            self._codes[memo_key] = found
        template = found[1]
        own = hashing.function_fingerprint(fn)
        if not template.digest:
            return Reach(own, own, _NO_ITEMS, (), (), template.children, main_values)
        fingerprint = hashing.combine([own, template.digest])
        t = template
        return Reach(
            fingerprint, own, t.items, t.modules, t.values, t.children, main_values, t.digest
        )

    # --- combining -----------------------------------------------------------------
    def _reach(self, own: str, children: list[Any], main_values: str, reader: str = "") -> Reach:
        """`reader`: the code the walk starts from, named as what reads its first items."""
        # Plain values (a closure's strings and numbers) lead to no code: dropped here, the
        # thousands of jobs one function makes cost nothing more.
        kept = tuple(c for c in children if not (c[0] == "live" and _is_plain(c)))
        if not kept:
            return Reach(own, own, _NO_ITEMS, (), (), kept, main_values)
        merged = self._merged(kept, main_values, reader)
        if merged is None:
            return Reach(own, own, _NO_ITEMS, (), (), kept, main_values)
        fingerprints, digest, modules, values = merged
        fingerprint = hashing.combine([own, digest])
        return Reach(fingerprint, own, fingerprints, modules, values, kept, main_values, digest)

    def _merged(
        self, children: tuple[Any, ...], main_values: str, reader: str
    ) -> tuple[dict[str, str], str, tuple[str, ...], tuple[tuple[str, Any, str], ...]] | None:
        """What a set of refs reaches, merged (memoised for the epoch: the many jobs made
        by one function reach the same code)."""
        first = children[0]
        if len(children) == 1 and first[0] == "symbol":  # (the common case, kept fast)
            memo_key: Any = (first, main_values, reader)
        else:
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
            symbol = self.modules.symbol_of(obj)
            if symbol is not None:
                maker: list[Any] = [("symbol", *symbol)]
                held = self._held(obj, maker)
                if held is None:
                    return self._symbol(*symbol, main_values)
                # Made by a function of the module (a closure): that function's source,
                # and the values this one holds.
                key = f"{obj.__module__}.{obj.__qualname__}@{held[:8]}"
                return _Item(key, held, maker, obj.__module__, _NO_VALUE)
            if isinstance(obj, type):
                return self._class(obj)
            return self._function(obj, [_live_ref(inner)] if inner is not obj else [])
        if inner is not obj:  # a library's wrapper (functools.lru_cache) of a function
            return _parts([inner])
        if name is None:  # found inside a function or value: its state counted there
            return self._contents(obj)
        if module != MAIN and self.modules.user_file(module) is None:
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
        reads = code_reads(fn.__code__)
        children = self.modules.resolve_live(fn.__globals__, fn.__module__, reads)
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
        source = self.modules.source(module)
        if source is None:
            return None
        symbol = source.symbols.get(name)
        if symbol is None:
            return None
        key = f"{module}.{name}"
        children = self.modules.resolve_source(module, source, symbol.names, symbol.chains)
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


_FROM_SOURCE = hashing.hash_bytes(b"a function of a user module")


def _is_plain(ref: tuple[Any, ...]) -> bool:
    """An anonymous ref to a plain value (a closure's number): it leads to no code."""
    return ref[3] is None and type(ref[1]) in _CONSTANTS


def _holds_plain_values(fn: types.FunctionType) -> bool:
    """Its closure values and defaults are all plain values: they lead to no code."""
    for cell in fn.__closure__ or ():
        try:
            if type(cell.cell_contents) not in _CONSTANTS:
                return False
        except ValueError:  # an empty cell: a name bound later
            return False
    for value in (*(fn.__defaults__ or ()), *(fn.__kwdefaults__ or {}).values()):
        if type(value) not in _CONSTANTS:
            return False
    return True


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
        try:
            values.append(cell.cell_contents)
        except ValueError:  # an empty cell: a name bound later
            continue
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
