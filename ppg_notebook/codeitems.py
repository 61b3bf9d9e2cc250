"""What a ref of the walk (coderefs.py) stands for: the item of a live function, class or
value, or of a top-level definition of a user module, with its fingerprint and the refs it
leads to (SPEC §3a).

A live function counts by its compiled code (hashing.function_fingerprint) and leads to
what its code reads, its closure values and defaults; a live class by its bases, its
attributes' values and its methods; a user module's definition by its source as the file
says now (modsource.py), and a value it computed by that value. A value's identity names
the user's functions and classes in it, which are then walked as items of their own.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import itertools
import os
import sys
import types
from collections.abc import Iterator
from typing import Any

from . import hashing
from .codereads import LOCAL, Reads, code_reads
from .coderefs import CONSTANTS, NO_VALUE, TRACK_CONSTANTS, Item, holder, live_ref
from .hashing import is_a
from .usermodules import MAIN, UserModules

_MAX_ELEMENTS = 256  # elements of a captured container searched for code
_MAX_DEPTH = 6  # attributes followed into an object's state when searching it for code
_MAX_SEARCHED = 10_000  # objects looked at in that search, at most
_OURS = __name__.rsplit(".", 1)[0] + "."  # ppg_notebook's own objects (jobs) are not searched


_WHOLE_MODULE = hashing.hash_bytes(b"all of a user module")  # (its definitions count)


class Items:
    """What refs stand for, for one walker (codewalk.CodeWalker) and its user modules."""

    def __init__(self, modules: UserModules) -> None:
        self.modules = modules
        self._values: dict[tuple[str, str], tuple[Any, tuple[int, int], str, list[Any]]] = {}

    def expand(self, ref: Any, main_values: str) -> Item | None:
        """What `ref` stands for (None: nothing of the user's, or nothing there)."""
        if ref[0] == "symbol":
            return self._symbol(ref[1], ref[2], main_values)
        return self._live(ref[1], ref[2], ref[3], main_values)

    def _live(self, obj: Any, module: str, name: str | None, main_values: str) -> Item | None:
        if is_a(obj, types.ModuleType):
            return self._whole_module(obj.__name__)
        if is_a(obj, types.MethodType):
            return holder([obj.__func__, obj.__self__])
        if is_a(obj, functools.partial):
            return holder([obj.func, *obj.args, *obj.keywords.values()])
        inner = _unwrapped(obj)
        if is_a(obj, (types.FunctionType, type)):
            if not self.modules.is_user(obj):
                return holder([inner]) if inner is not obj else None
            symbol = self.modules.symbol_of(obj)
            if symbol is not None:
                maker: list[Any] = [("symbol", *symbol)]
                held = self.held(obj, maker)
                if held is None:
                    return self._symbol(*symbol, main_values)
                # Made by a function of the module (a closure): that function's source,
                # and the values this one holds.
                key = f"{obj.__module__}.{obj.__qualname__}@{held[:8]}"
                return Item(key, held, maker, obj.__module__, NO_VALUE)
            if is_a(obj, type):
                return self._class(obj)
            return self.function(obj, [live_ref(inner)] if inner is not obj else [])
        if inner is not obj:  # a library's wrapper (functools.lru_cache) of a function
            return holder([inner])
        if name is None:  # found inside a function or value: its state counted there
            return self._contents(obj)
        if module != MAIN and self.modules.user_file(module) is None:
            return None  # a library's module-level value
        if module == MAIN and main_values == TRACK_CONSTANTS and not _is_constant(obj):
            return self._contents(obj)
        children: list[Any] = []
        fingerprint = hashing.hash_bytes(self.value_key(obj, children))
        return Item(f"{module}.{name}", fingerprint, children, None, obj)

    def _contents(self, obj: Any) -> Item | None:
        """The user's code inside an object whose state is counted elsewhere (or not at
        all): the functions and objects in a container; in any other object, the user's
        classes, functions and modules its state holds, its own class among them. What
        calls them is not in the code that holds the object: `self.lib.word()` for
        `self.lib = utils`, scikit-learn for `FunctionTransformer(helpers.scale)`."""
        if type(obj) in (list, tuple, set, frozenset, dict):
            elements = obj.values() if type(obj) is dict else obj
            inside = [
                v for v in itertools.islice(elements, _MAX_ELEMENTS) if type(v) not in CONSTANTS
            ]
            return holder(inside) if inside else None
        refs = self._code_held(obj)
        return Item("", "", refs, None, NO_VALUE) if refs else None

    def _code_held(self, obj: Any) -> list[Any]:
        """Refs to the user's classes, functions and modules in `obj`'s state, searched
        through attributes and containers (bounded: `_MAX_DEPTH`, `_MAX_ELEMENTS`,
        `_MAX_SEARCHED`), not hashed: a data frame's values are not read."""
        found: dict[int, Any] = {}  # id -> the class, function or module
        seen: set[int] = set()
        todo = [(obj, 0)]
        while todo and len(seen) < _MAX_SEARCHED:
            value, depth = todo.pop()
            kind = type(value)  # (not isinstance: a proxy may answer __class__ wrongly)
            if kind in CONSTANTS or id(value) in seen:
                continue
            seen.add(id(value))
            if issubclass(kind, (types.ModuleType, types.FunctionType, type)):
                if self.modules.is_user(value):
                    found[id(value)] = value
                continue
            if kind.__module__.startswith(_OURS):
                continue  # (a job: its code is its own job's, what it provides an input)
            if self.modules.is_user(kind):
                found[id(kind)] = kind
            if depth < _MAX_DEPTH:
                todo.extend((held, depth + 1) for held in _state_of(value))
        return [live_ref(code) for code in found.values()]

    def function(self, fn: types.FunctionType, extra: list[Any]) -> Item:
        """A live function (of `__main__`, or made at run time): its compiled code."""
        reads = code_reads(fn.__code__)
        children = self.modules.resolve_live(fn.__globals__, fn.__module__, reads)
        children.extend(self._through_bound_modules(fn, reads))
        held = [*_closure_values(fn), *(fn.__defaults__ or ()), *(fn.__kwdefaults__ or {}).values()]
        children.extend(live_ref(v) for v in held if not is_a(v, types.ModuleType))
        key = f"{fn.__module__}.{fn.__qualname__}"
        return Item(key, hashing.function_fingerprint(fn), children + extra, None, NO_VALUE)

    def _through_bound_modules(self, fn: types.FunctionType, reads: Reads) -> list[Any]:
        """What the code reads through modules its closure or its defaults hold (`import
        utils` in the function that made it, `m = utils`, `def f(m=utils)`: then `m.load`
        is utils.load, followed as if the code named it)."""
        modules = _bound_modules(fn)
        if not modules:
            return []
        refs = []
        for chain in sorted(reads.chains):
            if chain[0] == LOCAL and chain[1] in modules:
                module = modules[chain[1]]
                # (used on its own, passed on: all of it counts, see _whole_module)
                ref = self.modules.descend(module, chain[2:]) if chain[2:] else live_ref(module)
                if ref is not None:
                    refs.append(ref)
        return refs

    def _whole_module(self, module: str) -> Item | None:
        """A user module held as a value (in a container, a partial, a closure variable
        passed on) where the code does not show which of its definitions are used: all of
        them count. (A module the code names, `utils.load`, counts by what it uses.)"""
        source = self.modules.source(module)
        if source is None:
            return None
        children: list[Any] = [("symbol", module, name) for name in sorted(source.symbols)]
        return Item(f"{module}.*", _WHOLE_MODULE, children, module, NO_VALUE)

    def _class(self, cls: type) -> Item:
        """A live class (of `__main__`): its bases by name, its attributes by value, and
        each of its methods as code of its own."""
        key = f"{cls.__module__}.{cls.__qualname__}"
        parts: list[bytes] = [f"{b.__module__}.{b.__qualname__}".encode() for b in cls.__bases__]
        children: list[Any] = [live_ref(b) for b in cls.__bases__]
        for name, value in sorted(vars(cls).items()):
            for part_name, part in _members(name, value):
                if is_a(part, types.FunctionType):
                    if self.modules.is_user(part):
                        children.append(live_ref(part))
                    continue
                if name.startswith("__") and name.endswith("__"):
                    continue  # what Python puts there (__dict__, __module__, ...)
                parts.append(part_name.encode() + b"=" + self.value_key(part, children))
        return Item(key, hashing.hash_bytes(b"\n".join(parts)), children, None, NO_VALUE)

    def _symbol(self, module: str, name: str, main_values: str) -> Item | None:
        """A top-level definition of a user module, from its file."""
        source = self.modules.source(module)
        if source is None:
            return None
        symbol = source.symbols.get(name)
        if symbol is None:
            return None
        key = f"{module}.{name}"
        children = self.modules.resolve_source(module, source, symbol.names, symbol.chains)
        value = NO_VALUE
        fingerprint = symbol.fingerprint
        if symbol.kind == "value" and not symbol.literal:
            live = sys.modules.get(module)
            if live is not None and name in vars(live):
                value = vars(live)[name]
                if not callable(value) and not is_a(value, types.ModuleType):
                    state = self._module_value(module, name, value, source.stat)
                    fingerprint = hashing.combine([fingerprint, state[0]])
                    children.extend(state[1])
        return Item(key, fingerprint, children, module, value)

    def _module_value(
        self, module: str, name: str, value: Any, stat: tuple[int, int]
    ) -> tuple[str, list[Any]]:
        """The fingerprint of a module-level value a user module computed (a table it
        loaded, say), hashed once while the module file and the object are the same."""
        cached = self._values.get((module, name))
        if cached is not None and cached[0] is value and cached[1] == stat:
            return cached[2], cached[3]
        children: list[Any] = []
        fingerprint = hashing.hash_bytes(self.value_key(value, children))
        self._values[(module, name)] = (value, stat, fingerprint, children)
        return fingerprint, children

    def held(self, fn: Any, children: list[Any]) -> str | None:
        """What a function that a user module's code made at run time (a closure) holds:
        the fingerprint of its closure values and defaults, which its source does not say
        (the user's code among them appended to `children`); None for a function the
        module defines at its top level, whose source says it all."""
        if not is_a(fn, types.FunctionType) or "<locals>" not in fn.__qualname__:
            return None
        held = _closure_values(fn)
        plain = not fn.__defaults__ and not fn.__kwdefaults__
        if plain and all(type(v) in CONSTANTS for v in held):  # (the common case, kept fast)
            return hashing.hash_bytes(b"held:" + hashing.value_key(tuple(held)))
        children.extend(self._through_bound_modules(fn, code_reads(fn.__code__)))
        parts = [self.value_key(v, children, modules=False) for v in held]
        parts.append(self.value_key(fn.__defaults__ or (), children, modules=False))
        parts.append(self.value_key(fn.__kwdefaults__ or {}, children, modules=False))
        return hashing.hash_bytes(b"held:" + b"\0".join(parts))

    # --- values ----------------------------------------------------------------------
    def value_key(self, value: Any, children: list[Any], modules: bool = True) -> bytes:
        """A value's identity, with the user's functions and classes in it named (their
        code is walked as items of their own: appended to `children`), and the user's
        modules in it followed as a whole (unless `modules` is False: the caller follows
        them by what is read through them)."""

        def found(obj: Any) -> str | None:
            if is_a(obj, (types.FunctionType, type)) and self.modules.is_user(obj):
                children.append(live_ref(obj))
                return f"user:{obj.__module__}.{obj.__qualname__}"
            if modules and is_a(obj, types.ModuleType) and self.modules.is_user(obj):
                children.append(live_ref(obj))  # (held as a value: all of it counts)
            return None

        def leaf(obj: Any) -> bytes:
            token = found(obj)
            if token is not None:
                return token.encode()
            if is_a(obj, types.FunctionType) and hashing.is_importable(obj):
                return f"fn:{obj.__module__}.{obj.__qualname__}".encode()  # a library's
            if is_a(obj, (types.MethodType, functools.partial)):
                children.append(live_ref(obj))
                return hashing.leaf_key(obj)
            if is_a(obj, type) or hashing.is_function(obj):
                return hashing.leaf_key(obj)
            if is_a(obj, (types.ModuleType, os.PathLike)):
                return hashing.leaf_key(obj)
            if self.modules.is_user(type(obj)):
                children.append(live_ref(type(obj)))
                return b"obj:" + hashing.state_hash(obj, found).encode()
            return hashing.object_key(obj, found)

        return hashing.value_key(value, leaf)

    # --- bytecode --------------------------------------------------------------------
    def children_of_root(self, fn: Any) -> list[Any]:
        """The refs of a job's own function: what its code reads, in its own module."""
        if is_a(fn, functools.partial):
            return [live_ref(p) for p in (fn.func, *fn.args, *fn.keywords.values())]
        if is_a(fn, types.MethodType):
            return [live_ref(fn.__self__), *self.children_of_root(fn.__func__)]
        if not is_a(fn, types.FunctionType):
            return [live_ref(fn)]
        if not self.modules.is_user(fn):
            # A wrapper of ours (a %%ppg_job cell's runner): only what it holds.
            return [live_ref(value) for value in _closure_values(fn)]
        return self.function(fn, []).children


def _bound_modules(fn: types.FunctionType) -> dict[str, types.ModuleType]:
    """The function's closure variables and parameters whose value (default) is a module."""
    code = fn.__code__
    bound: list[tuple[str, Any]] = []
    for name, cell in zip(code.co_freevars, fn.__closure__ or (), strict=False):
        try:
            bound.append((name, cell.cell_contents))
        except ValueError:  # an empty cell: a name bound later
            continue
    defaults = fn.__defaults__ or ()
    if defaults:
        positional = code.co_varnames[: code.co_argcount]
        bound.extend(zip(positional[len(positional) - len(defaults) :], defaults, strict=True))
    bound.extend((fn.__kwdefaults__ or {}).items())
    return {name: value for name, value in bound if is_a(value, types.ModuleType)}


def _state_of(obj: Any) -> list[Any]:
    """What an object holds, where code may be kept: a container's elements, a bound
    method's function and object, a partial's parts, an object's attributes."""
    kind = type(obj)
    if issubclass(kind, (list, tuple, set, frozenset)):
        return list(itertools.islice(obj, _MAX_ELEMENTS))
    if issubclass(kind, dict):
        return list(itertools.islice(obj.values(), _MAX_ELEMENTS))
    if kind is types.MethodType:
        return [obj.__func__, obj.__self__]
    if issubclass(kind, functools.partial):
        return [obj.func, *obj.args, *obj.keywords.values()]
    try:
        held = list(itertools.islice(vars(obj).values(), _MAX_ELEMENTS))
    except Exception:  # (no __dict__; or a proxy's __getattribute__ refusing it)
        held = []
    for cls in kind.__mro__:
        slots = cls.__dict__.get("__slots__", ())
        for name in (slots,) if is_a(slots, str) else slots:
            if name not in ("__dict__", "__weakref__"):
                with contextlib.suppress(Exception):  # (an unset slot)
                    held.append(object.__getattribute__(obj, name))
    return held


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
    if not callable(obj) or is_a(obj, type):
        return obj
    try:
        return inspect.unwrap(obj)
    except Exception:  # (a cycle of __wrapped__, an object answering every getattr)
        return obj


def _members(name: str, value: Any) -> Iterator[tuple[str, Any]]:
    if is_a(value, (staticmethod, classmethod)):
        yield name, value.__func__
    elif is_a(value, property):
        for part in ("fget", "fset", "fdel"):
            if getattr(value, part) is not None:
                yield f"{name}.{part}", getattr(value, part)
    else:
        yield name, value


def _is_constant(value: Any) -> bool:
    t = type(value)
    if t in CONSTANTS:
        return True
    if t in (tuple, frozenset):
        return all(_is_constant(v) for v in value)
    return False
