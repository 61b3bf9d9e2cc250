"""Which files are the user's: the one policy behind code tracking and read tracking (§3a).

A file is the user's when it lies under the pipeline's project directory (the working
directory it was created in) or under a tracked path (`new_pipeline(track=[...])`), and not
in the standard library, a `site-packages` / `dist-packages` directory, the interpreter's
own tree (a virtual environment inside the project is not the user's code) or ppg_notebook
itself. And how a file is named (`normalize_path`, a file job's id): relative to the
project directory when inside it. Imports nothing of ours.
"""

from __future__ import annotations

import os
import site
import sys
import sysconfig
from collections.abc import Iterable
from typing import NamedTuple

_OURS = os.path.dirname(os.path.abspath(__file__))
_PACKAGE_DIRS = ("site-packages", "dist-packages")


def _excluded_roots() -> tuple[str, ...]:
    roots = {_OURS, sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    paths = sysconfig.get_paths()
    roots.update(paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib"))
    try:
        roots.update(site.getsitepackages())
        roots.add(site.getusersitepackages())
    except AttributeError:  # (a virtualenv's old site.py lacks these)
        pass
    return tuple(sorted(_as_dir(r) for r in roots if r))


def _as_dir(path: str) -> str:
    return os.path.join(os.path.realpath(os.path.abspath(path)), "")


class UserFiles(NamedTuple):
    """The project directory and tracked paths, as absolute directories ending in `/`.

    A tuple of strings, so that it travels to worker processes as it is.
    """

    roots: tuple[str, ...]
    excluded: tuple[str, ...]

    @classmethod
    def of(cls, project: str, track: Iterable[str | os.PathLike[str]] = ()) -> UserFiles:
        roots = [_as_dir(project)]
        for path in track:
            p = os.fspath(path)
            absolute = p if os.path.isabs(p) else os.path.join(project, p)
            roots.append(_as_dir(absolute))
        return cls(tuple(dict.fromkeys(roots)), _excluded_roots())

    def contains(self, path: str) -> bool:
        """Is the absolute, normalised `path` one of the user's files?"""
        if not path.startswith(self.roots):
            path = os.path.realpath(path)  # (a symlinked project directory)
            if not path.startswith(self.roots):
                return False
        if path.startswith(self.excluded):
            return False
        parts = path.split(os.sep)
        return not any(p in _PACKAGE_DIRS for p in parts)

    def root_of(self, path: str) -> str | None:
        for root in self.roots:
            if path.startswith(root):
                return root
        return None


def normalize_path(path: str | os.PathLike[str], workdir: str) -> tuple[str, str]:
    """(id, absolute path) of a file: relative to `workdir` when inside it, else absolute.

    Every spelling of the same file (./a, a, /abs/a, sub/../a) maps to one id.
    """
    p = path if type(path) is str else os.fspath(path)
    if not isinstance(p, str):
        msg = f"file paths must be str or os.PathLike, not {type(p).__name__}: {p!r}"
        raise TypeError(msg)
    if not p:
        msg = "a file path must not be empty"
        raise ValueError(msg)
    if p[0] not in "/." and "//" not in p and "/." not in p and p[-1] != "/":
        return p, f"{workdir}/{p}"  # already normal: the common case, kept fast
    absolute = os.path.normpath(p if os.path.isabs(p) else os.path.join(workdir, p))
    if absolute.startswith(workdir + os.sep):
        return absolute[len(workdir) + 1 :], absolute
    return absolute, absolute
