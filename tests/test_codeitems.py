"""What each kind of ref stands for (codeitems.Items): the item's key, where it is defined,
the refs it leads to, and what its fingerprint follows.

The project is a tmp directory holding `ci_utils.py`, imported for real; `__main__` code
(a script's or a notebook's) is compiled into a namespace of its own:

    __main__.Box.area ──> __main__.scale ──> __main__.FACTOR
    ci_utils.make(n).<locals>.job ──> ci_utils.helper ──> ci_utils.LIMIT
"""

from __future__ import annotations

import functools
import json
import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ppg_notebook import hashing
from ppg_notebook.codeitems import Items
from ppg_notebook.coderefs import NO_VALUE, TRACK_ALL, TRACK_CONSTANTS, live_ref
from ppg_notebook.userfiles import UserFiles
from ppg_notebook.usermodules import UserModules

CI_UTILS = """
LIMIT = 3
TABLE = list(range(LIMIT))


def helper(x):
    return x + LIMIT


def make(n):
    def job():
        return helper(n)

    return job
"""

MAIN = """
import ci_utils

FACTOR = 2
ROWS = [1, 2]


def scale(v):
    return v * FACTOR


class Box:
    size = 3

    def area(self):
        return scale(self.size)
"""


@pytest.fixture
def ns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    (tmp_path / "ci_utils.py").write_text(textwrap.dedent(CI_UTILS))
    monkeypatch.syspath_prepend(str(tmp_path))
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(MAIN, str(tmp_path / "main.py"), "exec", dont_inherit=True), namespace)
    yield namespace
    sys.modules.pop("ci_utils", None)


@pytest.fixture
def items(tmp_path: Path, ns: dict[str, Any]) -> Items:
    return Items(UserModules(UserFiles.of(str(tmp_path))))


def _live(ns: dict[str, Any], name: str) -> tuple[Any, ...]:
    return ("live", ns[name], "__main__", name)


def test_a_main_function_is_its_compiled_code_and_leads_to_what_it_reads(
    items: Items, ns: dict[str, Any]
) -> None:
    item = items.expand(_live(ns, "scale"), TRACK_CONSTANTS)
    assert item is not None
    assert (item.key, item.module, item.value) == ("__main__.scale", None, NO_VALUE)
    assert item.fingerprint == hashing.function_fingerprint(ns["scale"])
    assert item.children == [("live", 2, "__main__", "FACTOR")]


def test_a_main_class_leads_to_its_methods_and_counts_its_attributes(
    items: Items, ns: dict[str, Any]
) -> None:
    item = items.expand(_live(ns, "Box"), TRACK_CONSTANTS)
    assert item is not None and item.key == "__main__.Box"
    assert live_ref(ns["Box"].area) in item.children
    ns["Box"].size = 4
    again = items.expand(_live(ns, "Box"), TRACK_CONSTANTS)
    assert again is not None and again.fingerprint != item.fingerprint


@pytest.mark.parametrize(
    ("main_values", "key"), [(TRACK_ALL, "__main__.ROWS"), (TRACK_CONSTANTS, None)]
)
def test_a_main_value_is_an_item_only_when_main_values_track_it(
    items: Items, ns: dict[str, Any], main_values: str, key: str | None
) -> None:
    item = items.expand(_live(ns, "ROWS"), main_values)
    assert (item.key if item else None) == key
    if item is not None:
        assert item.value is ns["ROWS"]
        assert item.fingerprint == hashing.hash_bytes(items.value_key([1, 2], []))


def test_a_user_modules_definition_is_read_from_its_file(items: Items) -> None:
    item = items.expand(("symbol", "ci_utils", "helper"), TRACK_CONSTANTS)
    assert item is not None
    assert (item.key, item.module, item.value) == ("ci_utils.helper", "ci_utils", NO_VALUE)
    assert item.children == [("symbol", "ci_utils", "LIMIT")]
    assert items.expand(("symbol", "ci_utils", "no_such_name"), TRACK_CONSTANTS) is None


def test_a_value_a_user_module_computed_counts_by_its_state(items: Items) -> None:
    import ci_utils  # type: ignore[import-not-found]

    item = items.expand(("symbol", "ci_utils", "TABLE"), TRACK_CONSTANTS)
    assert item is not None and item.value is ci_utils.TABLE
    ci_utils.TABLE.append(99)  # (the same object, the same file: hashed once)
    same = items.expand(("symbol", "ci_utils", "TABLE"), TRACK_CONSTANTS)
    assert same is not None and same.fingerprint == item.fingerprint
    ci_utils.TABLE = [0, 1, 2, 99]  # (another object)
    other = items.expand(("symbol", "ci_utils", "TABLE"), TRACK_CONSTANTS)
    assert other is not None and other.fingerprint != item.fingerprint


