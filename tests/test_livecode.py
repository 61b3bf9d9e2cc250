"""A job of the main process never computes with a user module older than its file
(livecode.py): the kernel imported `utils`, the user edited `utils.py`, the job's
fingerprint says it changed, and running it with the old module in memory would record
the old result as the new one."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from ppg_notebook import livecode

UTILS = '''
import functools


def load():
    """Read the data."""
    return "old"


@functools.lru_cache
def cached():
    return 1


def _plain(fn):
    def wrapper():
        return fn()

    return wrapper


@_plain
def wrapped():
    return 2


class Reader:
    def read(self):
        return "old"
'''


@pytest.fixture
def utils(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "lc_utils.py"
    path.write_text(textwrap.dedent(UTILS))
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module("lc_utils")
    yield path
    sys.modules.pop("lc_utils", None)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    st = path.stat()
    path.write_text(text.replace(old, new))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


def test_a_loaded_module_is_current_until_its_file_changes(utils: Path) -> None:
    assert livecode.stale_definitions("lc_utils") == []
    _edit(utils, '"""Read the data."""', '"""Read the data, documented."""\n    # a comment')
    assert livecode.stale_definitions("lc_utils") == []  # (the same code)
    _edit(utils, '    return "old"\n\n\n@functools', '    return "new"\n\n\n@functools')
    assert livecode.stale_definitions("lc_utils") == ["load"]
    _edit(utils, "return 1", "return 10")
    _edit(utils, 'return "old"\n', 'return "newer"\n')  # (the method's)
    assert livecode.stale_definitions("lc_utils") == ["Reader.read", "cached", "load"]
    importlib.reload(sys.modules["lc_utils"])
    assert livecode.stale_definitions("lc_utils") == []


def test_what_the_file_or_the_module_alone_defines_is_no_evidence(utils: Path) -> None:
    # A function added to the file (the module lacks it), one whose wrapper hides its
    # code: neither makes the module stale.
    _edit(utils, "class Reader:", "def added():\n    return 3\n\n\nclass Reader:")
    _edit(utils, "return 2", "return 20")
    assert livecode.stale_definitions("lc_utils") == []
    assert livecode.stale_definitions("no_such_module") == []
    assert livecode.stale_definitions("json") == []  # (not the user's: never stale here)


SCRIPT = """
import importlib, sys, time
import ppg_notebook as ppg
import lc_utils

def declare():
    ppg.new_pipeline(dir=".ppg", cores=1)
    data = {}

    def load():
        data["v"] = lc_utils.load()
        return data["v"]

    loader = ppg.DataLoadingJob("loader", load)

    def write(path):
        path.write_text(data["v"])

    ppg.FileGeneratingJob("out.txt", write).depends_on(loader)

def run(what):
    try:
        result = ppg.run()
        print(what, "ran:", open("out.txt").read(), "|", result.tally())
    except ppg.JobsFailed as e:
        error = e.result.errors["loader"]
        print(what, "failed:", type(error).__name__, error, "| out.txt:", open("out.txt").read())

declare(); run("first")
text = open("lc_utils.py").read().replace('return "old"', 'return "new"', 1)
time.sleep(0.01); open("lc_utils.py", "w").write(text)
declare(); run("edited")
declare(); run("edited again")
importlib.reload(lc_utils)
declare(); run("reloaded")
"""


def test_a_loading_job_does_not_run_a_module_older_than_its_file(tmp_path: Path) -> None:
    """One process, as a kernel is: the module is imported once, then edited."""
    (tmp_path / "lc_utils.py").write_text(textwrap.dedent(UTILS))
    (tmp_path / "script.py").write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    done = subprocess.run(
        [sys.executable, "script.py"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("first ran: old"), done.stdout
    for line in lines[1:3]:  # refused, every time, never recorded as done
        assert line.startswith("edited") and "failed: StaleModule" in line, done.stdout
        assert "module 'lc_utils' is older than" in line and "(load changed" in line
        assert "importlib.reload(lc_utils)" in line
        assert line.endswith("| out.txt: old")  # (what it was: not made anew)
    assert lines[3].startswith("reloaded ran: new"), done.stdout


KERNEL_CELLS = [
    "%load_ext ppg_notebook",
    "import ppg_notebook as ppg\nimport lc_utils",
    """data = {}


def load():
    data["v"] = lc_utils.load()
    return data["v"]


def write(path):
    path.write_text(data["v"])


loader = ppg.DataLoadingJob("loader", load)
ppg.FileGeneratingJob("out.txt", write).depends_on(loader)
ppg.run()""",
]


def test_in_a_kernel_an_edited_module_is_reloaded_before_a_loading_job_runs_it(
    tmp_path: Path,
) -> None:
    """A real kernel (nbclient): the same, as a user meets it, and its way out."""
    import nbformat
    from nbclient import NotebookClient
    from nbformat.v4 import new_code_cell, new_notebook

    (tmp_path / "lc_utils.py").write_text(textwrap.dedent(UTILS))
    notebook = new_notebook(cells=[new_code_cell(c) for c in KERNEL_CELLS])
    client = NotebookClient(
        notebook,
        timeout=180,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(tmp_path)}},
    )

    def shown(cell: nbformat.NotebookNode) -> str:
        return "\n".join(
            o.get("text", "") + "\n".join(o.get("traceback", [])) + str(o.get("evalue", ""))
            for o in cell.outputs
        )

    run = len(KERNEL_CELLS) - 1
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index)
        assert (tmp_path / "out.txt").read_text() == "old", shown(notebook.cells[run])

        _edit(tmp_path / "lc_utils.py", 'return "old"', 'return "new"')
        client.execute_cell(notebook.cells[run], run)
        text = shown(notebook.cells[run])
        assert "StaleModule" in text and "module 'lc_utils' is older than" in text, text
        assert (tmp_path / "out.txt").read_text() == "old"  # (not made with the old code)

        reload = new_code_cell("import importlib\nimportlib.reload(lc_utils)")
        notebook.cells.append(reload)
        client.execute_cell(reload, len(notebook.cells) - 1)
        client.execute_cell(notebook.cells[run], run)
        assert (tmp_path / "out.txt").read_text() == "new", shown(notebook.cells[run])
