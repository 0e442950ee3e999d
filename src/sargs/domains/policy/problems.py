"""What is wrong with a policy file, said so that one run shows every problem and how to fix it.

Pydantic's own messages are kept where they are clear; an unknown key becomes "unknown key, did you
mean …" (and the "Field required" pydantic adds for the key it was meant to be is dropped), a wrong
enum value gets a suggestion, and an unknown reference lists the values it could have been.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

Loc = tuple[str | int, ...]

# An unknown reference lists at most this many valid values (a policy declares a few dozen at most).
MAX_LISTED = 30


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    field: str
    message: str
    column: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.field}: {self.message}"


def did_you_mean(value: object, candidates: Iterable[str]) -> str | None:
    """The candidate closest to `value` (difflib), if any is close enough to be a likely typo."""
    if not isinstance(value, str):
        return None
    found = difflib.get_close_matches(value, list(candidates), n=1, cutoff=0.6)
    return found[0] if found else None


def _listed(valid: Iterable[str]) -> str:
    names = sorted(set(valid))
    if not names:
        return "none are declared"
    shown = ", ".join(names[:MAX_LISTED])
    return shown + (f", … ({len(names)} in all)" if len(names) > MAX_LISTED else "")


# How every message of `unknown` begins: a reference to something not declared.
DANGLING = "unknown "


def unknown(kind: str, value: object, valid: Iterable[str]) -> str:
    """'unknown purpose 'markting'; did you mean 'marketing'? (valid: marketing, service)'.

    A value that is not a string (the missing id of an item read in part, see salvage.py) is not
    one of the valid ones."""
    valid = [v for v in valid if isinstance(v, str)]
    hint = did_you_mean(value, valid)
    return (
        f"{DANGLING}{kind} {value!r}"
        + (f"; did you mean {hint!r}?" if hint else "")
        + f" (valid: {_listed(valid)})"
    )


def unwrap(annotation: Any) -> Any:
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def type_at(model: type[BaseModel], loc: Loc) -> Any:
    """The (unwrapped) type the schema expects at `loc`, or None where the schema does not say."""
    current: Any = model
    for part in loc:
        current = _one_model(unwrap(current))
        origin = get_origin(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return None
            current = field.annotation
        elif origin is list and isinstance(part, int):
            current = get_args(current)[0]
        elif origin is dict:
            current = get_args(current)[0 if part == "[key]" else 1]
        else:
            return None
    return _one_model(unwrap(current))


def _one_model(annotation: Any) -> Any:
    """Of a union such as `bool | ArchiveExemption`, the one model a mapping is read as."""
    if get_origin(annotation) in (Union, types.UnionType):
        models = [a for a in get_args(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
        if len(models) == 1:
            return models[0]
    return annotation


def _keys_at(model: type[BaseModel], loc: Loc) -> list[str]:
    found = type_at(model, loc)
    if isinstance(found, type) and issubclass(found, BaseModel):
        return list(found.model_fields)
    return []


def holds(data: Any, part: str | int) -> bool:
    """Whether the raw mapping or list `data` has the key or index `part`."""
    if isinstance(data, dict):
        return part in data
    return isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)


def _present(data: Any, loc: Loc) -> Any:
    for part in loc:
        if not holds(data, part):
            return None
        data = data[part]
    return data


def schema_messages(model: type[BaseModel], data: Any, errors: list[Any]) -> list[tuple[Loc, str]]:
    """Pydantic's errors as (location, message), with unknown keys and wrong values explained.

    An unknown key close to a required key that is missing beside it is that key misspelt: it is
    reported once, as the unknown key with the suggestion, and the "Field required" goes."""
    missing = {tuple(e["loc"]) for e in errors if e["type"] == "missing"}
    explained: set[Loc] = set()
    out: list[tuple[Loc, str]] = []
    for err in errors:
        loc: Loc = tuple(err["loc"])
        if err["type"] == "extra_forbidden" and loc and isinstance(loc[-1], str):
            parent, key = loc[:-1], loc[-1]
            absent = [name for name in _keys_at(model, parent) if (*parent, name) in missing]
            hint = did_you_mean(key, absent)
            if hint is not None:
                explained.add((*parent, hint))
            else:
                given = _present(data, parent)
                free = [k for k in _keys_at(model, parent) if not (isinstance(given, dict) and k in given)]
                hint = did_you_mean(key, free)
            allowed = _keys_at(model, parent)
            if hint is not None:
                out.append((loc, f"unknown key {key!r}; did you mean {hint!r}?"))
            elif allowed:
                out.append((loc, f"unknown key {key!r} (allowed here: {_listed(allowed)})"))
            else:
                out.append((loc, f"unknown key {key!r}"))
            continue
        message = str(err["msg"])
        if err["type"] == "literal_error":
            expected = type_at(model, loc)
            if get_origin(expected) is Literal:
                hint = did_you_mean(err.get("input"), [str(a) for a in get_args(expected)])
                if hint is not None:
                    message += f"; did you mean {hint!r}?"
        out.append((loc, message))
    return [(loc, message) for loc, message in out if loc not in explained]
