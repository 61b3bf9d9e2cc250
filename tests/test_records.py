"""The history's records in memory (records.py): text until read, the same dict while it
is held, text again once the runner is done with it."""

from __future__ import annotations

import json

import pytest

from ppg_notebook.errors import PipelineWarning
from ppg_notebook.records import Records

A = {"o": "ok", "fp": "f1", "i": {"": "code"}, "out": [["/x/a", 1, 2, "h"]]}


def _records(**records: dict) -> Records:
    return Records({job_id: json.dumps(rec) for job_id, rec in records.items()})


def test_a_record_is_parsed_when_read_and_the_same_dict_while_held() -> None:
    records = _records(a=A, b={"o": "failed"})
    assert len(records) == 2 and set(records) == {"a", "b"} and "a" in records
    first = records["a"]
    assert first == A
    first["out"][0][1] = 5  # (a refreshed stat, written later)
    assert records.get("a") is first and records["a"]["out"][0][1] == 5
    assert records.get("missing") is None and "missing" not in records
    with pytest.raises(KeyError):
        records["missing"]


def test_forget_lets_go_of_the_parsed_record_and_keeps_its_text() -> None:
    records = _records(a=A)
    first = records["a"]
    records.forget("a")
    again = records["a"]
    assert again == A and again is not first


def test_a_record_set_or_written_is_what_is_read() -> None:
    records = _records(a=A)
    records["a"] = {"o": "failed", "e": "boom"}
    assert records["a"]["o"] == "failed"
    records.forget("a")  # (no text for it: the dict is all there is)
    assert records["a"]["e"] == "boom"
    records["new"] = {"o": "ok", "fp": "n"}
    records.written("new", json.dumps({"o": "ok", "fp": "n"}))
    assert records["new"] == {"o": "ok", "fp": "n"} and len(records) == 2
    del records["a"]
    assert set(records) == {"new"}
    assert dict(records.items()) == {"new": {"o": "ok", "fp": "n"}}


def test_a_record_that_cannot_be_parsed_is_missing_with_a_warning_naming_its_job() -> None:
    records = Records({"a.txt": '{"o": "ok", "fp": }', "b": json.dumps(A)})
    with pytest.warns(PipelineWarning, match=r"record of job 'a.txt' cannot be read"):
        assert records.get("a.txt") is None
    assert "a.txt" not in records and set(records) == {"b"}


def test_an_old_record_reads_its_jobs_own_code_under_its_new_key() -> None:
    old = {"o": "ok", "fp": "f", "i": {"FI:a": "code", "PI:p": "v"}}
    assert _records(a=old)["a"]["i"] == {"": "code", "PI:p": "v"}
