"""The function a cell's job runs in a worker (notebook/cellfunc.py).

What matters beyond running the body: its code fingerprint is the same wherever this
module lies and whatever it is called (moving it must not rerun every user's cell jobs),
and a worker process that has imported nothing of ours can run it.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

from ppg_notebook import cache, hashing
from ppg_notebook.codewalk import TRACK_ALL, CodeWalker
from ppg_notebook.notebook import body, cellfunc
from ppg_notebook.userfiles import UserFiles

BINDINGS: tuple[cellfunc.Binding, ...] = (
    ("up", "value", (".ppg/cache/values/up",)),
    ("f", "file", ("a.txt",)),
    ("fs", "files", ("b.txt", "c.txt")),
)

# The fingerprints these job functions had when their code lived in ppg_notebook/cells.py
# (Python 3.11's bytecode). A change here reruns every cell job of every existing pipeline:
# keep the runner functions' code as it is (their names, files and module do not count).
GOLDEN = {
    (3, 11): {
        "value": "76a326d4ba5e6b6eb2da73ba45641943",
        "values": "5694e53f64e3a82acf9239d87898e81e",
        "file": "54976ee3d0e9895296fa0227ef46c773",
    }
}


def job_functions(module: Any) -> dict[str, Any]:
    parsed = body.analyse("x", "y = 2\nx = y * 3\n", value_job=True)
    code = module.carrier(parsed, {"k": 1})
    return {
        "value": module.value_function(code, BINDINGS, parsed.result),
        "values": module.values_function(code, BINDINGS, "x", ("x", "y")),
        "file": module.file_function(code, BINDINGS),
    }


def fingerprints(module: Any, walker: CodeWalker) -> dict[str, str]:
    found = {}
    for kind, fn in job_functions(module).items():
        own = hashing.function_fingerprint(fn)
        assert walker.function(fn, TRACK_ALL).fingerprint == own  # (our code: not walked)
        found[kind] = own
    return found


@pytest.fixture
def walker(tmp_path: Path) -> CodeWalker:
    return CodeWalker(UserFiles.of(str(tmp_path)))


def test_the_fingerprint_of_a_cell_job_is_what_it_was(walker: CodeWalker) -> None:
    golden = GOLDEN.get(sys.version_info[:2])
    if golden is None:
        pytest.skip("the fingerprints were recorded with Python 3.11's bytecode")
    assert fingerprints(cellfunc, walker) == golden


def test_the_fingerprint_does_not_depend_on_where_this_module_lies(
    tmp_path: Path, walker: CodeWalker
) -> None:
    elsewhere = tmp_path / "somewhere" / "cells.py"
    elsewhere.parent.mkdir()
    elsewhere.write_text(Path(cellfunc.__file__).read_text(encoding="utf-8"), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("ppg_notebook.cells", elsewhere)
    assert spec is not None and spec.loader is not None
    moved = importlib.util.module_from_spec(spec)
    moved.__package__ = "ppg_notebook.notebook"  # (its relative imports)
    spec.loader.exec_module(moved)
    assert fingerprints(moved, walker) == fingerprints(cellfunc, walker)


def test_a_value_job_runs_its_body_with_its_upstream_bound(tmp_path: Path) -> None:
    stored = tmp_path / "up"
    cache.store(20, str(stored))
    parsed = body.analyse("total", "total = up + k + len(str(f)) + len(fs)\n", value_job=True)
    code = cellfunc.carrier(parsed, {"k": 1})
    bindings = (
        ("up", "value", (str(stored),)),
        ("f", "file", ("a.txt",)),
        ("fs", "files", ("b", "c")),
    )
    assert parsed.result is not None
    assert cellfunc.value_function(code, bindings, parsed.result)() == 20 + 1 + 5 + 2


def test_a_job_keeping_several_values_says_which_it_did_not_assign() -> None:
    parsed = body.analyse("split", "a = 1\n", value_job=False)
    fn = cellfunc.values_function(cellfunc.carrier(parsed, {}), (), "split", ("a", "b"))
    with pytest.raises(NameError, match="did not assign 'b', which --values lists"):
        fn()
    fn = cellfunc.values_function(cellfunc.carrier(parsed, {}), (), "split", ("a",))
    assert fn() == {"a": 1}


def test_a_file_job_sees_its_output_as_out(tmp_path: Path) -> None:
    parsed = body.analyse("report", "out.write_text(str(k))\n", value_job=False)
    fn = cellfunc.file_function(cellfunc.carrier(parsed, {"k": 7}), ())
    fn(tmp_path / "report.txt")
    assert (tmp_path / "report.txt").read_text() == "7"


@pytest.mark.parametrize(
    ("paths", "shown"),
    [
        (("/work/a.txt",), ("a.txt",)),
        (("/work/sub/b.txt", "/elsewhere/c.txt"), ("sub/b.txt", "../elsewhere/c.txt")),
        (("rel.txt",), ("rel.txt",)),
    ],
)
def test_upstream_paths_are_bound_relative_to_the_workdir(
    paths: tuple[str, ...], shown: tuple[str, ...]
) -> None:
    assert cellfunc.binding("up", "file", paths, "/work") == ("up", "file", shown)


def test_a_fresh_worker_process_runs_a_cell_job_importing_only_what_it_needs(
    tmp_path: Path,
) -> None:
    parsed = body.analyse("x", "import math\nx = math.floor(k * 2.5)\n", value_job=True)
    assert parsed.result is not None
    fn = cellfunc.value_function(cellfunc.carrier(parsed, {"k": 3}), (), parsed.result)
    (tmp_path / "job.pkl").write_bytes(cloudpickle.dumps(fn))
    code = textwrap.dedent(
        """
        import pickle, sys
        with open(sys.argv[1], "rb") as f:
            fn = pickle.load(f)
        print(fn())
        ours = sorted(m for m in sys.modules if m.startswith("ppg_notebook.notebook."))
        print(ours, any(m.split(".")[0] == "IPython" for m in sys.modules))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "job.pkl")],
        capture_output=True,
        text=True,
        check=True,
    )
    value, modules = done.stdout.splitlines()
    assert value == "7"
    assert modules.startswith("[") and "ppg_notebook.notebook.cellfunc" in modules
    for heavy in ("kernel", "declare", "capture", "magics", "export", "script"):
        assert f"ppg_notebook.notebook.{heavy}'" not in modules
    assert modules.endswith("False")  # no IPython in a worker
