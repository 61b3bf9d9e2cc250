"""100,000 jobs in a real subprocess: what a run with nothing to do may touch."""

from __future__ import annotations

import json

N = 100_000

SCRIPT = f"""
ppg.new_pipeline(cores=2)


def make(i):
    def write(path):
        path.write_text(str(i))

    return write


for i in range({N}):
    ppg.FileGeneratingJob(f"out/{{i}}.txt", make(i)).depends_on(
        ppg.ParameterInvariant(f"p{{i}}", i)
    )
if sys.argv[1:] == ["watch"]:
    opened, started = [], []

    def audit(event, args):
        if event == "open":
            opened.append(str(args[0]))
        elif event in ("subprocess.Popen", "os.fork", "os.posix_spawn", "os.exec"):
            started.append(event)

    sys.addaudithook(audit)
    result = ppg.run()
    print("@@WATCHED " + json.dumps({{"opened": opened, "started": started}}))
    print("@@COUNTS " + json.dumps([len(result.ran), len(result.up_to_date)]))
else:
    run_and_report()
"""


def test_a_no_op_run_of_100000_jobs_reads_no_file_and_stays_in_one_process(script):
    script.write(SCRIPT)
    assert len(script.run(timeout=300).ok().result["ran"]) == N
    watched = script.run("watch", timeout=300)
    assert watched.returncode == 0, watched.describe()
    lines = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in watched.stdout.splitlines()}
    seen = json.loads(lines["@@WATCHED"])
    assert json.loads(lines["@@COUNTS"]) == [0, 2 * N]  # (the parameters count as up to date)
    # Only the lock is opened (the history is read through sqlite; outputs are stat'ed).
    assert seen["opened"], "the audit hook saw nothing: it does not watch"
    assert all(path.endswith("/.ppg/lock") for path in seen["opened"]), seen["opened"][:5]
    assert seen["started"] == []  # no worker, no other process
