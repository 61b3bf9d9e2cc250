"""The one reading of a run's events (progress.RunEvents), table-driven; and the live
progress line (progress.py) as a notebook saves it: cells executed in a real, fresh Jupyter
kernel (nbclient), their outputs read as they would be written to disk."""

from __future__ import annotations

import itertools
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from ppg_notebook.events import Event, Outcome
from ppg_notebook.progress import RunEvents

RAN, FAILED, NOT_NEEDED = Outcome.RAN, Outcome.FAILED, Outcome.NOT_NEEDED
UPSTREAM_FAILED = Outcome.UPSTREAM_FAILED


def _read(said: list[tuple[object, ...]]) -> RunEvents:
    clock = itertools.count()
    run = RunEvents(clock=lambda: float(next(clock)))
    for event in said:
        run.feed(Event(*event))  # type: ignore[arg-type]
    return run


def _reading(run: RunEvents) -> dict[str, object]:
    return {
        "total": run.total,
        "queued": run.queued,
        "running": list(run.running),  # in the order they started
        "done": run.done,
        "finished": run.finished,
        "ran": run.ran,
        "failed": run.failed,
        "pending": run.pending,
        "seen": run.seen,  # the jobs with an event since the run started
    }


NOTHING = {
    "total": 0,
    "queued": set(),
    "running": [],
    "done": 0,
    "finished": 0,
    "ran": [],
    "failed": [],
    "pending": set(),
    "seen": set(),
}


@pytest.mark.parametrize(
    ("said", "read"),
    [
        # a -> b: a runs, b waits
        (
            [("run_started", "", 2), ("queued", "a"), ("queued", "b"), ("running", "a")],
            {
                "total": 2,
                "queued": {"b"},
                "running": ["a"],
                "pending": {"a", "b"},
                "seen": {"a", "b"},
            },
        ),
        # a ran, b runs
        (
            [("run_started", "", 2), ("running", "a"), ("done", "a", RAN), ("running", "b")],
            {
                "total": 2,
                "running": ["b"],
                "done": 1,
                "finished": 1,
                "ran": ["a"],
                "pending": {"b"},
                "seen": {"a", "b"},
            },
        ),
        # a fails, b (downstream) is upstream-failed, no dependant needed the loader l
        (
            [
                ("run_started", "", 3),
                ("running", "a"),
                ("done", "a", FAILED),
                ("done", "b", UPSTREAM_FAILED),
                ("done", "l", NOT_NEEDED),
            ],
            {"total": 3, "done": 3, "finished": 2, "failed": ["a"], "seen": {"a", "b", "l"}},
        ),
        # running twice (sent in a batch, then its turn) is running once; a worker died:
        # its job is queued again
        (
            [("running", "a"), ("running", "b"), ("running", "a"), ("queued", "a")],
            {"queued": {"a"}, "running": ["b"], "pending": {"a", "b"}, "seen": {"a", "b"}},
        ),
        # a new run starts afresh
        (
            [("running", "a"), ("done", "a", FAILED), ("run_started", "", 1), ("queued", "c")],
            {"total": 1, "queued": {"c"}, "pending": {"c"}, "seen": {"c"}},
        ),
        # what is not a job's event changes nothing
        ([("run_started", "", 1), ("run_finished", "", None)], {"total": 1}),
    ],
)
def test_a_runs_events_are_read_once_the_same_way_for_every_display(
    said: list[tuple[object, ...]], read: dict[str, object]
) -> None:
    assert _reading(_read(said)) == {**NOTHING, **read}


def test_a_running_job_is_running_since_its_first_running_event() -> None:
    run = _read([("running", "a"), ("running", "b"), ("running", "a")])
    assert run.running == {"a": 0.0, "b": 1.0}


SLOW = (
    "%%ppg_job slow\nimport time\nprint('step one', flush=True)\ntime.sleep(1.8)\n"
    "print('step two')\nslow = 1"
)
CELLS = {
    "load": "%load_ext ppg_notebook",
    "slow": SLOW,
    "invalidate": "%ppg_invalidate slow",
    "run": "%ppg_run slow",
    "quick": "%%ppg_job quick\nquick = 2",
    "nothing": "%ppg_run",
    "broken": "%%ppg_job broken\nimport time\ntime.sleep(1.6)\nbroken = 1 / 0",
}


def _outputs(tmp_path: Path) -> dict[str, list[nbformat.NotebookNode]]:
    nb = new_notebook(cells=[new_code_cell(source) for source in CELLS.values()])
    nb.cells[-1].metadata["tags"] = ["raises-exception"]
    NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    nbformat.write(nb, tmp_path / "saved.ipynb")  # (as the notebook is saved)
    saved = nbformat.read(tmp_path / "saved.ipynb", as_version=4)
    return {name: cell.outputs for name, cell in zip(CELLS, saved.cells, strict=True)}


def _text(output: nbformat.NotebookNode) -> str:
    if output.output_type == "stream":
        return output.text
    if output.output_type == "error":
        return "\n".join(output.traceback)
    return output.get("data", {}).get("text/plain", "")


def test_the_progress_line_leaves_no_empty_output_and_ends_as_the_summary(
    tmp_path: Path,
) -> None:
    outputs = _outputs(tmp_path)
    for name, cell in outputs.items():
        empty = [o for o in cell if not _text(o).strip()]
        assert not empty, f"cell {name!r} keeps an empty output: {empty}"
        stale = [o for o in cell if "ppg: running " in _text(o)]
        assert not stale, f"cell {name!r} keeps the progress line of a finished run: {stale}"

    # A run longer than a second: its line became its summary, shown once.
    for name, why in [("slow", "it has never run"), ("run", "it was invalidated")]:
        [line] = [o for o in outputs[name] if o.output_type == "display_data"]
        assert _text(line).startswith(f"ppg: slow ran ({why}); 1 ran ["), _text(line)
        text = "".join(map(_text, outputs[name]))
        assert text.count("step one") == text.count("step two") == 1, text
        assert text.count("1 ran [") == 1, text

    # Shorter than a second: no line at all, the summary printed.
    for name, said in [("quick", "ppg: quick ran"), ("nothing", "ppg: nothing to do")]:
        assert all(o.output_type == "stream" for o in outputs[name]), outputs[name]
        assert said in "".join(map(_text, outputs[name]))

    # An error: the line ends as the final count; the summary is in the traceback.
    [line] = [o for o in outputs["broken"] if o.output_type == "display_data"]
    assert _text(line).startswith("ppg: 1/1 done in "), _text(line)
    [error] = [o for o in outputs["broken"] if o.output_type == "error"]
    assert "ZeroDivisionError" in _text(error) and "1 failed" in _text(error)
