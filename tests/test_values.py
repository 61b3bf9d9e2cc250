"""Stored values (cache.py): values joblib stores but cannot hash, values that cannot be
stored at all, and names that are long but legal; in real worker processes."""

from __future__ import annotations

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
