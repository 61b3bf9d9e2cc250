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

This module walks: from where a walk starts to every item it reaches, merged into a
`Reach`. What each ref of the walk stands for is worked out in codeitems.py; refs, items
and the TRACK_* constants are in coderefs.py.

Results are cached per *epoch* (a run, a plan): within one, each module file is looked
at (stat) once and each function's reach computed once.
"""

from __future__ import annotations

import contextlib
import functools
import types
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from . import hashing
from .codeitems import Items
from .codereads import code_reads
from .coderefs import CONSTANTS, NO_VALUE, Item, is_plain, ref_key
from .coderefs import TRACK_ALL as TRACK_ALL
from .coderefs import TRACK_CONSTANTS as TRACK_CONSTANTS
from .modsource import Store
from .userfiles import UserFiles
from .usermodules import MAIN, UserModules

_MAX_ITEMS = 5000  # items one walk follows (a runaway guard)
_NO_ITEMS: dict[str, str] = {}  # (shared by every reach of nothing: never changed)


class Reach(NamedTuple):
    """What a walk found: one fingerprint, and its parts for explanations (a named tuple:
    one is made per job of a run, made in C)."""

    fingerprint: str
    own: str  # of the function or value itself
    items: dict[str, str]  # key -> fingerprint of each user function, class or value reached
    modules: tuple[str, ...]  # names of the user modules whose code it covers
    values: tuple[tuple[str, Any, str], ...]  # (key, value, reader) of __main__ values
    children: tuple[Any, ...] = ()  # where the walk started (refs), to walk again
    main_values: str = TRACK_ALL
    digest: str = ""  # of `items` ("" if none)
    # Worked out again as quickly as kept (a closure of plain values, by a function walked
    # once an epoch): its job does not keep it, so 100,000 such jobs hold none after
    # they are decided.
    quick: bool = False


class CodeWalker:
    """Walks the user's code for one pipeline (its project directory and tracked paths)."""

    def __init__(self, files: UserFiles, store: Callable[[], Store] | None = None) -> None:
        """`store`: gives where parsed modules are kept between processes."""
        self.epoch = 0
        self._held_epoch = -1
        self.modules = UserModules(files, store)
        self._items = Items(self.modules)
        self._closures: dict[Any, tuple[dict[str, Item], dict[str, str], Any]] = {}
        self._merges: dict[Any, tuple[Any, Any]] = {}
        self._value_reaches: dict[tuple[int, str], tuple[Any, Reach]] = {}
        self._codes: dict[tuple[Any, ...], tuple[dict[str, Any], Reach]] = {}
        # Objects whose bound methods (or themselves, callable) are job functions, by id:
        # (a weak reference to the object, the key of its state when first looked at, the
        # refs in it). Kept across epochs (see _state), not beyond the object's life.
        self._states: dict[int, tuple[Callable[[], Any], bytes, list[Any]]] = {}

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
        self._states = {k: v for k, v in self._states.items() if v[0]() is not None}

    # --- the entry points ----------------------------------------------------------
    def quick_fingerprint(self, fn: Any) -> str | None:
        """`function(fn).fingerprint`, if that is quick to tell: `fn` is not the user's
        and holds numbers and strings, so it reaches none of the user's code and only its
        own fingerprint counts (the jobs one library function made). Else None."""
        if type(fn) is types.FunctionType and not self.modules.is_user(fn):
            return hashing.plain_values_fingerprint(fn)
        return None

    def function(self, fn: Any, main_values: str = TRACK_CONSTANTS) -> Reach:
        """The reach of `fn`: its own fingerprint (code, closure, defaults) combined with
        that of the user's code it reaches."""
        own = self.quick_fingerprint(fn)
        if own is not None:
            return Reach(own, own, _NO_ITEMS, (), (), (), main_values, quick=True)
        symbol = self.modules.symbol_of(fn) if isinstance(fn, (types.FunctionType, type)) else None
        if symbol is not None:  # its code is read from its module's file, as it is now
            children: list[Any] = [("symbol", *symbol)]
            held = self._items.held(fn, children)
            return self._reach(held or _FROM_SOURCE, children, main_values)
        reader = f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', '')}"
        if isinstance(fn, types.FunctionType) and self.is_user(fn):
            own = hashing.plain_values_fingerprint(fn)
            if own is not None:  # (thousands of jobs one function made: walked once)
                return self._plain_closure(fn, own, main_values, reader)
            item = self._items.function(fn, [])  # (its fingerprint and what it reads, at once)
            return self._reach(item.fingerprint, item.children, main_values, reader)
        children = self._items.children_of_root(fn)
        if isinstance(fn, types.MethodType):  # (the object's state, the user's code in it)
            state = self._state(fn.__self__, children)
            code = hashing.function_fingerprint(fn.__func__)
            return self._reach(
                hashing.combine([code, hashing.hash_bytes(state)]), children, main_values, reader
            )
        if not hashing.is_function(fn) and self.is_user(type(fn)):
            # A callable object of the user's class: its `__call__`, and its state as a
            # bound method's object counts (the user's modules and code in it followed).
            held = hashing.hash_bytes(self._state(fn, children))
            call = type(fn).__call__  # (a function of the class, or one it inherits)
            code = hashing.function_fingerprint(call)
            return self._reach(
                hashing.combine(["callable", held, code]), children, main_values, reader
            )
        own = hashing.function_fingerprint(fn)
        return self._reach(own, children, main_values, reader)

    def _state(self, obj: Any, children: list[Any]) -> bytes:
        """The key of an object's state (Items.value_key), the refs it leads to appended to
        `children`, as it was when the walk first looked at it (when its job was first
        decided or planned, before any loading job of a run set attributes on it: those
        attributes are what that loading job provides, counted through it). An object
        changed after that counts as it was, like a ParameterInvariant's value as
        declared; declaring the job again with a new object counts the new one."""
        memo = self._states.get(id(obj))
        if memo is None or memo[0]() is not obj:
            refs: list[Any] = []
            try:
                alive: Callable[[], Any] = weakref.ref(obj)
            except TypeError:  # (an object without weak references: kept alive)
                alive = functools.partial(_same, obj)
            memo = (alive, self._items.value_key(obj, refs), refs)
            self._states[id(obj)] = memo
        children.extend(memo[2])
        return memo[1]

    def value(self, value: Any, main_values: str = TRACK_ALL) -> Reach:
        """The reach of a parameter value: its own fingerprint (classes and functions of the
        user's in it counted by their code) combined with that code's. Hashed once per
        epoch, however many cells read the same object."""
        if type(value) in CONSTANTS:  # (it reaches no code)
            own = hashing.value_fingerprint(value)
            return Reach(own, own, _NO_ITEMS, (), (), (), main_values)
        memo = self._value_reaches.get((id(value), main_values))
        if memo is not None and memo[0] is value:
            return memo[1]
        children: list[Any] = []
        own = hashing.hash_bytes(self._items.value_key(value, children))
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

    def _plain_closure(
        self, fn: types.FunctionType, own: str, main_values: str, reader: str
    ) -> Reach:
        """`function()` of a live function whose closure values and defaults are plain
        values (numbers, strings), `own` its fingerprint: what its code reaches through
        its globals is the same for every function of that code (a loop's closures), so
        it is walked once per epoch."""
        memo_key = (fn.__code__, id(fn.__globals__), fn.__module__, main_values, reader)
        found = self._codes.get(memo_key)
        if found is None or found[0] is not fn.__globals__:
            reads = code_reads(fn.__code__)
            refs = self.modules.resolve_live(fn.__globals__, fn.__module__, reads)
            template = self._reach("", refs, main_values, reader)
            found = (fn.__globals__, template)
            self._codes[memo_key] = found
        template = found[1]
        t = template
        if not t.digest:
            return Reach(own, own, _NO_ITEMS, (), (), t.children, main_values, quick=True)
        fingerprint = hashing.combine([own, t.digest])
        return Reach(
            fingerprint,
            own,
            t.items,
            t.modules,
            t.values,
            t.children,
            main_values,
            t.digest,
            quick=True,
        )

    # --- combining -----------------------------------------------------------------
    def _reach(self, own: str, children: list[Any], main_values: str, reader: str = "") -> Reach:
        """`reader`: the code the walk starts from, named as what reads its first items."""
        # Plain values (a closure's strings and numbers) lead to no code: dropped here, the
        # thousands of jobs one function makes cost nothing more.
        kept = tuple(c for c in children if not (c[0] == "live" and is_plain(c)))
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
            memo_key = (tuple(ref_key(ref) for ref in children), main_values, reader)
        if memo_key in self._merges:
            return self._merges[memo_key][0]
        items: dict[str, Item] = {}
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
                if item.value is not NO_VALUE and key.startswith(MAIN + ".")
            )
            result = (fingerprints, digest, modules, values)
        self._merges[memo_key] = (result, children)  # (the refs kept alive with their ids)
        return result

    def _closure(self, ref: Any, main_values: str) -> tuple[dict[str, Item], dict[str, str]]:
        """Everything reachable from `ref` (memoised for the epoch)."""
        memo_key = (ref_key(ref), main_values)
        cached = self._closures.get(memo_key)
        if cached is not None:
            return cached[0], cached[1]
        items: dict[str, Item] = {}
        readers: dict[str, str] = {}
        todo: deque[tuple[Any, str]] = deque([(ref, "")])
        seen: set[Any] = set()
        expand = self._items.expand
        while todo and len(items) < _MAX_ITEMS and len(seen) < 4 * _MAX_ITEMS:
            current, reader = todo.popleft()
            key = ref_key(current)
            if key in seen:
                continue
            seen.add(key)
            item = expand(current, main_values)
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


_FROM_SOURCE = hashing.hash_bytes(b"a function of a user module")


def _same(obj: Any) -> Any:
    return obj
