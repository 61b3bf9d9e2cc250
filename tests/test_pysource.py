"""Python text written from a notebook's contents (notebook/pysource.py): never code."""

from __future__ import annotations

import ast

import pytest

from ppg_notebook.notebook import pysource

AWKWARD = [
    "",
    "plain",
    "double \"quotes\" and 'single'",
    'triple """ quotes',
    "triple ''' quotes",
    "back\\slash at the end\\",
    "line\nbreaks\r\nof every\rkind\u2028and\x0bmore",
    "non-ASCII: °C, é, 日本, 🙂",
    "tab\tand null\x00 and bell\x07",
    '"""; import os; os.system("echo pwned"); """',
    "\\N{BULLET} is not an escape here, nor is \\n",
]


@pytest.mark.parametrize("text", AWKWARD)
def test_strings_round_trip_as_one_literal(text: str) -> None:
    literal = pysource.py_string(text)
    tree = ast.parse(literal, mode="eval")
    assert isinstance(tree.body, ast.Constant), literal
    assert ast.literal_eval(literal) == text


@pytest.mark.parametrize("text", AWKWARD)
def test_comments_never_become_code(text: str) -> None:
    written = pysource.comment(text, note="a note")
    assert ast.parse(written).body == []
    assert all(line.startswith("#") for line in written.split("\n"))


@pytest.mark.parametrize(
    ("source", "code"),
    [
        ("x = 1\n", "x = 1"),
        ("\n\nx = 1\n\n", "x = 1"),
        ("", None),
        ("   \n", None),
        ("x = (\n", None),  # not Python
        ("%time x", None),  # IPython syntax
        ("x = 1\ry = 2", None),  # a lone \r: a line break for Python, not for people
        ("x = 1\x0b", None),
        ("s = '\x00'", None),
        ("s = '\ud800'", None),  # cannot be written as UTF-8
        ("print('日本')", "print('日本')"),
    ],
)
def test_a_cells_code_goes_into_a_script_only_as_it_is(source: str, code: str | None) -> None:
    assert pysource.as_code(source) == code


def test_printable_text() -> None:
    assert pysource.printable("tab\tand\nnewline, °C")
    assert not pysource.printable("bell\x07")


@pytest.mark.parametrize(
    ("plain", "froms", "block"),
    [
        ([("sys", None), ("argparse", None)], [], "import argparse\nimport sys"),
        (
            [("numpy", "np"), ("os", None), ("ppg_notebook", "ppg")],
            [("pathlib", ["Path"])],
            "import os\nfrom pathlib import Path\n\nimport numpy as np\nimport ppg_notebook as ppg",
        ),
        ([], [("m", ["b", "CONST", "Klass", "a"])], "from m import CONST, Klass, a, b"),
        ([], [("m", ["a"]), ("m", ["b"])], "from m import a, b"),
        ([("x" * 90, None)], [], None),  # a line too long: not sorted
    ],
)
def test_imports_are_sorted_as_ruff_sorts_them(
    plain: list[tuple[str, str | None]], froms: list[tuple[str, list[str]]], block: str | None
) -> None:
    assert pysource.import_block(plain, froms) == block


@pytest.mark.parametrize(
    ("code", "merged"),
    [
        (
            "import math\nfrom pathlib import Path\n\nSCALE = 2",
            ("import math\nimport sys\nfrom pathlib import Path", "SCALE = 2"),
        ),
        ("SCALE = 2\nimport math", None),  # not leading imports
        ("import math  # why\nSCALE = 2", None),  # a comment stays where it is
        ("from . import here\n", None),  # relative
        ("from m import a as b\n", None),  # aliased
        ("from m import *\n", None),
        ("import math; import os\n", None),
    ],
)
def test_a_cells_leading_imports_merge_with_the_scripts(
    code: str, merged: tuple[str, str] | None
) -> None:
    assert pysource.merge_imports([("sys", None)], code) == merged


def test_a_call_is_one_line_when_it_fits() -> None:
    assert pysource.call("f", ("a", "b"), 0) == "f(a, b)"
    long = tuple(f"argument_{i}" for i in range(8))
    assert pysource.call("f", long, 4) == f"f(\n        {', '.join(long)}\n    )"
