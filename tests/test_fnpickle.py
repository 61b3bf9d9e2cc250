"""Job functions pickled for the workers (fnpickle.py): they arrive whole, and sending
them adds nothing to the user's functions in the main process (cloudpickle, reading a
function's `__annotations__` and `__dict__`, creates them: for 100,000 job functions,
about 25 MB kept as long as the functions)."""

from __future__ import annotations

import functools
import gc
import pickle
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

from ppg_notebook.worker import Functions


def _closure(i: int) -> Callable[..., Any]:
    def job(path: Path, *, scale: int = 2) -> int:
        """Writes i."""
        return i * scale

    return job


def _plain(path: "Path") -> str:  # noqa: UP037  (its annotation as written, a string)
    return str(path)


# Without `from __future__ import annotations`: its annotations' tuple ('a', 'x') and its
# defaults ('a', 'x') are one constant of its code.
_SAME_CONSTANT = "def same_constant(a: 'x' = 'a', b='x'):\n    return a + b\n"
_namespace: dict[str, Any] = {}
exec(compile(_SAME_CONSTANT, "<same_constant>", "exec", dont_inherit=True), _namespace)
_same_constant = _namespace["same_constant"]


def _with_attribute(x: int) -> int:
    return x + 1


_with_attribute.tag = "kept"  # type: ignore[attr-defined]


def _decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any) -> Any:
        return fn(*args) * 10

    return wrapper


@_decorate
def _wrapped(x: int) -> int:
    return x


def _recursive() -> Callable[[int], int]:
    def countdown(n: int) -> int:
        return 0 if n == 0 else countdown(n - 1) + 1

    return countdown


def _annotations_read() -> Callable[..., Any]:
    f = _closure(5)
    f.__annotations__  # noqa: B018  (read already: its dict exists)
    return f


FUNCTIONS = {
    "closure": (_closure(3), (None,)),
    "string annotation": (_plain, ("p",)),
    "annotations are defaults": (_same_constant, ()),
    "attribute": (_with_attribute, (1,)),
    "functools.wraps": (_wrapped, (4,)),
    "recursive closure": (_recursive(), (3,)),
    "annotations read before": (_annotations_read(), (None,)),
    "lambda": (lambda x, y=1: x - y, (5,)),
}


def _seen(fn: Callable[..., Any], args: tuple[Any, ...]) -> dict[str, Any]:
    return {
        "result": fn(*args),
        "annotations": fn.__annotations__,
        "defaults": fn.__defaults__,
        "kwdefaults": fn.__kwdefaults__,
        "doc": fn.__doc__,
        "name": (fn.__name__, fn.__qualname__, fn.__module__),
        "attributes": sorted(k for k in fn.__dict__ if k != "__wrapped__"),
        "wrapped": getattr(fn, "__wrapped__", None) is not None,
        "tag": getattr(fn, "tag", None),
    }


@pytest.mark.parametrize("name", FUNCTIONS)
def test_a_function_arrives_as_cloudpickle_sends_it(name: str) -> None:
    fn, args = FUNCTIONS[name]
    if name == "annotations are defaults":  # (as this test means it to be)
        assert sum(held is fn.__defaults__ for held in gc.get_referents(fn)) == 2
    [ours] = pickle.loads(pickle.dumps(Functions([fn]))).load()
    theirs = pickle.loads(cloudpickle.dumps(fn))  # (reads what it ships: after ours)
    assert _seen(ours, args) == _seen(theirs, args) == _seen(fn, args)


def test_sending_functions_leaves_nothing_on_them() -> None:
    """2,000 job closures pickled as a batch's functions: nothing stays behind."""
    functions = [_closure(i) for i in range(2_000)]
    pickle.dumps(Functions(functions[:10]))  # (what is made once: cloudpickle's caches)
    gc.collect()
    tracemalloc.start()
    try:
        data = pickle.dumps(Functions(functions[10:]))
        del data
        gc.collect()
        kept, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert kept / 1_990 < 16, f"{kept / 1_990:.0f} bytes kept per function sent"
    [first] = pickle.loads(pickle.dumps(Functions(functions[:1]))).load()
    assert first(None) == 0 and first(None, scale=5) == 0


def test_closures_of_one_function_arrive_with_annotations_of_their_own() -> None:
    first, second = pickle.loads(pickle.dumps(Functions([_closure(1), _closure(2)]))).load()
    assert first.__annotations__ == second.__annotations__
    first.__annotations__["extra"] = int  # (a job may change its own)
    assert "extra" not in second.__annotations__
