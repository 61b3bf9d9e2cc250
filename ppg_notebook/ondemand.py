"""Jobs that run only when a dependant that runs needs them, and go away after.

A loading job (DataLoadingJob, a cached value's loader) or a temporary file's job
(TempFileGeneratingJob) is "lazy": its dependants are decided without it, and it runs only
once one of them must. This module keeps, for one run, which of them were started and for
whom (a dependant waits until all the lazy jobs it reads from are loaded; one that failed
fails its waiters), and how many dependants still need a temporary file before it is
removed.
"""

from __future__ import annotations

RUNNING = "running"
OK = "ok"
FAILED = "failed"


class OnDemand:
    def __init__(self) -> None:
        self.state: dict[str, str] = {}  # lazy job -> RUNNING, OK, FAILED
        self.waiters: dict[str, list[str]] = {}  # lazy job -> the jobs waiting for it
        self.blocked: dict[str, int] = {}  # waiting job -> how many lazy jobs it waits for
        self.users: dict[str, int] = {}  # lazy job -> dependants not settled yet

    def wait(self, job_id: str, lazy: list[str]) -> list[str]:
        """`job_id` must run and reads from the `lazy` jobs (not loaded yet): it waits for
        them. Returns the ones nothing had started, now marked running."""
        self.blocked[job_id] = len(lazy)
        start = []
        for u in lazy:
            self.waiters.setdefault(u, []).append(job_id)
            if u not in self.state:
                self.state[u] = RUNNING
                start.append(u)
        return start

    def loaded(self, lazy: str, ok: bool) -> list[str]:
        """`lazy` has run (`ok`) or failed. If it ran, the waiters that now wait for
        nothing more; if it failed, all of its waiters (which cannot run)."""
        self.state[lazy] = OK if ok else FAILED
        ready = []
        for waiter in self.waiters.pop(lazy, ()):
            if not ok:
                ready.append(waiter)
                continue
            self.blocked[waiter] -= 1
            if self.blocked[waiter] == 0:
                del self.blocked[waiter]
                ready.append(waiter)
        return ready

    def is_loaded(self, lazy: str) -> bool:
        return self.state.get(lazy) == OK

    def ran(self, lazy: str) -> bool:
        """Whether this run started `lazy` (then its temporary files are its own to remove)."""
        return lazy in self.state

    def used_by_one(self, lazy: str) -> bool:
        """A dependant of `lazy` settled: True if none is left that may need it."""
        self.users[lazy] -= 1
        if self.users[lazy] == 0:
            del self.users[lazy]
            return True
        return False

    def unused(self) -> list[str]:
        """The end of a run: the lazy jobs whose dependants did not all settle (their
        temporary files go too)."""
        left = list(self.users)
        self.users.clear()
        return left
