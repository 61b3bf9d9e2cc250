"""`ppg-notebook` as a real command: exit codes, output, and what actually ran (runs.log)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

CLI = shutil.which("ppg-notebook", path=str(Path(sys.executable).parent)) or "ppg-notebook"
MARK = "def mark(name):\n    with open('runs.log', 'a') as f:\n        f.write(name + '\\n')"


def write_notebook(path: Path, broken: bool = False) -> Path:
    cells = [
        "%load_ext ppg_notebook",
        MARK,
        "factor = 3",
        "%%ppg_job numbers\nmark('numbers')\nnumbers = [i * factor for i in range(4)]",
        "%%ppg_job total --out total.txt\nmark('total')\nout.write_text(str(sum(numbers)))",
        "print(numbers)",
    ]
    if broken:
        cells.append("%%ppg_job broken\nmark('broken')\nbroken = 1 / 0")
    nbformat.write(new_notebook(cells=[new_code_cell(c) for c in cells]), path)
    return path


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=120, env=_env()
    )


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["COLUMNS"] = "200"  # rich tables: no wrapped cells
    return env


def runs(workdir: Path) -> list[str]:
    log = workdir / "runs.log"
    lines = sorted(log.read_text().splitlines()) if log.exists() else []
    log.unlink(missing_ok=True)
    return lines


@pytest.mark.parametrize("command", [[], ["run"], ["status"], ["export"]])
def test_every_command_has_help(tmp_path: Path, command: list[str]) -> None:
    done = cli(*command, "--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "usage: ppg-notebook" in done.stdout


def test_run_then_status_then_nothing_to_do(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "analysis.ipynb")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    first = cli("run", str(notebook), "--cores", "2", cwd=elsewhere)
    assert first.returncode == 0, first.stderr
    assert runs(tmp_path) == ["numbers", "total"]  # in the notebook's directory
    assert (tmp_path / "total.txt").read_text() == "18"
    assert "ran: " in first.stdout and "[" in first.stdout

    again = cli("run", str(notebook), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert runs(tmp_path) == []
    assert "nothing to do: 2 up to date" in again.stdout

    status = cli("status", str(notebook), cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert "numbers" in status.stdout and "up to date" in status.stdout
    assert runs(tmp_path) == []

    notebook.write_text(notebook.read_text().replace("factor = 3", "factor = 4"))
    status = cli("status", str(notebook), cwd=tmp_path)
    assert "must run" in status.stdout and "factor" in status.stdout

    history = cli("status", cwd=tmp_path)
    assert history.returncode == 0, history.stderr
    assert "total.txt" in history.stdout and "succeeded" in history.stdout
    assert "PI:" not in history.stdout

    (tmp_path / "total.txt").write_text("edited by hand")
    history = cli("status", cwd=tmp_path)
    row = next(line for line in history.stdout.splitlines() if "total.txt" in line)
    assert "must run" in row and "was changed since the job wrote it" in row, history.stdout
    numbers = next(line for line in history.stdout.splitlines() if "numbers" in line)
    assert "succeeded" in numbers


def test_a_failing_job_is_exit_status_1_and_listed(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "broken.ipynb", broken=True)
    done = cli("run", str(notebook), cwd=tmp_path)
    assert done.returncode == 1
    assert "failed: broken" in done.stdout
    assert "ZeroDivisionError" in done.stderr and "broken = 1 / 0" in done.stderr
    assert runs(tmp_path) == ["broken", "numbers", "total"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "missing.ipynb"], "cannot read missing.ipynb"),
        (["run", "notes.txt"], "expected a Jupyter notebook"),
        (["run", "bad.ipynb"], "not a Jupyter notebook"),
        (["status", "--dir", "nowhere"], "no pipeline history in nowhere"),
        (["export", "ok.ipynb", "-o", "no/such/dir/p.py"], "cannot write no/such/dir/p.py"),
        (["run", "setup_fails.ipynb"], "setup code failed: ZeroDivisionError"),
    ],
)
def test_errors_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "notes.txt").write_text("hi")
    (tmp_path / "bad.ipynb").write_text("{not json")
    write_notebook(tmp_path / "ok.ipynb")
    nbformat.write(new_notebook(cells=[new_code_cell("x = 1 / 0")]), tmp_path / "setup_fails.ipynb")
    done = cli(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr


def test_export_writes_the_script(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "analysis.ipynb")
    done = cli("export", str(notebook), "-o", "pipeline.py", "--results", "comment", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "wrote pipeline.py (2 jobs)" in done.stdout
    text = (tmp_path / "pipeline.py").read_text()
    assert "# print(numbers)" in text
    compile(text, "pipeline.py", "exec")


def test_run_of_a_notebook_with_values_reruns_only_what_reads_a_changed_value(
    tmp_path: Path,
) -> None:
    # pair -> low -> below;  pair -> high -> above
    cells = [
        "%load_ext ppg_notebook",
        MARK,
        "top = 9",
        "%%ppg_job pair --values low high\nmark('pair')\nlow, high = 1, top",
        "%%ppg_job below\nmark('below')\nbelow = low - 1",
        "%%ppg_job above\nmark('above')\nabove = high + 1",
    ]
    notebook = tmp_path / "values.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell(c) for c in cells]), notebook)
    first = cli("run", str(notebook), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert runs(tmp_path) == ["above", "below", "pair"]
    notebook.write_text(notebook.read_text().replace("top = 9", "top = 10"))
    second = cli("run", str(notebook), cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert runs(tmp_path) == ["above", "pair"]  # low is the same: below stays up to date
    status = cli("status", cwd=tmp_path)
    assert "pair" in status.stdout and "value:" not in status.stdout, status.stdout


# --- the notebook's own modules and files, as in its kernel ------------------------------
# analysis.ipynb with utils.py and data.txt beside it: nums (utils.scale, reads data.txt)
# and labels (utils.label) -> total (total.txt). The commands are run from another folder.
UTILS = """\
def scale(x):
    return x * 2


