"""Fingerprints of code, values and files. Imports nothing of ours.

A fingerprint is a short hex string; equal fingerprints mean "nothing relevant changed".

Functions are fingerprinted by a canonical form of their code: bytecode, constants (nested
code objects recursively), names, closure values and default-argument values. Comments,
docstrings, line numbers, the function's own name and its file do not take part, so the
same body fingerprints the same in a notebook cell and in an exported script.
"""

from __future__ import annotations

import dis
import functools
import hashlib
import inspect
import os
import sys
import threading
import types
from collections.abc import Callable
from typing import Any

DIGEST_SIZE = 16
_CHUNK = 1 << 20
_CO_HAS_DOCSTRING = 0x4000000  # Python 3.14's flag for code objects with a docstring
_HASCONST = frozenset(dis.hasconst)
_HASJUMP = frozenset(dis.hasjrel + dis.hasjabs)
_SIMPLE = (int, float, complex, bool, str, bytes, type(None))
_PLAIN_PREFIX = {t: f"{t.__name__}:" for t in _SIMPLE}  # (value_key's, by type)
# Python 3.11 compiles `module.fn()` to LOAD_ATTR when the same compilation unit imports
# `module`, else to LOAD_METHOD: a helper defined in a notebook cell and the same helper in
# an exported script (one unit with the imports) must fingerprint the same.
_SAME_OP = {"LOAD_METHOD": "LOAD_ATTR"}

_code_digests: dict[int, tuple[types.CodeType, bytes]] = {}


def _blake(data: bytes = b"") -> Any:
    h = _BLAKE.copy()  # (a copy is made faster than a new hasher given its size)
    h.update(data)
    return h


_BLAKE = hashlib.blake2b(digest_size=DIGEST_SIZE)  # (never fed: only copied)


def is_a(value: Any, classes: type | tuple[type, ...]) -> bool:
    """`isinstance`, by the value's real type only: the user's objects are never asked
    (a proxy may answer `__class__` wrongly, or raise on any attribute)."""
    return issubclass(type(value), classes)


def attribute(value: Any, name: str, default: Any = None) -> Any:
    """`getattr(value, name, default)` that takes any error as no such attribute."""
    try:
        return getattr(value, name, default)
    except Exception:  # (an object answering every attribute with an error)
        return default


def combine(parts: list[str] | tuple[str, ...]) -> str:
    """One fingerprint standing for an ordered sequence of fingerprints."""
    return hash_text("\0".join(parts))


def hash_text(text: str) -> str:
    """The hash of a string, also of one holding a file name that is not valid UTF-8
    (decoded by Python with surrogate escapes)."""
    return _blake(text.encode(errors="surrogatepass")).hexdigest()


def hash_bytes(data: bytes) -> str:
    return _blake(data).hexdigest()


def hash_file(path: str) -> str:
    """Content hash of a file (read in chunks, so large files do not fill memory)."""
    h = _blake()
    with open(path, "rb", buffering=0) as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _code_hasher(code: types.CodeType) -> Any:
    """A hasher fed with `_code_digest(code)`, to be copied (thousands of closures of one
    code are fingerprinted one after the other)."""
    cached = _code_hashers.get(id(code))
    if cached is None or cached[0] is not code:
        cached = (code, _blake(_code_digest(code)))
        if len(_code_hashers) > 4096:
            _code_hashers.clear()
        _code_hashers[id(code)] = cached
    return cached[1]


_code_hashers: dict[int, tuple[types.CodeType, Any]] = {}


def code_digest(code: types.CodeType) -> bytes:
    """The digest of a code object's canonical form (see `_code_digest`)."""
    return _code_digest(code)


