"""The exported script's text from the pieces of a notebook (notebook/render.py).

Pure and in process: what the script imports and declares, and that names it adds never
clash with the notebook's. Whole notebooks exported and run are test_export.py's.
"""

from __future__ import annotations

import ast

from ppg_notebook.notebook.options import JobOptions
from ppg_notebook.notebook.render import Chunk, Defaults, JobCell, Script, render


def rendered(
    chunks: list[Chunk], names: frozenset[str] = frozenset(), defaults: Defaults | None = None
) -> Script:
    return render(chunks, set(names), set(), defaults or Defaults(), "n.ipynb", [])


def job(line: str, body: str) -> Chunk:
    return Chunk("job", job=JobCell(JobOptions.parse(line), body))


def test_the_script_declares_the_jobs_and_runs_them() -> None:
    script = rendered(
        [
            Chunk("setup", "SCALE = 2"),
            job("area", "area = SCALE * 3\n"),
            job("report --out report.txt --cores 2", "out.write_text(str(area))\n"),
        ]
    )
    ast.parse(script.text)
    assert script.jobs == ["area", "report"]
    assert script.collector == "cells"
    assert "cells = ppg.CellJobs()" in script.declarations
    assert '@cells.job(out="report.txt", cores=2)\ndef report(area, out):' in script.text
    assert "@cells.job\ndef area():\n    area = SCALE * 3\n    return area" in script.text
    assert script.text.endswith('if __name__ == "__main__":\n    sys.exit(main())\n')


def test_names_the_script_adds_never_clash_with_the_notebooks() -> None:
    script = rendered([job("x", "x = 1\n")], names=frozenset({"ppg", "cells", "main", "sys"}))
    assert "import ppg_notebook\n" in script.text
    assert "cells_ = ppg_notebook.CellJobs()" in script.text
    assert "def main_() -> int:" in script.text
    assert "import sys_" not in script.text and "import sys as sys_" in script.text


def test_the_notebooks_pipeline_options_are_the_scripts_defaults() -> None:
    defaults = Defaults(dir="state", cores=3, backend="dask", scheduler="tcp://h:1", track=["lib"])
    script = rendered([job("x", "x = 1\n")], defaults=defaults)
    assert 'cells = ppg.CellJobs(track=["lib"])' in script.text
    for option in ('default="state"', "default=3", 'default="dask"', 'default="tcp://h:1"'):
        assert option in script.text


def test_a_heading_sticks_to_its_section_and_goes_when_it_is_empty() -> None:
    script = rendered(
        [
            Chunk("heading", "# Setup"),
            Chunk("setup", "SCALE = 2"),
            Chunk("heading", "# Results"),
            Chunk("heading", "# More setup"),
            Chunk("setup", "OFFSET = 1"),
            job("x", "x = SCALE + OFFSET\n"),
        ]
    )
    assert "# Setup\nSCALE = 2" in script.text
    assert "# Results" not in script.text
    assert "# More setup\nOFFSET = 1" in script.text
