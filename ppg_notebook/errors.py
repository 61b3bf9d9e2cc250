"""The exception hierarchy: every error the engine raises on purpose is a PipelineError."""

from __future__ import annotations


class PipelineError(Exception):
    """Base class of every error ppg_notebook raises on purpose."""


class JobsFailed(PipelineError):
    """One or more jobs failed; raised after all runnable work finished.

    `.exceptions` maps each failed job id to its exception; `.result` is the RunResult.
    """

    def __init__(self, message: str, exceptions: dict[str, BaseException], result: object = None):
        super().__init__(message)
        self.exceptions = exceptions
        self.result = result


class CycleError(PipelineError):
    """The jobs' dependencies form a cycle; `.cycle` lists the job ids on it."""

    def __init__(self, message: str, cycle: list[str]):
        super().__init__(message)
        self.cycle = cycle


class JobContractError(PipelineError):
    """A job broke its promise: an output not written, empty, a loader returning None, ..."""


class JobRedefinitionError(PipelineError):
    """The same job id (or the same output file) was declared twice in incompatible ways."""


class DependencyError(PipelineError):
    """A dependency cannot be resolved: no job produces that path and no such file exists."""


class PipelineLocked(PipelineError):
    """Another process is running a pipeline on the same directory."""


class WorkerDied(PipelineError):
    """The worker process running a job died (segfault, os._exit, killed, out of memory)."""


class FailedBefore(PipelineError):
    """A job failed earlier in this session with the inputs it has now, so it was not run
    again for a job that depends on it; its message holds that failure's error."""


class DamagedValue(PipelineError):
    """A stored value cannot be read back (damaged on disk, or written by an incompatible
    version of the libraries it uses). `.path` is the file; the engine removes it, so the
    job that stored it runs again."""

    def __init__(self, message: str, path: str):
        super().__init__(message)
        self.path = path

    def __reduce__(self) -> tuple[type, tuple[str, str]]:  # (sent back from workers)
        return type(self), (str(self), self.path)


class PipelineWarning(UserWarning):
    """Something was repaired automatically (e.g. an unreadable history moved aside)."""


class CodeError(PipelineError):
    """A user module that a job's code reaches cannot be read or parsed (SPEC §3a)."""

    def __init__(self, message: str, module: str = "", path: str = ""):
        super().__init__(message)
        self.module = module
        self.path = path

    def in_job(self, job_id: str) -> CodeError:
        """The error as the job that reaches that code fails with."""
        msg = (
            f"job {job_id!r} uses code of {self}, so what it computes cannot be "
            f"fingerprinted. Fix the module; nothing of this job ran"
        )
        return CodeError(msg, self.module, self.path)


class StaleModule(PipelineError):
    """A job of the main process (the kernel) would run a user module older than its file:
    it fails instead of computing with the old code (livecode.py)."""