def label(i):
    return f"s{i}"
"""
OWN_CELLS = [
    "%load_ext ppg_notebook",
    MARK,
    "import utils\nfrom pathlib import Path",
    "%%ppg_job nums\nmark('nums')\n"
    "nums = [utils.scale(int(x)) for x in Path('data.txt').read_text().split()]",
    "%%ppg_job labels\nmark('labels')\nlabels = [utils.label(i) for i in range(2)]",
    "%%ppg_job total --out total.txt\nmark('total')\nout.write_text(f'{sum(nums)} {labels}')",
]


def own_modules_notebook(tmp_path: Path) -> tuple[Path, Path]:
    """The notebook (in tmp_path/project) and an empty folder to run the commands from."""
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    (project / "utils.py").write_text(UTILS)
    (project / "data.txt").write_text("1 2 3\n")
    notebook = project / "analysis.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell(c) for c in OWN_CELLS]), notebook)
    return notebook, elsewhere


def edit_scale(project: Path) -> None:
    utils = project / "utils.py"
    utils.write_text(utils.read_text().replace("return x * 2", "return x * 20"))


def test_run_imports_the_notebooks_modules_and_reads_its_files_from_anywhere(
    tmp_path: Path,
) -> None:
    notebook, elsewhere = own_modules_notebook(tmp_path)
    project = notebook.parent
    first = cli("run", str(notebook), "--cores", "2", cwd=elsewhere)
    assert first.returncode == 0, first.stderr
    assert runs(project) == ["labels", "nums", "total"]
    assert (project / "total.txt").read_text() == "12 ['s0', 's1']"
    assert (project / ".ppg" / "history").exists()  # the notebook's own pipeline directory
    assert not (elsewhere / ".ppg").exists()
    assert sorted(p.name for p in elsewhere.iterdir()) == []

    again = cli("run", "../project/analysis.ipynb", "--cores", "2", cwd=elsewhere)
    assert again.returncode == 0, again.stderr
    assert runs(project) == []
    assert "nothing to do: 3 up to date" in again.stdout

    status = cli("status", str(notebook), cwd=elsewhere)
    assert status.returncode == 0, status.stderr
    nums = next(line for line in status.stdout.splitlines() if line.startswith("│ nums"))
    assert "up to date" in nums and "utils" in nums, status.stdout

    # An edit of utils.scale reruns nums, and total as nums changed; labels stays.
    edit_scale(project)
    status = cli("status", str(notebook), cwd=elsewhere)
    nums = next(line for line in status.stdout.splitlines() if line.startswith("│ nums"))
    assert "must run" in nums, status.stdout
    third = cli("run", str(notebook), "--cores", "2", cwd=elsewhere)
    assert third.returncode == 0, third.stderr
    assert runs(project) == ["nums", "total"]
    assert (project / "total.txt").read_text() == "120 ['s0', 's1']"

    for command in ("du", "gc"):
        done = cli(
            command, str(notebook), *(["--dry-run"] if command == "gc" else []), cwd=elsewhere
        )
        assert done.returncode == 0, done.stderr
    assert runs(project) == []


def test_the_notebooks_kernel_and_the_command_share_one_pipeline(tmp_path: Path) -> None:
    notebook, elsewhere = own_modules_notebook(tmp_path)
    project = notebook.parent
    done = cli("run", str(notebook), "--cores", "2", cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    assert runs(project) == ["labels", "nums", "total"]

    executed = in_kernel(notebook)  # a kernel started for it: cwd is its folder
    assert runs(project) == []
    assert "up to date" in "".join(_text(cell) for cell in executed.cells)

    edit_scale(project)
    in_kernel(notebook)
    assert runs(project) == ["nums", "total"]
    assert (project / "total.txt").read_text() == "120 ['s0', 's1']"

    done = cli("run", str(notebook), "--cores", "2", cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    assert runs(project) == []
    assert "nothing to do: 3 up to date" in done.stdout


def test_python_m_is_the_command_and_imports_from_the_notebooks_folder(tmp_path: Path) -> None:
    for module in ("ppg_notebook", "ppg_notebook.cli"):
        done = python_m(module, "--help", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "usage: ppg-notebook" in done.stdout and "export" in done.stdout

    # `python -m` puts the folder it starts in on sys.path; a kernel started for the
    # notebook has not got it: a utils.py there is not the notebook's.
    notebook, elsewhere = own_modules_notebook(tmp_path)
    (elsewhere / "utils.py").write_text("raise ImportError('the utils.py of another folder')\n")
    done = python_m("ppg_notebook", "run", str(notebook), "--cores", "2", cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    assert runs(notebook.parent) == ["labels", "nums", "total"]
    done = python_m("ppg_notebook.cli", "status", str(notebook), cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    assert "up to date" in done.stdout and "must run" not in done.stdout


def python_m(module: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", module, *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120, env=_env())


def in_kernel(notebook: Path) -> nbformat.NotebookNode:
    """Execute the notebook in a fresh kernel started in its folder, as JupyterLab does."""
    from nbclient import NotebookClient

    node = nbformat.read(notebook, as_version=4)
    resources = {"metadata": {"path": str(notebook.parent)}}
    NotebookClient(node, timeout=180, kernel_name="python3", resources=resources).execute()
    return node


def _text(cell: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []))
