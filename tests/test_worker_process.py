"""The worker process itself (worker_process.py): the user's modules it holds are forgotten
once one of their files changed, it imports ahead what it is told, it ignores Ctrl-C and
it exits when the process that started it dies."""

from __future__ import annotations

import json  # noqa: F401  (a library module, imported)
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ppg_notebook import worker_process
from ppg_notebook.userfiles import UserFiles


def _import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **sources: str) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    for name, source in sources.items():
        (tmp_path / f"{name}.py").write_text(source)
        monkeypatch.delitem(sys.modules, name, raising=False)
        __import__(name)


def test_user_modules_are_forgotten_once_one_of_their_files_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = UserFiles.of(str(tmp_path))
    _import(tmp_path, monkeypatch, wp_helpers="X = 1\n", wp_other="from wp_helpers import X\n")
    worker_process.note_modules(files)  # (after a batch)
    worker_process.forget_stale_modules(files)  # (before the next)
    assert "wp_helpers" in sys.modules and "wp_other" in sys.modules
    (tmp_path / "wp_helpers.py").write_text("X = 22\n")
    worker_process.forget_stale_modules(files)
    assert "wp_helpers" not in sys.modules
    assert "wp_other" not in sys.modules  # (it holds the old X)
    assert "json" in sys.modules  # (a library's is never forgotten)


def test_modules_outside_the_users_files_are_not_watched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "project").mkdir()
    _import(tmp_path, monkeypatch, wp_elsewhere="Y = 1\n")
    files = UserFiles.of(str(tmp_path / "project"))
    worker_process.note_modules(files)
    (tmp_path / "wp_elsewhere.py").write_text("Y = 2222\n")
    worker_process.forget_stale_modules(files)
    assert "wp_elsewhere" in sys.modules


def test_preload_imports_what_it_can(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "wp_preloaded.py").write_text("")
    (tmp_path / "wp_broken.py").write_text("raise ImportError('not here')\n")
    for name in ("wp_preloaded", "wp_broken"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    worker_process.preload(["wp_broken", "wp_preloaded", "wp_no_such_module"])
    assert "wp_preloaded" in sys.modules and "wp_broken" not in sys.modules


_PARENT = """\
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", {worker!r}])
print(child.pid, flush=True)
time.sleep(60)
"""

_WORKER = """\
import pathlib, time
from ppg_notebook import worker_process
worker_process.start_worker()
pathlib.Path({ready!r}).touch()
time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # (a zombie is dead)
    except FileNotFoundError:
        return False


def _wait(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_worker_ignores_ctrl_c_and_exits_when_its_parent_dies(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    worker = textwrap.dedent(_WORKER.format(ready=str(ready)))
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT.format(worker=worker)], stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    pid = int(parent.stdout.readline())
    try:
        assert _wait(ready.exists, 30)
        os.kill(pid, signal.SIGINT)
        time.sleep(0.5)
        assert _alive(pid)
        parent.kill()
        parent.wait()
        assert _wait(lambda: not _alive(pid), 10)
    finally:
        parent.kill()
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
