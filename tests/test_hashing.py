"""Fingerprints: what changes them and what must not."""

from __future__ import annotations

import functools
import textwrap
import threading

import pytest

from ppg_notebook import hashing


def compile_fn(source: str, name: str = "f", filename: str = "<cell>", **env: object):
    namespace: dict[str, object] = dict(env)
    exec(compile(textwrap.dedent(source), filename, "exec"), namespace)
    return namespace[name]


BASE = """
def f(x, scale=2):
    y = x * scale
    return y + 1
"""

SAME = [
    pytest.param(
        """
        def f(x, scale=2):
            # a comment
            y = x * scale  # another
            return y + 1
        """,
        id="comments",
    ),
    pytest.param(
        """
        def f(x, scale=2):
            '''A docstring that was added.'''
            y = x * scale
            return y + 1
        """,
        id="docstring-added",
    ),
    pytest.param(
        """



        def f(x, scale=2):

            y = x * scale

            return y + 1
        """,
        id="moved-lines",
    ),
    pytest.param(
        """
        def renamed(x, scale=2):
            y = x * scale
            return y + 1
        """,
        id="function-renamed",
    ),
]


@pytest.mark.parametrize("source", SAME)
def test_cosmetic_edits_keep_the_fingerprint(source: str) -> None:
    name = "renamed" if "renamed" in source else "f"
    before = hashing.function_fingerprint(compile_fn(BASE))
    after = hashing.function_fingerprint(compile_fn(source, name, filename="script.py"))
    assert before == after


DIFFERENT = [
    pytest.param(BASE.replace("y + 1", "y + 2"), id="constant"),
    pytest.param(BASE.replace("x * scale", "x + scale"), id="operator"),
    pytest.param(BASE.replace("scale=2", "scale=3"), id="default-argument"),
    pytest.param(BASE.replace("return y + 1", "return abs(y) + 1"), id="called-function"),
]


@pytest.mark.parametrize("source", DIFFERENT)
def test_real_edits_change_the_fingerprint(source: str) -> None:
    before = hashing.function_fingerprint(compile_fn(BASE))
    assert hashing.function_fingerprint(compile_fn(source)) != before


def test_docstring_edit_keeps_the_fingerprint() -> None:
    a = compile_fn('def f():\n    """one"""\n    return 1\n')
    b = compile_fn('def f():\n    """two, longer"""\n    return 1\n')
    assert hashing.function_fingerprint(a) == hashing.function_fingerprint(b)


def test_nested_function_changes_count() -> None:
    a = compile_fn("def f():\n    def g():\n        return 1\n    return g()\n")
    b = compile_fn("def f():\n    def g():\n        return 2\n    return g()\n")
    assert hashing.function_fingerprint(a) != hashing.function_fingerprint(b)


def test_closure_values_count() -> None:
    def make(value):
        def job():
            return value

        return job

    assert hashing.function_fingerprint(make(1)) == hashing.function_fingerprint(make(1))
    assert hashing.function_fingerprint(make(1)) != hashing.function_fingerprint(make(2))
    assert hashing.function_fingerprint(make([1, 2])) != hashing.function_fingerprint(make([2, 1]))


def test_closures_of_plain_values_fingerprint_alike_by_either_path() -> None:
    # The fast path for the closures a loop makes must give exactly the general path's
    # fingerprint (else every such job of an existing pipeline would run again once).
    def make(a, b, c=1.5, *, d="k"):
        def job(x=c, *, y=d):
            return a, b, x, y

        return job

    plain = [make("s", 1), make(None, b"by", c=None), make(True, 2**70, d=""), lambda: 1]
    for fn in plain:
        assert hashing.plain_values_fingerprint(fn) == hashing.function_fingerprint(fn)
    for fn in (make([1], 2), make("s", 1, c=(1,)), make("s", 1, d=[]), make(len, 1)):
        assert hashing.plain_values_fingerprint(fn) is None  # (not plain: the general path)


def test_closure_over_a_function_follows_its_code() -> None:
    helper_a = compile_fn("def helper():\n    return 1\n", "helper")
    helper_b = compile_fn("def helper():\n    return 2\n", "helper")

    def make(helper):
        def job():
            return helper()

        return job

    assert hashing.function_fingerprint(make(helper_a)) != hashing.function_fingerprint(
        make(helper_b)
    )


