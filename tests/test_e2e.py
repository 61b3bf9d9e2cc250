"""End-to-end: real pipeline scripts run in subprocesses, edited between runs.

Every job appends its name to runs.log when it actually executes (`mark`, see conftest), so
each test counts what ran independently of the engine's own report, and checks both.
SPEC §2 (job kinds), §3 (when a job runs), §4 (working directory), §5 (logs, values).
"""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import time

# --- file jobs, both calling conventions; no-op rerun ---------------------------------

CHAIN = """
ppg.new_pipeline(cores=2)


def write_a():
    mark("a")
    Path("a.txt").write_text("A")


def write_b(path):
    mark("b")
    path.write_text("B:" + Path("a.txt").read_text())


def write_c(path):
    mark("c")
    path.write_text("C")


a = ppg.FileGeneratingJob("a.txt", write_a)
b = ppg.FileGeneratingJob("b.txt", write_b).depends_on(a)
c = ppg.FileGeneratingJob("c.txt", write_c)
run_and_report()
"""


def test_file_jobs_run_once_then_nothing_reruns(script):
    script.write(CHAIN)
    first = script.run().ok()
    assert sorted(first.runs) == ["a", "b", "c"]
    assert sorted(first.ran) == ["a.txt", "b.txt", "c.txt"]
    assert (script.dir / "a.txt").read_text() == "A"
    assert (script.dir / "b.txt").read_text() == "B:A"  # fn(path) got the path; ran after a
    assert first.runs.index("a") < first.runs.index("b")
    assert first.result["reasons"]["a.txt"] == "it has never run"

    second = script.run().ok()
    assert second.runs == []
    assert second.ran == []
    assert sorted(second.result["up_to_date"]) == ["a.txt", "b.txt", "c.txt"]


def test_output_directories_are_created_before_the_job_runs(script):
    script.write(
        """
        ppg.new_pipeline(cores=2)
        ppg.FileGeneratingJob("results/2026/a.txt", lambda path: path.write_text("a"))
        ppg.MultiFileGeneratingJob(
            ["plots/x.txt", "tables/y.txt"], lambda paths: [p.write_text("b") for p in paths]
        )
        run_and_report()
        """
    )
    assert sorted(script.run().ok().ran) == ["plots/x.txt:::tables/y.txt", "results/2026/a.txt"]
    assert (script.dir / "results" / "2026" / "a.txt").read_text() == "a"
    assert (script.dir / "tables" / "y.txt").read_text() == "b"


def test_comment_blank_lines_and_rename_do_not_rerun(script):
    script.write(CHAIN)
    script.run().ok()
    # comments inside the body, lines moved down, and the function renamed
    script.edit(
        'def write_a():\n    mark("a")\n',
        '\n\n\ndef make_a():\n    # the first job\n    mark("a")  # count\n',
    )
    script.edit('ppg.FileGeneratingJob("a.txt", write_a)', 'ppg.FileGeneratingJob("a.txt", make_a)')
    second = script.run().ok()
    assert second.runs == [], second.describe()
    assert second.ran == []


def test_docstring_edit_does_not_rerun(script):
    script.write(CHAIN.replace("def write_c(path):\n", 'def write_c(path):\n    """C."""\n'))
    script.run().ok()
    script.edit('"""C."""', '"""Writes c.txt.\n\n    A longer docstring.\n    """')
    second = script.run().ok()
    assert second.runs == [], second.describe()


def test_adding_or_removing_a_docstring_does_not_rerun(script):
    # SPEC §3 rule 3: "comments, docstring edits ... do not count". Giving a function its
    # first docstring, or deleting it, is a docstring edit.
    script.write(CHAIN)
    script.run().ok()
    script.edit("def write_c(path):\n", 'def write_c(path):\n    """Writes c.txt."""\n')
    second = script.run().ok()
    assert second.runs == [], second.describe()
    script.edit('def write_c(path):\n    """Writes c.txt."""\n', "def write_c(path):\n")
    third = script.run().ok()
    assert third.runs == [], third.describe()


def test_body_change_reruns_job_and_early_cutoff_spares_downstream(script):
    script.write(CHAIN)
    script.run().ok()
    # same output, different code: a reruns, b does not (its input is byte-identical)
    script.edit('Path("a.txt").write_text("A")', 'Path("a.txt").write_text("".join(["A"]))')
    second = script.run().ok()
    assert second.runs == ["a"], second.describe()
    assert second.result["reasons"]["a.txt"] == "its code changed"
    assert "b.txt" in second.result["up_to_date"]

    # different output: a reruns and so does b (rule 5); c is untouched
    script.edit('"".join(["A"])', '"".join(["A", "2"])')
    third = script.run().ok()
    assert sorted(third.runs) == ["a", "b"], third.describe()
    assert "job 'a.txt' produced different output" in third.result["reasons"]["b.txt"]
    assert (script.dir / "b.txt").read_text() == "B:A2"

    assert script.run().ok().runs == []


def test_body_change_in_downstream_reruns_only_it(script):
    script.write(CHAIN)
    script.run().ok()
    script.edit('path.write_text("B:" + ', 'path.write_text("B2:" + ')
    second = script.run().ok()
    assert second.runs == ["b"], second.describe()
    assert (script.dir / "b.txt").read_text() == "B2:A"


# --- invariants: parameters, closures, defaults, functions, input files -----------------

