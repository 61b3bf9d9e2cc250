"""Notebooks executed in real, fresh Jupyter kernels (nbclient), each in its own tmp dir.

Executing a notebook twice in two kernels is a kernel restart: the second execution must
load every stored value and compute nothing. Job bodies append their name to runs.log, so
the tests count what really executed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
MARK = "def mark(name):\n    with open('runs.log', 'a') as f:\n        f.write(name + '\\n')"


def execute(notebook: nbformat.NotebookNode, workdir: Path) -> nbformat.NotebookNode:
    """Run every cell in a fresh kernel started in `workdir`; raises on an untagged error."""
    client = NotebookClient(
        notebook,
        timeout=180,
        kernel_name="python3",
        resources={"metadata": {"path": str(workdir)}},
    )
    client.execute()
    return notebook


def outputs(cell: nbformat.NotebookNode) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type == "error":
            parts.append("\n".join(output.traceback))
        else:
            parts.append(output.get("data", {}).get("text/plain", ""))
    return "".join(parts)


class Runs:
    """runs.log of a workdir, read in increments."""

    def __init__(self, workdir: Path) -> None:
        self.path = workdir / "runs.log"
        self.seen = 0

    def new(self) -> list[str]:
        lines = self.path.read_text().splitlines() if self.path.exists() else []
        fresh, self.seen = lines[self.seen :], len(lines)
        return sorted(fresh)


# factor, helper -> inner, raw -> total -> report
CELLS = {
    "load": "%load_ext ppg_notebook",
    "mark": MARK,
    "factor": "factor = 10",
    "inner": "def inner(x):\n    return x + 1",
    "helper": "def helper(x):\n    return inner(x) * 2",
    "raw": "%%ppg_job raw\nmark('raw')\nraw = [helper(i) for i in range(5)]",
    "total": "%%ppg_job total\nmark('total')\ntotal = sum(x * factor for x in raw)",
    "report": (
        "%%ppg_job report --out report.txt\nmark('report')\n"
        "out.write_text(f'{len(raw)} samples, total {total}')"
    ),
    "show": "print('total is', total)",
}


def pipeline_notebook(**edits: str) -> nbformat.NotebookNode:
    cells = {**CELLS, **edits}
    return new_notebook(cells=[new_code_cell(source) for source in cells.values()])


def test_a_restarted_kernel_loads_every_value_without_computing(tmp_path: Path) -> None:
    runs = Runs(tmp_path)
    first = execute(pipeline_notebook(), tmp_path)
    assert runs.new() == ["raw", "report", "total"]
    assert (tmp_path / "report.txt").read_text() == "5 samples, total 300"
    second = execute(pipeline_notebook(), tmp_path)
    assert runs.new() == []
    texts = [outputs(cell) for cell in second.cells]
    assert "raw is up to date - loaded the stored value" in texts[5]
    assert "report (report.txt) is up to date" in texts[7]
    assert outputs(second.cells[-1]) == outputs(first.cells[-1]) == "total is 300\n"


@pytest.mark.parametrize(
    ("edits", "expected"),
    [
        # the cell's own code (a comment alone would not count)
        ({"total": CELLS["total"].replace("x * factor", "factor * x + 0")}, ["total"]),
        ({"total": CELLS["total"] + "  # the sum"}, []),
        # a global: total reruns, and report, as total's value changed
        ({"factor": "factor = 11"}, ["report", "total"]),
        # the helper of a helper: raw reruns; its output changed, so everything downstream
        ({"inner": "def inner(x):\n    return x + 2"}, ["raw", "report", "total"]),
        # moving the helpers below nothing else changes nothing
        ({"inner": "def inner(x):\n    # one more\n    return x + 1"}, []),
    ],
    ids=["cell", "comment", "global", "inner-helper", "helper-comment"],
)
def test_an_edit_reruns_exactly_what_it_affects(
    tmp_path: Path, edits: dict[str, str], expected: list[str]
) -> None:
    runs = Runs(tmp_path)
    execute(pipeline_notebook(), tmp_path)
    runs.new()
    execute(pipeline_notebook(**edits), tmp_path)
    assert runs.new() == expected


def test_a_failing_job_is_a_cell_error_with_the_users_lines(tmp_path: Path) -> None:
    notebook = new_notebook(
        cells=[
            new_code_cell("%load_ext ppg_notebook"),
            new_code_cell("%%ppg_job fine\nfine = 1"),
            new_code_cell(
                "%%ppg_job broken\ndivisors = [2, 0]\nbroken = [1 / d for d in divisors]"
            ),
        ]
    )
    with pytest.raises(Exception) as info:
        execute(notebook, tmp_path)
    assert info.value.ename == "ZeroDivisionError"  # type: ignore[attr-defined]
    text = outputs(notebook.cells[2])
    assert "job 'broken' failed in its worker process" in text
    assert 'File "<ppg_job broken>", line 2' in text
    assert "broken = [1 / d for d in divisors]" in text
    assert "ppg_notebook" not in text


def _copy(name: str, workdir: Path) -> nbformat.NotebookNode:
    shutil.copy(NOTEBOOKS / name, workdir / name)
    return nbformat.read(workdir / name, as_version=4)


def test_demo_notebook_runs_and_its_second_run_computes_nothing(tmp_path: Path) -> None:
    first = execute(_copy("demo.ipynb", tmp_path), tmp_path)
    ran = [line for cell in first.cells for line in outputs(cell).splitlines() if " ran " in line]
    assert len(ran) == 6
    report = (tmp_path / "output" / "report.md").read_text()
    assert "| Alpine | 1850 |" in report
    assert (tmp_path / "output" / "mean_temperature.svg").read_text().startswith("<svg")
    assert (tmp_path / "output" / "summary.csv").exists()

    second = execute(_copy("demo.ipynb", tmp_path), tmp_path)
    summaries = [
        line for cell in second.cells for line in outputs(cell).splitlines() if "ppg:" in line
    ]
    assert len(summaries) == 7  # six jobs and the %ppg_new line
    assert not [line for line in summaries if " ran " in line]
    assert outputs(second.cells[-1]) == outputs(first.cells[-1])


def test_tutorial_notebook_runs(tmp_path: Path) -> None:
    notebook = execute(_copy("tutorial.ipynb", tmp_path), tmp_path)
    text = "\n".join(outputs(cell) for cell in notebook.cells)
    assert "ppg: squares ran (it has never run)" in text
    assert "ppg: split ran (it has never run)" in text and "'split' is up to date" in text
    assert "ZeroDivisionError" in text and "ratios = [100 / d for d in divisors]" in text
    assert "would shadow the Python builtin" in text
    assert "ppg: ran: squares" in text  # invalidated, rerun, nothing downstream
    assert (tmp_path / "listing.txt").exists()


@pytest.mark.parametrize("load_first", [True, False], ids=["extension-first", "plain-api-first"])
def test_the_plain_api_and_the_magics_share_the_kernels_pipeline(
    tmp_path: Path, load_first: bool
) -> None:
    """A fan-out declared with the plain API in a loop (before any magic, before or after
    %load_ext) joins the kernel's one pipeline: a cell depends on it by name, %ppg_status
    lists it, and a second execution of the loop redefines nothing wrongly."""
    load = new_code_cell("%load_ext ppg_notebook")
    fan_out = new_code_cell(
        "import ppg_notebook as ppg\n"
        "from pathlib import Path\n" + MARK + "\n"
        "def part(i):\n"
        "    def write(path):\n"
        "        mark(f'part{i}')\n"
        "        path.write_text(str(i))\n"
        "    return write\n"
        "parts = [ppg.FileGeneratingJob(f'parts/{i}.txt', part(i)) for i in range(3)]"
    )
    cells = [load, fan_out] if load_first else [fan_out, load]
    cells += [
        new_code_cell(
            "%%ppg_job total --deps parts/0.txt parts/1.txt parts/2.txt\n"
            "mark('total')\n"
            "total = sum(int(Path(f'parts/{i}.txt').read_text()) for i in range(3))"
        ),
        new_code_cell("print('total is', total)"),
        new_code_cell("%ppg_status"),
        new_code_cell(fan_out.source),  # executed again: the same jobs, redefined identically
        new_code_cell("%ppg_run"),
    ]
    notebook = execute(new_notebook(cells=cells), tmp_path)
    runs = Runs(tmp_path)
    assert runs.new() == ["part0", "part1", "part2", "total"]
    assert "total is 3" in outputs(notebook.cells[3])
    status = outputs(notebook.cells[4])
    assert "parts/2.txt" in status and "total" in status
    assert "error" not in [o.output_type for cell in notebook.cells for o in cell.outputs]


def test_the_workers_import_the_kernels_libraries_before_the_first_job(tmp_path: Path) -> None:
    """After a cell imports a library, the kernel's workers import it too while the user
    writes the next cell: the first job does not pay for it."""
    cells = [
        new_code_cell("%load_ext ppg_notebook\n%ppg_new --cores 1"),
        new_code_cell("import sklearn.neighbors"),
        new_code_cell("%%ppg_job before\nimport sys\nbefore = 'sklearn.neighbors' in sys.modules"),
        new_code_cell("print('preloaded:', before)"),
    ]
    notebook = execute(new_notebook(cells=cells), tmp_path)
    assert "preloaded: True" in outputs(notebook.cells[3])


def test_the_pipeline_is_made_where_the_kernel_is_at_its_first_use(tmp_path: Path) -> None:
    """Loading the extension starts workers but makes no pipeline yet: a notebook that
    changes directory first keeps its .ppg/ there."""
    (tmp_path / "project").mkdir()
    cells = [
        new_code_cell("%load_ext ppg_notebook"),
        new_code_cell("import os\nos.chdir('project')"),
        new_code_cell("%%ppg_job answer\nanswer = 42"),
    ]
    execute(new_notebook(cells=cells), tmp_path)
    assert (tmp_path / "project" / ".ppg" / "history").exists()
    assert not (tmp_path / ".ppg").exists()
