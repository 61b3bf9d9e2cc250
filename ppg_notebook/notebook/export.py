"""A notebook's pipeline as a plain, standalone script (`%ppg_export`, `ppg-notebook export`).

Pure: cell sources in, script text out. This module sorts the cells (setup, jobs, results,
IPython syntax) and puts them in order; render.py writes the text. The script keeps the
notebook's setup cells (imports, parameters, helper functions) as they are, and writes each
`%%ppg_job` cell as a function decorated with `@cells.job(out=..., deps=..., cores=...)`
whose parameters are the jobs it reads (jobdefs.py). The decorator (script.py) reads the
body back and takes it through the same steps as executing the cell, so the script's jobs
have the notebook's ids and fingerprints: what one computed, the other does not compute
again.

Decisions:
- Cells keep the notebook's order (the order "Restart & Run All" executes them); a job cell
  that reads a job declared further down moves right after it.
- A cell that reads a job's result (exploration, plots of results) or only shows values is
  not setup: left out, or kept as comments (`results="comment"`).
- Other IPython syntax (`%magic`, `!cmd`, `%%cell_magic`, `obj?`) is left out with a comment;
  a cell that is not Python without it is kept only as comments. `%ppg_new`'s options
  become the defaults of the script's `--dir`, `--cores` and `--backend`.
- Nothing from the notebook becomes code except the user's own cells: paths and other
  options are written as string literals that round-trip exactly, job names are checked
  to be identifiers, comments are written line by line with control characters escaped.
  A job cell whose text could not be read back exactly (control characters, not Python)
  is left out as comments, with a note.
"""

from __future__ import annotations

import ast
import json
from typing import Any

from . import ipysyntax
from .body import free_names
from .options import OUT, RESULTS, JobOptions, NewOptions, OptionsError, name_problem
from .pysource import NEWLINE, as_code, comment, printable
from .render import PACKAGE, Chunk, Defaults, JobCell, Script, render

_SHOWN = frozenset({"print", "display"})


class ExportError(ValueError):
    """A notebook cannot be exported (not a notebook file, or an invalid option)."""


# --- reading notebooks -----------------------------------------------------------------
def notebook_cells(notebook: Any) -> list[tuple[str, str]]:
    """(cell type, source) of an .ipynb document (parsed JSON) or its text."""
    if isinstance(notebook, (str, bytes)):
        try:
            notebook = json.loads(notebook)
        except ValueError as e:
            msg = f"not a Jupyter notebook (.ipynb is JSON): {e}"
            raise ExportError(msg) from None
    raw_cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(raw_cells, list):
        msg = "not a Jupyter notebook: it has no list of cells (nbformat 4 is needed)"
        raise ExportError(msg)
    found = []
    for cell in raw_cells:
        if not isinstance(cell, dict):
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(s for s in source if isinstance(s, str))
        if isinstance(source, str):
            found.append((str(cell.get("cell_type", "code")), source))
    return found


def history_cells(sources: list[str]) -> list[tuple[str, str]]:
    """Code cells as a kernel executed them (its input history), for `%ppg_export`.

    A job cell executed several times counts at its last execution; another cell executed
    again unchanged counts once, where it was first executed.
    """
    parsed = [_job_of(source) for source in sources]
    last_job = {job.name: i for i, job in enumerate(parsed) if isinstance(job, JobCell)}
    seen: set[str] = set()
    kept = []
    for i, (source, job) in enumerate(zip(sources, parsed, strict=True)):
        if isinstance(job, JobCell):
            if last_job[job.name] == i:
                kept.append(("code", source))
        elif source not in seen:
            seen.add(source)
            kept.append(("code", source))
    return kept


# --- understanding cells -----------------------------------------------------------------
def _job_of(source: str) -> JobCell | str | None:
    """The job of a `%%ppg_job` cell (a string saying what is wrong if it cannot be one);
    None for other cells."""
    if not source.lstrip().startswith("%%ppg_job"):
        return None
    calls = ipysyntax.magic_calls(source)
    if not calls or calls[0][:2] != ("run_cell_magic", "ppg_job") or len(calls[0][2]) != 2:
        return "its %%ppg_job line could not be read"
    line, body = calls[0][2]
    try:
        options = JobOptions.parse(line)
    except OptionsError:  # (the magic would refuse them)
        return f"its options could not be read: %%ppg_job {line}"
    problem = name_problem(options.name)
    if problem:
        return f"the job name {options.name!r} {problem}"
    bad = next((v for v in options.values if name_problem(v)), None)
    if bad is not None:
        return f"the value name {bad!r} {name_problem(bad)}"
    return JobCell(options, body)


