"""Job and invariant ids (ids.py): one spelling, read back the same way everywhere."""

from __future__ import annotations

from pathlib import Path

import pytest

import ppg_notebook as ppg
from ppg_notebook import ids


def test_each_kind_of_id_reads_back_as_what_the_user_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    ppg.new_pipeline()
    (tmp_path / "in.csv").write_text("x")
    made = {
        ppg.ParameterInvariant("alpha", 1).job_id: ("alpha", True),
        ppg.FunctionInvariant("helper", len).job_id: ("helper", True),
        ppg.FileInvariant("in.csv").job_id: ("in.csv", True),
        ppg.FileGeneratingJob("out/a.txt", lambda p: None).job_id: ("out/a.txt", False),
        ppg.MultiFileGeneratingJob(["b.txt", "c.txt"], lambda p: None).job_id: (
            "b.txt:::c.txt",
            False,
        ),
    }
    for job_id, (name, invariant) in made.items():
        assert ids.name_of(job_id) == name
        assert ids.is_invariant(job_id) is invariant
    assert ids.value_part("split", "X1") == "value:split.X1"
    assert ids.is_invariant(ids.value_part("split", "X1"))


def test_no_id_is_the_key_of_a_jobs_own_code() -> None:
    # (a job named "x" that depends on FunctionInvariant("x", ...) once did not rerun
    # when that function changed: its own code was keyed "FI:x" too)
    assert ids.OWN_CODE == "" and ids.old_own_code("x") == ids.function("x")
