"""Files a job opens while it runs (SPEC §3a), seen through Python's `open` audit event.

One audit hook per process (an audit hook cannot be removed), installed when the first job
is recorded. It hands each `open` to the recording of the job that runs on that thread;
a worker process runs one job at a time, so there any thread's opens are its job's. The
hook costs one comparison per audit event while no job is recorded. Reads done inside C
libraries (HDF5, say) are not seen.

After the job, `summarize` keeps the files under the user's directories (userfiles.py)
that the job read and did not write, that are not its outputs, its declared inputs, in the
pipeline's own directory, or the source and bytecode of imported modules, and fingerprints
them (size, mtime and content hash); and the files it created or overwrote that are not
its outputs (appending, as a log does, does not count).
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import threading
from collections.abc import Iterator
from typing import Any, NamedTuple

from . import hashing
from .userfiles import UserFiles, normalize_path

MAX_READS = 1000  # discovered inputs kept per job: more is a warning, not a runaway history
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR
_CREATE_FLAGS = os.O_CREAT | os.O_TRUNC


class Recording:
    """The paths one job opened, absolute, as they were opened."""

    __slots__ = ("reads", "writes")

    def __init__(self) -> None:
        self.reads: set[str] = set()
        self.writes: set[str] = set()


class Found(NamedTuple):
    """What a job's recording comes to (travels back from a worker with its result)."""

    reads: dict[str, list[Any]]  # shown path -> [mtime_ns, size, content hash or None]
    writes: tuple[str, ...]  # shown paths of files it made that are not its outputs
    dropped: int = 0  # reads beyond MAX_READS, not tracked
    unreadable: tuple[str, ...] = ()  # reads that could not be hashed (why, for the warning)


NOTHING = Found({}, ())

_by_thread: dict[int, Recording] = {}
_whole_process: list[Recording] = []  # in a worker: the job now running
_installed: list[bool] = []


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if event != "open" or not (_by_thread or _whole_process):
        return
    try:
        recording = _by_thread.get(threading.get_ident())
        if recording is None:
            if not _whole_process:
                return
            recording = _whole_process[-1]
        path, mode, flags = args
        if isinstance(path, int):
            return  # an open file descriptor
        p = os.fsdecode(path) if isinstance(path, bytes) else os.fspath(path)
        absolute = os.path.abspath(p)
        if mode is None:  # os.open
            if flags & _WRITE_FLAGS and flags & _CREATE_FLAGS and not flags & os.O_APPEND:
                recording.writes.add(absolute)
            elif not flags & os.O_WRONLY:
                recording.reads.add(absolute)
        elif "w" in mode or "x" in mode:
            recording.writes.add(absolute)
        elif "r" in mode:
            recording.reads.add(absolute)
    except Exception:
        return  # never break the job's own open()


@contextlib.contextmanager
def recording(whole_process: bool = False) -> Iterator[Recording]:
    """Record the files opened while the block runs: by this thread, or (`whole_process`,
    in a worker) by any thread."""
    if not _installed:
        sys.addaudithook(_hook)
        _installed.append(True)
    rec = Recording()
    if whole_process:
        _whole_process.append(rec)
    else:
        _by_thread[threading.get_ident()] = rec
    try:
        yield rec
    finally:
        if whole_process:
            _whole_process.remove(rec)
        else:
            _by_thread.pop(threading.get_ident(), None)


class Scope(NamedTuple):
    """What a job's reads are compared with (the same for every job of a pipeline but the
    last three)."""

    files: UserFiles
    workdir: str
    ppg_dir: str
    outputs: tuple[str, ...] = ()
    declared: tuple[str, ...] = ()  # absolute paths of its declared input files
    ignored: tuple[str, ...] = ()  # job.ignore_reads(): files, or directories


def summarize(rec: Recording, scope: Scope) -> Found:
    """The discovered inputs and undeclared writes of a recorded job (see the module)."""
    if not rec.reads and rec.writes.issubset(scope.outputs):
        return NOTHING  # (the common case, kept fast: it wrote its outputs, read nothing)
    skip = {*scope.outputs, *scope.declared}
    ignored = tuple(scope.ignored)
    ignored_dirs = tuple(os.path.join(p, "") for p in ignored)

    def mine(path: str) -> bool:
        return (
            path not in skip
            and _where_data_is(path, scope)
            and (not ignored or (path not in ignored and not path.startswith(ignored_dirs)))
        )

    candidates = sorted(p for p in rec.reads - rec.writes if mine(p))
    modules = _module_files() if any(p.endswith(".py") for p in candidates) else set()
    reads: dict[str, list[Any]] = {}
    unreadable: list[str] = []
    dropped = 0
    for path in candidates:
        if path in modules:
            continue
        if len(reads) >= MAX_READS:
            dropped += 1
            continue
        entry = fingerprint(path)
        if entry is None:
            continue  # gone (or not a regular file): nothing the job's result rests on
        key = normalize_path(path, scope.workdir)[0]
        reads[key] = entry
        if entry[2] is None:
            unreadable.append(key)
    writes = tuple(
        normalize_path(p, scope.workdir)[0]
        for p in sorted(rec.writes)
        if mine(p) and os.path.isfile(p)
    )
    return Found(reads, writes, dropped, tuple(unreadable))


_places: dict[tuple[str, str, tuple[str, ...]], bool] = {}  # per process


def _where_data_is(path: str, scope: Scope) -> bool:
    """Is `path` where a job's data can be: one of the user's files, not in the pipeline's
    own directory, not bytecode, and not in a hidden directory (`.cache/`, `.git/`,
    `.ipynb_checkpoints/`: what tools keep for themselves, even in a project that is a
    home directory)?"""
    key = (path, scope.ppg_dir, scope.files.roots)
    found = _places.get(key)
    if found is None:
        found = (
            scope.files.contains(path)
            and not path.startswith(os.path.join(scope.ppg_dir, ""))
            and not _is_code(path)
            and not _in_hidden_directory(path, scope.files)
        )
        if len(_places) > 100_000:
            _places.clear()
        _places[key] = found
    return found


def _in_hidden_directory(path: str, files: UserFiles) -> bool:
    if files.root_of(path) is None:
        path = os.path.realpath(path)  # (a symlinked project directory)
    root = files.root_of(path) or ""
    return any(part.startswith(".") for part in path[len(root) :].split(os.sep)[:-1])


_hashes: dict[str, tuple[int, int, str]] = {}  # path -> (mtime_ns, size, hash): per process


def fingerprint(path: str) -> list[Any] | None:
    """[mtime_ns, size, content hash] of a regular file; the hash is None if the file
    cannot be read; None if there is no such file."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    cached = _hashes.get(path)
    if cached is not None and cached[0] == st.st_mtime_ns and cached[1] == st.st_size:
        return [st.st_mtime_ns, st.st_size, cached[2]]
    try:
        digest = hashing.hash_file(path)
    except OSError:
        return [st.st_mtime_ns, st.st_size, None]
    _hashes[path] = (st.st_mtime_ns, st.st_size, digest)
    return [st.st_mtime_ns, st.st_size, digest]


def _is_code(path: str) -> bool:
    """Bytecode is only ever read by imports."""
    return path.endswith((".pyc", ".pyo")) or f"{os.sep}__pycache__{os.sep}" in path


def _module_files() -> set[str]:
    """Source files of the modules imported so far (read by an import, not by the job)."""
    found = set()
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if isinstance(path, str):
            found.add(os.path.abspath(path))
    return found
