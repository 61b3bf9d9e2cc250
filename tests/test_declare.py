"""A cell's job declared, in process (notebook/declare.py): what a cell becomes, and the
cells refused before anything changes.

Table-driven: each case declares some cells, in order, into a fresh pipeline; the last one
is refused with a message naming what is wrong, and every job declared before is left as
it was. Running cells is tested through a real IPython shell (test_magics.py).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from ppg_notebook.notebook.body import CellError
from ppg_notebook.notebook.kernel import NotebookPipeline
from ppg_notebook.session import new_pipeline

Cell = tuple[str, str, dict[str, Any]]  # (name, body, keyword arguments of declare)


@pytest.fixture
def notebook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> NotebookPipeline:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.csv").write_text("a\n")
    return NotebookPipeline(new_pipeline(dir=str(tmp_path / ".ppg"), allow_redefinition=True))


def declare(notebook: NotebookPipeline, cell: Cell, namespace: dict[str, Any]) -> Any:
    name, body, options = cell
    return notebook.declare(name, body, namespace=namespace, **options)


def test_what_cells_become(notebook: NotebookPipeline) -> None:
    namespace = {"factor": 3}
    raw = declare(notebook, ("raw", "raw = [1, 2] * factor", {}), namespace)
    report = declare(notebook, ("report", "out.write_text(str(raw))", {"outs": ["r.txt"]}), {})
    split = declare(notebook, ("split", "a = raw\nb = 2", {"values": ["a", "b"]}), {})
    assert (raw.job.job_id, raw.is_file, raw.invariants) == ("raw", False, ["PI:raw:factor"])
    assert (report.job.job_id, report.is_file) == ("r.txt", True)
    assert "raw" in report.job.upstream
    assert (split.job.job_id, split.values) == ("split", ("a", "b"))
    assert notebook.cell_of("r.txt") is report


def test_a_cell_declared_again_replaces_its_job(notebook: NotebookPipeline) -> None:
    declare(notebook, ("total", "total = factor", {}), {"factor": 1})
    declare(notebook, ("total", "out.write_text('1')", {"outs": ["total.txt"]}), {})
    assert "total" not in notebook.pipeline.jobs
    assert "PI:total:factor" not in notebook.pipeline.jobs
    assert notebook.cells["total"].job.job_id == "total.txt"


REFUSED: list[tuple[list[Cell], str]] = [
    ([("print", "print = 1", {})], "the job name 'print' would shadow the Python builtin"),
    ([("out", "out = 1", {})], "is reserved: inside a file job's body `out` is its output"),
    ([("ls", "ls = 1", {"reserved": {"ls"}})], "is already used by IPython"),
    ([("x", "x = 1", {"cores": 0})], "job 'x': --cores must be at least 1, not 0"),
    ([("x", "x = x + 1", {})], "reads 'x' before assigning it"),
    ([("x", "y = 1", {})], "neither assigns 'x' nor ends with an expression"),
    ([("x", "", {})], "the body of job 'x' is empty"),
    ([("x", "x = 1", {"deps": ["x"]})], "job 'x' cannot depend on itself"),
    ([("x", "x = 1", {"deps": ["nowhere"]})], "--deps 'nowhere' is not a known job"),
    ([("x", "x = 1", {"deps": ["no/file.csv"]})], "no job writes that file and it does not"),
    ([("x", "pass", {"outs": ["a.txt", "./a.txt"]})], "--out lists './a.txt' twice"),
    (
        [("x", "pass", {"outs": ["a.txt"], "values": ["v"]})],
        "--values and --out exclude each other",
    ),
    ([("x", "v = 1", {"values": ["v", "v"]})], "--values 'v' is listed twice"),
    (
        [("a", "out.write_text('a')", {"outs": ["f.txt"]}), ("b", "pass", {"outs": ["f.txt"]})],
        "job 'b' cannot write 'f.txt': job 'a' already writes it",
    ),
    (
        [("a", "out.write_text('a')", {"outs": ["b"]}), ("b", "b = 1", {})],
        "job 'b' would be known as 'b', which is already job 'a'",
    ),
    (
        [("s", "v = 1\nw = 2", {"values": ["v", "w"]}), ("v", "v = 2", {})],
        "the job name 'v' is already a value of job 's'",
    ),
    (
        [("s", "v = 1\nw = 2", {"values": ["v", "w"]}), ("t", "t = s", {})],
        "a job that keeps several values (v, w): read the values it needs by their names",
    ),
    (
        [("s", "v = 1", {"values": ["v"]}), ("t", "t = v", {}), ("s", "w = 1", {"values": ["w"]})],
        "job 's' would no longer keep 'v', which job 't' reads",
    ),
    (
        [("x", "x = str(lock)", {})],
        "job 'x' reads the notebook global 'lock'",
    ),
]


@pytest.mark.parametrize(("cells", "says"), REFUSED)
def test_a_refused_cell_changes_nothing(
    notebook: NotebookPipeline, cells: list[Cell], says: str
) -> None:
    namespace = {"lock": threading.Lock()}
    for cell in cells[:-1]:
        declare(notebook, cell, namespace)
    before = dict(notebook.pipeline.jobs)
    declared = dict(notebook.cells)
    with pytest.raises(CellError) as refused:
        declare(notebook, cells[-1], namespace)
    assert says in str(refused.value)
    assert notebook.pipeline.jobs == before
    assert notebook.cells == declared
