"""The exported script's text: its imports, the job cells as functions, its command line.

Pure. What export.py made of a notebook's cells (`Chunk`s: setup code, jobs, comments,
headings, and the `%ppg_new` options as `Defaults`) written as the script: one import
block (the notebook's first imports merged in, sorted as ruff wants them), the
`CellJobs` collector, each job cell as a function decorated with `@cells.job(...)`
(jobdefs.py writes the function, options.py its keywords), and `main()` with `--cores`,
`--dir`, `--backend`, `--scheduler` and `--dry-run`. Names the script adds never clash
with the notebook's.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from .body import free_names
from .jobdefs import function_text
from .options import OUT, JobOptions
from .pysource import call, import_block, merge_imports, printable, py_string, starts_with_import

PACKAGE = "ppg_notebook"


@dataclass(frozen=True)
class JobCell:
    """A `%%ppg_job` cell: its magic line's options and its body."""

    options: JobOptions
    body: str

    @property
    def name(self) -> str:
        return self.options.name

    @property
    def provides(self) -> tuple[str, ...]:
        """The names it binds in the notebook: its values, else its own name."""
        return self.options.values or (self.options.name,)


@dataclass(frozen=True)
class Chunk:
    """A piece of the script: setup code, a job, or comments."""

    kind: str  # "setup", "job", "comment", "heading" (of a markdown cell)
    text: str = ""
    job: JobCell | None = None


@dataclass
class Defaults:
    """The pipeline options of the notebook's `%ppg_new`: the script's defaults."""

    dir: str = ".ppg"
    cores: int | None = None
    backend: str = "loky"
    scheduler: str | None = None
    track: list[str] = field(default_factory=list)


@dataclass
class Script:
    """The exported script, and what went where."""

    text: str
    declarations: str  # the text before `main()`: setup code and job declarations
    collector: str  # the name of the script's CellJobs object
    jobs: list[str]
    notes: list[str] = field(default_factory=list)  # cells left out, and why
    defaults: Defaults = field(default_factory=lambda: Defaults())  # from `%ppg_new`


def _free_name(wanted: str, taken: set[str]) -> str:
    name = wanted
    while name in taken:
        name += "_"
    taken.add(name)
    return name


