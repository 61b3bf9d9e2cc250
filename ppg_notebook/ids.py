"""How job and invariant ids are spelled: built here, and read back here, nowhere else.

A job's id is what users name it by: a value job's name, a file job's output path
(relative to the project), the paths of a multi-file job joined by `:::`. Invariants
have a prefix that no job id has: `PI:` a parameter, `FI:` a function, `file:` an input
file, `value:` one value of a MultiValueJob (`value:JOB.NAME`). A job's own code is an
input under the key `OWN_CODE` (""), which no id can be.
"""

from __future__ import annotations

OWN_CODE = ""  # the input key of a job's own code (records before it used "FI:" + the id)
PARAMETER = "PI:"
FUNCTION = "FI:"
INPUT_FILE = "file:"
VALUE_PART = "value:"
INVARIANT_PREFIXES = (PARAMETER, FUNCTION, INPUT_FILE, VALUE_PART)
_JOIN = ":::"  # between the paths of a multi-file job


def parameter(name: str) -> str:
    return PARAMETER + name


def function(name: str) -> str:
    return FUNCTION + name


def input_file(rel_path: str) -> str:
    return INPUT_FILE + rel_path


def value_part(job_id: str, name: str) -> str:
    return f"{VALUE_PART}{job_id}.{name}"


def files(rel_paths: list[str] | tuple[str, ...]) -> str:
    """The id of a job that writes these files."""
    return _JOIN.join(rel_paths)


def old_own_code(job_id: str) -> str:
    """The key a job's own code had in records written before `OWN_CODE`."""
    return FUNCTION + job_id


def is_invariant(an_id: str) -> bool:
    return an_id.startswith(INVARIANT_PREFIXES)


def name_of(an_id: str) -> str:
    """An invariant's name as the user gave it (a parameter's, an input file's path); a
    job's id as it is."""
    for prefix in INVARIANT_PREFIXES:
        if an_id.startswith(prefix):
            return an_id[len(prefix) :]
    return an_id
