"""A `%%ppg_job` cell body turned into a job function that runs in a worker process.

Three steps, none of which needs IPython:

- `analyse`: parse the body, find the names it reads from outside itself (in order of first
  use) and what becomes the job's value (the variable named like the job, else the last
  expression);
- `capture`: look those names up in the notebook namespace and sort them into what travels
  with the job and what is fingerprinted: plain values, and the user's code (functions and
  classes of the notebook or of the user's own modules) followed through everything it
  reaches (codewalk.py). Third-party modules and what comes from them travel but are not
  fingerprinted as code;
- `value_function` / `file_function`: the function the engine runs. It is a closure over the
  compiled body, the dependencies' bindings and the result's name only; the engine's code
  fingerprint of it therefore depends on the body's canonical code (not its comments, line
  numbers or file name) and on nothing that changes with a kernel restart. The captured
  values ride along as an attribute of the compiled body, which cloudpickle ships and the
  fingerprint ignores: they are fingerprinted separately, as invariants.

`execute` is what runs in the worker; `user_traceback` turns a worker's traceback into the
user's own lines for display in the kernel.
"""

from __future__ import annotations

import ast
import builtins
import functools
import inspect
import linecache
import os
import re
import symtable
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import cache, hashing
from ..codereads import IMPORT, code_reads
from ..codewalk import TRACK_ALL, CodeWalker
from ..errors import PipelineError
from ..jobs import Job
from .options import OUT

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


@dataclass
class Captured:
    """The notebook globals a body reads, sorted by how they are tracked."""

    values: dict[str, Any] = field(default_factory=dict)  # travel with the job
    parameters: dict[str, Any] = field(default_factory=dict)  # fingerprinted as values
    functions: dict[str, Callable[..., Any]] = field(default_factory=dict)  # as code
    jobs: dict[str, Any] = field(default_factory=dict)  # engine jobs the body reads
    modules: dict[str, types.ModuleType] = field(default_factory=dict)  # the user's modules
    imports: bool = False  # the body imports something of the user's code itself
    reached: list[tuple[str, Any]] = field(default_factory=list)  # notebook values their code reads
    readers: dict[str, str] = field(default_factory=dict)  # such a value -> code reading it


# --- analysis ------------------------------------------------------------------------
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


# --- capture -------------------------------------------------------------------------
def _is_library(obj: Any) -> bool:
    """Functions, classes and modules that are not fingerprinted (not the user's code)."""
    return isinstance(
        obj, (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type)
    ) or (callable(obj) and hashing.is_function(obj))


def capture(
    names: tuple[str, ...] | list[str], namespace: dict[str, Any], body: Body, walker: CodeWalker
) -> Captured:
    """What the body's free `names` refer to in `namespace` (names not there are skipped).

    The user's functions and classes (of the notebook, or of the user's modules) are
    fingerprinted through everything they reach (codewalk.py); the user's modules the body
    reads (`utils.clean_rows(...)`) through what it reads of them; plain values and other
    objects as parameters (an object of the user's class also through its class's code).
    Raises CodeError if a user module it reaches cannot be read.
    """
    captured = Captured()
    for name in names:
        if name not in namespace:
            continue
        obj = namespace[name]
        captured.values[name] = obj
        if isinstance(obj, Job):
            captured.jobs[name] = obj
        elif isinstance(obj, types.ModuleType):
            if walker.is_user(obj):
                captured.modules[name] = obj
        elif walker.is_user(_unwrap(obj)) and not walker.is_user(type(obj)):
            captured.functions[name] = obj
        elif not _is_library(obj):
            captured.parameters[name] = obj
    reaches = [walker.function(fn, TRACK_ALL) for fn in captured.functions.values()]
    reaches += [walker.reads_of(body.code, {k: m}) for k, m in captured.modules.items()]
    own_imports = walker.reads_of(body.code, {})
    if own_imports.items:
        captured.imports = True
        reaches.append(own_imports)
    reaches.extend(walker.value(v, TRACK_ALL) for v in captured.parameters.values())
    for reach in reaches:
        for key, value, reader in reach.values:
            captured.reached.append((key.removeprefix("__main__."), value))
            captured.readers.setdefault(
                key.removeprefix("__main__."), reader.removeprefix("__main__.")
            )
    return captured


def modules_read(captured: Captured, body: Body) -> set[str]:
    """Names of the modules a body reads: its globals, its own imports, and those the
    notebook functions it calls read (to tell a job that draws with pyplot)."""
    found = {v.__name__ for v in captured.values.values() if isinstance(v, types.ModuleType)}
    found.update(c[1] for c in code_reads(body.code).chains if c[0] == IMPORT and len(c) > 1)
    for fn in captured.functions.values():
        fn_globals = getattr(fn, "__globals__", {})
        code = getattr(fn, "__code__", None)
        if isinstance(code, types.CodeType):
            for name in code_reads(code).names:
                if isinstance(fn_globals.get(name), types.ModuleType):
                    found.add(fn_globals[name].__name__)
    return found


def _unwrap(obj: Any) -> Any:
    """A bound method's function, a partial's: what is the user's code, if anything."""
    if isinstance(obj, types.MethodType):
        return obj.__func__
    if isinstance(obj, functools.partial):
        return obj.func
    return inspect.unwrap(obj) if callable(obj) and hasattr(obj, "__wrapped__") else obj


