"""Jobs on a dask.distributed cluster (`backend="dask"`): the batches loky's workers run,
sent through a `distributed.Client` instead.

Decisions where SPEC §4 is silent:
- The cluster is the user's: `scheduler="tcp://host:8786"` (what `dask scheduler` prints),
  a `distributed.Client`, or else the client already running in this process. None of
  these is an error that says how to start one: a cluster this package started by itself
  would have to re-import the user's script in every worker process.
- Futures come from the client's own `concurrent.futures` executor (what joblib's dask
  backend uses underneath), so the scheduler works unchanged.
- A run waits up to 10 s for a first worker: a nanny restarting a worker that a job crashed
  (or a cluster still starting) is not an error.
- Before the first run in a directory, every worker must read a token file written in the
  pipeline's directory: outputs, stored values and logs are written by the workers and read
  here, so all must see the same files at the same paths. Otherwise the run stops before
  any job starts, naming the worker and the directory.
- A worker process runs one batch at a time (however many threads it has): jobs run in the
  pipeline's working directory and their prints are captured per process.
- Interrupting cancels what is queued and waits for nothing; a job already running on a
  worker cannot be stopped without restarting workers that are not ours. Its partial
  outputs are removed here and it is not recorded, so the next run runs it again; a file
  in the pipeline's directory tells it the run was abandoned, so that, failing or not, it
  does not remove outputs the next run may be writing by then, nor start more jobs.
- `cores` (default: the number of worker processes) is how many batches are in flight.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
import threading
from concurrent.futures import Future
from typing import Any

from .errors import PipelineError
from .worker import Context, Functions, Task
from .worker_batch import run_batch

_TIMEOUT = 10  # seconds to reach a scheduler


class DaskWorkers:
    """The workers of a dask.distributed cluster, as the runner sees workers."""

    lingers = True  # a job running when the run is interrupted goes on to its end

    def __init__(self, scheduler: Any, cores: int | None) -> None:
        if scheduler is not None and not isinstance(scheduler, str) and not _is_client(scheduler):
            msg = (
                f"scheduler must be an address like 'tcp://host:8786' or a "
                f"distributed.Client, not {type(scheduler).__name__}"
            )
            raise ValueError(msg)
        self.scheduler = scheduler
        self.requested = cores
        self.cores = cores or 1
        self.client: Any = None
        self.executor: Any = None
        self.shared: set[str] = set()  # pipeline directories every worker was seen to share

    # --- connecting ------------------------------------------------------------------
    def connect(self, workdir: str, ppg_dir: str) -> int:
        """Reach the cluster and check that its workers share `ppg_dir`; returns how many
        batches may be in flight."""
        client = self._client()
        try:  # workers a nanny restarts (after a job crashed one) are back within seconds
            client.wait_for_workers(1, timeout=_TIMEOUT)
        except TimeoutError:
            msg = (
                f"the dask scheduler at {self._address()} has no workers (waited "
                f"{_TIMEOUT} s); start some with `dask worker {self._address()}` on machines "
                f"that share {workdir}"
            )
            raise PipelineError(msg) from None
        workers = client.nthreads()  # all of them (scheduler_info() lists 5 in some versions)
        if ppg_dir not in self.shared:
            self._check_shared(client, ppg_dir)
            self.shared.add(ppg_dir)
        self.cores = self.requested or len(workers)
        return self.cores

    def _client(self) -> Any:
        if self.client is not None and self.client.status == "running":
            return self.client
        distributed = _distributed()
        if isinstance(self.scheduler, str):
            try:
                client = distributed.Client(self.scheduler, timeout=_TIMEOUT, set_as_default=False)
            except (OSError, TimeoutError) as e:
                msg = (
                    f"cannot reach the dask scheduler at {self.scheduler!r} ({e}). Start one "
                    f"with `dask scheduler` and pass the address it prints, with workers "
                    f"started by `dask worker ADDRESS`"
                )
                raise PipelineError(msg) from None
        elif self.scheduler is not None:
            client = self.scheduler
        else:
            try:
                client = distributed.Client.current()
            except ValueError:
                msg = (
                    "backend='dask' needs a cluster: pass scheduler='tcp://host:8786' (the "
                    "address `dask scheduler` prints) or a distributed.Client, or create a "
                    "Client first. On one machine, backend='loky' runs the same jobs"
                )
                raise PipelineError(msg) from None
        self.client = client
        self.executor = client.get_executor(pure=False)
        return client

    def _address(self) -> str:
        if self.client is not None:
            return str(self.client.scheduler.address)
        return str(self.scheduler)

    def _check_shared(self, client: Any, ppg_dir: str) -> None:
        os.makedirs(ppg_dir, exist_ok=True)
        token = secrets.token_hex(16)
        path = os.path.join(ppg_dir, f"shared-{token[:8]}")
        with open(path, "w", encoding="ascii") as f:
            f.write(token)
        try:
            seen = client.run(_read_token, path, token)
        except Exception as e:
            msg = (
                f"the dask workers at {self._address()} could not run ppg_notebook's check "
                f"({type(e).__name__}: {e}); install ppg_notebook in the workers' environment"
            )
            raise PipelineError(msg) from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        blind = {worker: saw for worker, saw in seen.items() if saw is not None}
        if blind:
            worker, saw = sorted(blind.items())[0]
            msg = (
                f"dask worker {worker} does not see this pipeline's directory {ppg_dir} "
                f"({saw}); {len(blind)} of {len(seen)} workers cannot. Outputs, stored "
                f"values and logs are written by the workers, so put the pipeline on a "
                f"filesystem they share, mounted at the same path"
            )
            raise PipelineError(msg)

    # --- running ---------------------------------------------------------------------
    def run_batch(
        self,
        context: Context,
        tasks: list[Task],
        functions: Functions,
        abandoned: str | None,
        spool: str | None = None,
    ) -> Future[Any]:
        """Send a batch of tasks to a worker (see worker_batch.run_batch)."""
        if self.executor is None:
            self._client()
        future: Future[Any] = self.executor.submit(
            run_batch_alone, context, tasks, functions, abandoned, spool
        )
        return future

    def warm(self) -> None:
        """Workers of a cluster are already running."""

    def lost(self, error: BaseException) -> str | None:
        if type(error).__name__ == "KilledWorker":
            return "the dask scheduler lost the worker running it"
        return None

    def stop(self) -> None:
        """Queued batches were cancelled; running ones finish on their workers, unrecorded."""


def _is_client(obj: Any) -> bool:
    # A Client exists only once distributed is imported: no need to import it to check.
    distributed = sys.modules.get("distributed")
    return distributed is not None and isinstance(obj, distributed.Client)


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        msg = (
            "backend='dask' needs dask.distributed, which is not installed: "
            "pip install 'ppg_notebook[dask]'"
        )
        raise PipelineError(msg) from None
    return distributed


# --- in the workers ----------------------------------------------------------------------
_ALONE = threading.Lock()


def run_batch_alone(
    context: Context,
    tasks: list[Task],
    functions: Functions,
    abandoned: str | None,
    spool: str | None = None,
) -> Any:
    """`run_batch`, one at a time per worker process (the working directory, the capture
    of prints and the recording of reads are the process's)."""
    with _ALONE:
        return run_batch(context, tasks, functions, abandoned, spool, watch_parent=False)


def _read_token(path: str, token: str) -> str | None:
    """None if this worker reads `token` from `path`; else what it found instead."""
    try:
        with open(path, encoding="ascii") as f:
            found = f.read()
    except OSError as e:
        return f"{path}: {e.strerror or e}"
    return None if found == token else f"{path} holds something else"
