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
import types
from collections.abc import Callable
from typing import Any

DIGEST_SIZE = 16
_CHUNK = 1 << 20
_CO_HAS_DOCSTRING = 0x4000000  # Python 3.14's flag for code objects with a docstring
_HASCONST = frozenset(dis.hasconst)
_HASJUMP = frozenset(dis.hasjrel + dis.hasjabs)
_SIMPLE = (int, float, complex, bool, str, bytes, type(None))
# Python 3.11 compiles `module.fn()` to LOAD_ATTR when the same compilation unit imports
# `module`, else to LOAD_METHOD: a helper defined in a notebook cell and the same helper in
# an exported script (one unit with the imports) must fingerprint the same.
_SAME_OP = {"LOAD_METHOD": "LOAD_ATTR"}

_code_digests: dict[int, tuple[types.CodeType, bytes]] = {}


def _blake(data: bytes = b"") -> Any:
    return hashlib.blake2b(data, digest_size=DIGEST_SIZE)


def combine(parts: list[str] | tuple[str, ...]) -> str:
    """One fingerprint standing for an ordered sequence of fingerprints."""
    return _blake("\0".join(parts).encode()).hexdigest()


def hash_bytes(data: bytes) -> str:
    return _blake(data).hexdigest()


def hash_file(path: str) -> str:
    """Content hash of a file (read in chunks, so large files do not fill memory)."""
    h = _blake()
    with open(path, "rb", buffering=0) as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


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
                h.update(opname.encode() + _value_key(const))
        elif ins.arg is not None and ins.opcode not in _HASJUMP:
            h.update(f"{opname} {ins.argval!r};".encode())
        else:
            h.update(f"{opname} {ins.arg};".encode())
    digest = h.digest()
    # Keep the code object alive with its digest so that its id cannot be reused.
    _code_digests[id(code)] = (code, digest)
    return digest


def _value_key(value: Any) -> bytes:
    """Bytes that identify a value; fast for the plain values notebooks and scripts use."""
    t = type(value)
    if t in _SIMPLE:
        return f"{t.__name__}:{value!r}".encode()
    if t in (tuple, list, frozenset, set):
        items = sorted(value, key=repr) if t in (frozenset, set) else value
        return t.__name__.encode() + b"(" + b",".join(_value_key(v) for v in items) + b")"
    if t is dict and len(value) < 1000:
        try:
            items = sorted(value.items())
        except TypeError:
            items = list(value.items())
        return b"dict(" + b",".join(_value_key(k) + b"=" + _value_key(v) for k, v in items) + b")"
    if callable(value) and not isinstance(value, type):
        return b"fn:" + function_fingerprint(value).encode()
    if isinstance(value, type):
        return f"type:{value.__module__}.{value.__qualname__}".encode()
    if isinstance(value, types.ModuleType):
        return f"module:{value.__name__}".encode()
    if isinstance(value, os.PathLike):
        return b"path:" + os.fspath(value).encode()
    return b"obj:" + _joblib_hash(value).encode()


def _joblib_hash(value: Any) -> str:
    """Content hash of any picklable value (numpy arrays and frames hashed efficiently)."""
    import joblib  # imported here: joblib is heavy and most fingerprints never need it

    try:
        return joblib.hash(value) or ""
    except Exception:
        pass
    import cloudpickle  # objects of classes defined in a notebook or function

    try:
        return hash_bytes(cloudpickle.dumps(value))
    except Exception:
        # Unpicklable values (locks, open files, ...) cannot be fingerprinted by content.
        return f"unhashable:{type(value).__module__}.{type(value).__qualname__}"


def value_fingerprint(value: Any) -> str:
    """Fingerprint of a parameter value (numbers, strings, containers, arrays, frames...)."""
    return _blake(_value_key(value)).hexdigest()


def function_fingerprint(fn: Callable[..., Any]) -> str:
    """Fingerprint of a function: canonical code + closure values + default arguments."""
    if isinstance(fn, functools.partial):
        return combine(
            [
                function_fingerprint(fn.func),
                value_fingerprint(fn.args),
                value_fingerprint(fn.keywords),
            ]
        )
    if isinstance(fn, types.MethodType):
        fn = fn.__func__
    code = getattr(fn, "__code__", None)
    if not isinstance(code, types.CodeType):
        call = type(fn).__dict__.get("__call__")
        if isinstance(call, types.FunctionType):
            return combine(["callable", function_fingerprint(call), _joblib_hash(fn)])
        name = f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', repr(fn))}"
        return hash_bytes(b"builtin:" + name.encode())
    h = _blake(_code_digest(code))
    closure = getattr(fn, "__closure__", None)
    if closure:
        for cell in closure:
            try:
                contents = cell.cell_contents
            except ValueError:  # an empty cell: a name bound later in the enclosing scope
                h.update(b"<empty>")
                continue
            if contents is fn:
                h.update(b"<self>")
            else:
                h.update(_value_key(contents))
    defaults = getattr(fn, "__defaults__", None)
    if defaults:
        h.update(b"defaults:" + _value_key(defaults))
    kwdefaults = getattr(fn, "__kwdefaults__", None)
    if kwdefaults:
        h.update(b"kwdefaults:" + _value_key(kwdefaults))
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
