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
