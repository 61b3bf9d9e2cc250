"""What each job depends on, as job ids: the one resolver of declared dependencies.

A job declares its upstream as job ids, jobs, or paths (`_Ref`). A path becomes the job
that writes it, else the input file's invariant (created on first use), else an error
that names the job and the path. The run's targets are read the same way. The pure DAG
(order, closures, cycles) is graph.py's; this module only turns references into ids.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable
from typing import Any

from . import graph, ids
from .errors import DependencyError
from .graph import Edges
from .jobs import Job, _Ref, normalize_path


class References:
    def __init__(
        self,
        jobs: dict[str, Job],
        producers: dict[str, str],
        workdir: str,
        input_file: Callable[[_Ref], str],
    ) -> None:
        self.jobs = jobs  # (the pipeline's own, kept in declaration order)
        self.producers = producers  # absolute output path -> the job that writes it
        self.workdir = workdir
        self.input_file = input_file  # declares an input file's invariant: its id

    def upstream(self, job_ids: Iterable[str]) -> Edges:
        """Upstream ids of each job, with path references turned into jobs or input files."""
        upstream: Edges = {}
        jobs = self.jobs
        for job_id in job_ids:
            job = jobs[job_id]
            refs = job.upstream
            if not refs:
                upstream[job_id] = graph.NONE
                continue
            if type(refs) is tuple:  # (job ids, resolved by an earlier run)
                for ref in refs:
                    if ref not in jobs:
                        raise _undeclared(job_id, ref)
                upstream[job_id] = refs
                continue
            ups = []
            ids_only = True
            for ref in refs:
                if type(ref) is str:
                    if ref not in jobs:
                        raise _undeclared(job_id, ref)
                    ups.append(ref)
                else:
                    ids_only = False
                    ups.append(self._path(job, ref))
            resolved = upstream[job_id] = tuple(ups)  # (a third of a list's memory)
            if ids_only:
                # Job ids resolve to themselves: the job keeps the tuple the edges share
                # (a path stays a reference: the job writing it may change).
                job.upstream = resolved
        return upstream

    def all_upstream(self, job_ids: list[str]) -> Edges:
        """Like `upstream`, including the input-file invariants resolving creates."""
        before = len(self.jobs)
        upstream = self.upstream(job_ids)
        created = list(itertools.islice(self.jobs, before, None))  # (jobs are kept in order)
        upstream.update(self.upstream(created))
        return upstream

    def ordered(self, targets: Any = None) -> tuple[Edges, list[str], Edges]:
        """(upstream, topological order, downstream) of the targets' closure (all jobs
        by default)."""
        upstream = self.all_upstream(list(self.jobs))
        down = graph.downstream_of(upstream)
        order = graph.topological_order(upstream, down)
        if targets is not None:
            keep = graph.upstream_closure(upstream, self.targets(targets))
            order = [job_id for job_id in order if job_id in keep]
            upstream = {job_id: upstream[job_id] for job_id in order}
            down = graph.downstream_of(upstream)
        return upstream, order, down

    def targets(self, targets: Any) -> list[str]:
        """The ids of `targets`: jobs, job ids, or the paths jobs write."""
        if isinstance(targets, (Job, str, os.PathLike)):
            targets = [targets]
        found = []
        for target in targets:
            if isinstance(target, Job):
                found.append(target.job_id)
                continue
            ref = os.fspath(target)
            if ref in self.jobs:
                found.append(ref)
                continue
            producer = self.producers.get(normalize_path(ref, self.workdir)[1])
            if producer is None:
                msg = f"run(targets=...): no job has id or output {ref!r}"
                raise DependencyError(msg)
            found.append(producer)
        return found

    def _path(self, job: Job, ref: _Ref) -> str:
        if ref in self.jobs:
            return str(ref)
        rel, absolute = normalize_path(ref, self.workdir)
        producer = self.producers.get(absolute)
        if producer is not None:
            return producer
        invariant_id = ids.input_file(rel)
        if invariant_id in self.jobs:
            return invariant_id
        if not os.path.exists(absolute):
            msg = (
                f"job {job.job_id!r} depends on {str(ref)!r}, but no job writes that file and "
                f"it does not exist (looked for {absolute}); create it, declare the job that "
                f"writes it, or fix the path"
            )
            raise DependencyError(msg)
        return self.input_file(ref)


def _undeclared(job_id: str, ref: str) -> DependencyError:
    msg = (
        f"job {job_id!r} depends on {ref!r}, which is no longer declared; "
        f"declare it again or remove the dependency"
    )
    return DependencyError(msg)
