"""pyplot's global state between jobs: each job starts as a notebook cell would.

A worker runs many jobs one after the other, and pyplot keeps state across them: open
figures (a second job's `plt.plot` drew into the first one's figure) and `rcParams` (one
job's `plt.style.use` styled every later job). So, in a worker:

- before each job, `rcParams` is matplotlib's own (what its matplotlibrc gives) plus what
  the main process changed (`plt.style.use('ggplot')` in the notebook: a figure job looks
  like the same code run in a cell);
- after each job, every figure is closed and what the job changed in `rcParams` is undone.

The main process sends its changes as a *style* (sorted (key, value) pairs); the backend
is never sent (workers draw headless). Nothing here imports matplotlib unless the main
process had imported it, or a job did.
"""

from __future__ import annotations

import pickle
import sys
from collections.abc import Iterable
from typing import Any

from . import hashing

Style = tuple[tuple[str, Any], ...]
_NOT_SENT = frozenset({"backend", "backend_fallback", "interactive", "webagg.port"})


def kernel_style() -> Style:
    """What this process changed in matplotlib's rcParams (() if it never imported it)."""
    mpl = sys.modules.get("matplotlib")
    if mpl is None:
        return ()
    params, orig = mpl.rcParams, mpl.rcParamsOrig
    changed = []
    for key, value in dict.items(params):
        if key in _NOT_SENT or key not in orig:
            continue
        if _differs(value, dict.__getitem__(orig, key)) and _sendable(value):
            changed.append((key, value))
    return tuple(sorted(changed, key=lambda kv: kv[0]))


def _sendable(value: Any) -> bool:
    try:
        pickle.dumps(value)
    except Exception:
        return False
    return True


def uses_pyplot(modules: Iterable[str]) -> bool:
    """Do modules of these names (what a job's code reads) draw with matplotlib?"""
    return any(name.split(".")[0] in _PLOTTING for name in modules)


_PLOTTING = frozenset({"matplotlib", "seaborn", "mpl_toolkits"})


def _differs(a: Any, b: Any) -> bool:
    try:
        return bool(a != b)
    except Exception:  # (arrays compare elementwise)
        return a is not b


def style_fingerprint(style: Style) -> str:
    return hashing.value_fingerprint(style)


# --- in a worker ---------------------------------------------------------------------------
_targets: dict[str, dict[str, Any]] = {}  # style fingerprint -> the rcParams a job starts with


_restored: list[str] = []  # the style rcParams were last restored to (nothing ran since)


def before_job(style: Style, key: str) -> None:
    """Give the job the main process's style on matplotlib's own rcParams."""
    if _restored and _restored[0] == key:
        return  # (the job before restored this style)
    mpl = sys.modules.get("matplotlib")
    if mpl is None:
        if not style:
            return
        import matplotlib as mpl  # a job importing pyplot itself must get the style too
    _restore(mpl, _target(mpl, style, key))


def after_job(style: Style, key: str) -> None:
    """Close every figure the job left open, undo what it changed in rcParams."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")
    mpl = sys.modules.get("matplotlib")
    if mpl is not None:
        _restore(mpl, _target(mpl, style, key))
        _restored[:] = [key]


def _target(mpl: Any, style: Style, key: str) -> dict[str, Any]:
    target = _targets.get(key)
    if target is None:
        target = {k: v for k, v in dict.items(mpl.rcParamsOrig) if k not in _NOT_SENT}
        target.update(style)
        _targets[key] = target
    return target


def _restore(mpl: Any, target: dict[str, Any]) -> None:
    params = mpl.rcParams
    # Values are compared by identity: setting one always stores a new object. Written with
    # dict.update, as matplotlib's own rc_context restores them (no re-validation).
    if any(dict.get(params, k) is not v for k, v in target.items()):
        dict.update(params, target)
