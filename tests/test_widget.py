"""The DAG widget's Python side: the model it syncs and the messages it answers.

A DummyComm (as in ipywidgets' own tests) stands in for the kernel's comm and records every
message the widget sends; jobs run in real loky workers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import comm
import pytest

import ppg_notebook as ppg
from ppg_notebook import status
from ppg_notebook.background import runs_of
from ppg_notebook.dag_model import HIDDEN_KINDS
from ppg_notebook.events import Event, Outcome
from ppg_notebook.widget import PipelineWidget


class DummyComm:
    """Records what the widget sends instead of talking to a kernel."""

    comm_id = "dummy"
    kernel = "a kernel"

    def __init__(self, **kwargs: Any) -> None:
        self.messages: list[dict[str, Any]] = []

    def open(self, *args: Any, **kwargs: Any) -> None:
        pass

    def on_msg(self, *args: Any, **kwargs: Any) -> None:
        pass

    def send(self, data: dict[str, Any] | None = None, **kwargs: Any) -> None:
        self.messages.append(data or {})

    def close(self, *args: Any, **kwargs: Any) -> None:
        pass

    def custom(self, type_: str) -> list[dict[str, Any]]:
        return [
            m["content"]
            for m in self.messages
            if m.get("method") == "custom" and m["content"].get("type") == type_
        ]

    def synced(self, trait: str) -> list[Any]:
        return [
            m["state"][trait]
            for m in self.messages
            if m.get("method") == "update" and trait in m.get("state", {})
        ]


@pytest.fixture(autouse=True)
def dummy_comm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(comm, "create_comm", DummyComm)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _write(text: str) -> Any:
    def fn(path: Path) -> None:
        path.write_text(text)

    return fn


def _fail(path: Path) -> None:
    print("about to fail")
    msg = "boom"
    raise ValueError(msg)


def _wait_for(path: Path) -> Any:
    def fn(out: Path) -> None:
        deadline = time.time() + 20
        while not path.exists() and time.time() < deadline:
            time.sleep(0.01)
        out.write_text("waited")

    return fn


def _abc(fail_b: bool = False) -> ppg.Pipeline:
    #   a.txt -> b.txt -> c.txt     (b.txt also reads the parameter "p")
    pipeline = ppg.new_pipeline(cores=2)
    a = ppg.FileGeneratingJob("a.txt", _write("a"))
    b = ppg.FileGeneratingJob("b.txt", _fail if fail_b else _write("b")).depends_on(a)
    b.depends_on(ppg.ParameterInvariant("p", 1))
    ppg.FileGeneratingJob("c.txt", _write("c")).depends_on(b)
    return pipeline


def _widget(pipeline: ppg.Pipeline) -> tuple[PipelineWidget, DummyComm]:
    w = PipelineWidget(pipeline, flush_interval=0.02)
    assert isinstance(w.comm, DummyComm)
    return w, w.comm


def _settle(w: PipelineWidget) -> None:
    w.runs.join(60)
    deadline = time.time() + 10
    while w.live.run["active"] or _refreshing():
        assert time.time() < deadline
        time.sleep(0.02)
    time.sleep(0.1)


def _refreshing() -> bool:
    return any(t.name == "ppg-widget-refresh" for t in threading.enumerate())


def test_the_graph_is_dot_without_invariants_and_states_follow_the_plan(workdir: Path) -> None:
    w, c = _widget(_abc())
    assert [n[0] for n in w.graph["nodes"]] == ["a.txt", "b.txt", "c.txt"]
    assert all(n[2] not in HIDDEN_KINDS for n in w.graph["nodes"])
    dot = w.graph["dot"]
    assert dot.startswith("digraph") and "n0 -> n1" in dot and "n1 -> n2" in dot
    assert '"p"' not in dot
    assert w.states == {"a.txt": "none*", "b.txt": "none*", "c.txt": "none*"}
    status = c.custom("status")[-1]
    assert status == {"type": "status", "full": True, "states": w.states, "durations": {}}


@pytest.mark.parametrize(
    ("cmd", "job", "ok"),
    [
        ("hello", None, True),
        ("details", "b.txt", True),
        ("invalidate", "a.txt", True),
        ("run", "c.txt", True),
        ("rerun", "a.txt", True),
        ("run_all", None, True),
        ("details", "nope", False),
        ("run", None, False),
        ("rerun", "nope", False),
        ("invalidate", "nope", False),
        ("explode", None, False),
    ],
)
def test_every_command_gets_an_answer(workdir: Path, cmd: str, job: str | None, ok: bool) -> None:
    w, c = _widget(_abc())
    w._on_msg(w, {"cmd": cmd, "job": job, "req": 7}, None)
    [reply] = c.custom("reply")
    assert reply["req"] == 7 and reply["cmd"] == cmd and reply["ok"] is ok, reply
    assert reply.get("message") is not None if ok else reply["error"]
    _settle(w)


def test_a_run_from_the_widget_runs_in_the_background_and_refuses_a_second(
    workdir: Path,
) -> None:
    pipeline = ppg.new_pipeline(cores=2)
    ppg.FileGeneratingJob("slow.txt", _wait_for(workdir / "go"))
    w, c = _widget(pipeline)
    started = time.perf_counter()
    assert w.handle({"cmd": "run_all", "req": 1})["ok"]
    assert time.perf_counter() - started < 1  # answered at once: the run is on a thread
    assert w.runs.busy
    second = w.handle({"cmd": "run", "job": "slow.txt", "req": 2})
    assert not second["ok"] and "already in progress" in second["error"]
    refused = w.handle({"cmd": "invalidate", "job": "slow.txt", "req": 3})
    assert not refused["ok"] and "run is in progress" in refused["error"]
    assert w.handle({"cmd": "details", "job": "slow.txt", "req": 4})["ok"]
    deadline = time.time() + 20
    while w.states["slow.txt"] not in ("running", "queued") and time.time() < deadline:
        time.sleep(0.02)
    assert w.states["slow.txt"] in ("running", "queued")
    (workdir / "go").touch()
    _settle(w)
    assert w.states["slow.txt"] == "ok"
    [notice] = c.custom("notice")
    assert notice["ok"] and "1 ran" in notice["text"]
    assert w.progress["done"] == w.progress["total"] == 1 and not w.progress["active"]


def _say_then_wait(said: Path, go: Path) -> Any:
    def fn(out: Path) -> None:
        said.touch()
        _wait_for(go)(out)

    return fn


def test_a_widget_shown_during_a_background_run_shows_what_is_running(workdir: Path) -> None:
    pipeline = ppg.new_pipeline(cores=2)
    ppg.FileGeneratingJob("first.txt", _write("1"))
    ppg.FileGeneratingJob("slow.txt", _say_then_wait(workdir / "started", workdir / "go"))
    runs = runs_of(pipeline)
    runs.start(lambda: pipeline.run("slow.txt"), "a run started before the widget")
    deadline = time.time() + 30
    while not (workdir / "started").exists():
        assert time.time() < deadline
        time.sleep(0.02)
    w, _c = _widget(pipeline)
    assert w.states["slow.txt"] == "running" and w.states["first.txt"] == "none*"
    w.flush()
    assert w.progress["active"] and w.progress["running"] == 1, w.progress
    assert w.progress["what"] == "a run started before the widget"
    (workdir / "go").touch()
    _settle(w)
    assert w.states["slow.txt"] == "ok" and not w.progress["active"]
    assert w.progress["tally"] == "1 ran"
    w.close()


def test_a_failed_job_is_red_with_its_traceback_and_log_in_the_details(workdir: Path) -> None:
    w, c = _widget(_abc(fail_b=True))
    w.handle({"cmd": "run_all", "req": 1})
    _settle(w)
    assert w.states == {"a.txt": "ok", "b.txt": "failed*", "c.txt": "upstream*"}
    assert w.progress["failed"] == 1
    notice = c.custom("notice")[-1]
    assert not notice["ok"]
    assert "1 ran · 1 failed · 1 upstream failed (failed: b.txt)" in notice["text"]
    assert w.progress["tally"] == "1 ran · 1 failed · 1 upstream failed"
    details = w.handle({"cmd": "details", "job": "b.txt", "req": 2})["details"]
    assert "ValueError: boom" in details["traceback"]
    assert "about to fail" in details["log_tail"]
    assert details["upstream"] == ["a.txt"] and details["downstream"] == ["c.txt"]
    assert "failed last time" in details["why"]
    assert details["kind"] == "file" and details["outputs"] == ["b.txt"]


def test_rerun_invalidates_and_runs_the_job_again(workdir: Path) -> None:
    pipeline = _abc()
    pipeline.run()
    w, c = _widget(pipeline)
    assert set(w.states.values()) == {"ok"}
    before = (workdir / "a.txt").stat().st_mtime_ns
    assert w.handle({"cmd": "rerun", "job": "a.txt", "req": 1})["ok"]
    _settle(w)
    assert (workdir / "a.txt").stat().st_mtime_ns != before
    assert set(w.states.values()) == {"ok"}
    assert "1 ran" in c.custom("notice")[-1]["text"]


def test_invalidate_marks_the_job_as_must_run(workdir: Path) -> None:
    pipeline = _abc()
    pipeline.run()
    w, _ = _widget(pipeline)
    assert w.handle({"cmd": "invalidate", "job": "b.txt", "req": 1})["ok"]
    assert w.states["b.txt"] == "none*"  # amber dashed border, no health until it runs


def test_status_changes_are_coalesced_and_the_graph_is_sent_once(workdir: Path) -> None:
    pipeline = ppg.new_pipeline()
    for i in range(500):
        ppg.FileGeneratingJob(f"f{i}.txt", _write(str(i)))
    w, c = _widget(pipeline)
    graphs = len(c.synced("graph"))
    w._on_event(Event("run_started", data=500))
    for i in range(500):
        w._on_event(Event("queued", f"f{i}.txt"))
        w._on_event(Event("running", f"f{i}.txt"))
        w._on_event(Event("done", f"f{i}.txt", Outcome.RAN))
    time.sleep(0.2)
    updates = [m for m in c.custom("status") if not m["full"]]
    assert 1 <= len(updates) <= 3  # 1,500 events, a few messages
    assert sum(len(m["states"]) for m in updates) == 500
    assert w.progress["done"] == 500
    assert len(c.synced("graph")) == graphs  # status never re-sends the graph


def test_a_new_job_changes_the_graph_after_the_next_run(workdir: Path) -> None:
    pipeline = _abc()
    w, _ = _widget(pipeline)
    ppg.FileGeneratingJob("d.txt", _write("d")).depends_on("c.txt")
    w.handle({"cmd": "run_all", "req": 1})
    _settle(w)
    assert [n[0] for n in w.graph["nodes"]][-1] == "d.txt"
    assert w.states["d.txt"] == "ok"


def test_closing_the_widget_stops_listening(workdir: Path) -> None:
    pipeline = _abc()
    w, _ = _widget(pipeline)
    assert w._on_event in pipeline.listeners
    w.close()
    assert w._on_event not in pipeline.listeners


# --- the magics ------------------------------------------------------------------------
@pytest.fixture
def shell(ip: Any, workdir: Path) -> Iterator[Any]:
    ip.run_line_magic("ppg_new", "--cores 2")
    yield ip


def test_ppg_dag_shows_the_notebooks_jobs_by_their_names(shell: Any) -> None:
    shell.run_cell("%%ppg_job raw\nraw = [1, 2, 3]\n")
    shell.run_cell("%%ppg_job total --no-run\ntotal = sum(raw)\n")
    w = shell.run_line_magic("ppg_dag", "")
    assert isinstance(w, PipelineWidget)
    assert [n[1] for n in w.graph["nodes"]] == ["raw", "total"]
    assert w.states == {"raw": "ok", "total": "none*"}
    assert w.handle({"cmd": "run", "job": "total", "req": 1})["ok"]
    _settle(w)
    assert shell.user_ns["total"] == 6  # a run from the widget binds the value
    w.close()


def test_ppg_run_background_returns_at_once_and_binds_values_when_done(
    shell: Any, workdir: Path
) -> None:
    shell.run_cell(f"go = {str(workdir / 'go')!r}")
    shell.run_cell(
        "%%ppg_job slow --no-run\nimport os, time\n"
        "while not os.path.exists(go):\n    time.sleep(0.01)\nslow = 42\n"
    )
    started = time.perf_counter()
    result = shell.run_cell("%ppg_run --background slow")
    assert result.error_in_exec is None
    assert time.perf_counter() - started < 2
    blocked = shell.run_cell("%ppg_run slow")
    assert "background run is in progress" in str(blocked.error_in_exec)
    (workdir / "go").touch()
    runs = shell.magics_manager.registry["PipelineMagics"].notebook.pipeline
    from ppg_notebook.background import runs_of

    runs_of(runs).join(60)
    assert shell.user_ns["slow"] == 42


def _copy_data(path: Path) -> None:
    path.write_text(Path("data.txt").read_text())


def test_the_details_list_the_files_a_job_read(workdir: Path) -> None:
    (workdir / "data.txt").write_text("some data")
    (workdir / "helpers.py").write_text("def shout(s):\n    return s.upper()\n")
    pipeline = ppg.new_pipeline(cores=1)
    ppg.FileGeneratingJob("copy.txt", _copy_data)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    import sys

    sys.path.insert(0, str(workdir))
    try:
        exec(
            "from helpers import shout\ndef loud(path):\n    path.write_text(shout('x'))", namespace
        )
        ppg.FileGeneratingJob("loud.txt", namespace["loud"])
        ppg.run()
    finally:
        sys.path.remove(str(workdir))
        sys.modules.pop("helpers", None)
    w = PipelineWidget(pipeline)
    copied = w.handle({"cmd": "details", "job": "copy.txt", "req": 1})["details"]
    assert copied["reads"] == ["data.txt"] and copied["modules"] == []
    loud = w.handle({"cmd": "details", "job": "loud.txt", "req": 2})["details"]
    assert loud["reads"] == [] and loud["modules"] == ["helpers"]
    assert "\n" not in copied["why"]


def _fan_out(n: int) -> ppg.Pipeline:
    #   in.txt ─┬─ out/0.txt
    #           ├─ …            (n of them: one group)
    #           └─ out/<n-1>.txt
    pipeline = ppg.new_pipeline(cores=2)
    source = ppg.FileGeneratingJob("in.txt", _write("in"))
    for i in range(n):
        ppg.FileGeneratingJob(f"out/{i}.txt", _write("x")).depends_on(source)
    return pipeline


def test_a_fan_out_is_one_group_that_expands_and_acts_on_all_its_members(workdir: Path) -> None:
    w, _c = _widget(_fan_out(30))
    assert [n[1] for n in w.graph["nodes"]] == ["in.txt", "out/*.txt ×30"]
    assert len(w.graph["jobs"]) == 31 and len(w.graph["edges"]) == 30
    key = w.graph["nodes"][1][0]
    assert w.handle({"cmd": "run", "job": key})["ok"]
    _settle(w)
    assert all(w.states[f"out/{i}.txt"] == "ok" for i in range(30))
    reply = w.handle({"cmd": "invalidate", "job": key})
    assert reply["ok"] and "out/*.txt ×30" in reply["message"]
    assert all(w.states[f"out/{i}.txt"] == "none*" for i in range(30))
    assert w.states["in.txt"] == "ok"
    assert w.handle({"cmd": "expand", "job": key})["ok"]
    assert len(w.graph["nodes"]) == 31
    assert not w.handle({"cmd": "expand", "job": "in.txt"})["ok"]
    assert w.handle({"cmd": "show_all"})["ok"] and len(w.graph["nodes"]) == 2


def test_focus_shows_only_the_jobs_up_and_downstream(workdir: Path) -> None:
    w, _c = _widget(_abc())
    ppg.FileGeneratingJob("other.txt", _write("o"))
    w.refresh()
    assert len(w.graph["nodes"]) == 4
    assert w.handle({"cmd": "focus", "job": "b.txt"})["ok"]
    assert [n[0] for n in w.graph["nodes"]] == ["a.txt", "b.txt", "c.txt"]
    assert w.graph["focus"] == "b.txt"
    w.handle({"cmd": "show_all"})
    assert len(w.graph["nodes"]) == 4 and w.graph["focus"] is None


def test_a_job_declared_or_removed_redraws_the_graph_without_a_run(workdir: Path) -> None:
    pipeline = _abc()
    w, _c = _widget(pipeline)
    ppg.FileGeneratingJob("d.txt", _write("d")).depends_on("c.txt")
    deadline = time.time() + 5
    while [n[0] for n in w.graph["nodes"]][-1:] != ["d.txt"]:
        assert time.time() < deadline, w.graph["nodes"]
        time.sleep(0.05)
    assert w.states["d.txt"] == "none*"
    pipeline.remove_job("d.txt")
    while "d.txt" in w.states:
        assert time.time() < deadline
        time.sleep(0.05)


def test_refresh_sees_an_output_deleted_by_hand(workdir: Path) -> None:
    w, _c = _widget(_abc())
    w.handle({"cmd": "run_all"})
    _settle(w)
    assert w.states["c.txt"] == "ok"
    (workdir / "c.txt").unlink()
    reply = w.handle({"cmd": "refresh"})
    assert reply["ok"] and w.states["c.txt"] == "ok*"


def test_downstream_of_an_invalidated_job_may_run(workdir: Path) -> None:
    w, _c = _widget(_abc())
    w.handle({"cmd": "run_all"})
    _settle(w)
    w.handle({"cmd": "invalidate", "job": "a.txt"})
    assert w.states["a.txt"] == "none*" and w.states["b.txt"] == "ok?"
    assert w.details("b.txt")["why"].startswith("may run")


def test_details_read_the_history_once_and_resolve_nothing(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = _abc()
    w, _c = _widget(pipeline)
    w.handle({"cmd": "run_all"})
    _settle(w)
    calls: list[str] = []
    load, graph = pipeline.history.load, pipeline._graph
    monkeypatch.setattr(pipeline.history, "load", lambda: calls.append("load") or load())
    monkeypatch.setattr(pipeline, "_graph", lambda *a: calls.append("graph") or graph(*a))
    reply = w.handle({"cmd": "details", "req": 1, "job": "b.txt"})  # (a click)
    assert calls == []
    details = reply["details"]
    assert details["upstream"] == ["a.txt"] and details["downstream"] == ["c.txt"]
    assert details["why"] == "up to date"
    w.close()


def test_the_page_is_told_the_words_of_status_py_for_each_state_code(workdir: Path) -> None:
    w, c = _widget(_abc())
    words = {"words": status.CODE_WORDS, "meanings": status.CODE_MEANINGS}
    assert w.words == words
    assert c.synced("words") == [words]  # once
    w.close()


def test_a_job_reading_one_of_several_values_is_drawn_reading_their_job(workdir: Path) -> None:
    pipeline = ppg.new_pipeline(dir=str(workdir / ".ppg"), cores=1)
    split = ppg.MultiValueJob("split", ["train", "test"], lambda: {"train": 1, "test": 2})
    ppg.FileGeneratingJob(str(workdir / "score.txt"), lambda p: p.write_text("s")).depends_on(
        split.part("test"), split.part("train")
    )
    w = PipelineWidget(pipeline)
    names = [n[1] for n in w.graph["nodes"]]
    assert not [n for n in names if n.startswith("value:")]
    assert len(w.graph["edges"]) == 1  # split -> score.txt, once
    w.close()


def test_the_toolbar_counts_running_jobs_by_cores_and_ends_with_the_runs_tally(
    workdir: Path,
) -> None:
    pipeline = ppg.new_pipeline(cores=2)
    for i in range(40):
        ppg.FileGeneratingJob(f"f{i}.txt", _write(str(i)))
    w, _ = _widget(pipeline)
    w._on_event(Event("run_started", data=40))
    for i in range(40):  # a batch of 40 sent to the workers: said running, 2 run at once
        w._on_event(Event("running", f"f{i}.txt"))
    w.flush()
    assert (w.progress["running"], w.progress["queued"]) == (2, 38)
    w._on_event(Event("run_finished", data=pipeline.run()))
    _settle(w)
    assert w.progress["tally"] == "40 ran"
    w.close()
