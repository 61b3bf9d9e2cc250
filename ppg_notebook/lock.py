"""One run at a time per pipeline directory: an flock'ed file naming its holder.

The operating system releases the lock when the holder dies, even by kill -9. A process
forked by the holder (a loading job using multiprocessing) would share the lock and keep it
after the holder's death: forked children close it at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time

from .errors import PipelineLocked

_NAMED_WITHIN = 1.0  # seconds a new holder may take to write its name after its flock

_held: dict[int, DirectoryLock] = {}  # id -> the locks this process holds


class DirectoryLock:
    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            self._lock(fd)
            _write_holder(fd)
        except BaseException:
            os.close(fd)  # (closing it releases the lock, if it was taken)
            raise
        self._fd = fd
        _held[id(self)] = self

    def _lock(self, fd: int) -> None:
        deadline = time.monotonic() + _NAMED_WITHIN
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                holder = _read_holder(fd)
                if holder is None and time.monotonic() < deadline:
                    time.sleep(0.01)  # it has just taken the lock: its name follows
                    continue
            msg = (
                f"the pipeline directory {os.path.dirname(self.path)} is in use by another run "
                f"({holder or 'holder unknown'}); wait for it to finish, or stop that process"
            )
            raise PipelineLocked(msg)

    def release(self) -> None:
        fd = self._fd
        if fd is not None:
            self._fd = None
            _held.pop(id(self), None)
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)  # releases the lock

    def _forget(self) -> None:
        """In a forked child: close the inherited descriptor (the parent keeps the lock)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def __enter__(self) -> DirectoryLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _write_holder(fd: int) -> None:
    info = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
    except OSError:
        pass  # (a full disk): the lock is held all the same, only not named


def _read_holder(fd: int) -> str | None:
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info["since"]))
        return f"pid {info['pid']} on host {info['host']}, running since {since}"
    except (ValueError, KeyError, TypeError, OSError):
        return None


def _close_in_child() -> None:
    for lock in list(_held.values()):
        lock._forget()
    _held.clear()


os.register_at_fork(after_in_child=_close_in_child)