def _code_digest(code: types.CodeType) -> bytes:
    """Digest of a code object's canonical form: its instructions with constants and names
    spelled out (not as table indices), so a docstring or a line move changes nothing."""
    cached = _code_digests.get(id(code))
    if cached is not None and cached[0] is code:
        return cached[1]
    h = _blake(
        repr(
            (
                code.co_argcount,
                code.co_posonlyargcount,
                code.co_kwonlyargcount,
                code.co_flags & ~_CO_HAS_DOCSTRING,
                code.co_varnames[: code.co_argcount + code.co_kwonlyargcount],
            )
        ).encode()
    )
    for ins in dis.get_instructions(code):
        opname = _SAME_OP.get(ins.opname, ins.opname)
        if ins.opcode in _HASCONST:
            const = ins.argval
            if isinstance(const, types.CodeType):
                h.update(b"code:" + _code_digest(const))
            else:
                h.update(opname.encode() + value_key(const))
        elif ins.arg is not None and ins.opcode not in _HASJUMP:
            h.update(f"{opname} {ins.argval!r};".encode())
        else:
            h.update(f"{opname} {ins.arg};".encode())
    digest = h.digest()
    # Keep the code object alive with its digest so that its id cannot be reused.
    _code_digests[id(code)] = (code, digest)
    return digest


Leaf = Callable[[Any], bytes]


def value_key(value: Any, leaf: Leaf | None = None) -> bytes:
    """Bytes that identify a value; fast for the plain values notebooks and scripts use.

    Containers are walked; anything else is a leaf, identified by `leaf` (by default
    `leaf_key`). Nothing here depends on an address or anything else that changes with a
    restart.
    """
    t = type(value)
    if t in _SIMPLE:
        return f"{t.__name__}:{value!r}".encode()
    if t in (tuple, list):
        return t.__name__.encode() + b"(" + b",".join(value_key(v, leaf) for v in value) + b")"
    if t in (frozenset, set):
        keys = sorted(value_key(v, leaf) for v in value)
        return t.__name__.encode() + b"(" + b",".join(keys) + b")"
    if t is dict and len(value) < 1000:
        try:
            items = sorted(value.items())
        except TypeError:
            items = list(value.items())
        return (
            b"dict("
            + b",".join(value_key(k, leaf) + b"=" + value_key(v, leaf) for k, v in items)
            + b")"
        )
    return (leaf or leaf_key)(value)


def leaf_key(value: Any) -> bytes:
    """A value that is not a plain container: a function by its code, a class or module by
    its name, a module-level object of a library by its importable name, anything else by
    a hash of its state."""
    if is_a(value, type):
        return f"type:{value.__module__}.{value.__qualname__}".encode()
    if is_a(value, types.ModuleType):
        return f"module:{value.__name__}".encode()
    if is_function(value):
        return b"fn:" + function_fingerprint(value).encode()
    if is_a(value, os.PathLike):
        return b"path:" + os.fsencode(value)
    return object_key(value)


def is_function(value: Any) -> bool:
    """A function, method or partial (not merely a callable object)."""
    return is_a(value, _FUNCTION_TYPES) or is_a(attribute(value, "__code__"), types.CodeType)


_FUNCTION_TYPES = (
    types.FunctionType,
    types.MethodType,
    types.BuiltinFunctionType,
    types.BuiltinMethodType,
    types.MethodWrapperType,
    types.WrapperDescriptorType,
    types.MethodDescriptorType,
    types.ClassMethodDescriptorType,
    functools.partial,
)


def object_key(value: Any, found: Found | None = None) -> bytes:
    """An object: by the name it is importable as, if it is a module-level object of a
    loaded module (`scipy.stats.t`, `numpy.add`), else by a hash of its state."""
    name = singleton_name(value)
    if name is not None:
        return b"ref:" + name.encode()
    return b"obj:" + state_hash(value, found).encode()


_module_objects: dict[str, tuple[int, dict[int, tuple[Any, str]]]] = {}


def singleton_name(value: Any) -> str | None:
    """`module.attr` if `value` is a module-level object of the module that defines its type
    (or of a package above it), else None. Objects of builtin types never are."""
    module_name = getattr(type(value), "__module__", None)
    if not isinstance(module_name, str) or module_name in ("builtins", "__main__"):
        return None
    parts = module_name.split(".")
    for i in range(len(parts), 0, -1):
        name = ".".join(parts[:i])
        module = sys.modules.get(name)
        if module is None:
            continue
        attrs = getattr(module, "__dict__", {})
        cached = _module_objects.get(name)
        if cached is None or cached[0] != len(attrs):
            # Strong references: an entry's id cannot be reused while it is cached.
            cached = (len(attrs), {id(v): (v, k) for k, v in list(attrs.items())})
            _module_objects[name] = cached
        entry = cached[1].get(id(value))
        if entry is not None and entry[0] is value:
            return f"{name}.{entry[1]}"
    return None


