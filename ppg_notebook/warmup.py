"""Workers that wait for the kernel's first job instead of starting with it.

When the extension loads, the kernel's worker processes are started; after each cell, the
libraries the user imported since (numpy, scikit-learn, ...) are imported by the workers
too, while the user writes the next cell. A first job then costs what a later one does,
not a process start and a second of imports.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

_LIBRARY_DIRS = ("site-packages", "dist-packages")


def libraries() -> set[str]:
    """The installed libraries' modules imported in this process (public ones: what the
    user imports, as `sklearn.neighbors`)."""
    found = set()
    for name, module in list(sys.modules.items()):
        if any(part.startswith("_") for part in name.split(".")):
            continue
        path = getattr(module, "__file__", None) or ""
        if any(part in _LIBRARY_DIRS for part in path.split(os.sep)):
            found.add(name)
    return found


class Warmer:
    """Keeps the workers of the kernel's pipeline (`workers()`) ready."""

    def __init__(self, workers: Callable[[], Any], busy: Callable[[], bool]) -> None:
        self.workers = workers
        self.busy = busy
        self.known = libraries()
        # The kernel's own packages, not the user's: what was there before any cell ran.
        self.kernel = {name.split(".")[0] for name in self.known} | {"ppg_notebook"}

    def start(self) -> None:
        self._preload([])

    def after_cell(self, *_: Any) -> None:
        """IPython's post_run_cell: the libraries the cell imported, to the workers."""
        new = {name for name in libraries() - self.known if name.split(".")[0] not in self.kernel}
        if new and not self.busy():
            self.known |= new
            self._preload(sorted(new))

    def _preload(self, modules: list[str]) -> None:
        workers = self.workers()
        preload = getattr(workers, "preload", None)  # (a dask cluster has its own)
        if preload is not None:
            preload(modules)
