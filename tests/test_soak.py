"""A seeded kill -9 soak test (SPEC §4, §5): a pipeline of a few hundred short jobs and some
long ones is killed (SIGKILL of its whole process group) at 15 random instants; after each
kill, one complete run must

(a) finish OK;
(b) leave every output (file or stored value) with exactly the content that the current
    salts and inputs compute;
(c) rerun no job that had finished (logged its last line) more than GRACE s before the
    kill: its record was committed when it ended, so at most what was running is lost;
(d) rerun every job whose output the kill left truncated or stale (b proves it: a job's
    output is only ever written by that job), and every job that had to run but had not
    finished; nothing else runs, in the killed run or after it.

The graph has chains (which the engine may fuse into one batch), fan-ins, value jobs feeding
file jobs, and five long jobs (0.5 - 2 s) that write their file in chunks with sleeps in
between, so that a kill can leave one half written. Before each kill a random subset of the
jobs gets a new salt (a ParameterInvariant, also in the job's closure), so every killed run
has real work to interrupt: the salted jobs and everything downstream of them.

Every job appends "start NAME TIME" and "finish NAME TIME" (time.time()) to soak.log in the
workdir with one O_APPEND write each; the test reads what ran, and when, from it.

The first kill is in the cold run (no job's duration known yet, while the long jobs run);
of the others, 3 land while the script starts (imports, declares, decides), 4 early among
the short jobs, 7 while the longest job runs (times after the first job started). A full cold run
takes about 3.5 s on 2 cores; the whole test about 45 s (more on a loaded machine).

Reproduce a failure with the seed named in its message: SOAK_SEED=<seed> pytest
tests/test_soak.py (the default seed is fixed, so a plain run is repeatable as far as timing
allows).
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from pathlib import Path

from conftest import kill_group

SEED = int(os.environ.get("SOAK_SEED", "20240517"))
KILLS = 15
N_SHORT = 300
N_VALUES = 10
LONG_SECONDS = (0.5, 2.0, 1.0, 0.7, 1.4)  # long0 ... long4
LONG_CHUNKS = 5
# A job's record is committed when the batch it travelled in returns to the main process
# (batches of short jobs take about 20 ms), or, when a later job of the batch runs long,
# from what the worker left in the spool within about half a second. A job that logged its
# finish line more than GRACE seconds before the kill must therefore be recorded (a margin
# for a loaded 2-core machine).
GRACE = 1.0

# The content of a job's output: derived from its name, its salt and its inputs' contents,
# so any stale, truncated or misattributed output is noticed. Shared verbatim by the script
# (which writes it) and the test (which computes what it must be).
CONTENT = """
import hashlib


def content(name, salt, inputs, chunks):
    digest = hashlib.sha256("\\0".join([name, str(salt), *inputs]).encode()).hexdigest()
    return [f"{name} salt={salt} {digest[:24]} chunk {c + 1}/{chunks}\\n" for c in range(chunks)]
"""

SCRIPT = (
    CONTENT
    + """

GRAPH = json.loads(Path("graph.json").read_text())
SALTS = json.loads(Path("salts.json").read_text())
VALUES = {}  # value job name -> its job, for the file jobs that read its value


def log(event, name):
    fd = os.open("soak.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{event} {name} {time.time():.6f}\\n".encode())
    finally:
        os.close(fd)


def gather(deps):
    return [VALUES[d].value if is_value else Path(d).read_text() for d, is_value in deps]


def file_job(name, salt, deps, chunks, pause):
    def write(path):
        log("start", name)
        parts = content(name, salt, gather(deps), chunks)
        with open(path, "w") as fh:
            for i, part in enumerate(parts):
                if i:
                    time.sleep(pause)
                fh.write(part)
                fh.flush()
        log("finish", name)

    return write


def value_job(name, salt, deps):
    def compute():
        log("start", name)
        value = "".join(content(name, salt, gather(deps), 1))
        log("finish", name)
        return value

    return compute


