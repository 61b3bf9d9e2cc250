"""A cell's body read (notebook/body.py): what it reads, where its value is, what is refused.

Table-driven; which names a body reads from outside is tested with the magics
(test_magics.py, test_free_names), where it decides what a job depends on.
"""

from __future__ import annotations

import ast
import linecache

import pytest

from ppg_notebook.notebook.body import RESULT, CellError, Where, analyse, top_level_stores

# (body, value job?, the job's value is kept in, the cell shows it, names read from outside)
BODIES = [
    ("x = 1\n", True, "x", False, ()),
    ("x = base + 1\nx\n", True, "x", True, ("base",)),
    ("base * 2\n", True, RESULT, True, ("base",)),
    ("y = 2\ny * factor\n", True, RESULT, True, ("factor",)),
    ("x = [v for v in items]\n", True, "x", False, ("items",)),
    ("x = x_prev + 1\n", True, "x", False, ("x_prev",)),
    ("out.write_text(text)\n", False, None, False, ("out", "text")),
    ("import math\nx = math.pi\n", True, "x", False, ()),
    ("def f():\n    return later\nlater = 1\nx = f()\n", True, "x", False, ()),
]


@pytest.mark.parametrize(("source", "value_job", "result", "shows", "free"), BODIES)
def test_a_body_read(
    source: str, value_job: bool, result: str | None, shows: bool, free: tuple[str, ...]
) -> None:
    parsed = analyse("x", source, value_job=value_job)
    assert (parsed.result, parsed.shows_result, parsed.free) == (result, shows, free)
    namespace: dict[str, object] = {"base": 20, "factor": 3, "items": [1], "x_prev": 1}
    namespace.update(text="t", out=None, later=None)
    if value_job:
        exec(parsed.code, namespace)
        assert parsed.result in namespace


def test_a_cell_of_its_own_shows_its_lines_in_tracebacks() -> None:
    parsed = analyse("shown_lines", "a = 1\nshown_lines = a / 0\n", value_job=True)
    assert parsed.filename == "<ppg_job shown_lines>"
    assert linecache.getline(parsed.filename, 2) == "shown_lines = a / 0\n"


def test_a_body_in_a_file_points_to_its_lines_there() -> None:
    where = Where("pipeline.py", 10, 4)
    parsed = analyse("total", "total = 1\n", value_job=True, where=where)
    assert parsed.code.co_filename == "pipeline.py"
    assert parsed.code.co_name == "total"
    assert {line for _, _, line in parsed.code.co_lines() if line} == {10}


@pytest.mark.parametrize(
    ("source", "value_job", "says"),
    [
        ("", True, "the body of job 'x' is empty"),
        ("# only a comment\n", True, "the body of job 'x' is empty"),
        ("y = 1\n", True, "neither assigns 'x' nor ends with an expression"),
        ("await thing()\n", True, "top-level 'await' cannot run in a worker process"),
    ],
)
def test_a_body_that_cannot_be_a_job_says_why(source: str, value_job: bool, says: str) -> None:
    with pytest.raises(CellError, match=says):
        analyse("x", source, value_job=value_job)


def test_a_syntax_error_is_the_users_own() -> None:
    with pytest.raises(SyntaxError):
        analyse("x", "x = (\n", value_job=True)


@pytest.mark.parametrize(
    ("source", "stored"),
    [
        ("a = 1\nb += 2\n", {"a", "b"}),
        ("for i in r:\n    pass\n", {"i"}),
        ("import os.path as p, sys\n", {"p", "sys"}),
        ("def f(): pass\nclass C: pass\n", {"f", "C"}),
        ("try:\n    pass\nexcept E as err:\n    pass\n", {"err"}),
    ],
)
def test_the_names_a_body_binds_at_its_top_level(source: str, stored: set[str]) -> None:
    assert top_level_stores(ast.parse(source)) == stored
