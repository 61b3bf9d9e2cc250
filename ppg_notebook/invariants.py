"""The invariants: inputs whose change invalidates the jobs that depend on them.

Nothing runs for an invariant; it only has a fingerprint (`output_key`): of a function and
the user's code it reaches, of the user's code a `%%ppg_job` body reads through a module,
of a parameter, of the kernel's matplotlib style, or of an input file (worked out by the
pipeline from the file, with its stat cache). The values of a MultiValueJob, which stand
as inputs of their own, are in values.py, beside their job.
"""

from __future__ import annotations

import os
import types
from collections.abc import Callable
from typing import Any

from . import current, hashing, ids, plotstate
from .coderefs import CONSTANTS
from .codewalk import TRACK_CONSTANTS, CodeWalker, Reach
from .current import Registry
from .jobs import Job, _name
from .kinds import KINDS
from .userfiles import normalize_path


class _Invariant(Job):
    """An input whose change invalidates its dependants: nothing runs (its kind's record
    says NOWHERE), it only has a fingerprint."""

    __slots__ = ("fingerprint",)
    fingerprint: str | None  # what it stands for (None: worked out from its file)

    def output_key(self) -> str | None:
        return self.fingerprint

    def reach(self) -> Reach | None:
        """The user's code its fingerprint covers (function and parameter invariants)."""
        return None


class _CodeInvariant(_Invariant):
    """An invariant whose fingerprint is a walk of the user's code (`_walk`), done again
    in every run."""

    __slots__ = ()

    def reach(self) -> Reach:
        return self._cached_reach()

    def output_key(self) -> str | None:
        return self.reach().fingerprint


class FunctionInvariant(_CodeInvariant):
    """Dependants rerun when `fn`'s code, closure or defaults change, or the user's code
    it reaches (SPEC §3a). `main_values`: which module-level values of `__main__` that
    code reads count (codewalk.TRACK_CONSTANTS, or TRACK_ALL for a notebook cell's)."""

    __slots__ = ("main_values",)
    policy = KINDS["function"]

    def __init__(
        self, name: str, fn: Callable[..., Any], *, main_values: str = TRACK_CONSTANTS
    ) -> None:
        super().__init__(ids.function(_name(name, type(self))), None)
        if not callable(fn):
            msg = f"FunctionInvariant {name!r}: expected a function, got {fn!r}"
            raise TypeError(msg)
        self.fn = fn
        self.main_values = main_values
        self.fingerprint = hashing.function_fingerprint(fn)  # its own code: the identity
        current.registry().add_job(self)

    def _walk(self, walker: CodeWalker) -> Reach:
        return walker.function(self.fn, self.main_values)


class ModuleReadsInvariant(_CodeInvariant):
    """Dependants rerun when the user's code that a `%%ppg_job` body reads through a user
    module (`utils.clean_rows(...)`) changes: the functions, classes and values it uses of
    it, and what they reach in turn (SPEC §3a)."""

    __slots__ = ("code", "modules")
    policy = KINDS["function"]

    def __init__(self, name: str, code: types.CodeType, modules: dict[str, Any]) -> None:
        super().__init__(ids.function(_name(name, type(self))), None)
        self.code = code
        self.modules = dict(modules)
        self.fingerprint = hashing.hash_bytes(repr(sorted(modules)).encode())
        current.registry().add_job(self)

    def _walk(self, walker: CodeWalker) -> Reach:
        return walker.reads_of(self.code, self.modules)


class StyleInvariant(_Invariant):
    """Dependants rerun when the main process's matplotlib style changes (what it changed
    in rcParams, e.g. `plt.style.use('ggplot')`): jobs that draw with pyplot are given it,
    so that a figure job looks like the same code run in a cell (plotstate.py)."""

    __slots__ = ()
    policy = KINDS["parameter"]

    def __init__(self, name: str) -> None:
        super().__init__(ids.parameter(_name(name, type(self))), None)
        self.fingerprint = "matplotlib style"  # (the identity: what it stands for)
        current.registry().add_job(self)

    def output_key(self) -> str | None:
        return plotstate.style_fingerprint(plotstate.kernel_style())


class ParameterInvariant(_CodeInvariant):
    """Dependants rerun when `value` changes (an object of the user's class also when
    that class's code changes). `live`: the value is looked at again in every run (a
    notebook global a cell reads, which later cells may change in place), else as it was
    when declared, as in pypipegraph."""

    __slots__ = ("_declared", "live", "value")
    policy = KINDS["parameter"]

    def __init__(self, name: str, value: Any, *, live: bool = False) -> None:
        super().__init__(ids.parameter(_name(name, type(self))), None)
        self.value = value
        self.live = live
        pipeline = current.registry()
        if type(value) in CONSTANTS:  # (it reaches no code: its fingerprint is all of it)
            self.fingerprint = hashing.value_fingerprint(value)
            self._declared: Reach | None = None
        else:
            reach = pipeline.code.value(value)
            self.fingerprint = reach.own  # the value itself, as declared
            self._declared = reach
        pipeline.add_job(self)

    def output_key(self) -> str | None:
        if not self.live:
            declared = self._declared
            if declared is None:
                return self.fingerprint  # (a plain value: a string, a number)
            if not declared.children:
                return declared.fingerprint  # (a value as declared, with no code in it)
        return super().output_key()

    def _walk(self, walker: CodeWalker) -> Reach:
        declared = self._declared
        if self.live or declared is None:
            return walker.value(self.value)
        return walker.again(declared) if declared.children else declared


class FileInvariant(_Invariant):
    """Dependants rerun when the file's content changes (mtime/size first, then a hash)."""

    __slots__ = ()
    policy = KINDS["input"]

    def __init__(self, path: str | os.PathLike[str], *, pipeline: Registry | None = None) -> None:
        pipeline = pipeline or current.registry()
        rel, absolute = normalize_path(path, pipeline.workdir)
        super().__init__(ids.input_file(rel), None, (absolute,), (rel,))
        self.fingerprint = None  # computed by the pipeline from the file (with its stat cache)
        pipeline.add_job(self)
