"""Python text written from what a notebook holds, safely: nothing in it can become code.

Imports nothing of ours. String literals that round-trip exactly, comment lines with
control characters escaped, and the test of whether a cell's own code can go into a
script as it is.
"""

from __future__ import annotations

import ast
import re

NEWLINE = re.compile(r"\r\n|\r|\n")  # what Python itself takes for a line break


def py_string(text: str) -> str:
    """A string literal for `text` (double quotes when possible): always exact, never code."""
    literal = repr(text)
    if literal.startswith("'") and '"' not in text:
        return '"' + literal[1:-1] + '"'
    return literal


def printable(text: str) -> bool:
    return all(c.isprintable() or c in "\n\t" for c in text)


def comment(text: str, note: str = "") -> str:
    """`text` as comment lines: every line break Python knows ends a line of the text, and
    control characters are escaped, so nothing in it can become code."""
    lines = []
    for line in NEWLINE.split(text.rstrip()):
        shown = "".join(c if c.isprintable() or c == "\t" else repr(c)[1:-1] for c in line)
        lines.append(f"# {shown}".rstrip())
    if note:
        lines[-1] = f"{lines[-1]}  ({note})" if lines[-1] != "#" else f"# ({note})"
    return "\n".join(lines)


def as_code(source: str) -> str | None:
    """The cell's own code, if it can go into the script as it is."""
    text = source.strip("\n")
    if not text.strip() or not _printable_code(text):
        return None
    try:
        compile(text, "<cell>", "exec", dont_inherit=True, flags=ast.PyCF_ONLY_AST)
        text.encode("utf-8")
    except (SyntaxError, ValueError, UnicodeEncodeError):
        return None
    return text


def _printable_code(text: str) -> bool:
    # Line breaks other than \n (a lone \r is one for Python, \f and \v are not for
    # people) would make the script read differently from how it runs.
    return "\r" not in text and "\x0b" not in text and "\x00" not in text