Found = Callable[[Any], "str | None"]


def state_hash(value: Any, found: Found | None = None) -> str:
    """A content hash of any picklable value (numpy arrays and frames hashed efficiently).

    Functions and classes inside it are identified by `found` (the code walk: the user's
    own by their code) when it returns a token, else by name, or by their code when they
    cannot be imported by name (a lambda, a class defined in a function). Module-level
    objects of libraries inside it (numpy's global random state, say) count by name, so
    that their changing state does not change the hash. An object that cannot be pickled
    as a whole (it holds a lock, an open file, a connection) is hashed attribute by
    attribute, so that a change of the rest of its state is still seen.
    """
    try:
        return _hasher(found).hash(value) or ""
    except Exception:
        pass
    name = f"{type(value).__module__}.{type(value).__qualname__}"
    attrs = attribute(value, "__dict__")
    depth = getattr(_unpicklable, "depth", 0)
    if not isinstance(attrs, dict) or depth >= 4:
        # (a lock, an open file, ...: nothing of it can be fingerprinted by content)
        return f"unhashable:{name}"
    _unpicklable.depth = depth + 1
    try:
        parts = [name]
        for key, attr in sorted(attrs.items(), key=lambda kv: str(kv[0])):
            leaf = None if found is None else functools.partial(_leaf_with, found)
            parts.append(f"{key}=" + _blake(value_key(attr, leaf)).hexdigest())
        return combine(parts)
    finally:
        _unpicklable.depth = depth


_unpicklable = threading.local()  # .depth: objects within objects hashed by attribute


def _leaf_with(found: Found, value: Any) -> bytes:
    """`leaf_key`, with the user's functions and classes named by `found`."""
    if is_a(value, (types.FunctionType, type, types.ModuleType)):
        token = found(value)
        if token is not None:
            return token.encode()
    if is_a(value, (type, types.ModuleType)) or is_function(value):
        return leaf_key(value)
    return object_key(value, found)


def _hasher(found: Found | None) -> Any:
    """joblib's hashing pickler (its numpy flavour once numpy is loaded), taught to name
    functions, classes and library singletons as `state_hash` says."""
    import pickle

    import joblib.hashing  # imported here: joblib is heavy and most fingerprints never need it

    numpy = "numpy" in sys.modules
    cls = _hashers.get(numpy)
    if cls is None:
        base = joblib.hashing.NumpyHasher if numpy else joblib.hashing.Hasher

        class _Hasher(base):  # type: ignore[valid-type, misc]
            found: Found | None = None

            def persistent_id(self, obj: Any) -> Any:
                if is_a(obj, types.ModuleType):  # (not picklable: by its name)
                    token = self.found(obj) if self.found is not None else None
                    return token or f"module:{obj.__name__}"
                if is_a(obj, (types.FunctionType, type)):
                    token = self.found(obj) if self.found is not None else None
                    if token is None and not is_importable(obj):
                        token = leaf_key(obj).decode(errors="replace")
                    return token
                module = type(obj).__module__
                if module not in ("builtins", "numpy") and not is_a(obj, types.ModuleType):
                    name = singleton_name(obj)
                    if name is not None:
                        return "ref:" + name
                return None

            def save_pers(self, pid: Any) -> None:
                # (pickle's own passes an argument joblib's save() does not take)
                pickle._Pickler.save(self, pid, save_persistent_id=False)  # type: ignore[attr-defined]
                self.write(pickle.BINPERSID)

        cls = _hashers[numpy] = _Hasher
    hasher = cls()
    hasher.found = found
    return hasher


_hashers: dict[bool, Any] = {}


def is_importable(obj: Any) -> bool:
    """Can pickle refer to this function or class by its module and name?"""
    module = sys.modules.get(getattr(obj, "__module__", None) or "")
    if module is None:
        return False
    target: Any = module
    for part in getattr(obj, "__qualname__", "<").split("."):
        target = getattr(target, part, None)
        if target is None:
            return False
    return target is obj


def value_fingerprint(value: Any) -> str:
    """Fingerprint of a parameter value (numbers, strings, containers, arrays, frames...)."""
    return _blake(value_key(value)).hexdigest()