PARAMS = """
ppg.new_pipeline(cores=2)
THRESHOLD = {"cutoff": 1, "names": ["x", "y"]}
N = 1


def make_writer(n):
    def write(path):
        mark("closure")
        path.write_text("n=" + str(n))

    return write


def with_default(path, factor=3):
    mark("default")
    path.write_text("factor=" + str(factor))


def uses_param(path):
    mark("param")
    path.write_text("param job")


def other(path):
    mark("other")
    path.write_text("other")


p = ppg.ParameterInvariant("threshold", THRESHOLD)
ppg.FileGeneratingJob("param.txt", uses_param).depends_on(p)
ppg.FileGeneratingJob("closure.txt", make_writer(N))
ppg.FileGeneratingJob("default.txt", with_default)
ppg.FileGeneratingJob("other.txt", other)
run_and_report()
"""


def test_parameter_change_reruns_only_its_dependants(script):
    script.write(PARAMS)
    assert sorted(script.run().ok().runs) == ["closure", "default", "other", "param"]
    script.edit('"cutoff": 1', '"cutoff": 2')
    second = script.run().ok()
    assert second.runs == ["param"], second.describe()
    assert second.result["reasons"]["param.txt"] == "parameter 'threshold' changed"
    # changing it back is a change too
    script.edit('"cutoff": 2', '"cutoff": 1')
    assert script.run().ok().runs == ["param"]
    # a nested value inside the parameter
    script.edit('["x", "y"]', '["x", "z"]')
    assert script.run().ok().runs == ["param"]
    assert script.run().ok().runs == []


def test_closure_value_change_reruns(script):
    script.write(PARAMS)
    script.run().ok()
    script.edit("N = 1", "N = 2")
    second = script.run().ok()
    assert second.runs == ["closure"], second.describe()
    assert second.result["reasons"]["closure.txt"] == "its code changed"
    assert (script.dir / "closure.txt").read_text() == "n=2"


def test_default_argument_change_reruns(script):
    script.write(PARAMS)
    script.run().ok()
    script.edit("factor=3", "factor=4")
    second = script.run().ok()
    assert second.runs == ["default"], second.describe()
    assert (script.dir / "default.txt").read_text() == "factor=4"


def test_ignore_code_changes(script):
    script.write(
        """
        ppg.new_pipeline(cores=2)


        def w(path):
            mark("w")
            path.write_text("one")


        ppg.FileGeneratingJob("w.txt", w).ignore_code_changes()
        run_and_report()
        """
    )
    assert script.run().ok().runs == ["w"]
    script.edit('"one"', '"two"')
    assert script.run().ok().runs == []


def test_explicit_function_invariant(script):
    script.write(
        """
        ppg.new_pipeline(cores=2)


        def helper(x):
            return x * 2


        def w(path):
            mark("w")
            path.write_text(str(helper(21)))


        def other(path):
            mark("other")
            path.write_text("other")


        fi = ppg.FunctionInvariant("helper", helper)
        ppg.FileGeneratingJob("w.txt", w).depends_on(fi)
        ppg.FileGeneratingJob("other.txt", other)
        run_and_report()
        """
    )
    assert sorted(script.run().ok().runs) == ["other", "w"]
    script.edit("return x * 2", "# doubled\n    return x * 2")  # a comment only
    assert script.run().ok().runs == []
    script.edit("return x * 2", "return x * 3")
    third = script.run().ok()
    assert third.runs == ["w"], third.describe()
    assert third.result["reasons"]["w.txt"] == "function 'helper' changed"
    assert (script.dir / "w.txt").read_text() == "63"


def test_a_function_invariant_named_like_its_job_is_not_taken_for_the_jobs_code(script):
    """The job's own code and a FunctionInvariant("x.txt") it depends on are two inputs
    (they once shared one key: a change of `helper` then reran nothing)."""
    script.write(
        """
        ppg.new_pipeline(cores=2)


        def helper(x):
            return x * 2


        def w(path):
            mark("w")
            path.write_text("w")


        ppg.FileGeneratingJob("x.txt", w).depends_on(ppg.FunctionInvariant("x.txt", helper))
        run_and_report()
        """
    )
    assert script.run().ok().runs == ["w"]
    assert script.run().ok().runs == []
    script.edit("return x * 2", "return x * 3")
    changed = script.run().ok()
    assert changed.runs == ["w"], changed.describe()
    assert changed.result["reasons"]["x.txt"] == "function 'x.txt' changed"


def test_a_history_from_before_the_own_code_key_changed_reruns_nothing(script):
    script.write(
        """
        ppg.new_pipeline(cores=2)
        ppg.FileGeneratingJob("a.txt", write("a"))
        ppg.FileGeneratingJob("b.txt", write("b")).depends_on("a.txt")
        run_and_report()
        """
    )
    assert sorted(script.run().ok().runs) == ["a", "b"]
    conn = sqlite3.connect(script.ppg_dir / "history")
    with conn:  # the old format: a job's own code under "FI:" + its id
        for job_id, rec in conn.execute("SELECT id, rec FROM jobs").fetchall():
            record = json.loads(rec)
            record["i"][f"FI:{job_id}"] = record["i"].pop("")
            conn.execute("UPDATE jobs SET rec = ? WHERE id = ?", (json.dumps(record), job_id))
    conn.close()
    assert script.run().ok().runs == []


INPUTS = """
ppg.new_pipeline(cores=2)


def count_words(path):
    mark("count")
    path.write_text(str(len(Path("input.txt").read_text().split())))


def copy_other(path):
    mark("copy")
    path.write_text(Path("data/other.txt").read_text())


ppg.FileGeneratingJob("count.txt", count_words).depends_on(ppg.FileInvariant("input.txt"))
ppg.FileGeneratingJob("copy.txt", copy_other).depends_on("data/other.txt")
run_and_report()
"""


