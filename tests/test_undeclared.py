"""The warnings about what a job read or wrote without saying so (undeclared.py): each
names the job, the file, and how to declare it."""

from __future__ import annotations

from pathlib import Path

import pytest
from inprocess import InProcessWorkers

import ppg_notebook as ppg
from ppg_notebook import reads
from ppg_notebook.undeclared import warnings

W = "/w"
PRODUCERS = {"/w/raw.txt": "raw.txt", "/w/mine.txt": "reader.txt"}
STAT = [1, 2, "h"]


def _never() -> set[str]:
    raise AssertionError("the upstream is looked at only for a file another job writes")


def test_nothing_found_is_no_warning() -> None:
    assert warnings("reader.txt", reads.NOTHING, PRODUCERS, W, _never) == []
    found = reads.Found({"/w/data.csv": STAT, "mine.txt": STAT}, ())
    assert warnings("reader.txt", found, PRODUCERS, W, _never) == []  # (no job writes them)


def test_reading_another_jobs_output_without_depending_on_it() -> None:
    found = reads.Found({"raw.txt": STAT}, ())
    (said,) = warnings("reader.txt", found, PRODUCERS, W, set)
    assert said.startswith(
        "job 'reader.txt' read 'raw.txt', which job 'raw.txt' writes, but does not depend on it"
    )
    assert "Declare the dependency" in said and "--deps raw.txt" in said
    # Not when that job is upstream, directly or not.
    assert warnings("reader.txt", found, PRODUCERS, W, lambda: {"raw.txt"}) == []


def test_an_undeclared_write_says_whose_output_it_is_and_how_to_declare_it() -> None:
    found = reads.Found({}, ("extra.txt", "/w/raw.txt"))
    extra, other = warnings("reader.txt", found, PRODUCERS, W, _never)
    assert extra.startswith(
        "job 'reader.txt' wrote 'extra.txt' which is not one of its declared outputs"
    )
    assert "Declare it as an output (MultiFileGeneratingJob, or --out" in extra
    assert "which is job 'raw.txt''s output," in other


def test_unreadable_and_dropped_reads_say_what_to_do() -> None:
    found = reads.Found({"a": STAT, "b": STAT}, (), dropped=3, unreadable=("secret.txt",))
    unreadable, dropped = warnings("job", found, {}, W, _never)
    assert "job 'job' read 'secret.txt', which cannot be read to fingerprint it" in unreadable
    assert "read 5 files under the project" in dropped and "only 2 are tracked" in dropped
    assert "job.ignore_reads(DIRECTORY)" in dropped


def test_a_run_warns_of_a_read_of_another_jobs_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    pipeline = ppg.new_pipeline(cores=1, allow_redefinition=True)
    pipeline.workers = InProcessWorkers(1)
    (tmp_path / "input.csv").write_text("x")
    ppg.FileGeneratingJob("raw.txt", lambda p: p.write_text("raw"))
    pipeline.run()

    def reads_raw(path: Path) -> None:
        path.write_text(Path("raw.txt").read_text() + Path("input.csv").read_text())

    ppg.FileGeneratingJob("reader.txt", reads_raw)
    with pytest.warns(ppg.PipelineWarning) as caught:
        result = pipeline.run()
    said = [w for w in result.warnings if "reader.txt" in w]
    assert len(said) == 1 and "which job 'raw.txt' writes" in said[0], result.warnings
    assert any("raw.txt" in str(w.message) for w in caught)
    # Declared, it is an input like any other: no warning (which would be an error here).
    ppg.FileGeneratingJob("reader.txt", reads_raw).depends_on("raw.txt")
    result = pipeline.run()
    assert result.warnings == []
