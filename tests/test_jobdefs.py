"""A job cell written as a function and read back (jobdefs.py), and `@cells.job` in scripts.

The property that matters: a cell's exported function, read back from its file, compiles to
code with the cell's fingerprint (so the script reuses the notebook's results), and the
script passes ruff. Then what a person editing the script by hand gets told when a
function cannot stand for a cell, and where a failing job's traceback points.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from ppg_notebook import hashing
from ppg_notebook.notebook import body as cellbody
from ppg_notebook.notebook import cellfunc, jobdefs
from ppg_notebook.notebook.body import CellError

RUFF = shutil.which("ruff", path=str(Path(sys.executable).parent)) or "ruff"

# (job name, body, jobs it reads, value job?)
BODIES = [
    ("shown", "shown = 1\nshown\n", [], True),
    ("last", "y = 2\ny * 3\n", [], True),
    ("summed", "summed = 0\nfor i in range(3):\n    summed += i\n", [], True),
    ("query", 'query = """\nSELECT *\n  FROM t -- °C\n"""\nquery\n', [], True),
    ("message", 'message = f"""{raw}\n{other!r:>4} and {{braces}}\n"""\n', ["raw", "other"], True),
    ("chained", "a = 1; a + 1\n", [], True),
    ("documented", '"""doc"""\n# comment\ndocumented = [\n    1,  # one\n    2,\n]\n', [], True),
    (
        "unused",
        "tmp = 5\nfactor = factor * 2\nwith open(__file__) as fh:\n    pass\nfactor\n",
        [],
        True,
    ),
    (
        "caught",
        "try:\n    int('x')\nexcept ValueError as e:\n    print(e)\nexcept KeyError as e:\n"
        "    pass\nif (n := 10) > 5:\n    pass\nx = 1\nx = 2\nz: int\np, (q, r) = 1, (2, 3)\n"
        "s, t = divmod(p, 2)\nlist = list(r)\n[list, t]\n",
        [],
        True,
    ),
    (
        "nested",
        "k = 3\n\ndef f(v):\n    return v * k\n\n[f(i) for i in range(raw)]\n",
        ["raw"],
        True,
    ),
    ("données", "données = [é for é in 'àé' + raw]\n", ["raw"], True),
    ("continued", "continued = 1 + \\\n    2\n", [], True),
    ("written", "out.write_text(str(raw))\n", ["raw", "out"], False),
    (
        "several",
        "a, b = out\na.write_text('1')\nb.write_text(\n'''two\nlines''')\n",
        ["out"],
        False,
    ),
]


def fingerprint(name: str, body: str, value_job: bool, where: cellbody.Where | None = None) -> str:
    parsed = cellbody.analyse(name, body, value_job=value_job, where=where)
    code = cellfunc.carrier(parsed, {})
    if value_job:
        assert parsed.result is not None
        return hashing.function_fingerprint(cellfunc.value_function(code, (), parsed.result))
    return hashing.function_fingerprint(cellfunc.file_function(code, ()))


def load(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_cell_written_as_a_function_reads_back_as_the_same_code(tmp_path: Path) -> None:
    functions = [
        jobdefs.function_text("@job", name, body, params, value_job)
        for name, body, params, value_job in BODIES
    ]
    module = tmp_path / "jobs.py"
    head = "def job(fn):\n    return fn\n\n\nfactor = 2\nraw = other = out = None\n"
    module.write_text(head + "".join(f"\n\n{text}\n" for text in functions), encoding="utf-8")
    lint = subprocess.run(
        [RUFF, "check", "--no-cache", "--isolated", str(module)], capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout + module.read_text(encoding="utf-8")
    loaded = load(module)
    for name, body, params, value_job in BODIES:
        back = jobdefs.cell_body(getattr(loaded, name), value_job)
        assert back.params == tuple(params), name
        assert back.where.filename == str(module)
        assert fingerprint(name, back.body, value_job, back.where) == fingerprint(
            name, body, value_job
        ), (name, back.body)


def test_strings_keep_their_lines_and_the_function_reads_as_python(tmp_path: Path) -> None:
    text = jobdefs.function_text("@job", "query", BODIES[3][1], [], True)
    assert text == (
        '@job\ndef query():\n    query = """\nSELECT *\n  FROM t -- °C\n"""\n    return query'
    )
    module = tmp_path / "q.py"
    module.write_text(f"def job(fn):\n    return fn\n\n\n{text}\n", encoding="utf-8")
    assert load(module).query() == "\nSELECT *\n  FROM t -- °C\n"


def test_only_the_lines_ruff_would_flag_in_a_function_get_a_noqa() -> None:
    text = jobdefs.function_text("@job", "unused", BODIES[7][1], [], True)
    assert "    tmp = 5  # noqa: F841\n" in text
    assert "    factor = factor * 2  # noqa: F823\n" in text
    assert "as fh:  # noqa: F841" in text
    assert text.endswith("\n    return factor")


def write(tmp_path: Path, code: str, name: str = "pipeline.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(code).lstrip(), encoding="utf-8")
    return path


HEAD = """
import ppg_notebook as ppg

