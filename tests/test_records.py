"""The history's records in memory (records.py): text until read, the same dict while it
is held, let go of once the run is done with it."""

from __future__ import annotations

import json

import pytest

from ppg_notebook.errors import PipelineWarning
from ppg_notebook.records import Records, stored_text, summary_digest, unchanged

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


def test_done_lets_go_of_a_record_read_or_set() -> None:
    records = _records(a=A, b=A)
    records["a"]  # (parsed)
    records["c"] = {"o": "ok", "fp": "n"}  # (set by the run, not yet in the history)
    for job_id in ("a", "b", "c"):
        records.done(job_id)
        assert job_id not in records and records.get(job_id) is None
    assert len(records) == 0


def test_a_record_set_is_what_is_read() -> None:
    records = _records(a=A)
    records["a"] = {"o": "failed", "e": "boom"}
    assert records["a"]["o"] == "failed" and records.get("a")["e"] == "boom"
    records["new"] = {"o": "ok", "fp": "n"}
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


def test_a_record_a_run_can_take_as_it_is_is_stored_with_its_summary_first() -> None:
    """The summary (digest of inputs and output stats, then the output fingerprint) leads
    the stored text; `unchanged` answers the fingerprint for that digest only, of the text
    `summary` gives only while the record is not parsed (it may then change in place);
    parsing drops it."""
    text = stored_text(A)  # type: ignore[arg-type]
    digest = summary_digest(A["i"], [("/x/a", 1, 2)])
    assert digest is not None and text.startswith(f'{{"q":"{digest}:f1"')
    records = Records({"a": text})
    assert records.summarised("a") and records.summary("a") == text
    assert unchanged(text, digest) == "f1"
    assert unchanged(text, summary_digest(A["i"], [("/x/a", 1, 3)]) or "") is None
    assert unchanged(text, summary_digest({"": "other"}, [("/x/a", 1, 2)]) or "") is None
    assert records["a"] == A  # (no summary in the record read)
    assert records.summary("a") is None  # (parsed: its dict is the truth now)
    assert records.summarised("a")  # (as stored)
    assert records.summary("missing") is None
    stale = {"q": "0" * 32 + ":old", **A, "out": [["/x/a", 9, 9, "h"]]}  # (held, not its own)
    assert stored_text(stale) == stored_text({k: v for k, v in stale.items() if k != "q"})  # type: ignore[arg-type]
    assert not stored_text({"q": "0" * 32 + ":old", "o": "failed"}).startswith('{"q"')  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "record",
    [
        {**A, "o": "failed"},
        {**A, "r": {"data.csv": [1, 2, "h"]}},  # (read files: their stat is checked too)
        {**A, "fp": 'a"b'},  # (JSON would escape it: not read back by slicing)
        {**A, "i": {"a\0b": "x"}},  # (a NUL separates the digest's parts)
        {**A, "out": []},
        {**A, "out": [["/x/a"]]},  # (damaged)
        {"o": "ok", "fp": "f1"},
    ],
    ids=["failed", "reads", "quoted-fp", "nul", "no-outputs", "damaged", "no-inputs"],
)
def test_a_record_that_must_be_read_in_full_has_no_summary(record: dict) -> None:
    text = stored_text(record)  # type: ignore[arg-type]
    assert not text.startswith('{"q"') and json.loads(text) == record
    assert not Records({"a": text}).summarised("a") and Records({"a": text}).summary("a") is None