def render(
    chunks: list[Chunk],
    names: set[str],
    imports: set[tuple[str, str]],
    defaults: Defaults,
    title: str,
    notes: list[str],
) -> Script:
    taken = set(names)
    ours: list[tuple[str, str | None]] = []
    modules = {}
    for module, wanted in (("argparse", "argparse"), ("sys", "sys"), (PACKAGE, "ppg")):
        bound = next((n for m, n in sorted(imports) if m == module), None)
        if bound is not None:
            modules[module] = bound  # the notebook's own import serves the script too
            continue
        if wanted in taken and module not in taken:
            wanted = module  # `import ppg_notebook` when the notebook has its own `ppg`
        name = _free_name(wanted, taken)
        modules[module] = name
        ours.append((module, name if name != module else None))
    collector = _free_name("cells", taken)
    main = _free_name("main", taken)
    ppg = modules[PACKAGE]

    body: list[tuple[str, str]] = []
    declared = False
    job_names = []
    first = next((i for i, c in enumerate(chunks) if c.kind != "heading"), len(chunks))
    block = import_block(ours, [])
    track = ", ".join(py_string(t) for t in defaults.track)
    create = f"{collector} = {ppg}.CellJobs({f'track=[{track}]' if track else ''})"
    if first < len(chunks) and chunks[first].kind == "setup":
        merged = merge_imports(ours, chunks[first].text)
        if merged is not None:
            # One import block, sorted as ruff's isort wants it, then the cell's code.
            block, rest = merged
            chunks = [Chunk("setup", rest), *chunks[first + 1 :]]
        elif starts_with_import(chunks[first].text):
            # The cell's imports stay as they are, in a block of their own.
            body.append(("setup", create))
            declared = True
    assert block is not None
    jobs = {n for chunk in chunks if chunk.job is not None for n in chunk.job.provides}
    for chunk in chunks:
        if chunk.kind == "job":
            assert chunk.job is not None
            if not declared:
                heading = body.pop() if body and body[-1][0] == "heading" else None
                body.append(("setup", create))
                body.extend([heading] if heading else [])
                declared = True
            body.append(("job", _job_function(collector, chunk.job, jobs)))
            job_names.append(chunk.job.name)
        elif chunk.text:
            body.append((chunk.kind, chunk.text))
    if not declared:
        body.append(("setup", create))
    code = _join(body)
    statement = next((ln for ln in code.split("\n") if ln and not ln.startswith("#")), "")
    gap = "\n\n" if re.match(r"(@|def |class |async def )", statement) else "\n"
    declarations = f"{_docstring(title)}\n\n{block}\n{gap}{code}"
    cores = "None" if defaults.cores is None else str(int(defaults.cores))
    cores_help = "default: all CPUs" if defaults.cores is None else f"default: {cores}"
    argparse_, sys_ = modules["argparse"], modules["sys"]
    options = [
        ('"--cores"', "type=int", f"default={cores}", f'help="worker processes ({cores_help})"'),
        ('"--dir"', f"default={py_string(defaults.dir)}", 'help="where results are kept"'),
        ('"--backend"', f"default={py_string(defaults.backend)}", 'help="loky or dask"'),
        (
            '"--scheduler"',
            f"default={py_string(defaults.scheduler) if defaults.scheduler else None}",
            'help="dask scheduler address, with --backend dask"',
        ),
        ('"--dry-run"', 'action="store_true"', 'help="print what would run and why"'),
    ]
    adds = "".join(f"\n    {call('parser.add_argument', args, 4)}" for args in options)
    main_text = (
        f"\n\ndef {main}() -> int:\n"
        f'    parser = {argparse_}.ArgumentParser(description=__doc__.split("\\n")[0])'
        f"{adds}\n"
        "    args = parser.parse_args()\n"
        f"    return {collector}.run(\n"
        "        args.dir, args.cores, args.backend, args.scheduler, dry_run=args.dry_run\n"
        "    )\n"
        '\n\nif __name__ == "__main__":\n'
        f"    {sys_}.exit({main}())\n"
    )
    return Script(declarations + main_text, declarations, collector, job_names, notes, defaults)


def _docstring(title: str) -> str:
    safe = title and printable(title) and not set(title) & set("\"'\\\n\t")
    source = f"{title}" if safe else "a notebook"
    return (
        f'"""The pipeline of {source}, exported by ppg_notebook.\n\n'
        "It declares the notebook's jobs as the notebook does, so it reuses what the notebook\n"
        "computed and the notebook reuses what it computes (both keep them in --dir). Run it\n"
        'from the notebook\'s directory; --help lists the options.\n"""'
    )


def _job_function(collector: str, job: JobCell, jobs: set[str]) -> str:
    """The cell as a function: `@cells.job(...)`, parameters the jobs it reads."""
    options = job.options.keywords()
    decorator = call(f"@{collector}.job", tuple(options), 0) if options else f"@{collector}.job"
    reads = free_names(ast.parse(job.body), job.body)
    params = [n for n in reads if n in jobs and n not in job.provides]
    out = job.options.out
    if out and OUT in reads:
        params.append(OUT)
    value_job = not out
    return function_text(decorator, job.name, job.body, params, value_job, job.options.values)


def _join(parts: list[tuple[str, str]]) -> str:
    """Top-level pieces, two blank lines apart; a section heading sticks to what follows
    it, and is dropped when nothing of its section is in the script."""
    parts = [(kind, text) for kind, text in parts if text]
    out = ""
    for i, (kind, text) in enumerate(parts):
        follows = parts[i + 1][0] if i + 1 < len(parts) else ""
        if kind == "heading":
            if follows not in ("", "heading"):
                out += text + "\n"
            continue
        out += text + "\n\n\n"
    return out.rstrip("\n") + "\n"