ppg.new_pipeline(cores=2)
jobs = {}
for node in GRAPH:
    name, salt = node["name"], SALTS[node["name"]]
    deps = tuple((d, d in VALUES) for d in node["deps"])
    if node["kind"] == "value":
        job = VALUES[name] = ppg.ValueJob(name, value_job(name, salt, deps))
    else:
        fn = file_job(name, salt, deps, node["chunks"], node["pause"])
        job = ppg.FileGeneratingJob(name, fn)
    job.depends_on(ppg.ParameterInvariant("salt:" + name, salt))
    if node["deps"]:
        job.depends_on([jobs[d] for d in node["deps"]])
    jobs[name] = job
run_and_report()
print("@@VALUES " + json.dumps({name: job.value for name, job in VALUES.items()}), flush=True)
"""
)


def build_graph(rng: random.Random) -> list[dict]:
    """The jobs in declaration order: {name, kind ("file", "long", "value"), deps, chunks,
    pause}. File jobs are named by their output path."""
    nodes: list[dict] = []
    shorts: list[str] = []  # short file jobs any later job may depend on
    values: list[str] = []
    longs: list[str] = []
    after_long: set[str] = set()  # jobs downstream of a long one

    def untainted(names: list[str]) -> list[str]:
        return [name for name in names if name not in after_long]

    def add(name: str, kind: str, deps: list[str], chunks: int = 1, pause: float = 0.0) -> str:
        nodes.append({"name": name, "kind": kind, "deps": deps, "chunks": chunks, "pause": pause})
        if kind == "long" or any(d in after_long for d in deps):
            after_long.add(name)
        return name

    def add_long(k: int, deps: list[str]) -> None:
        pause = LONG_SECONDS[k] / (LONG_CHUNKS - 1)
        longs.append(add(f"out/long{k}.txt", "long", deps, LONG_CHUNKS, pause))

    for i in range(N_SHORT):
        if i == 50:  # a long job without inputs
            add_long(0, [])
        elif i == 110:  # a long job behind a short one that only it depends on (a chain)
            add_long(1, [add("out/pre1.txt", "file", [])])
        elif i == 170:  # a long fan-in (no long job behind another: runs stay short)
            add_long(2, rng.sample(untainted(shorts), 3))
        elif i == 230:  # a long job fed by a value job
            add_long(3, [rng.choice(untainted(values))])
        elif i == 280:  # a long job at the end of a chain of short ones
            add_long(4, [add("out/pre4b.txt", "file", [add("out/pre4a.txt", "file", [])])])
        if i % (N_SHORT // N_VALUES) == 15:  # a value job, fed by a short file job or nothing
            deps = [rng.choice(shorts)] if rng.random() < 0.6 else []
            values.append(add(f"v{len(values)}", "value", deps))
        r = rng.random()
        if longs and nodes[-1]["name"] == longs[-1]:
            deps = [longs[-1]]  # right behind the long job just declared
        elif shorts and r < 0.35:
            deps = [shorts[-1]]  # chains
        elif len(shorts) >= 6 and r < 0.45:
            deps = rng.sample(shorts, rng.randint(3, 6))  # fan-ins
        elif values and r < 0.55:
            deps = [rng.choice(values), rng.choice(shorts)]
        elif longs and r < 0.6:
            deps = [rng.choice(longs)]
        else:
            deps = []
        shorts.append(add(f"out/s{i:03d}.txt", "file", deps))
    return nodes


def expected_outputs(graph: list[dict], salts: dict[str, int]) -> dict[str, str]:
    """What each job's output (a file's text, a value) must be."""
    namespace: dict = {}
    exec(CONTENT, namespace)
    content = namespace["content"]
    out: dict[str, str] = {}
    for node in graph:
        inputs = [out[d] for d in node["deps"]]
        out[node["name"]] = "".join(
            content(node["name"], salts[node["name"]], inputs, node["chunks"])
        )
    return out


def downstream(graph: list[dict], changed: set[str]) -> set[str]:
    """`changed` and every job downstream of one of them (all of which must then run: a
    salt changes a job's output, and so its dependants' inputs)."""
    out = set(changed)
    for node in graph:  # declaration order is a topological order
        if any(d in out for d in node["deps"]):
            out.add(node["name"])
    return out


def read_log(path: Path) -> list[tuple[str, str, float]]:
    """(event, job, time) lines of soak.log, which is then removed."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    path.unlink()
    lines = []
    for line in text.splitlines():
        event, name, when = line.split(" ")
        lines.append((event, name, float(when)))
    return lines