def _reads(source: str) -> set[str]:
    try:
        return set(free_names(ast.parse(source), source))
    except (SyntaxError, ValueError):
        return set()


def _only_shows(tree: ast.Module) -> bool:
    """Every statement shows something and binds nothing (`df`, `df.head`, `print(x)`)."""
    for stmt in tree.body:
        if not isinstance(stmt, ast.Expr):
            return False
        value = stmt.value
        if isinstance(value, ast.Call) and not (
            isinstance(value.func, ast.Name) and value.func.id in _SHOWN
        ):
            return False
    return True


def _mentioned(source: str) -> set[str]:
    """Every name a piece of code mentions (binds, reads or imports), to keep clear of."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return names


def _plain_imports(source: str) -> set[tuple[str, str]]:
    """(module, name bound) of the unconditional `import X [as Y]` statements of a cell."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()
    return {
        (alias.name, alias.asname or alias.name)
        for stmt in tree.body
        if isinstance(stmt, ast.Import)
        for alias in stmt.names
        if "." not in alias.name
    }


# --- the export ------------------------------------------------------------------------
def export(cells: list[tuple[str, str]], *, title: str = "", results: str = "omit") -> Script:
    """The script for a notebook's cells ((cell type, source) pairs, in notebook order).

    `title`: the notebook's file name, for the docstring; `results`: "omit" or "comment"
    for cells that are neither jobs nor setup.
    """
    if results not in RESULTS:
        msg = f"results must be one of {', '.join(RESULTS)}, not {results!r}"
        raise ExportError(msg)
    notes: list[str] = []
    defaults = Defaults()
    parsed = {i: _job_of(s) for i, (t, s) in enumerate(cells, 1) if t == "code" and s.strip()}
    jobs = {n for job in parsed.values() if isinstance(job, JobCell) for n in job.provides}
    chunks: list[Chunk] = []
    for number, (cell_type, source) in enumerate(cells, 1):
        if cell_type == "markdown":
            headings = [line for line in NEWLINE.split(source) if line.startswith("#")]
            if headings:
                chunks.append(Chunk("heading", comment(headings[0].lstrip("#").strip())))
        elif number in parsed:
            chunks.extend(
                _cell_chunks(number, source, parsed[number], jobs, defaults, results, notes)
            )
    chunks = _dependency_order(chunks, jobs)
    names = set()
    for chunk in chunks:
        names |= _mentioned(chunk.job.body if chunk.job else chunk.text)
    names |= jobs
    imports = set()
    for chunk in chunks:
        if chunk.kind == "setup":
            imports |= _plain_imports(chunk.text)
    return render(chunks, names, imports, defaults, title, notes)


def _cell_chunks(
    number: int,
    source: str,
    job: JobCell | str | None,
    jobs: set[str],
    defaults: Defaults,
    results: str,
    notes: list[str],
) -> list[Chunk]:
    """The pieces of code cell `number`; `job`: what `_job_of` made of it."""
    where = f"cell {number}"
    if isinstance(job, JobCell):
        if as_code(job.body) is None or not printable(job.body):
            notes.append(f"{where}: the job {job.name!r} left out, its body is not plain Python")
            return [Chunk("comment", comment(source, "left out: not plain Python"))]
        return [Chunk("job", job=job)]
    if isinstance(job, str):
        notes.append(f"{where}: a %%ppg_job cell left out: {job}")
        return [Chunk("comment", comment(source, f"left out: {job}"))]
    calls = ipysyntax.magic_calls(source)
    if calls is None:
        notes.append(f"{where}: left out, it is not valid Python or IPython")
        return [Chunk("comment", comment(source, "left out: not valid Python"))]
    if all(method == "" for method, _, _ in calls):
        code = as_code(source)
        if code is None:
            notes.append(f"{where}: left out, it cannot be written into a script as it is")
            return [Chunk("comment", comment(source, "left out: not plain Python"))]
        return [_plain(where, code, jobs, results, notes)]
    return _with_magics(where, source, calls, defaults, jobs, results, notes)


