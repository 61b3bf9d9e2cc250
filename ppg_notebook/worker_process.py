"""The worker process itself: how it starts, what it imports ahead, and the user's modules
it holds, kept current with their files.

A worker ignores Ctrl-C and exits when the process that started it dies (`start_worker`,
`watch_parent`). Before a batch's functions are unpickled, the user's modules it imported
for earlier batches are forgotten if one of their files changed since
(`forget_stale_modules`); after a batch, those it imported are noted (`note_modules`).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import sys
import threading
import time

from .userfiles import UserFiles

_module_stats: dict[str, tuple[int, int]] = {}  # user module -> its file's stat when seen
_user_module_files: dict[str, str | None] = {}  # module name -> its file, if the user's


def _user_modules(files: UserFiles) -> dict[str, str]:
    found = {}
    for name, module in list(sys.modules.items()):
        if name not in _user_module_files:
            path = getattr(module, "__file__", None)
            user = isinstance(path, str) and path.endswith(".py")
            absolute = os.path.abspath(path) if user else ""  # type: ignore[arg-type]
            _user_module_files[name] = absolute if user and files.contains(absolute) else None
        path = _user_module_files[name]
        if path is not None:
            found[name] = path
    return found


def _stat(path: str) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (-1, -1)
    return (st.st_mtime_ns, st.st_size)


def note_modules(files: UserFiles) -> None:
    """Keep the stat of each user module this process imported, as it was when first seen
    (what `forget_stale_modules` compares with)."""
    for name, path in _user_modules(files).items():
        _module_stats.setdefault(name, _stat(path))


def forget_stale_modules(files: UserFiles) -> None:
    """If a user module this worker imported has changed on disk since, forget every user
    module, so that the jobs import them again as they are now (a module that imported
    names from a changed one holds its old functions)."""
    modules = _user_modules(files)
    if not any(_module_stats.get(n, _stat(p)) != _stat(p) for n, p in modules.items()):
        return
    for name in modules:
        sys.modules.pop(name, None)
        _module_stats.pop(name, None)
        _user_module_files.pop(name, None)


def start_worker(parent: int | None = None) -> None:
    """What each of our loky worker processes runs first.

    It ignores Ctrl-C (a terminal sends it to the whole process group): the main process
    stops the run and its workers; a worker that went on would take the next job queued
    for it, though the interrupt dropped that job. And it exits when its parent dies, from
    its start: a kill -9 of the main process before a job reached it must not leave it
    behind."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    watch_parent(parent)


def preload(modules: list[str]) -> None:
    """Import what jobs will likely need (see pool.LokyWorkers.preload), and what a batch
    needs anyway; a module that fails to import here fails in the job that needs it."""
    import cloudpickle  # noqa: F401  (a batch's functions)
    import joblib  # noqa: F401  (stored values)

    for name in modules:
        with contextlib.suppress(Exception):
            importlib.import_module(name)


_watching: list[int] = []  # the parent pid being watched, once a watch has started


def watch_parent(parent: int | None = None) -> None:
    """Exit when the process that started this worker (`parent`, by default the one it
    has now) dies, even by kill -9: an orphaned worker must not go on writing outputs that
    a later run is about to write. A worker whose parent died while it started exits at
    once."""
    if _watching:
        return
    parent = parent or os.getppid()
    _watching.append(parent)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="ppg-parent-watch", daemon=True).start()
