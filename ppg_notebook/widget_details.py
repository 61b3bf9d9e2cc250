"""What the DAG widget's details panel shows about one job (`widget_protocol.Details`).

Made from what the widget's last refresh read (the graph model, the plan, the history), so
that a click reads no history and resolves no graph again, and from the job's own files
(its error file, the tail of its log) and its value, if a small one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import statedir, status, value_preview
from . import widget_protocol as protocol
from .dag_model import GraphModel
from .decide import Reason
from .notebook.display import seconds, when
from .notebook.kernel import NotebookPipeline
from .records import Record
from .session import Pipeline

LOG_TAIL_LINES = 40


def job_details(
    pipeline: Pipeline,
    job_id: str,
    *,
    model: GraphModel,
    reason: Reason | None,
    record: Record,
    state: str,
    label: Callable[[str], str],
    notebook: NotebookPipeline | None = None,
    namespace: dict[str, Any] | None = None,
) -> protocol.Details:
    """The panel of `job_id`, whose plan said `reason`, whose history says `record` and
    whose state code the page was last told is `state`."""
    job = pipeline.jobs[job_id]
    me = model.nodes.index(job_id) if job_id in model.nodes else -1
    upstream = [model.nodes[a] for a, b in model.edges if b == me]
    downstream = [model.nodes[b] for a, b in model.edges if a == me]
    traceback = ""
    if record.get("o") == "failed":
        traceback = _read(statedir.error_file(pipeline.dir, job_id)) or record.get("e", "")
    log = _read(statedir.log_file(pipeline.dir, job_id))
    cell = notebook.cell_of(job_id) if notebook else None
    why = status.sentence(reason)  # the first line of `Pipeline.why`
    if me < 0:
        why = "not in the graph the widget last read; press Refresh"
    return {
        "job": job_id,
        "label": label(job_id),
        "kind": job.kind,
        "state": state,
        "outputs": list(job.paths),
        "upstream": upstream,
        "downstream": downstream,
        "last_run": when(record.get("t")),
        "duration": seconds(record.get("d")),
        "why": why,
        "reads": sorted(record.get("r", ())),  # files it read at run time (SPEC §3a)
        "modules": pipeline.history.modules(record),  # user modules its code reaches
        "traceback": traceback,
        "log_tail": "\n".join(log.splitlines()[-LOG_TAIL_LINES:]),
        "value": value_preview.of_job(job, record, namespace, cell),
        "cell_id": cell.cell_id if cell else "",
        "execution_count": cell.execution_count if cell else None,
    }


def _read(path: str) -> str:
    try:
        with open(path, errors="replace") as fh:
            return fh.read()
    except OSError:
        return ""
