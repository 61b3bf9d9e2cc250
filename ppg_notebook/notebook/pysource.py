"""Python text written from what a notebook holds: safe (nothing in it can become code) and
tidy (as ruff formats and sorts it).

Imports nothing of ours. String literals that round-trip exactly, comment lines with
control characters escaped, the test of whether a cell's own code can go into a script as
it is; calls that fit the line, and import blocks sorted as ruff's isort sorts them.
"""

from __future__ import annotations

import ast
import re
import sys

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


def call(function: str, args: tuple[str, ...], indent: int) -> str:
    """A call on one line if it fits in 88 columns, else with its arguments on the next."""
    line = f"{function}({', '.join(args)})"
    if indent + len(line) <= 88:
        return line
    pad = " " * indent
    return f"{function}(\n{pad}    {', '.join(args)}\n{pad})"


def starts_with_import(code: str) -> bool:
    tree = ast.parse(code)
    return bool(tree.body) and isinstance(tree.body[0], (ast.Import, ast.ImportFrom))


def merge_imports(ours: list[tuple[str, str | None]], code: str) -> tuple[str, str] | None:
    """The script's imports and the first cell's leading ones as one sorted block, and the
    rest of the cell; None if those imports are not simple enough to sort (comments,
    several lines, relative or aliased `from` imports): they then stay as written."""
    tree = ast.parse(code)
    lines = code.split("\n")
    leading: list[ast.Import | ast.ImportFrom] = []
    for stmt in tree.body:
        if not isinstance(stmt, (ast.Import, ast.ImportFrom)):
            break
        line = lines[stmt.lineno - 1]
        if stmt.end_lineno != stmt.lineno or "#" in line or ";" in line or line[0].isspace():
            return None
        leading.append(stmt)
    if not leading or any(line.strip() for line in lines[: leading[0].lineno - 1]):
        return None
    froms: list[tuple[str, list[str]]] = []
    for stmt in leading:
        if isinstance(stmt, ast.ImportFrom):
            names = [a.name for a in stmt.names]
            if stmt.level or stmt.module in (None, "__future__") or "*" in names:
                return None
            if any(a.asname for a in stmt.names):
                return None
            froms.append((str(stmt.module), names))
    plain = [(a.name, a.asname) for s in leading if isinstance(s, ast.Import) for a in s.names]
    block = import_block([*ours, *plain], froms)
    if block is None:
        return None
    rest = "\n".join(lines[leading[-1].lineno :]).strip("\n")
    return block, rest


def import_block(
    plain: list[tuple[str, str | None]], froms: list[tuple[str, list[str]]]
) -> str | None:
    """Imports sorted as ruff's isort does by default (standard library, then the rest;
    `import x` before `from x import y`); None if a line would be too long."""
    sections: dict[bool, list[str]] = {True: [], False: []}
    for module, alias in sorted(set(plain), key=lambda m: (m[0].lower(), m[0], m[1] or "")):
        line = f"import {module}" + (f" as {alias}" if alias else "")
        sections[_is_stdlib(module)].append(line)
    members: dict[str, set[str]] = {}
    for module, names in froms:
        members.setdefault(module, set()).update(names)
    for module in sorted(members, key=lambda m: (m.lower(), m)):
        names = sorted(members[module], key=_member_key)
        sections[_is_stdlib(module)].append(f"from {module} import {', '.join(names)}")
    if any(len(line) > 88 for part in sections.values() for line in part):
        return None
    return "\n\n".join("\n".join(part) for part in sections.values() if part)


def _is_stdlib(module: str) -> bool:
    return module.split(".")[0] in sys.stdlib_module_names


def _member_key(name: str) -> tuple[int, str, str]:
    # isort's order-by-type: CONSTANTS, then Classes, then everything else.
    kind = 0 if name.isupper() and len(name) > 1 else 1 if name[:1].isupper() else 2
    return kind, name.lower(), name
