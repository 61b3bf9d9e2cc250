"""A `%%ppg_job` cell's body read: its code, the names it reads, where its value is.

`analyse` parses and compiles the body of a job, finds the names it reads from outside
itself (in order of first use: `free_names`) and what becomes the job's value (the
variable named like the job, else the last expression). Nothing here looks at a
namespace or runs anything (capture.py looks the names up; cellfunc.py runs the body).
"""

from __future__ import annotations

import ast
import linecache
import symtable
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import PipelineError

RESULT = "__ppg_result__"  # where the value of a body's last expression is kept


class CellError(PipelineError):
    """A `%%ppg_job` cell cannot become a job (bad name, body, dependency or global)."""


@dataclass(frozen=True)
class Body:
    """A parsed cell body: its code, the names it reads from outside, where its value is."""

    code: types.CodeType
    free: tuple[str, ...]  # names read before (or without) being bound, in order of first use
    result: str | None  # the variable holding the job's value (value jobs)
    shows_result: bool  # the body ends with an expression giving the value, as a cell would
    filename: str


@dataclass(frozen=True)
class Where:
    """Where a body stands in a file: the file, its first line, its indentation."""

    filename: str
    first_line: int
    indent: int


def analyse(name: str, source: str, *, value_job: bool, where: Where | None = None) -> Body:
    """Parse and compile the body of job `name`; raises CellError or SyntaxError.

    `where`: the body stands in a file (a job function in a script, see jobdefs.py), so
    tracebacks point there; by default it is a cell of its own. Neither changes the code's
    fingerprint.
    """
    filename = where.filename if where else f"<ppg_job {name}>"
    tree = ast.parse(source, filename, "exec")
    if where:
        _move(tree, where.first_line - 1, where.indent)
    if not tree.body:
        msg = f"the body of job {name!r} is empty; write the code that computes it below the magic"
        raise CellError(msg)
    assigned = name in top_level_stores(tree)
    last_is_expr = isinstance(tree.body[-1], ast.Expr)
    result: str | None = None
    shows_result = False
    if value_job:
        if assigned:
            result = name
            last = tree.body[-1]
            shows_result = isinstance(last, ast.Expr) and is_name(last.value, name)
            if shows_result and len(tree.body) > 1:
                # A last line showing the value does nothing in a worker; without it the
                # cell compiles as the `return NAME` of its exported function reads back.
                tree.body.pop()
        elif last_is_expr:
            result = RESULT
            shows_result = True
            last_expr = tree.body[-1]
            assert isinstance(last_expr, ast.Expr)
            keep = ast.Assign(targets=[ast.Name(RESULT, ast.Store())], value=last_expr.value)
            tree.body[-1] = ast.copy_location(keep, last_expr)
            ast.fix_missing_locations(tree)
        else:
            msg = (
                f"the body of value job {name!r} neither assigns {name!r} nor ends with an "
                f"expression, so the job would have no value. Assign the result to {name!r} "
                f"or end the cell with the expression to keep; to write files instead, "
                f"declare them with --out PATH"
            )
            raise CellError(msg)
    try:
        code = compile(tree, filename, "exec", dont_inherit=True)
        if where:
            code = code.replace(co_name=name)  # tracebacks say "in NAME", not "in <module>"
    except SyntaxError as e:
        if "await" in str(e.msg):
            msg = (
                f"job {name!r}: top-level 'await' cannot run in a worker process; "
                f"wrap the asynchronous part in a function and call asyncio.run() on it"
            )
            raise CellError(msg) from None
        raise
    if where is None:
        lines = source.splitlines(keepends=True)
        linecache.cache[filename] = (len(source), None, lines, filename)
    return Body(code, free_names(tree, source), result, shows_result, filename)


def _move(tree: ast.Module, lines: int, columns: int) -> None:
    """Shift every position in `tree` down by `lines` and right by `columns`."""
    ast.increment_lineno(tree, lines)
    if columns:
        for node in ast.walk(tree):
            if isinstance(getattr(node, "col_offset", None), int):
                node.col_offset += columns  # type: ignore[attr-defined]
            if isinstance(getattr(node, "end_col_offset", None), int):
                node.end_col_offset += columns  # type: ignore[attr-defined]


def is_name(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def top_level_stores(tree: ast.Module) -> set[str]:
    order = _FirstUse()
    order.visit(tree)
    return order.stored


def free_names(tree: ast.Module, source: str) -> tuple[str, ...]:
    """Names the body reads from outside itself, in order of first use.

    At the top level a name is free if it is read before the body binds it (`x = x + 1`
    reads the notebook's `x`). Functions, lambdas, classes and comprehensions the body
    defines read free names at call time: those the body binds nowhere at its top level.
    """
    order = _FirstUse()
    order.visit(tree)
    free = dict.fromkeys(order.loaded_first)
    table = symtable.symtable(source, "<cell>", "exec")
    for name in _nested_globals(table):
        if name not in order.stored:
            free.setdefault(name)
    return tuple(free)


def _nested_globals(table: symtable.SymbolTable) -> Iterator[str]:
    for child in table.get_children():
        for symbol in child.get_symbols():
            if symbol.is_global() and symbol.is_referenced():
                yield symbol.get_name()
        yield from _nested_globals(child)


class _FirstUse(ast.NodeVisitor):
    """Walks the top level of a body in evaluation order, noting each name's first use."""

    def __init__(self) -> None:
        self.first: dict[str, str] = {}
        self.stored: set[str] = set()

    @property
    def loaded_first(self) -> list[str]:
        return [n for n, how in self.first.items() if how == "load"]

    def _load(self, name: str) -> None:
        self.first.setdefault(name, "load")

    def _store(self, name: str) -> None:
        self.first.setdefault(name, "store")
        self.stored.add(name)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Store):
            self._store(node.id)
        else:
            self._load(node.id)  # a `del x` needs x bound first, like a read

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self.visit(target)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.target, ast.Name):
            self._load(node.target.id)
            self.stored.add(node.target.id)
        else:
            self.visit(node.target)
        self.visit(node.value)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
        self.visit(node.target)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self.visit(node.target)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        self.visit(node.target)
        for stmt in (*node.body, *node.orelse):
            self.visit(stmt)

    visit_AsyncFor = visit_For

    def _comprehension(self, node: Any) -> None:
        # Only the outermost iterable is evaluated in the body's scope; the rest is a
        # nested scope (see _nested_globals).
        self.visit(node.generators[0].iter)

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _comprehension

    def _arguments(self, args: ast.arguments) -> None:
        for default in (*args.defaults, *args.kw_defaults):
            if default is not None:
                self.visit(default)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for decorator in node.decorator_list:
            self.visit(decorator)
        self._arguments(node.args)
        self._store(node.name)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._arguments(node.args)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expr in (*node.decorator_list, *node.bases, *(k.value for k in node.keywords)):
            self.visit(expr)
        self._store(node.name)

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            self._store(alias.asname or alias.name.split(".")[0])

    visit_ImportFrom = visit_Import

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        if node.name:
            self._store(node.name)
        for stmt in node.body:
            self.visit(stmt)

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.pattern is not None:
            self.visit(node.pattern)
        if node.name:
            self._store(node.name)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self._store(node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        self.generic_visit(node)
        if node.rest:
            self._store(node.rest)