cells = ppg.CellJobs()


@cells.job
def raw():
    return [1, 2, 3]
"""


@pytest.mark.parametrize(
    ("code", "says"),
    [
        (
            "@cells.job\ndef total(raw):\n    if not raw:\n        return 0\n    return sum(raw)\n",
            "job 'total' (§, line 14): `return` may only be the last statement",
        ),
        (
            "@cells.job\ndef total(raw):\n    print(sum(raw))\n",
            "line 13): a value job's function must end with `return <its value>`",
        ),
        (
            "@cells.job\ndef total():\n    return sum(raw)\n",
            "the body reads 'raw' but the function does not take it as a parameter; "
            "parameters name the jobs whose results a job reads (and `out`, a file job's "
            "output): write the function as `def ...(raw):`",
        ),
        (
            "@cells.job\ndef total(raw, rows):\n    return sum(raw)\n",
            "its parameter 'rows' is not a job defined above it (jobs above: raw)",
        ),
        (
            "@cells.job(out='t.txt')\ndef total(raw, out):\n    out.write_text(str(raw))\n"
            "    return out\n",
            "a file job's function returns nothing",
        ),
        (
            "@cells.job(out='t.txt')\ndef total(raw):\n    out.write_text(str(raw))\n",
            "the body reads 'out' but the function does not take it as a parameter",
        ),
        (
            "@cells.job\ndef total(raw, out):\n    return sum(raw)\n",
            "`out` is the output of a file job, and this is a value job",
        ),
        ("@cells.job\ndef raw():\n    return 1\n", "a job of that name is defined above already"),
        ("@cells.job\ndef total(*raw):\n    return 1\n", "no defaults, *args or **kwargs"),
        ("total = cells.job(lambda: 1)\n", "a job function must be a plain `def`"),
    ],
)
def test_a_function_that_cannot_stand_for_a_cell_is_refused_clearly(
    tmp_path: Path, code: str, says: str
) -> None:
    path = write(tmp_path, HEAD + "\n\n" + code)
    with pytest.raises(CellError) as raised:
        load(path)
    assert says.replace("§", str(path)) in str(raised.value)


def test_a_failing_job_points_at_its_line_in_the_script(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEAD
        + """

        @cells.job
        def ratio(raw):
            denominator = len(raw) - 3
            return sum(raw) / denominator


        if __name__ == "__main__":
            raise SystemExit(cells.run(".ppg", 1))
        """.replace("\n        ", "\n"),
    )
    done = subprocess.run(
        [sys.executable, path.name], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1, done.stdout + done.stderr
    line = path.read_text().splitlines().index("    return sum(raw) / denominator") + 1
    assert f'File "{path}", line {line}' in done.stderr, done.stderr
    assert "return sum(raw) / denominator" in done.stderr
    assert "ZeroDivisionError: division by zero" in done.stderr
