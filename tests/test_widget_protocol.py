"""The widget's two sides declare the same messages: ppg_notebook/widget_protocol.py (the
kernel's TypedDicts) and js/src/protocol.ts (the page's interfaces), read here as text and
compared name by name, field by field; and the widget answers exactly the commands declared
and syncs exactly the traits declared."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest

from ppg_notebook import widget_protocol as protocol
from ppg_notebook.widget import COMMANDS, PipelineWidget

PROTOCOL_TS = Path(__file__).resolve().parent.parent / "js" / "src" / "protocol.ts"

# `export interface Name extends A, B {` or `export type Name = {`, up to the closing
# `}` at the start of a line; one field a line (protocol.ts says so).
_BLOCK = re.compile(
    r"^export (?:interface (\w+)(?: extends ([\w, ]+))?|type (\w+) =) \{\n(.*?)^\}", re.M | re.S
)
_FIELD = re.compile(r"^\s+(\w+)(\?)?: (.*?);$", re.M)
_UNION = re.compile(r"^export type (\w+) =((?:\s*\|\s*\"\w+\")+);", re.M)

Fields = dict[str, tuple[frozenset[str], frozenset[str]]]  # name -> (required, optional)


def typescript_types(source: str) -> tuple[Fields, dict[str, dict[str, str]]]:
    """Each interface's (required, optional) fields, with those it extends; and the
    string literal a field is typed as (`type: "status"`), by interface and field."""
    own: dict[str, tuple[list[str], set[str], set[str], dict[str, str]]] = {}
    for m in _BLOCK.finditer(source):
        name = m.group(1) or m.group(3)
        bases = [b.strip() for b in (m.group(2) or "").split(",") if b.strip()]
        required, optional, literals = set(), set(), {}
        for field, mark, type_ in _FIELD.findall(m.group(4)):
            (optional if mark else required).add(field)
            if re.fullmatch(r'"\w+"', type_):
                literals[field] = type_.strip('"')
        own[name] = (bases, required, optional, literals)

    def resolve(name: str) -> tuple[set[str], set[str], dict[str, str]]:
        bases, required, optional, literals = own[name]
        required, optional, literals = set(required), set(optional), dict(literals)
        for base in bases:
            r, o, lit = resolve(base)
            required |= r
            optional |= o
            literals = {**lit, **literals}
        return required, optional, literals

    fields: Fields = {}
    all_literals = {}
    for name in own:
        required, optional, literals = resolve(name)
        fields[name] = (frozenset(required), frozenset(optional))
        all_literals[name] = literals
    return fields, all_literals


def python_types() -> tuple[Fields, dict[str, dict[str, str]]]:
    fields: Fields = {}
    literals: dict[str, dict[str, str]] = {}
    for name, obj in vars(protocol).items():
        if name.startswith("_") or not typing.is_typeddict(obj):
            continue
        fields[name] = (obj.__required_keys__, obj.__optional_keys__)
        hints = typing.get_type_hints(obj)
        literals[name] = {
            field: typing.get_args(hint)[0]
            for field, hint in hints.items()
            if typing.get_origin(hint) is typing.Literal and len(typing.get_args(hint)) == 1
        }
    return fields, literals


def test_both_sides_declare_the_same_messages_with_the_same_fields() -> None:
    ts_fields, ts_literals = typescript_types(PROTOCOL_TS.read_text())
    py_fields, py_literals = python_types()
    # (a parser that found nothing would find both sides equal)
    core = {"Command", "Status", "Reply", "Notice", "Details", "Graph", "Progress", "Traits"}
    assert core <= set(py_fields), sorted(py_fields)
    assert set(ts_fields) == set(py_fields), (
        f"only in protocol.ts: {sorted(set(ts_fields) - set(py_fields))}; "
        f"only in widget_protocol.py: {sorted(set(py_fields) - set(ts_fields))}"
    )
    for name, (required, optional) in py_fields.items():
        assert ts_fields[name] == (required, optional), (
            f"{name}: widget_protocol.py has required {sorted(required)}, optional "
            f"{sorted(optional)}; protocol.ts has required {sorted(ts_fields[name][0])}, "
            f"optional {sorted(ts_fields[name][1])}"
        )
    assert py_literals == ts_literals
    assert {py_literals[m]["type"] for m in ("Status", "Reply", "Notice")} == {
        "status",
        "reply",
        "notice",
    }


def test_both_sides_name_the_same_commands_and_the_widget_answers_each() -> None:
    [body] = [b for name, b in _UNION.findall(PROTOCOL_TS.read_text()) if name == "CommandName"]
    ts_commands = set(re.findall(r'"(\w+)"', body))
    py_commands = set(typing.get_args(protocol.CommandName))
    assert ts_commands == py_commands
    assert set(COMMANDS) == py_commands


def test_the_widget_syncs_the_traits_declared() -> None:
    own = {
        name
        for name, trait in PipelineWidget.class_traits(sync=True).items()
        if name in vars(PipelineWidget)
    }
    assert own == set(protocol.Traits.__required_keys__)


@pytest.mark.parametrize(
    ("edit", "found"),
    [
        (lambda s: s.replace("  tally: string;\n", ""), "Progress"),
        (lambda s: s.replace("  job?: string;\n", "  job: string;\n"), "Command"),
        (lambda s: s.replace('type: "notice";', 'type: "note";'), "literal"),
        (lambda s: s.replace("export interface Notice {", "export interface Note {"), "Note"),
    ],
)
def test_a_drift_is_found(edit: typing.Callable[[str], str], found: str) -> None:
    source = PROTOCOL_TS.read_text()
    ts_fields, ts_literals = typescript_types(edit(source))
    py_fields, py_literals = python_types()
    assert edit(source) != source
    if found == "literal":
        assert ts_literals != py_literals
    elif found == "Note":
        assert set(ts_fields) != set(py_fields)
    else:
        assert ts_fields[found] != py_fields[found]