def test_closures_a_user_module_made_are_their_makers_source_and_what_they_hold(
    items: Items,
) -> None:
    import ci_utils

    one, two = ci_utils.make(1), ci_utils.make(2)
    item = items.expand(live_ref(one), TRACK_CONSTANTS)
    assert item is not None and item.children == [("symbol", "ci_utils", "make")]
    assert item.key.startswith("ci_utils.make.<locals>.job@")
    assert items.held(one, []) != items.held(two, []) == items.held(ci_utils.make(2), [])
    assert items.held(ci_utils.helper, []) is None  # (its source says it all)


def test_what_only_holds_code_is_no_item_itself(items: Items, ns: dict[str, Any]) -> None:
    box = ns["Box"]()
    method = items.expand(live_ref(box.area), TRACK_CONSTANTS)
    assert method is not None and method.key == ""
    assert method.children == [live_ref(box.area.__func__), live_ref(box)]
    partial = items.expand(live_ref(functools.partial(ns["scale"], 2)), TRACK_CONSTANTS)
    assert partial is not None and partial.key == ""
    assert partial.children == [live_ref(ns["scale"]), live_ref(2)]
    inside = items.expand(live_ref(box), TRACK_CONSTANTS)  # (its state counted elsewhere)
    assert inside is not None and inside.children == [live_ref(ns["Box"])]


def test_the_users_code_in_any_objects_state_is_found_without_trusting_the_object(
    items: Items, ns: dict[str, Any]
) -> None:
    """Attributes, slots and a library's object (a JSON decoder's hook here) are searched;
    an object in that state whose attribute access raises is only its class (the search
    never fails the walk of its job)."""

    class Slotted:
        __slots__ = ("fn", "unset")

    class Hostile:
        def __getattribute__(self, name: str) -> Any:
            raise RuntimeError("no attributes here")

    slotted = Slotted()
    slotted.fn = ns["scale"]
    found = items.expand(live_ref(slotted), TRACK_CONSTANTS)
    assert found is not None and live_ref(ns["scale"]) in found.children
    decoder = json.JSONDecoder(object_hook=ns["scale"])  # (a library's object)
    held = items.expand(live_ref(decoder), TRACK_CONSTANTS)
    assert held is not None and held.children == [live_ref(ns["scale"])]
    box = items.expand(live_ref(ns["Box"]()), TRACK_CONSTANTS)
    assert box is not None and box.children == [live_ref(ns["Box"])]
    holding = ns["Box"]()
    holding.proxy = Hostile()  # (met in the search: never asked for its attributes)
    found = items.expand(live_ref(holding), TRACK_CONSTANTS)
    assert found is not None
    assert found.children == [live_ref(ns["Box"])]


@pytest.mark.parametrize(
    "ref",
    [
        live_ref(os.path.join),
        ("live", json.dumps, "json", "dumps"),
        ("live", json.decoder.JSONDecoder(), "json", "_default_decoder"),
        ("live", json, "__main__", "json"),
    ],
    ids=["library-function", "library-global", "library-value", "module"],
)
def test_what_is_not_the_users_leads_nowhere(items: Items, ref: tuple[Any, ...]) -> None:
    assert items.expand(ref, TRACK_ALL) is None


def test_a_values_identity_names_the_users_code_in_it(items: Items, ns: dict[str, Any]) -> None:
    children: list[Any] = []
    key = items.value_key({"f": ns["scale"], "n": 1}, children)
    assert b"user:__main__.scale" in key and children == [live_ref(ns["scale"])]
    assert items.value_key({"f": ns["scale"], "n": 1}, []) == key
    assert items.value_key({"f": ns["scale"], "n": 2}, []) != key


def test_a_jobs_own_function_leads_to_what_it_reads(items: Items, ns: dict[str, Any]) -> None:
    assert items.children_of_root(ns["scale"]) == [("live", 2, "__main__", "FACTOR")]
    wrapped = functools.partial(ns["scale"], 3)
    assert items.children_of_root(wrapped) == [live_ref(ns["scale"]), live_ref(3)]
