"""The notebook side: `%%ppg_job` cells as jobs, in a kernel and in an exported script.

Imports nothing: the engine's worker processes import the module that runs a cell's body
and should not pay for the rest (nor for IPython, which only `magics` and `ipysyntax`
import).

- `options`: the magics' option grammar, read the same by the magics and the export;
- `body`: a cell's body read: its code, the names it reads, where its value is;
- `capture`: the notebook globals a body reads, sorted by how each is tracked;
- `cellfunc`: the function a cell's job runs in the worker (all a worker imports of this
  package's notebook side);
- `declare`: a cell's job declared: validated first, then declared or re-declared;
- `kernel`: a kernel's pipeline seen by its cells' names: resolving, running, binding
  values, explaining (`NotebookPipeline`);
- `display`: what the notebook shows: run summaries, the status table, job errors in the
  user's own lines;
- `jobdefs`: a job cell written as a function of a script, and read back;
- `script`: the cell jobs an exported script declares (`ppg_notebook.CellJobs`);
- `export`: a notebook's cells sorted (setup, jobs, results, IPython syntax) and ordered
  for that script; `ipysyntax`: IPython's cell syntax, read by IPython;
- `render`: the script's text from those pieces; `pysource`: Python text that cannot become
  code (literals, comments) and is tidy (calls, sorted imports);
- `magics`: `%%ppg_job` and the `%ppg_*` line magics (`%load_ext ppg_notebook`).
"""