def _plain(where: str, code: str, jobs: set[str], results: str, notes: list[str]) -> Chunk:
    reads = _reads(code) & jobs
    shows = _only_shows(ast.parse(code))
    if not reads and not shows:
        return Chunk("setup", code)
    why = f"it uses the result of {', '.join(sorted(reads))}" if reads else "it only shows"
    if results == "comment":
        return Chunk("comment", comment(code, f"not part of the pipeline: {why}"))
    notes.append(f"{where}: left out, {why}")
    return Chunk("comment", "")


def _with_magics(
    where: str,
    source: str,
    calls: list[tuple[str, str, list[Any]]],
    defaults: Defaults,
    jobs: set[str],
    results: str,
    notes: list[str],
) -> list[Chunk]:
    """A cell mixing Python and IPython syntax: ours are understood, others commented."""
    text = source.strip("\n")
    lines = NEWLINE.split(text)
    transformed = ipysyntax.transformed(text)
    if len(lines) != len(NEWLINE.split(transformed.rstrip("\n"))):
        notes.append(f"{where}: left out, its IPython syntax could not be separated")
        return [Chunk("comment", comment(source, "left out: IPython syntax"))]
    tree = ast.parse(transformed)
    kept: list[str | None] = list(lines)  # the cell's lines, IPython syntax replaced
    for stmt, (method, name, args) in zip(tree.body, calls, strict=True):
        first, last = stmt.lineno - 1, stmt.end_lineno or stmt.lineno
        if method == "":
            continue
        segment = lines[first:last]
        kept[first:last] = [None] * (last - first)
        if _is_ours(method, name, args):
            if name == "ppg_new":
                _read_new(args[0] if args else "", defaults, where, notes)
        elif method == "run_cell_magic":
            notes.append(f"{where}: left out, the cell magic %%{name}")
            return [Chunk("comment", comment(source, f"left out: the cell magic %%{name}"))]
        else:
            shown = "\n".join(segment).strip()
            kept[first] = comment(shown, "IPython syntax, left out of the script")
            notes.append(f"{where}: {shown.splitlines()[0]!r} left out (IPython syntax)")
    code = "\n".join(line for line in kept if line is not None).strip("\n")
    if not code.strip():
        return []
    if all(not line.strip() or line.lstrip().startswith("#") for line in code.split("\n")):
        return [Chunk("comment", code)]
    checked = as_code(code)
    if checked is None:
        notes.append(f"{where}: left out, it is not Python without its IPython syntax")
        return [Chunk("comment", comment(source, "left out: IPython syntax"))]
    return [_plain(where, checked, jobs, results, notes)]


def _is_ours(method: str, name: str, args: list[Any]) -> bool:
    if method != "run_line_magic":
        return False
    if name == "load_ext":
        return bool(args) and str(args[0]).split() == [PACKAGE]
    return name.startswith("ppg_")


def _read_new(line: str, defaults: Defaults, where: str, notes: list[str]) -> None:
    try:
        options = NewOptions.parse(line)
    except OptionsError:  # (the magic would refuse them)
        notes.append(f"{where}: the options of %ppg_new {line} could not be read")
        return
    defaults.dir, defaults.cores, defaults.backend = options.dir, options.cores, options.backend
    defaults.scheduler = options.scheduler
    defaults.track = list(options.track)


def _job_reads(job: JobCell, jobs: set[str]) -> set[str]:
    return ((_reads(job.body) - {OUT}) | set(job.options.deps)) & jobs - set(job.provides)


def _dependency_order(chunks: list[Chunk], jobs: set[str]) -> list[Chunk]:
    """Notebook order, except that a job moves after the jobs it reads (stable)."""
    pending = list(chunks)
    placed: set[str] = set()
    ordered: list[Chunk] = []
    while pending:
        ready = (
            i
            for i, chunk in enumerate(pending)
            if chunk.job is None or _job_reads(chunk.job, jobs) <= placed
        )
        # None ready is a cycle: the notebook cannot have run it either; keep its order.
        chunk = pending.pop(next(ready, 0))
        ordered.append(chunk)
        if chunk.job is not None:
            placed.update(chunk.job.provides)
    return ordered
