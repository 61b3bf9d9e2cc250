"""What ran, with which fingerprints: one durable record per job (sqlite in WAL mode).

A record is committed when its job ends, so killing the process at any instant loses at most
the jobs that were running. A history that cannot be read (corrupt, or not ours) is moved
aside with a warning, never silently ignored and never a crash.

A record is a small dict:
    o    outcome: "ok", "failed" or "invalidated"
    i    input fingerprints consumed: {upstream id, or "" for its own code: fingerprint}
    out  outputs as written: [[absolute path, mtime_ns, size, content hash], ...]
    fp   the job's output fingerprint (what dependants consume)
    t, d start (epoch seconds) and duration (seconds)
    e    the error, for failed jobs
    c    for its code inputs ("" its own): {input key: digest of the user's code it
         covered}; the pieces behind a digest (function -> fingerprint) and the modules
         they lie in are kept once, in table `code`, so that thousands of jobs of one
         function share them (SPEC §3a)
    r    files it read at run time: {path: [mtime_ns, size, content hash or None]}
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
import warnings
from collections.abc import Iterable
from typing import Any

from . import hashing
from .errors import PipelineError, PipelineWarning
from .records import Record, Records, stored_text

FORMAT = "ppg_notebook-history"
# Version 2 stores records with a summary first (records.stored_text). A version-1 history
# is read, and marked version 2: a program of version 1 would keep a stale summary when it
# changes a record in place, so it refuses a version-2 history (and starts a new one).
VERSION = "2"
_UPGRADED = ("1",)  # the versions read as this one


class History:
    """The durable per-job records of one pipeline directory."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._code: dict[str, dict[str, Any]] = {}
        self._conn = self._open()

    def _open(self) -> sqlite3.Connection:
        with contextlib.suppress(OSError):
            if os.path.getsize(self.path) == 0:  # (sqlite would take it for a new one)
                msg = (
                    f"the pipeline history {self.path} is empty (truncated?): what ran before "
                    f"is not known, so every job runs again once"
                )
                warnings.warn(msg, PipelineWarning, stacklevel=4)
        try:
            return self._connect()
        except sqlite3.OperationalError as e:  # the disk, not the file: left as it is
            raise self._unusable("opened", e) from e
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
                version = meta.get("version")
                if version in _UPGRADED:
                    conn.execute("UPDATE meta SET value = ? WHERE key = 'version'", (VERSION,))
                elif version != VERSION:
                    raise _Foreign(f"it has format version {version}, not {VERSION}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("CREATE TABLE IF NOT EXISTS code (digest TEXT PRIMARY KEY, items TEXT)")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS modules (path TEXT PRIMARY KEY, stat TEXT, data TEXT)"
            )
            conn.execute("CREATE TABLE IF NOT EXISTS declared (id TEXT PRIMARY KEY)")
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

    def load(self) -> Records:
        """All records, by job id (parsed when read, see records.py)."""
        try:
            text = {}
            with self._lock:  # (row by row: 100,000 rows are not held twice)
                for stored, rec in self._conn.execute("SELECT id, rec FROM jobs"):
                    if type(rec) is not str or rec[:1] != "{" or rec[-1:] != "}":
                        raise ValueError(f"the record of {_id(stored)!r} is not a record")
                    text[stored if type(stored) is str else _id(stored)] = rec
            return Records(text)
        except sqlite3.OperationalError as e:
            raise self._unusable("read", e) from e
        except (ValueError, sqlite3.DatabaseError) as e:  # (a truncated file)
            self._conn.close()
            aside = self._move_aside()
            msg = (
                f"the pipeline history {self.path} holds an unreadable record ({e}); it was "
                f"moved aside to {aside} and a new one started, so every job runs again once."
            )
            warnings.warn(msg, PipelineWarning, stacklevel=3)
            self._conn = self._connect()
            return Records()

    def put(
        self,
        records: Iterable[tuple[str, Record]],
        code: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        """Commit records, and what is behind the code digests they name (one
        transaction); a crash leaves all or none of them."""
        rows = [(_key(job_id), stored_text(rec)) for job_id, rec in records]
        pieces = [(d, json.dumps(part, separators=(",", ":"))) for d, part in (code or {}).items()]
        if not rows and not pieces:
            return
        with self._lock:
            conn = self._conn
            try:
                conn.execute("BEGIN")
                conn.executemany("INSERT OR IGNORE INTO code VALUES (?, ?)", pieces)
                conn.executemany("INSERT OR REPLACE INTO jobs VALUES (?, ?)", rows)
                conn.execute("COMMIT")
            except BaseException as e:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")  # (the connection stays usable)
                if isinstance(e, sqlite3.Error):
                    done = f"written ({len(rows)} finished job(s) not recorded)"
                    raise self._unusable(done, e) from e
                raise

    def _unusable(self, done: str, e: sqlite3.Error) -> PipelineError:
        msg = (
            f"the pipeline history {self.path} could not be {done}: {e}. Free some disk "
            f"space (or make {os.path.dirname(self.path)} writable) and run again; nothing "
            f"recorded is lost, a job that was not recorded runs again"
        )
        return PipelineError(msg)

    # --- what the most recent run declared (for `ppg-notebook du` and `gc`) -------------
    def set_declared(self, job_ids: list[str]) -> None:
        """Remember the jobs the pipeline declared in this run (written only if changed)."""
        digest = hashing.hash_text("\n".join(job_ids))
        with self._lock:
            conn = self._conn
            row = conn.execute("SELECT value FROM meta WHERE key = 'declared'").fetchone()
            if row is not None and row[0] == digest:
                return
            try:
                conn.execute("BEGIN")
                conn.execute("DELETE FROM declared")
                conn.executemany(  # (row by row: 100,000 rows are not held at once)
                    "INSERT OR IGNORE INTO declared VALUES (?)", ((_key(j),) for j in job_ids)
                )
                conn.execute("INSERT OR REPLACE INTO meta VALUES ('declared', ?)", (digest,))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def declared(self) -> set[str] | None:
        """The jobs the most recent run declared (None if no run said)."""
        with self._lock:
            if self._conn.execute("SELECT 1 FROM meta WHERE key = 'declared'").fetchone() is None:
                return None
            rows = self._conn.execute("SELECT id FROM declared").fetchall()
        return {_id(row[0]) for row in rows}

    def delete(self, job_ids: list[str]) -> None:
        """Forget these jobs' records (one transaction)."""
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN")
            try:
                conn.executemany("DELETE FROM jobs WHERE id = ?", [(_key(j),) for j in job_ids])
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def code(self, digest: str) -> dict[str, Any]:
        """What is behind a code digest a record names: {"pieces": {piece: fingerprint},
        "modules": [...]} (empty if unknown)."""
        found = self._code.get(digest)
        if found is None:
            with self._lock:
                row = self._conn.execute(
                    "SELECT items FROM code WHERE digest = ?", (digest,)
                ).fetchone()
            try:
                found = json.loads(row[0]) if row else {}
            except ValueError:
                found = {}
            if not isinstance(found, dict):
                found = {}
            self._code[digest] = found
        return found

    def pieces(self, digest: str) -> dict[str, str] | None:
        """The pieces of the user's code behind a digest (None if unknown)."""
        return self.code(digest).get("pieces")

    def modules(self, record: Record | None) -> list[str]:
        """The user modules the code of a job's last run reached."""
        found: set[str] = set()
        for digest in (record or {}).get("c", {}).values():
            if isinstance(digest, str):
                found.update(self.code(digest).get("modules", ()))
        return sorted(found)

    # --- parsed user modules (modsource.Store) -------------------------------------------
    def module_source(self, path: str, stat: tuple[int, int]) -> Any:
        """A user module as parsed when its file had this `stat` (None if not kept)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT stat, data FROM modules WHERE path = ?", (_key(path),)
            ).fetchone()
        if row is None or row[0] != json.dumps(list(stat)):
            return None
        try:
            return json.loads(row[1])
        except ValueError:
            return None

    def keep_module_source(self, path: str, stat: tuple[int, int], data: Any) -> None:
        text = json.dumps(data, separators=(",", ":"))
        with self._lock, contextlib.suppress(sqlite3.Error):  # (a cache: read again if lost)
            self._conn.execute(
                "INSERT OR REPLACE INTO modules VALUES (?, ?, ?)",
                (_key(path), json.dumps(list(stat)), text),
            )

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _key(text: str) -> str | bytes:
    """A job id or path as stored: text, or the file name's bytes when it is not valid
    UTF-8 (Python decodes such names with surrogate escapes, which sqlite cannot store)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return text.encode(errors="surrogatepass")
    return text


def _id(stored: str | bytes) -> str:
    return stored if isinstance(stored, str) else stored.decode(errors="surrogatepass")


class _Foreign(Exception):
    """The file is an sqlite database, but not a history of ours."""
