"""What passes between the runner and a worker (worker.py): a batch's Functions are
unpickled only when the worker loads them, and travel on unchanged until then."""

from __future__ import annotations

import importlib
import pickle
import sys
from pathlib import Path

import pytest

from ppg_notebook import reads
from ppg_notebook.userfiles import UserFiles
from ppg_notebook.worker import Context, Functions, Result, Task


def test_functions_defined_here_travel_by_value() -> None:
    factor = 3
    functions = pickle.loads(pickle.dumps(Functions([lambda x: x * factor, len])))
    double, length = functions.load()
    assert double(2) == 6 and length("abc") == 3


def test_functions_are_unpickled_only_when_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "fw_helpers.py").write_text("def f():\n    return 'old'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import fw_helpers  # type: ignore[import-not-found]

    data = pickle.dumps(Functions([fw_helpers.f]))  # (by reference: a module on sys.path)
    del sys.modules["fw_helpers"]
    (tmp_path / "fw_helpers.py").unlink()
    arrived = pickle.loads(data)  # (the module it needs cannot be imported yet)
    (tmp_path / "fw_helpers.py").write_text("def f():\n    return 'new'\n")
    importlib.invalidate_caches()
    [f] = arrived.load()
    assert f() == "new"
    monkeypatch.delitem(sys.modules, "fw_helpers")


def test_functions_not_loaded_are_sent_on_as_they_came() -> None:
    functions = Functions([str.upper])
    arrived = pickle.loads(pickle.dumps(functions))
    data = pickle.dumps(arrived)
    assert pickle.dumps(pickle.loads(data)) == data
    assert pickle.loads(data).load() == [str.upper]


def test_a_task_its_context_and_its_result_travel_as_they_are(tmp_path: Path) -> None:
    context = Context(str(tmp_path), str(tmp_path / ".ppg"), UserFiles.of(str(tmp_path)))
    task = Task("a", "file", None, ("a",), (str(tmp_path / "a"),), True, False, False, None, "")
    found = reads.Found({"data.txt": [1, 2, "hash"]}, ())
    result = Result("a", False, 0.0, 1.0, [], "", ValueError("no"), "tb", [], "", found=found)
    for value in (context, task):
        assert pickle.loads(pickle.dumps(value)) == value
    back = pickle.loads(pickle.dumps(result))
    assert back._replace(error=None) == result._replace(error=None)
    assert type(back.error) is ValueError and str(back.error) == "no"