def test_keyword_only_defaults_and_partials_count() -> None:
    a = compile_fn("def f(*, k=1):\n    return k\n")
    b = compile_fn("def f(*, k=2):\n    return k\n")
    assert hashing.function_fingerprint(a) != hashing.function_fingerprint(b)
    p1 = functools.partial(a, k=5)
    p2 = functools.partial(a, k=6)
    assert hashing.function_fingerprint(p1) != hashing.function_fingerprint(p2)


def test_lambdas_and_builtins() -> None:
    assert hashing.function_fingerprint(lambda: 1) != hashing.function_fingerprint(lambda: 2)
    assert hashing.function_fingerprint(len) == hashing.function_fingerprint(len)
    assert hashing.function_fingerprint(len) != hashing.function_fingerprint(print)


def test_value_fingerprints() -> None:
    fp = hashing.value_fingerprint
    assert fp(1) != fp("1")
    assert fp(1) != fp(1.0)
    assert fp({"a": 1, "b": 2}) == fp({"b": 2, "a": 1})
    assert fp({1, 2, 3}) == fp({3, 2, 1})
    assert fp((1, [2, 3])) != fp((1, [3, 2]))
    assert fp(None) != fp(0)


def test_value_fingerprint_of_arbitrary_objects_is_by_content() -> None:
    class Point:
        def __init__(self, x: int) -> None:
            self.x = x

    fp = hashing.value_fingerprint
    assert fp(Point(1)) == fp(Point(1))
    assert fp(Point(1)) != fp(Point(2))


def test_wants_argument() -> None:
    assert hashing.wants_argument(lambda p: None)
    assert not hashing.wants_argument(lambda: None)
    assert not hashing.wants_argument(lambda p=1: None)
    assert hashing.wants_argument(functools.partial(lambda a, b: None, 1))
    assert not hashing.wants_argument(functools.partial(lambda a: None, 1))


def test_hash_file(tmp_path) -> None:
    a = tmp_path / "a"
    a.write_bytes(b"x" * 3_000_000)
    first = hashing.hash_file(str(a))
    a.write_bytes(b"x" * 2_999_999 + b"y")
    assert hashing.hash_file(str(a)) != first


def test_string_constants_in_comprehensions_and_lambdas_count() -> None:
    a = compile_fn("def f(xs):\n    return [x + 'a' for x in xs]\n")
    b = compile_fn("def f(xs):\n    return [x + 'b' for x in xs]\n")
    assert hashing.function_fingerprint(a) != hashing.function_fingerprint(b)
    assert hashing.function_fingerprint(lambda: "a") != hashing.function_fingerprint(lambda: "b")


def test_first_docstring_of_a_function_without_return_keeps_the_fingerprint() -> None:
    # Without a docstring, the implicit `return None` reuses the docstring slot's None;
    # with one, None becomes a new constant: indices differ, the canonical form must not.
    a = compile_fn("def f(path):\n    mark('c')\n    path.write_text('C')\n")
    b = compile_fn('def f(path):\n    """Doc."""\n    mark("c")\n    path.write_text("C")\n')
    assert hashing.function_fingerprint(a) == hashing.function_fingerprint(b)


class _Scaled:
    def __init__(self, factor: int) -> None:
        self.factor = factor

    def apply(self, x: int) -> int:
        return x * self.factor


def test_a_bound_methods_fingerprint_covers_the_object_it_is_bound_to() -> None:
    fingerprint = hashing.function_fingerprint
    assert fingerprint(_Scaled(2).apply) == fingerprint(_Scaled(2).apply)
    assert fingerprint(_Scaled(2).apply) != fingerprint(_Scaled(3).apply)


class _Holder:
    def __init__(self, threshold: int) -> None:
        self.lock = threading.Lock()  # (cannot be pickled)
        self.threshold = threshold


def test_an_object_that_cannot_be_pickled_is_hashed_by_its_other_state() -> None:
    key = hashing.value_fingerprint
    assert key(_Holder(1)) == key(_Holder(1))
    assert key(_Holder(1)) != key(_Holder(2))  # (before: one "unhashable" token for both)
