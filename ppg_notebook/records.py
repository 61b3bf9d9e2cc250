"""The history's records in memory: kept as the JSON text they are stored as, until read.

A record is a small dict (see history.py), but 100,000 of them as dicts of lists and
strings were most of the memory of a run with nothing to do (about 1.2 kB each, against
about 0.3 kB of text). `Records` holds each one as its text and parses it when it is
first read. A run lets go of each record once it is done with it (`done`): of a job
decided up to date, and of one whose new record it has written (the history has it), so
the records a run holds shrink as it goes. Reading the same record twice gives the same
dict, so a change made in place (a refreshed stat) is kept until it is written.

A record that a run with nothing to do can take as it is (it ran well, read no file at
run time) is stored with a summary in front (`stored_text`): the digest of what the job
consumed and the stat of what it wrote, and its output fingerprint. Such a run compares
that digest with what the job consumes now and the stat of its outputs now
(`unchanged`), without parsing the record: parsing 100,000 records was a fifth of
such a run. The summary is in the stored text only, never in a parsed record.

Records written before a job's own code had its input key "" are read with the key
changed (see `_own_code_under_its_key`). A record whose text cannot be parsed is taken
as missing, with a warning naming its job: that job runs again.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from typing import Any, Literal, TypedDict

from . import hashing, ids
from .errors import PipelineWarning

Outcome = Literal["ok", "failed", "invalidated"]


class Record(TypedDict, total=False):
    """One job's record: what its last run did (history.py keeps it as JSON)."""

    o: Outcome  # how it ended
    i: dict[str, str]  # what it consumed: upstream id ("" its own code) -> fingerprint
    out: list[list[Any]]  # its outputs as written: [absolute path, mtime_ns, size, hash]
    fp: str  # its output fingerprint (what dependants consume)
    t: float  # when it started (epoch seconds)
    d: float  # how long it took (seconds)
    e: str  # the error, if it failed ("Type: message")
    c: dict[str, str]  # code input key -> digest of the user's code it covered
    r: dict[str, list[Any]]  # files it read at run time: path -> [mtime_ns, size, hash]


# The C scanner json.loads uses, without its per-call checks (a call per record).
_scan = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[attr-defined]
# (json.dumps with separators makes an encoder per call: a tenth of a cold run's recording)
_compact = json.JSONEncoder(separators=(",", ":")).encode
_SUMMARY = '{"q":"'  # (how a stored record with a summary begins)


def stored_text(record: Record) -> str:
    """The JSON text a record is stored as: with its summary first, when it has one (and
    never with one it holds: only the record itself says what its summary is)."""
    if "q" in record:
        record = {k: v for k, v in record.items() if k != "q"}  # type: ignore[assignment]
    summary = _summary_of(record)
    if summary is None:
        return _compact(record)
    return _compact({"q": summary, **record})


def _summary_of(record: Mapping[str, Any]) -> str | None:
    """ "<digest>:<output fingerprint>" of a record a run with nothing to do can take as
    it is (see `summary_digest`), else None."""
    if record.get("o") != "ok" or record.get("r"):
        return None
    fp, inputs, out = record.get("fp"), record.get("i"), record.get("out")
    if type(fp) is not str or not (fp.isascii() and fp.isalnum()) or not inputs or not out:
        return None  # (a fingerprint that JSON would escape is not read back by slicing)
    try:
        digest = summary_digest(inputs, [(o[0], o[1], o[2]) for o in out])
    except (TypeError, IndexError, KeyError):  # (a damaged record: read it in full)
        return None
    return None if digest is None else f"{digest}:{fp}"


def summary_digest(
    inputs: Mapping[str, str], outputs: Sequence[tuple[str, int, int]]
) -> str | None:
    """The digest of what a job consumes (input key -> fingerprint, in order) and of its
    outputs' (path, mtime_ns, size); None if a key or value holds a NUL, which separates
    them here."""
    parts = [str(len(inputs))]
    for key, value in inputs.items():
        if "\0" in key or type(value) is not str or "\0" in value:
            return None
        parts.append(key)
        parts.append(value)
    for path, mtime, size in outputs:
        parts.append(f"{path}\0{mtime}\0{size}")
    return hashing.hash_text("\0".join(parts))