def test_input_files_touch_does_not_rerun_content_change_does(script):
    inp = script.dir / "input.txt"
    inp.write_text("one two three")
    (script.dir / "data").mkdir()
    other = script.dir / "data" / "other.txt"
    other.write_text("other input")
    script.write(INPUTS)
    assert sorted(script.run().ok().runs) == ["copy", "count"]
    assert (script.dir / "count.txt").read_text() == "3"

    # touch: new mtime, same content -> nothing runs
    later = time.time() + 5
    os.utime(inp, (later, later))
    os.utime(other, (later, later))
    assert script.run().ok().runs == []

    # same size, different content (and a different mtime) -> reruns
    inp.write_text("one two thre3")
    os.utime(inp, (later + 5, later + 5))
    second = script.run().ok()
    assert second.runs == ["count"], second.describe()
    assert second.result["reasons"]["count.txt"] == "input file 'input.txt' changed"

    other.write_text("other input, edited")
    third = script.run().ok()
    assert third.runs == ["copy"], third.describe()
    assert third.result["reasons"]["copy.txt"] == "input file 'data/other.txt' changed"
    assert (script.dir / "copy.txt").read_text() == "other input, edited"
    assert script.run().ok().runs == []


def test_depends_on_paths_of_produced_files_resolve_to_the_producer(script):
    (script.dir / "input.txt").write_text("in")
    script.write(
        """
        ppg.new_pipeline(cores=2)


        def a(path):
            mark("a")
            path.write_text("A")


        def b(path):
            mark("b")
            path.write_text(Path("a.txt").read_text() + Path("input.txt").read_text())


        ppg.FileGeneratingJob("a.txt", a)
        job = ppg.FileGeneratingJob("b.txt", b)
        job.depends_on("./a.txt", os.path.abspath("input.txt"))
        result = run_and_report()
        print("UPSTREAM", json.dumps(ppg.get_pipeline()._resolve(["b.txt"])["b.txt"]))
        """
    )
    first = script.run().ok()
    assert first.runs == ["a", "b"]
    upstream = json.loads(first.stdout.split("UPSTREAM ", 1)[1].splitlines()[0])
    assert sorted(upstream) == ["a.txt", "file:input.txt"]
    # a's output changes by hand -> a regenerates it identically -> b does not rerun
    (script.dir / "a.txt").write_text("edited")
    second = script.run().ok()
    assert second.runs == ["a"], second.describe()


# --- outputs: edited by hand, touched, deleted, emptied ---------------------------------


