"""Stored values (cache.py): values joblib stores but cannot hash, values that cannot be
stored at all, and names that are long but legal; in real worker processes."""

from __future__ import annotations

import pytest

VALUES = """
import numpy as np

ppg.new_pipeline(cores=1)


def masked():
    mark("masked")
    return np.ma.masked_array([1.0, 2.0], mask=[False, True])


def unstorable():
    return (x for x in range(3))  # a generator


job = ppg.ValueJob("masked", masked)
ppg.ValueJob("unstorable", unstorable)
LOADED = {}
long_name = "cache/" + "v" * 250  # legal (255 at most), but not with a suffix added
ppg.CachedDataLoadingJob(long_name, lambda: {"n": 42}, LOADED.update)
ppg.FileGeneratingJob("uses.txt", lambda path: path.write_text(str(LOADED))).depends_on(
    ppg.get_pipeline().jobs["load:" + long_name]
)
result = run_and_report()
print("@@VALUE", repr(job.value.sum()))
"""


def test_values_joblib_cannot_hash_are_stored_and_unstorable_ones_say_so(script) -> None:  # type: ignore[no-untyped-def]
    script.write(VALUES)
    first = script.run()
    assert first.result is not None, first.describe()
    long_name = "cache/" + "v" * 250
    expected = ["load:" + long_name, long_name, "masked", "uses.txt"]
    assert sorted(first.result["ran"]) == sorted(expected), first.describe()
    assert "@@VALUE np.float64(1.0)" in first.stdout or "@@VALUE 1.0" in first.stdout
    error = first.result["failed"]["unstorable"]
    assert "its code ran, but its value (a builtins.generator) could not be stored" in error
    leftovers = [p.name for p in (script.ppg_dir / "cache" / "values").iterdir()]
    assert not [name for name in leftovers if name.startswith(".tmp")], leftovers
    second = script.run()
    assert second.runs == [], second.describe()  # the masked array's fingerprint is stable


MULTI = """
ppg.new_pipeline(cores=1)
SCALE = 1  # edited by the test


def split():
    mark("split")
    return {"x": [1, 2, 3 * SCALE], "y": "labels"}


def use(name):
    def fn():
        mark("use_" + name)
        return name

    return fn


job = ppg.MultiValueJob("split", ["x", "y"], split)
ppg.ValueJob("use_x", use("x")).depends_on(job.part("x"))
ppg.ValueJob("use_y", use("y")).depends_on(job.part("y"))
print("@@WHY", ppg.why("use_y").splitlines()[0])
run_and_report()
print("@@VALUES", job.values)
"""


def test_a_multi_value_job_reruns_only_the_dependants_of_a_value_that_changed(script) -> None:  # type: ignore[no-untyped-def]
    script.write(MULTI)
    first = script.run().ok()
    assert sorted(first.runs) == ["split", "use_x", "use_y"], first.describe()
    assert "@@VALUES {'x': [1, 2, 3], 'y': 'labels'}" in first.stdout
    assert script.run().ok().runs == []
    script.edit("SCALE = 1", "SCALE = 2")
    third = script.run().ok()
    assert third.runs == ["split", "use_x"], third.describe()  # y came out the same
    assert "@@WHY 'use_y' may run: job 'split' (its value 'y') will run first" in third.stdout
    assert "@@VALUES {'x': [1, 2, 6], 'y': 'labels'}" in third.stdout


def test_a_multi_value_job_that_returns_other_values_fails_naming_them(script) -> None:  # type: ignore[no-untyped-def]
    script.write(MULTI.replace('"y": "labels"', '"z": "labels"'))
    run = script.run()
    assert run.result is not None, run.describe()
    error = run.result["failed"]["split"]
    assert "must return a dict with exactly the values x, y; it returned ['x', 'z']" in error


def test_a_value_that_cannot_be_read_for_want_of_memory_is_not_taken_for_damaged(
    tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    import joblib

    from ppg_notebook import cache
    from ppg_notebook.errors import DamagedValue

    path = str(tmp_path / "v.joblib")
    cache.store(list(range(10)), path)
    monkeypatch.setattr(joblib, "load", lambda p: (_ for _ in ()).throw(MemoryError()))
    with pytest.raises(MemoryError):
        cache.load(path)
    monkeypatch.setattr(joblib, "load", lambda p: (_ for _ in ()).throw(EOFError("cut")))
    with pytest.raises(DamagedValue, match="cannot be read"):
        cache.load(path)
