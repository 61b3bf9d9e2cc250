"""The notebook globals a body reads, sorted by how each is tracked (notebook/capture.py).

In process, with a namespace standing for the notebook's (`__main__`): what becomes a
parameter, what is code, what only travels with the job, and what is refused.
"""

from __future__ import annotations

import importlib
import math
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ppg_notebook.codewalk import CodeWalker
from ppg_notebook.notebook.body import CellError, analyse
from ppg_notebook.notebook.capture import (
    Captured,
    capture,
    capture_globals,
    check_picklable,
    modules_read,
)
from ppg_notebook.userfiles import UserFiles

NOTEBOOK = """
factor = 3
def helper(x):
    return x * factor
class Shape:
    sides = 4
square = Shape()
"""


@pytest.fixture
def namespace() -> dict[str, Any]:
    ns: dict[str, Any] = {"__name__": "__main__"}
    exec(NOTEBOOK, ns)
    ns.update(math=math, Path=Path, len=len)
    return ns


@pytest.fixture
def walker(tmp_path: Path) -> CodeWalker:
    return CodeWalker(UserFiles.of(str(tmp_path)))


def captured_by(source: str, namespace: dict[str, Any], walker: CodeWalker) -> Captured:
    parsed = analyse("job", source, value_job=True)
    return capture(parsed.free, namespace, parsed, walker)


def test_each_global_is_tracked_as_what_it_is(
    namespace: dict[str, Any], walker: CodeWalker
) -> None:
    found = captured_by(
        "job = helper(len(square.__class__.__name__)) + math.floor(factor) + unknown\n"
        "job = Path(str(job))",
        namespace,
        walker,
    )
    assert set(found.values) == {"helper", "len", "square", "math", "factor", "Path"}
    assert set(found.parameters) == {"factor", "square"}  # plain values, objects
    assert set(found.functions) == {"helper"}  # the notebook's code
    assert found.modules == {}  # math is not the user's module
    assert not found.imports
    assert ("factor", 3) in found.reached  # read by helper too
    assert found.readers["factor"] == "helper"


def test_the_modules_a_body_reads(namespace: dict[str, Any], walker: CodeWalker) -> None:
    source = "import os\njob = math.pi + helper(1)"
    parsed = analyse("job", source, value_job=True)
    found = capture(parsed.free, namespace, parsed, walker)
    assert modules_read(found, parsed) == {"math", "os"}


def test_a_global_that_cannot_reach_a_worker_is_refused_naming_it(
    namespace: dict[str, Any], walker: CodeWalker
) -> None:
    namespace["lock"] = threading.Lock()
    exec("def locked():\n    return str(lock)", namespace)
    check_picklable("fine", captured_by("job = helper(2)", namespace, walker))
    with pytest.raises(CellError) as refused:
        check_picklable("uses", captured_by("job = locked()", namespace, walker))
    message = str(refused.value)
    assert "job 'uses' reads the notebook global 'lock'" in message
    assert "which the notebook function 'locked' reads" in message
    assert "cannot be sent to a worker process" in message


@pytest.fixture
def broken_module(tmp_path: Path) -> Iterator[Any]:
    (tmp_path / "brokenmod.py").write_text("def f(x):\n    return x\n")
    sys.path.insert(0, str(tmp_path))
    try:
        module = importlib.import_module("brokenmod")
        (tmp_path / "brokenmod.py").write_text("def f(x):\n    return (x\n")  # edited since
        yield module
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("brokenmod", None)


def test_a_user_module_that_cannot_be_read_is_named_with_the_job(
    broken_module: Any, walker: CodeWalker
) -> None:
    parsed = analyse("job", "job = brokenmod.f(1)", value_job=True)
    with pytest.raises(CellError, match=r"job 'job' uses code of .*brokenmod.*fix the module"):
        capture_globals("job", list(parsed.free), {"brokenmod": broken_module}, parsed, walker)