def function_fingerprint(fn: Callable[..., Any]) -> str:
    """Fingerprint of a function: canonical code + closure values + default arguments."""
    if type(fn) is types.FunctionType:  # (the common case, kept fast)
        return _fingerprint_of(fn, fn.__code__, fn.__closure__, fn.__defaults__, fn.__kwdefaults__)
    if isinstance(fn, functools.partial):
        return combine(
            [
                function_fingerprint(fn.func),
                value_fingerprint(fn.args),
                value_fingerprint(fn.keywords),
            ]
        )
    if isinstance(fn, types.MethodType):  # its code, and the object it is bound to
        return combine([function_fingerprint(fn.__func__), hash_bytes(value_key(fn.__self__))])
    code = getattr(fn, "__code__", None)
    if not isinstance(code, types.CodeType):
        if isinstance(fn, _FUNCTION_TYPES):  # a builtin: by its name
            owner = getattr(fn, "__self__", None)
            module = getattr(fn, "__module__", None) or type(owner).__module__
            name = f"{module}.{getattr(fn, '__qualname__', getattr(fn, '__name__', '?'))}"
            return hash_bytes(b"builtin:" + name.encode())
        call = type(fn).__dict__.get("__call__") or getattr(type(fn), "__call__", None)  # noqa: B004
        parts = ["callable", object_key(fn).decode(errors="replace")]
        if isinstance(call, types.FunctionType):  # a callable object of a class in Python
            parts.append(function_fingerprint(call))
        return combine(parts)
    return _fingerprint_of(
        fn,
        code,
        getattr(fn, "__closure__", None),
        getattr(fn, "__defaults__", None),
        getattr(fn, "__kwdefaults__", None),
    )


def plain_values_fingerprint(fn: types.FunctionType) -> str | None:
    """`function_fingerprint(fn)` if its closure values and defaults are all plain values
    (numbers, strings, None), else None: the thousands of closures one function makes
    in a loop, fingerprinted in one pass over their values."""
    keys = []  # (value_key's, inline: "str:'a'", encoded as one)
    for cell in fn.__closure__ or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell: a name bound later
            return None
        prefix = _PLAIN_PREFIX.get(type(value))
        if prefix is None:
            return None
        keys.append(prefix)
        keys.append(repr(value))
    defaults, kwdefaults = fn.__defaults__, fn.__kwdefaults__
    if defaults and any(type(v) not in _SIMPLE for v in defaults):
        return None
    if kwdefaults and any(type(v) not in _SIMPLE for v in kwdefaults.values()):
        return None
    return _digest(fn.__code__, "".join(keys).encode(), defaults, kwdefaults)


def _fingerprint_of(
    fn: Any,
    code: types.CodeType,
    closure: tuple[Any, ...] | None,
    defaults: tuple[Any, ...] | None,
    kwdefaults: dict[str, Any] | None,
) -> str:
    held = []
    for cell in closure or ():
        try:
            contents = cell.cell_contents
        except ValueError:  # an empty cell: a name bound later in the enclosing scope
            held.append(b"<empty>")
            continue
        held.append(b"<self>" if contents is fn else value_key(contents))
    return _digest(code, b"".join(held), defaults, kwdefaults)


def _digest(
    code: types.CodeType,
    held: bytes,
    defaults: tuple[Any, ...] | None,
    kwdefaults: dict[str, Any] | None,
) -> str:
    """The fingerprint of code holding `held` (its closure values' keys) with these
    defaults, hashed as one piece: the same digest as one update per part."""
    parts = [held]
    if defaults:
        parts.append(b"defaults:" + value_key(defaults))
    if kwdefaults:
        parts.append(b"kwdefaults:" + value_key(kwdefaults))
    h = _code_hasher(code).copy()
    h.update(b"".join(parts))
    return h.hexdigest()


def wants_argument(fn: Callable[..., Any]) -> bool:
    """True if `fn` takes a required positional argument (the `fn(path)` convention)."""
    if isinstance(fn, types.FunctionType):
        code = fn.__code__
        n_defaults = len(fn.__defaults__ or ())
        return code.co_argcount - n_defaults > 0 or bool(code.co_flags & inspect.CO_VARARGS)
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        (p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty)
        or p.kind is p.VAR_POSITIONAL
        for p in params
    )
