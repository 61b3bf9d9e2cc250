"""What ran, with which fingerprints: one durable record per job (sqlite in WAL mode).

A record is committed when its job ends, so killing the process at any instant loses at most
the jobs that were running. A history that cannot be read (corrupt, or not ours) is moved
aside with a warning, never silently ignored and never a crash.

A record is a small dict:
    o    outcome: "ok", "failed" or "invalidated"
    i    input fingerprints consumed: {upstream id or "FI:<own id>": fingerprint}
    out  outputs as written: [[absolute path, mtime_ns, size, content hash], ...]
    fp   the job's output fingerprint (what dependants consume)
    t, d start (epoch seconds) and duration (seconds)
    e    the error, for failed jobs
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import warnings
from collections.abc import Iterable
from typing import Any

from .errors import PipelineWarning

FORMAT = "ppg_notebook-history"
VERSION = "1"

Record = dict[str, Any]


class History:
    """The durable per-job records of one pipeline directory."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn = self._open()

    def _open(self) -> sqlite3.Connection:
        try:
            return self._connect()
        except (sqlite3.DatabaseError, _Foreign) as e:
            aside = self._move_aside()
            msg = (
                f"the pipeline history {self.path} could not be read ({e}); it was moved "
                f"aside to {aside} and a new one started, so every job runs again once. "
                f"Delete {aside} when you no longer need it."
            )
            warnings.warn(msg, PipelineWarning, stacklevel=4)
            return self._connect()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            # Look before writing anything: a database that is not ours stays untouched.
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            if tables:
                if not {"meta", "jobs"} <= tables:
                    raise _Foreign("it is not a ppg_notebook history")
                meta = dict(conn.execute("SELECT key, value FROM meta"))
                if meta.get("format") != FORMAT:
                    raise _Foreign("it is not a ppg_notebook history")
                if meta.get("version") != VERSION:
                    raise _Foreign(f"it has format version {meta.get('version')}, not {VERSION}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            if not tables:
                conn.executescript(
                    "BEGIN;"
                    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);"
                    "CREATE TABLE jobs (id TEXT PRIMARY KEY, rec TEXT NOT NULL);"
                    f"INSERT INTO meta VALUES ('format', '{FORMAT}'), ('version', '{VERSION}');"
                    "COMMIT;"
                )
        except BaseException:
            conn.close()
            raise
        return conn

    def _move_aside(self) -> str:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = f"{self.path}.unreadable-{stamp}"
        os.replace(self.path, aside)
        for suffix in ("-wal", "-shm"):
            if os.path.exists(self.path + suffix):
                os.replace(self.path + suffix, aside + suffix)
        return aside

    def load(self) -> dict[str, Record]:
        """All records, by job id."""
        with self._lock:
            rows = self._conn.execute("SELECT id, rec FROM jobs").fetchall()
        loads = json.loads
        try:
            return {job_id: loads(rec) for job_id, rec in rows}
        except ValueError as e:
            self._conn.close()
            aside = self._move_aside()
            msg = (
                f"the pipeline history {self.path} holds an unreadable record ({e}); it was "
                f"moved aside to {aside} and a new one started, so every job runs again once."
            )
            warnings.warn(msg, PipelineWarning, stacklevel=3)
            self._conn = self._connect()
            return {}

    def put(self, records: Iterable[tuple[str, Record]]) -> None:
        """Commit records (one transaction); a crash leaves all or none of them."""
        rows = [(job_id, json.dumps(rec, separators=(",", ":"))) for job_id, rec in records]
        if not rows:
            return
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN")
            conn.executemany("INSERT OR REPLACE INTO jobs VALUES (?, ?)", rows)
            conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class _Foreign(Exception):
    """The file is an sqlite database, but not a history of ours."""