def test_output_edited_by_hand_is_regenerated_and_downstream_cut_off(script):
    script.write(CHAIN)
    script.run().ok()
    (script.dir / "a.txt").write_text("tampered")
    second = script.run().ok()
    assert second.runs == ["a"], second.describe()  # b consumed the same bytes as before
    assert (
        "its output 'a.txt' was changed since the job wrote it"
        in (second.result["reasons"]["a.txt"])
    )
    assert (script.dir / "a.txt").read_text() == "A"

    # an edit of the same size (only the mtime tells): regenerated too
    st = os.stat(script.dir / "b.txt")
    (script.dir / "b.txt").write_text("B:X")
    os.utime(script.dir / "b.txt", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    third = script.run().ok()
    assert third.runs == ["b"], third.describe()
    assert (script.dir / "b.txt").read_text() == "B:A"


def test_output_touched_without_change_does_not_rerun(script):
    script.write(CHAIN)
    script.run().ok()
    later = time.time() + 10
    for name in ("a.txt", "b.txt", "c.txt"):
        os.utime(script.dir / name, (later, later))
    assert script.run().ok().runs == []
    assert script.run().ok().runs == []  # the refreshed stat was recorded


def test_output_deleted_or_emptied_is_regenerated(script):
    script.write(CHAIN)
    script.run().ok()
    (script.dir / "c.txt").unlink()
    second = script.run().ok()
    assert second.runs == ["c"], second.describe()
    assert second.result["reasons"]["c.txt"] == "its output 'c.txt' is missing"
    (script.dir / "b.txt").write_text("")
    third = script.run().ok()
    assert third.runs == ["b"], third.describe()
    assert third.result["reasons"]["b.txt"] == "its output 'b.txt' is empty"
    assert (script.dir / "b.txt").read_text() == "B:A"


def test_empty_ok_output_is_fine(script):
    script.write(
        """
        ppg.new_pipeline(cores=2)


        def w(path):
            mark("w")
            path.write_text("")


        ppg.FileGeneratingJob("empty.txt", w, empty_ok=True)
        run_and_report()
        """
    )
    assert script.run().ok().runs == ["w"]
    assert (script.dir / "empty.txt").read_text() == ""
    assert script.run().ok().runs == []


# --- rule 4: the dependency set --------------------------------------------------------

DEPSET = """
ppg.new_pipeline(cores=2)


a = ppg.FileGeneratingJob("a.txt", write("a"))
x = ppg.FileGeneratingJob("x.txt", write("x"))
p = ppg.ParameterInvariant("p", 1)
c = ppg.FileGeneratingJob("c.txt", write("c")).depends_on(a)
EXTRA = []
c.depends_on(EXTRA)
run_and_report()
"""


def test_dependency_set_change_reruns(script):
    script.write(DEPSET)
    script.run().ok()
    script.edit("EXTRA = []", "EXTRA = [x]")
    second = script.run().ok()
    assert second.runs == ["c"], second.describe()
    assert second.result["reasons"]["c.txt"] == (
        "its dependencies changed: it now depends on job 'x.txt'"
    )
    script.edit("EXTRA = [x]", "EXTRA = [x, p]")
    third = script.run().ok()
    assert third.runs == ["c"], third.describe()
    assert "now depends on parameter 'p'" in third.result["reasons"]["c.txt"]
    script.edit("EXTRA = [x, p]", "EXTRA = []")
    fourth = script.run().ok()
    assert fourth.runs == ["c"], fourth.describe()
    assert "no longer depends on" in fourth.result["reasons"]["c.txt"]
    assert "job 'x.txt'" in fourth.result["reasons"]["c.txt"]
    assert script.run().ok().runs == []


# --- the other job kinds ---------------------------------------------------------------


def test_multi_file_job_both_conventions(script):
    script.write(
        """
        ppg.new_pipeline(cores=2)


        def with_paths(paths):
            mark("m")
            for i, p in enumerate(paths):
                p.write_text(f"m{i}")


        def without():
            mark("n")
            Path("n1.txt").write_text("n1")
            Path("n2.txt").write_text("n2")


        def use(path):
            mark("use")
            path.write_text(Path("m2.txt").read_text() + "!")


        m = ppg.MultiFileGeneratingJob(["m1.txt", "m2.txt"], with_paths)
        ppg.MultiFileGeneratingJob(["n1.txt", "n2.txt"], without)
        ppg.FileGeneratingJob("use.txt", use).depends_on("m2.txt")
        run_and_report()
        """
    )
    first = script.run().ok()
    assert sorted(first.runs) == ["m", "n", "use"]
    assert [(script.dir / f).read_text() for f in ("m1.txt", "m2.txt", "n1.txt")] == [
        "m0",
        "m1",
        "n1",
    ]
    assert (script.dir / "use.txt").read_text() == "m1!"
    assert script.run().ok().runs == []
    (script.dir / "n2.txt").unlink()
    second = script.run().ok()
    assert second.runs == ["n"], second.describe()
    # m1.txt is not what `use` reads, but it is m's output: m reruns; m2 is identical
    (script.dir / "m1.txt").write_text("changed")
    third = script.run().ok()
    assert third.runs == ["m"], third.describe()


TEMP = """
ppg.new_pipeline(cores=2)


def write_tmp(path):
    mark("tmp")
    path.write_text("temp")


def never(path):
    mark("never")
    path.write_text("never")


def use(path):
    mark("use")
    path.write_text("used:" + Path("tmp.txt").read_text())


tmp = ppg.TempFileGeneratingJob("tmp.txt", write_tmp)
ppg.TempFileGeneratingJob("unused_tmp.txt", never)
ppg.FileGeneratingJob("use.txt", use).depends_on(tmp)
run_and_report()
"""


def test_temp_file_job_runs_only_for_dependants_and_is_removed(script):
    script.write(TEMP)
    first = script.run().ok()
    assert first.runs == ["tmp", "use"], first.describe()
    assert (script.dir / "use.txt").read_text() == "used:temp"
    assert not (script.dir / "tmp.txt").exists()
    assert not (script.dir / "unused_tmp.txt").exists()

    second = script.run().ok()  # tmp.txt is missing, yet nothing must run
    assert second.runs == [], second.describe()

    script.edit('"used:" + ', '"used2:" + ')
    third = script.run().ok()
    assert third.runs == ["tmp", "use"], third.describe()
    assert (script.dir / "use.txt").read_text() == "used2:temp"
    assert not (script.dir / "tmp.txt").exists()


LOADING = """
# In a dict: a script's constants that job code reads are fingerprinted (SPEC §3a), and the
# pid changes with every run; its mutable containers are not.
MAIN = {"pid": os.getpid()}
ppg.new_pipeline(cores=2)
STATE = {}


class Holder:
    pass


holder = Holder()


def where():
    return "main" if os.getpid() == MAIN["pid"] else "worker"


def load():
    mark("load:" + where())
    STATE["x"] = 41
    return STATE["x"]


def load_attr():
    mark("attr:" + where())
    return [1, 2, 3]


def unused():
    mark("unused")
    return 1


def use(path):
    mark("use:" + where())
    path.write_text(str(STATE["x"] + 1))


def use_attr(path):
    mark("use_attr")
    path.write_text(str(sum(holder.data)))


ld = ppg.DataLoadingJob("load", load)
al = ppg.AttributeLoadingJob("attr", holder, "data", load_attr)
ppg.DataLoadingJob("unused", unused)
ppg.FileGeneratingJob("use.txt", use).depends_on(ld)
ppg.FileGeneratingJob("use_attr.txt", use_attr).depends_on(al)
run_and_report()
"""


def test_loading_jobs_run_in_main_process_only_when_needed(script):
    script.write(LOADING)
    first = script.run().ok()
    assert sorted(first.runs) == ["attr:main", "load:main", "use:worker", "use_attr"]
    assert first.runs.index("load:main") < first.runs.index("use:worker")
    assert (script.dir / "use.txt").read_text() == "42"
    assert (script.dir / "use_attr.txt").read_text() == "6"

    second = script.run().ok()
    assert second.runs == [], second.describe()  # no dependant runs: no loading

    script.edit("path.write_text(str(sum(holder.data)))", "path.write_text(str(max(holder.data)))")
    third = script.run().ok()
    assert sorted(third.runs) == ["attr:main", "use_attr"], third.describe()
    assert (script.dir / "use_attr.txt").read_text() == "3"

    # the loader's code changed: it loads, and its dependant reruns (rule 3/5)
    script.edit('STATE["x"] = 41', 'STATE["x"] = 99')
    fourth = script.run().ok()
    assert sorted(fourth.runs) == ["load:main", "use:worker"], fourth.describe()
    assert (script.dir / "use.txt").read_text() == "100"


CACHED = """
# In a dict: a script's constants that job code reads are fingerprinted (SPEC §3a), and the
# pid changes with every run; its mutable containers are not.
MAIN = {"pid": os.getpid()}
ppg.new_pipeline(cores=2)
LOADED = {}


class Holder:
    pass


holder = Holder()


def where():
    return "main" if os.getpid() == MAIN["pid"] else "worker"


def calc():
    mark("calc:" + where())
    return {"n": 10}


def store(value):
    mark("store:" + where())
    LOADED.update(value)


def calc_attr():
    mark("calc_attr:" + where())
    return [5, 6]


def use(path):
    mark("use")
    path.write_text(str(LOADED["n"]))


def use_attr(path):
    mark("use_attr")
    path.write_text(str(holder.numbers))


cached = ppg.CachedDataLoadingJob("cache/calc.joblib", calc, store)
cattr = ppg.CachedAttributeLoadingJob("cache/attr.joblib", holder, "numbers", calc_attr)
ppg.FileGeneratingJob("use.txt", use).depends_on(cached)
ppg.FileGeneratingJob("use_attr.txt", use_attr).depends_on(cattr)
run_and_report()
"""


def test_cached_loading_jobs(script):
    script.write(CACHED)
    first = script.run().ok()
    assert sorted(first.runs) == [
        "calc:worker",
        "calc_attr:worker",
        "store:main",
        "use",
        "use_attr",
    ], first.describe()
    assert (script.dir / "cache" / "calc.joblib").exists()
    assert (script.dir / "cache" / "attr.joblib").exists()
    assert (script.dir / "use.txt").read_text() == "10"
    assert (script.dir / "use_attr.txt").read_text() == "[5, 6]"

    assert script.run().ok().runs == []

    # a dependant changes: the stored result is loaded, not recalculated
    script.edit('path.write_text(str(LOADED["n"]))', 'path.write_text(str(LOADED["n"] * 2))')
    second = script.run().ok()
    assert sorted(second.runs) == ["store:main", "use"], second.describe()
    assert (script.dir / "use.txt").read_text() == "20"

    # the calculation changes: recalculated, loaded, and the dependant reruns
    script.edit("return [5, 6]", "return [5, 7]")
    third = script.run().ok()
    assert sorted(third.runs) == ["calc_attr:worker", "use_attr"], third.describe()
    assert (script.dir / "use_attr.txt").read_text() == "[5, 7]"

    # the cache file is deleted: recalculated; the same value -> the dependant is cut off
    (script.dir / "cache" / "calc.joblib").unlink()
    fourth = script.run().ok()
    assert fourth.runs == ["calc:worker"], fourth.describe()


VALUES = """
ppg.new_pipeline(cores=2)


def compute():
    mark("value:" + str(os.getpid()))
    return {"total": sum([1, 2, 3])}


v = ppg.ValueJob("total", compute)


def write_total(path):
    mark("write")
    path.write_text(str(v.value["total"]))


ppg.FileGeneratingJob("total.txt", write_total).depends_on(v)
run_and_report()
print("VALUE", json.dumps(v.value), os.getpid())
"""


def test_value_job(script):
    script.write(VALUES)
    first = script.run().ok()
    assert len(first.runs) == 2 and first.runs[1] == "write", first.describe()
    value_line = first.stdout.split("VALUE ", 1)[1].splitlines()[0]
    value, main_pid = value_line.rsplit(" ", 1)
    assert json.loads(value) == {"total": 6}
    assert first.runs[0] != f"value:{main_pid}"  # computed in a worker
    assert (script.dir / "total.txt").read_text() == "6"
    assert list((script.ppg_dir / "cache" / "values").iterdir())

    second = script.run().ok()
    assert second.runs == []
    assert json.loads(second.stdout.split("VALUE ", 1)[1].rsplit(" ", 1)[0]) == {"total": 6}

    # code change, same value: the value job reruns, its dependant does not
    script.edit("sum([1, 2, 3])", "sum([3, 2, 1])")
    third = script.run().ok()
    assert [r.split(":")[0] for r in third.runs] == ["value"], third.describe()

    script.edit("sum([3, 2, 1])", "sum([3, 2, 1, 4])")
    fourth = script.run().ok()
    assert [r.split(":")[0] for r in fourth.runs] == ["value", "write"], fourth.describe()
    assert (script.dir / "total.txt").read_text() == "10"

    # the stored value is deleted: recomputed (rule 2), same value -> dependant cut off
    for f in (script.ppg_dir / "cache" / "values").iterdir():
        f.unlink()
    fifth = script.run().ok()
    assert [r.split(":")[0] for r in fifth.runs] == ["value"], fifth.describe()


def test_plot_job(script):
    script.write(
        """
        import matplotlib

        matplotlib.use("Agg")
        ppg.new_pipeline(cores=2)


        def calc():
            mark("calc")
            return [1, 4, 9]


        def plot(data):
            import matplotlib.pyplot as plt

            mark("plot")
            fig, ax = plt.subplots()
            ax.plot(data)
            return fig


        ppg.PlotJob("plot.png", calc, plot)
        run_and_report()
        """
    )
    first = script.run().ok()
    assert sorted(first.runs) == ["calc", "plot"]
    assert (script.dir / "plot.png").read_bytes()[:4] == b"\x89PNG"
    assert script.run().ok().runs == []
    script.edit("ax.plot(data)", "ax.plot(data, 'o')")
    assert script.run().ok().runs == ["plot"]


def test_job_generating_job(script):
    script.write(
        """
        ppg.new_pipeline(cores=2)
        N_GEN = 2


        def make_writer(i):
            def w(path):
                mark(f"gen{i}")
                path.write_text(str(i))

            return w


        def generate():
            mark("generator")
            for i in range(N_GEN):
                ppg.FileGeneratingJob(f"gen{i}.txt", make_writer(i))


        ppg.JobGeneratingJob("generator", generate)
        run_and_report()
        """
    )
    first = script.run().ok()
    assert sorted(first.runs) == ["gen0", "gen1", "generator"], first.describe()
    assert first.runs[0] == "generator"
    assert (script.dir / "gen1.txt").read_text() == "1"

    second = script.run().ok()
    assert second.runs == ["generator"], second.describe()  # it runs every run

    script.edit("N_GEN = 2", "N_GEN = 3")
    third = script.run().ok()
    assert sorted(third.runs) == ["gen2", "generator"], third.describe()


def test_a_generated_job_may_depend_on_a_job_that_finished_with_no_dependant(script):
    """A run lets go of what a finished job without dependants produced, unless a job
    may still join the run: here `early.txt` is done before the generator runs (the
    generator waits for the slow job), and the job it generates depends on it."""
    script.write(
        """
        ppg.new_pipeline(cores=1)
        ppg.FileGeneratingJob("early.txt", write("early"))


        def slow(path):
            time.sleep(0.3)
            write("slow")(path)


        def late(path):
            mark("late")
            path.write_text(Path("early.txt").read_text() + " then late")


        def generate():
            mark("generator")
            ppg.FileGeneratingJob("late.txt", late).depends_on("early.txt")


        ppg.JobGeneratingJob("generator", generate).depends_on(
            ppg.FileGeneratingJob("slow.txt", slow)
        )
        run_and_report()
        """
    )
    first = script.run().ok()
    assert first.runs == ["early", "slow", "generator", "late"], first.describe()
    assert (script.dir / "late.txt").read_text() == "early then late"
    second = script.run().ok()
    assert second.runs == ["generator"], second.describe()
    script.edit('write("early")', 'write("earlier")')
    third = script.run().ok()
    assert sorted(third.runs) == ["earlier", "generator", "late"], third.describe()
    assert (script.dir / "late.txt").read_text() == "earlier then late"


def test_run_targets_with_a_generator_runs_what_it_generates_not_other_jobs(script):
    script.write(
        """
        base = ppg.FileGeneratingJob("base.txt", write("base"))
        ppg.FileGeneratingJob("other.txt", write("other"))


        def generate():
            mark("generator")
            ppg.FileGeneratingJob("made.txt", write("made")).depends_on(base)


        generator = ppg.JobGeneratingJob("generator", generate)
        run_and_report([generator])
        """
    )
    done = script.run().ok()
    assert done.runs == ["generator", "base", "made"], done.describe()
    assert not (script.dir / "other.txt").exists()


def test_final_job_runs_after_everything_else(script):
    script.write(
        """
        ppg.new_pipeline(cores=2)


        def slow(path):
            time.sleep(0.3)
            mark("slow")
            path.write_text("slow")


        def fast(path):
            mark("fast")
            path.write_text("fast")


        def final():
            seen = sorted(p.name for p in Path(".").glob("*.txt"))
            mark("final:" + ",".join(seen))


        ppg.FinalJob("final", final)
        ppg.FileGeneratingJob("slow.txt", slow)
        ppg.FileGeneratingJob("fast.txt", fast)
        run_and_report()
        """
    )
    first = script.run().ok()
    assert first.runs[-1] == "final:fast.txt,slow.txt", first.describe()
    assert sorted(first.runs[:-1]) == ["fast", "slow"]
    assert script.run().ok().runs == []  # nothing ran, nothing changed: §3 "only if"
    script.edit('path.write_text("fast")', 'path.write_text("fast!")')
    third = script.run().ok()
    assert third.runs == ["fast", "final:fast.txt,slow.txt"], third.describe()


def test_a_final_job_that_depends_on_another_runs_after_it(script):
    script.write(
        """
        def summary():
            mark("summary")
            Path("summary.log").write_text("done")


        def announce():
            mark("announce:" + Path("summary.log").read_text())


        first = ppg.FinalJob("summary", summary)
        ppg.FinalJob("announce", announce).depends_on(first)
        ppg.FileGeneratingJob("a.txt", write("a"))
        run_and_report()
        """
    )
    done = script.run().ok()
    assert done.runs == ["a", "summary", "announce:done"], done.describe()
    assert script.run().ok().runs == []


# --- run(targets) ----------------------------------------------------------------------


def test_run_targets_runs_only_them_and_their_upstream(script):
    script.write(CHAIN.replace("run_and_report()", "run_and_report(TARGETS)"))
    script.edit("run_and_report(TARGETS)", 'run_and_report(["b.txt"])')
    first = script.run().ok()
    assert sorted(first.runs) == ["a", "b"], first.describe()
    assert "c.txt" not in first.result["outcomes"]
    assert not (script.dir / "c.txt").exists()

    script.edit('run_and_report(["b.txt"])', "run_and_report([c])")
    second = script.run().ok()
    assert second.runs == ["c"], second.describe()
    assert "a.txt" not in second.result["outcomes"]

    script.edit("run_and_report([c])", "run_and_report()")
    assert script.run().ok().runs == []


# --- ppg.why ---------------------------------------------------------------------------

WHY = """
ppg.new_pipeline(cores=2)
P = 1


def write_a(path):
    mark("a")
    if Path("fail.flag").exists():
        raise RuntimeError("asked to fail")
    path.write_text("A")


def write_b(path):
    mark("b")
    path.write_text("B" + Path("a.txt").read_text() + Path("in.txt").read_text())


def write_c(path):
    mark("c")
    path.write_text("C")


def load():
    return 1


a = ppg.FileGeneratingJob("a.txt", write_a)
b = ppg.FileGeneratingJob("b.txt", write_b).depends_on(a, "in.txt")
b.depends_on(ppg.ParameterInvariant("p", P))
c = ppg.FileGeneratingJob("c.txt", write_c)
EXTRA = []
c.depends_on(EXTRA)
ld = ppg.DataLoadingJob("load", load)
if "--why" in sys.argv:
    print("@@WHY " + json.dumps({j: ppg.why(j) for j in ["a.txt", "b.txt", "c.txt", "load"]}))
elif "--a-only" in sys.argv:
    run_and_report([a])
else:
    run_and_report()
"""


def _why(script) -> dict[str, str]:
    run = script.run("--why")
    assert run.returncode == 0, run.describe()
    assert run.runs == [], "asking why must not run anything"
    return json.loads(run.stdout.split("@@WHY ", 1)[1].splitlines()[0])


def test_why_rules_1_and_2(script):
    (script.dir / "in.txt").write_text("in")
    script.write(WHY)
    why = _why(script)
    assert why["a.txt"] == "'a.txt' will run: it has never run"
    assert why["load"] == "'load': it runs only when a job that depends on it runs"

    (script.dir / "fail.flag").write_text("1")
    failed = script.run()
    assert "a.txt" in failed.result["failed"], failed.describe()
    why = _why(script)
    assert why["a.txt"] == "'a.txt' will run: it failed last time"
    (script.dir / "fail.flag").unlink()
    script.run().ok()

    why = _why(script)
    assert why == {
        "a.txt": "'a.txt' is up to date",
        "b.txt": "'b.txt' is up to date",
        "c.txt": "'c.txt' is up to date",
        "load": "'load': it runs only when a job that depends on it runs",
    }
    (script.dir / "c.txt").unlink()
    (script.dir / "b.txt").write_text("hand-edited")
    (script.dir / "a.txt").write_text("")
    why = _why(script)
    assert why["a.txt"] == "'a.txt' will run: its output 'a.txt' is empty"
    assert why["b.txt"] == "'b.txt' will run: its output 'b.txt' was changed since the job wrote it"
    assert why["c.txt"] == "'c.txt' will run: its output 'c.txt' is missing"


def test_why_rules_3_and_4(script):
    (script.dir / "in.txt").write_text("in")
    script.write(WHY)
    script.run().ok()
    script.edit('path.write_text("C")', 'path.write_text("C2")')
    script.edit("EXTRA = []", "EXTRA = [a]")
    (script.dir / "in.txt").write_text("in, edited")
    why = _why(script)
    assert why["c.txt"] == "'c.txt' will run: its code changed"
    assert why["b.txt"] == "'b.txt' will run: input file 'in.txt' changed"
    (script.dir / "in.txt").write_text("in")
    script.edit("P = 1", "P = 2")
    assert _why(script)["b.txt"] == "'b.txt' will run: parameter 'p' changed"
    script.edit('path.write_text("C2")', 'path.write_text("C")')
    assert _why(script)["c.txt"] == (
        "'c.txt' will run: its dependencies changed: it now depends on job 'a.txt'"
    )


def test_why_rule_5(script):
    (script.dir / "in.txt").write_text("in")
    script.write(WHY)
    script.run().ok()
    script.edit('path.write_text("A")', 'path.write_text("A2")')
    why = _why(script)
    assert why["a.txt"] == "'a.txt' will run: its code changed"
    assert why["b.txt"] == (
        "'b.txt' may run: job 'a.txt' will run first; it reruns only if that output changes"
    )
    assert script.run("--a-only").ok().runs == ["a"]
    why = _why(script)
    assert why["a.txt"] == "'a.txt' is up to date"
    assert why["b.txt"] == (
        "'b.txt' will run: job 'a.txt' produced different output than it used last time"
    )
    assert script.run().ok().runs == ["b"]


# --- working directory, logs ------------------------------------------------------------


def test_jobs_run_in_the_pipelines_workdir_after_chdir(script):
    script.write(
        """
        MAIN_PID = os.getpid()
        ppg.new_pipeline(cores=2)
        WORKDIR = os.getcwd()


        def cwd_ok():
            return str(os.getcwd() == WORKDIR)


        def w(path):
            mark("file:" + cwd_ok())
            Path("relative.txt").write_text("written by w")
            path.write_text(os.getcwd())


        def value():
            mark("value:" + cwd_ok())
            return os.getcwd()


        def load():
            mark("load:" + cwd_ok())
            return 1


        def gen():
            mark("gen:" + cwd_ok())


        def final():
            mark("final:" + cwd_ok())


        ld = ppg.DataLoadingJob("load", load)
        ppg.FileGeneratingJob("w.txt", w).depends_on(ld)
        v = ppg.ValueJob("v", value)
        ppg.JobGeneratingJob("gen", gen)
        ppg.FinalJob("final", final)
        os.makedirs("elsewhere", exist_ok=True)
        os.chdir("elsewhere")
        run_and_report()
        assert os.getcwd() == os.path.join(WORKDIR, "elsewhere")
        print("VALUE", v.value)
        """
    )
    run = script.run().ok()
    assert sorted(run.runs) == ["file:True", "final:True", "gen:True", "load:True", "value:True"]
    assert (script.dir / "w.txt").read_text() == str(script.dir)
    assert (script.dir / "relative.txt").exists()
    assert os.listdir(script.dir / "elsewhere") == []
    assert f"VALUE {script.dir}" in run.stdout


def test_two_pipelines_in_one_process_share_workers_but_not_workdirs(script):
    (script.dir / "one").mkdir()
    (script.dir / "two").mkdir()
    script.write(
        """
        def w(path):
            path.write_text(os.getcwd() + " " + str(os.getpid()))


        os.chdir("one")
        p1 = ppg.new_pipeline(cores=2)
        ppg.FileGeneratingJob("out.txt", w)
        os.chdir("../two")
        p2 = ppg.new_pipeline(cores=2)
        ppg.FileGeneratingJob("out.txt", w)
        os.chdir("/")
        for p in (p1, p2, p1):
            print("RAN", p.run().ran)
        """
    )
    run = script.run()
    assert run.returncode == 0, run.describe()
    assert run.stdout.count("RAN ['out.txt']") == 2
    assert run.stdout.count("RAN []") == 1
    for sub in ("one", "two"):
        assert (script.dir / sub / "out.txt").read_text().split()[0] == str(script.dir / sub)
        assert (script.dir / sub / ".ppg" / "history").exists()


def test_job_output_is_captured_in_logs(script):
    script.write(
        """
        ppg.new_pipeline(cores=2)


        def chatty(path):
            print("hello from the job")
            print("and to stderr", file=sys.stderr)
            path.write_text("x")


        def quiet(path):
            path.write_text("y")


        ppg.FileGeneratingJob("chatty.txt", chatty)
        ppg.FileGeneratingJob("quiet.txt", quiet)
        result = run_and_report()
        print("LOGS", json.dumps(result.logs))
        """
    )
    run = script.run().ok()
    logs = list((script.ppg_dir / "logs").iterdir())
    assert len(logs) == 1, logs
    assert "chatty" in logs[0].name
    text = logs[0].read_text()
    assert "hello from the job" in text and "and to stderr" in text
    reported = json.loads(run.stdout.split("LOGS ", 1)[1].splitlines()[0])
    assert "hello from the job" in reported["chatty.txt"]
    assert "hello from the job" not in run.stdout.split("LOGS ", 1)[0]


def test_cores_needed_is_honoured(script):
    script.write(
        """
        ppg.new_pipeline(cores=2)


        def make(i):
            def w(path):
                t0 = time.time()
                time.sleep(0.3)
                mark(f"{i} {t0} {time.time()}")
                path.write_text(str(i))

            return w


        for i in range(3):
            ppg.FileGeneratingJob(f"big{i}.txt", make(i), cores_needed=2)
        ppg.FileGeneratingJob("huge.txt", make(9), cores_needed=8)  # more than there are
        run_and_report()
        """
    )
    run = script.run().ok()
    assert len(run.runs) == 4, run.describe()
    spans = sorted((float(t0), float(t1)) for _, t0, t1 in (r.split() for r in run.runs))
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end - 0.01, f"jobs needing all cores overlapped: {spans}"


def test_cores_jobs_run_at_once_and_no_more(script):
    """Two jobs can only finish together (each waits for the other to start); a third
    starts only once one of them has finished."""
    script.write(
        """
        ppg.new_pipeline(cores=2)


        def together(me, other):
            def w(path):
                Path(me + ".started").write_text("")
                deadline = time.time() + 20
                while not Path(other + ".started").exists() and time.time() < deadline:
                    time.sleep(0.02)
                path.write_text("together" if Path(other + ".started").exists() else "alone")

            return w


        def third(path):
            path.write_text("after one" if Path("a.txt").exists() or Path("b.txt").exists()
                            else "alongside both")


        ppg.FileGeneratingJob("a.txt", together("a", "b"))
        ppg.FileGeneratingJob("b.txt", together("b", "a"))
        ppg.FileGeneratingJob("c.txt", third)
        run_and_report()
        """
    )
    script.run(timeout=90).ok()
    assert (script.dir / "a.txt").read_text() == "together"
    assert (script.dir / "b.txt").read_text() == "together"
    assert (script.dir / "c.txt").read_text() == "after one"


SCRIPT_CLASS_VALUE = """
ppg.new_pipeline(cores=2)


class Summary:
    def __init__(self, total):
        self.total = total


def compute():
    mark("value")
    return Summary(sum([1, 2, 3]))


v = ppg.ValueJob("summary", compute)


def write_total(path):
    mark("write")
    path.write_text(str(v.value.total))


ppg.FileGeneratingJob("total.txt", write_total).depends_on(v)
run_and_report()
print("VALUE", v.value.total)
"""


def test_value_of_a_class_defined_in_the_script(script):
    # Instances of a class defined in __main__ cannot be pickled by reference in a worker;
    # they are stored by value and read back in the main process and in other workers.
    script.write(SCRIPT_CLASS_VALUE)
    first = script.run().ok()
    assert first.runs == ["value", "write"], first.describe()
    assert "VALUE 6" in first.stdout
    assert (script.dir / "total.txt").read_text() == "6"
    second = script.run().ok()
    assert second.runs == [], second.describe()
    assert "VALUE 6" in second.stdout