def _wait_for_first_start(log: Path, proc, timeout: float = 30) -> bool:
    """Wait until a job has started (True), or the script has exited (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and log.stat().st_size:
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.005)
    raise AssertionError(f"seed {SEED}: no job started within {timeout} s")


def test_kill_9_soak(script):
    rng = random.Random(SEED)
    graph = build_graph(rng)
    nodes = {node["name"]: node for node in graph}
    dependants: dict[str, list[str]] = {name: [] for name in nodes}
    for node in graph:
        for d in node["deps"]:
            dependants[d].append(node["name"])
    longs = [n["name"] for n in graph if n["kind"] == "long"]
    seconds = dict(zip(longs, LONG_SECONDS, strict=True))
    pre = ["out/pre1.txt", "out/pre4a.txt", "out/pre4b.txt"]
    others = [n["name"] for n in graph if n["kind"] != "long" and n["name"] not in pre]
    files = [n["name"] for n in graph if n["kind"] != "value"]

    (script.dir / "out").mkdir()
    (script.dir / "graph.json").write_text(json.dumps(graph))
    salts = {name: 0 for name in nodes}
    script.write(SCRIPT)
    log = script.dir / "soak.log"

    # When to kill, after the first: 3 times while the script starts (imports, declares,
    # decides), 4 times among the short jobs, the rest while long ones run.
    phases = ["startup"] * 3 + ["short"] * 4 + ["long"] * (KILLS - 8)
    rng.shuffle(phases)
    phases.insert(0, "cold")
    problems: list[str] = []
    summary: list[str] = []
    interrupted = 0  # kills that stopped a running job
    started_at = time.monotonic()
    for k in range(KILLS):
        # What this run must do: everything the first time, then the jobs given a new salt
        # (a few short ones and value jobs, a long one, sometimes the short jobs
        # chained in front of a long one) and everything downstream of them.
        if k == 0:
            changed = set(nodes)
        else:
            changed = set(rng.sample(others, rng.randint(5, 30)))
            changed.add(rng.choice(longs))
            changed |= {name for name in pre if rng.random() < 0.5}
            for name in changed:
                salts[name] = k
        must_run = downstream(graph, changed)
        began = time.monotonic()
        (script.dir / "salts.json").write_text(json.dumps(salts))
        expected = expected_outputs(graph, salts)
        # Kill it: so long after the script started ("startup"), or after its first job
        # started (the others; the long jobs start among the first): early among the short
        # jobs, or while the longest job runs, more than GRACE after the first jobs ended
        # (so what finished before must have been recorded). The first kill is in the cold
        # run (some 3.5 s on 2 cores), while its long jobs run, when the engine knows no
        # job's duration yet.
        phase = phases[k]
        work = max(seconds[n] for n in must_run if n in seconds)
        low, high = {"cold": (0.3, 2.3), "startup": (0, 0.3), "short": (0, 0.6)}.get(
            phase, (GRACE, work)
        )
        delay = rng.uniform(low, high)
        proc = script.start()
        if phase != "startup" and not _wait_for_first_start(log, proc):
            delay = 0.0  # (the run ended before any job started; it is checked all the same)
        time.sleep(delay)
        t_kill = time.time()
        kill_group(proc)
        killed = script.finish(proc)
        assert killed.returncode in (0, -signal.SIGKILL), f"seed {SEED}, kill {k}\n" + (
            killed.describe()
        )
        ended = "it had ended" if killed.returncode == 0 else "killed"
        killed_log = read_log(log)
        starts = {name: t for event, name, t in killed_log if event == "start"}
        finishes = {name: t for event, name, t in killed_log if event == "finish"}
        running = sorted(set(starts) - set(finishes))
        finished_early = {n: t for n, t in finishes.items() if t < t_kill - GRACE}
        after_kill = {}
        for name in files:
            path = script.dir / name
            after_kill[name] = path.read_text() if path.exists() else None
        truncated = sorted(
            name
            for name, text in after_kill.items()
            if text and text != expected[name] and expected[name].startswith(text)
        )

        # The next run, to the end.
        rerun = script.run(timeout=60)
        where = (
            f"seed {SEED}, kill {k} ({phase}, {delay:.2f} s; {ended}; {len(finishes)} jobs had "
            f"finished, {len(running)} were running: {running})"
            + (" [the first run: no job's duration was known yet]" if k == 0 else "")
        )
        assert rerun.returncode == 0 and rerun.result is not None, where + "\n" + rerun.describe()
        rerun_log = read_log(log)
        reran = [name for event, name, _ in rerun_log if event == "start"]
        if rerun.result["failed"]:  # (a)
            problems.append(f"{where}: the next run failed: {rerun.result['failed']}")
        twice = sorted({name for name in reran if reran.count(name) > 1})
        if twice:
            problems.append(f"{where}: the next run ran these more than once: {twice}")

        # (b) every output is right
        values = {}
        for line in rerun.stdout.splitlines():
            if line.startswith("@@VALUES "):
                values = json.loads(line[len("@@VALUES ") :])
        for name, node in nodes.items():
            if node["kind"] == "value":
                got = values.get(name)
            else:
                path = script.dir / name
                got = path.read_text() if path.exists() else None
            if got != expected[name]:
                was = "truncated by the kill, " if name in truncated else ""
                state = "rerun" if name in reran else "not rerun"
                problems.append(
                    f"{where}: {name} is wrong after the next run ({was}{state}): "
                    f"{got!r} instead of {expected[name]!r}"
                )

        # (c) what had finished well before the kill is not run again
        for name in sorted(set(reran) & set(finished_early)):
            behind = [d for d in dependants[name] if d in running]
            problems.append(
                f"{where}: {name} had finished {t_kill - finished_early[name]:.2f} s before "
                f"the kill but ran again"
                + (f" (its dependant {behind} was running at the kill)" if behind else "")
            )
        # (d) what had to run and had not finished runs (a truncated output among them),
        # and nothing else runs, neither in the killed run nor after it
        for name in sorted(must_run - set(finishes) - set(reran)):
            problems.append(f"{where}: {name} had to run, had not finished, and did not rerun")
        for name in truncated:
            if name not in reran:
                problems.append(f"{where}: {name} was left truncated and not rerun")
        for label, ran in (("the killed run", starts), ("the next run", reran)):
            extra = sorted(set(ran) - must_run)
            if extra:
                problems.append(f"{where}: {label} ran jobs that had no reason to: {extra}")

        interrupted += bool(running)
        summary.append(
            f"kill {k:2} ({time.monotonic() - began:.1f} s): {phase:7} +{delay:.2f} s, {ended}: "
            f"{len(must_run):3} to run, "
            f"{len(finishes):3} finished ({len(finished_early):3} > {GRACE} s before), "
            f"{len(truncated)} truncated, {len(reran):3} reran; running: {running}"
            + (f"; new salt in front of a long job: {sorted(changed & set(pre))}" if k else "")
            + ("; the next run printed a warning" if "Warning" in rerun.stderr else "")
        )

    # a no-op run at the end: everything is recorded
    last = script.run(timeout=60).ok()
    assert not read_log(log), f"seed {SEED}: the final run ran jobs\n{last.describe()}"
    took = time.monotonic() - started_at
    report = "\n".join(summary) + f"\n{KILLS} kills in {took:.1f} s (seed {SEED})"
    print(report)
    assert interrupted, f"no kill stopped a running job: the test tested nothing\n{report}"
    assert not problems, "\n".join(problems) + "\n\n" + report
