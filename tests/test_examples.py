"""The shipped examples run as a new user runs them: twice, the second time doing nothing."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(args: list[str], cwd: Path) -> str:
    proc = subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_demo_script_runs_everything_then_nothing(tmp_path: Path) -> None:
    shutil.copy(ROOT / "examples" / "demo.py", tmp_path / "demo.py")
    first = _run(["demo.py"], tmp_path)
    ran, total = map(int, re.search(r"(\d+) of (\d+) jobs ran", first).groups())
    assert ran == total - 1 > 0  # all but the calibration loader, which nothing needed
    assert (tmp_path / "output" / "report.txt").read_text().strip()
    second = _run(["demo.py"], tmp_path)
    assert re.search(r"\b0 of \d+ jobs ran", second), second
    changed = _run(["demo.py", "--threshold", "2.5"], tmp_path)
    assert re.search(r"\b9 of \d+ jobs ran", changed), changed


def test_demo_notebook_runner_loads_everything_the_second_time(tmp_path: Path) -> None:
    for name in ("demo.ipynb", "run_demo.py"):
        shutil.copy(ROOT / "notebooks" / name, tmp_path / name)
    first = _run(["run_demo.py", "demo.ipynb"], tmp_path)
    assert first.count(" ran (") == 6, first
    assert "job" in first and "up to date" in first  # the %ppg_status table
    second = _run(["run_demo.py", "demo.ipynb"], tmp_path)
    assert " ran (" not in second, second
    assert second.count("is up to date") >= 6, second