def unpicklable(captured: Captured) -> tuple[str, Any, str] | None:
    """(name, value, reason) of the first captured global that cannot reach a worker."""
    import cloudpickle

    candidates: list[tuple[str, Any]] = []
    for key, value in (*captured.values.items(), *captured.parameters.items(), *captured.reached):
        if not isinstance(value, (types.FunctionType, type)):
            candidates.append((key, value))
    for key, fn in captured.functions.items():
        cells = getattr(fn, "__closure__", None) or ()
        candidates.extend((key, c.cell_contents) for c in cells if _has_contents(c))
        candidates.extend((key, d) for d in getattr(fn, "__defaults__", None) or ())
    done: set[int] = set()
    for key, value in candidates:
        if id(value) in done or isinstance(value, types.ModuleType):
            continue
        done.add(id(value))
        try:
            cloudpickle.dumps(value)
        except Exception as e:
            return key, value, f"{type(e).__name__}: {e}"
    return None


def _has_contents(cell: types.CellType) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises
    except ValueError:
        return False
    return True


# --- the job function ----------------------------------------------------------------
Binding = tuple[str, str, tuple[str, ...]]  # (name in the body, "value" | "file" | "files", paths)


def carrier(body: Body, values: dict[str, Any]) -> types.FunctionType:
    """A function object holding the compiled body, and the captured values as an attribute.

    The engine fingerprints the function by its code only; the values are fingerprinted as
    invariants. (Not as the function's globals: module-level code reads names with
    LOAD_NAME, which cloudpickle does not follow, so it would not ship them.)
    """
    fn = types.FunctionType(body.code, {"__builtins__": builtins}, body.filename)
    fn.captured = dict(values)  # type: ignore[attr-defined]
    return fn


def value_function(code: types.FunctionType, bindings: tuple[Binding, ...], result: str) -> Any:
    """The function of a value job: runs the body, returns the value of `result`."""

    def run_value_cell() -> Any:
        namespace = execute(code, bindings, None)
        if result not in namespace:
            msg = f"the body did not assign {result!r} (the job's value) when it ran"
            raise NameError(msg)
        return namespace[result]

    return run_value_cell


def values_function(
    code: types.FunctionType, bindings: tuple[Binding, ...], name: str, names: tuple[str, ...]
) -> Any:
    """The function of job `name` keeping several values: runs the body, returns the
    body's variables `names` (a MultiValueJob stores each on its own)."""

    def run_values_cell() -> dict[str, Any]:
        namespace = execute(code, bindings, None)
        missing = [n for n in names if n not in namespace]
        if missing:
            shown = ", ".join(repr(n) for n in missing)
            msg = (
                f"the body of job {name!r} did not assign {shown}, which --values lists; "
                f"assign {'it' if len(missing) == 1 else 'them'} in the cell, or remove "
                f"{'it' if len(missing) == 1 else 'them'} from --values"
            )
            raise NameError(msg)
        return {n: namespace[n] for n in names}

    return run_values_cell


def file_function(code: types.FunctionType, bindings: tuple[Binding, ...]) -> Any:
    """The function of a file job: runs the body with `out` bound to the output path(s)."""

    def run_file_cell(out: Any) -> None:
        execute(code, bindings, out)

    return run_file_cell


def execute(code: types.FunctionType, bindings: tuple[Binding, ...], out: Any) -> dict[str, Any]:
    """Run a body in the worker, with its upstream jobs' values and paths bound."""
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    namespace.update(code.captured)  # type: ignore[attr-defined]
    for name, kind, paths in bindings:
        if kind == "value":
            namespace[name] = cache.load(paths[0])
        elif kind == "file":
            namespace[name] = Path(paths[0])
        else:
            namespace[name] = list(map(Path, paths))
    if out is not None:
        namespace[OUT] = out
    exec(code.__code__, namespace)
    return namespace


def binding(name: str, kind: str, paths: tuple[str, ...], workdir: str) -> Binding:
    """How an upstream job is bound in a body; paths relative to the workdir when inside it
    (so that the fingerprint does not change when the project directory moves)."""
    shown = tuple(os.path.relpath(p, workdir) if os.path.isabs(p) else p for p in paths)
    return name, kind, shown


# --- display -------------------------------------------------------------------------
_FRAME = re.compile(r'^  File "(?P<file>.+)", line (?P<line>\d+), in (?P<fn>.+)$')


def user_traceback(text: str) -> list[str]:
    """A worker traceback reduced to the user's frames, each with its source line.

    The engine already names each frame's real file (see tracebacks.py); this drops the
    frames of this module that run a body, should any remain, and fills in source lines.
    """
    ours = os.path.abspath(__file__)
    lines = text.rstrip("\n").splitlines()
    shown: list[str] = []
    i = 0
    while i < len(lines):
        match = _FRAME.match(lines[i])
        if match is None:
            shown.append(lines[i])
            i += 1
            continue
        j = i + 1
        while j < len(lines) and lines[j].startswith("    "):
            j += 1
        filename = match["file"]
        if os.path.abspath(filename) != ours:
            shown.append(lines[i])
            source = lines[i + 1 : j]
            if not source:
                found = linecache.getline(filename, int(match["line"])).strip()
                source = [f"    {found}"] if found else []
            shown.extend(source)
        i = j
    return shown