def unchanged(text: str, digest: str) -> str | None:
    """The output fingerprint of the record stored as `text` (see `Records.summary`) if
    its summary is `digest` (the job consumes and has written what the record says),
    read without parsing it."""
    start = len(_SUMMARY) + len(digest) + 1
    if text[len(_SUMMARY) : start] != digest + ":":
        return None
    end = text.find('"', start)
    return text[start:end] if end > start else None


class Records(MutableMapping[str, Record]):
    """Records by job id: text until read (`text`: job id -> the record's JSON)."""

    __slots__ = ("_parsed", "_text")

    def __init__(self, text: dict[str, str] | None = None) -> None:
        self._text = text if text is not None else {}
        self._parsed: dict[str, Record] = {}

    def __getitem__(self, job_id: str) -> Record:
        record = self.get(job_id)
        if record is None:
            raise KeyError(job_id)
        return record

    def get(self, job_id: str, default: Any = None) -> Any:  # (the hot path, kept fast)
        record = self._parsed.get(job_id)
        if record is not None:
            return record
        text = self._text.get(job_id)
        if text is None:
            return default
        try:
            record = self._parse(job_id, text)
        except KeyError:  # (unreadable: taken as missing)
            return default
        self._parsed[job_id] = record
        return record

    def __setitem__(self, job_id: str, record: Record) -> None:
        self._parsed[job_id] = record
        self._text.pop(job_id, None)

    def __delitem__(self, job_id: str) -> None:
        found = self._parsed.pop(job_id, None) is not None
        found = self._text.pop(job_id, None) is not None or found
        if not found:
            raise KeyError(job_id)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._parsed or job_id in self._text

    def __iter__(self) -> Iterator[str]:
        yield from self._parsed
        yield from (job_id for job_id in list(self._text) if job_id not in self._parsed)

    def __len__(self) -> int:
        return len(self._text) + sum(1 for job_id in self._parsed if job_id not in self._text)

    def __repr__(self) -> str:
        return f"Records({len(self)} records)"

    # --- a run with nothing to do -------------------------------------------------------
    def summary(self, job_id: str) -> str | None:
        """The record's stored text, if it is stored with a summary and was not read
        since (read, it may have changed in place): for `unchanged`."""
        text = self._text.get(job_id)
        if text is None or not text.startswith(_SUMMARY) or job_id in self._parsed:
            return None
        return text

    def summarised(self, job_id: str) -> bool:
        """Whether the record is stored with its summary (see `stored_text`)."""
        text = self._text.get(job_id)
        return text is not None and text.startswith(_SUMMARY)

    def lacks_summary(self, job_id: str, record: Record) -> bool:
        """Whether the job's record (`record`, as read) could be stored with a summary
        but is not: written before summaries were (writing it again adds one)."""
        return not self.summarised(job_id) and _summary_of(record) is not None

    # --- memory ------------------------------------------------------------------------
    def done(self, job_id: str) -> None:
        """A run will not read this record again (its job was decided up to date, or its
        new record is in the history): let go of it altogether."""
        self._parsed.pop(job_id, None)
        self._text.pop(job_id, None)

    # --- reading -----------------------------------------------------------------------
    def _parse(self, job_id: str, text: str) -> Record:
        try:
            record, end = _scan(text, 0)
            if not isinstance(record, dict) or text[end:].strip():
                raise ValueError("not a record")
        except (ValueError, StopIteration) as e:
            del self._text[job_id]
            msg = (
                f"the history's record of job {job_id!r} cannot be read ({e}); it is "
                f"taken as missing, so that job runs again"
            )
            warnings.warn(msg, PipelineWarning, stacklevel=4)
            raise KeyError(job_id) from None
        # (the JSON text of a Record: what was written is what is read)
        record.pop("q", None)  # (its summary: the stored text's, see stored_text)
        _own_code_under_its_key(job_id, record)  # type: ignore[arg-type]
        return record  # type: ignore[return-value]


def _own_code_under_its_key(job_id: str, record: Record) -> None:
    """Records written before a job's own code had its key "" hold it under "FI:" + the
    job's id (also a FunctionInvariant's id): read as "", so that nothing reruns for the
    change of key (a job that also depended on a FunctionInvariant of that name, whose
    fingerprint the old key hid, runs once: it now depends on it)."""
    inputs = record.get("i")
    if inputs and ids.OWN_CODE not in inputs:
        old = ids.old_own_code(job_id)
        if old in inputs:
            inputs[ids.OWN_CODE] = inputs.pop(old)
