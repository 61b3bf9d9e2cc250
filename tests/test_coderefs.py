"""Refs of the code walk (coderefs.py): told apart by the identity of the object found,
and which of them are plain values that lead to no code."""

from __future__ import annotations

import pytest

from ppg_notebook.coderefs import NO_VALUE, holder, is_plain, live_ref, ref_key


def test_live_refs_are_told_apart_by_the_object_not_its_value() -> None:
    a, b = [1], [1]
    assert ref_key(live_ref(a)) == ref_key(live_ref(a))
    assert ref_key(live_ref(a)) != ref_key(live_ref(b))
    named = ("live", a, "__main__", "a")
    assert ref_key(named) != ref_key(live_ref(a))  # (found under a name, or inside)
    assert ref_key(("symbol", "utils", "f")) == ("symbol", "utils", "f")


@pytest.mark.parametrize(
    ("ref", "plain"),
    [
        (live_ref(3), True),
        (live_ref("text"), True),
        (live_ref(None), True),
        (live_ref((1, 2)), False),  # (a container may hold code)
        (live_ref(len), False),
        (("live", 3, "__main__", "N"), False),  # a module-level value: a parameter
    ],
)
def test_anonymous_plain_values_lead_to_no_code(ref: tuple[object, ...], plain: bool) -> None:
    assert is_plain(ref) is plain


def test_a_holder_is_no_item_only_what_it_holds() -> None:
    item = holder([len, 3])
    assert (item.key, item.fingerprint, item.module, item.value) == ("", "", None, NO_VALUE)
    assert item.children == [live_ref(len), live_ref(3)]
