"""A tolerant reading of a policy that has schema errors, so its references can be checked too.

Strict validation (pydantic) reports the schema errors. To report the dangling references in the
same run, this builds the policy from what does validate: a bad optional value or a bad list element
is left out; an item that still does not validate (e.g. a purpose missing its title) is dropped
whole, and its id is returned as *broken*: declared, but with its own errors already reported, so
references to it are not dangling. The result serves only the reference checks, never the product.
"""

from __future__ import annotations

import copy
from typing import Any, NamedTuple, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError

from sargs.domains.policy.problems import Loc, did_you_mean, holds, unwrap

# Each round removes one bad value; an item has a few dozen values at most.
MAX_ROUNDS = 200


class _Failed(Exception):
    pass


def _remove(data: Any, loc: Loc, kind: str) -> None:
    """Remove the value at `loc` (or the deepest part of it that exists); _Failed if only the
    whole value could go (a required key is missing, or the value itself is wrong)."""
    if kind == "missing" or not loc:
        raise _Failed
    parent, part = None, None
    here = data
    for step in loc:  # pydantic's loc may go on past the data (a dict key's "[key]", a union tag)
        if not holds(here, step):
            break
        parent, part, here = here, step, here[step]
    if parent is None:
        raise _Failed
    del parent[part]


def _salvage(adapter: TypeAdapter[Any], raw: Any) -> Any:
    data = copy.deepcopy(raw)
    for _ in range(MAX_ROUNDS):
        try:
            return adapter.validate_python(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            _remove(data, tuple(first["loc"]), first["type"])
    raise _Failed


def _declared_id(item: Any) -> str | None:
    """The id an item declares, even under a misspelt key (`idd: offers`)."""
    if not isinstance(item, dict):
        return None
    key = "id" if "id" in item else did_you_mean("id", [k for k in item if isinstance(k, str)])
    value = item.get(key) if key is not None else None
    return value if isinstance(value, str) else None


class Salvaged(NamedTuple):
    policy: BaseModel
    broken: dict[str, set[str]]  # per section, the ids of items that did not validate
    renamed: dict[str, str]  # a section read under the key it was probably meant to be -> that key


def salvage(model: type[BaseModel], data: dict[str, Any]) -> Salvaged:
    """`model` built from the parts of `data` that validate, the broken ids of each section, and
    the sections read from a misspelt key (`purpose:` for `purposes:`)."""
    values: dict[str, Any] = {}
    broken: dict[str, set[str]] = {}
    renamed: dict[str, str] = {}
    unknown_keys = [k for k in data if isinstance(k, str) and k not in model.model_fields]
    for name, field in model.model_fields.items():
        annotation = unwrap(field.annotation)
        is_list = get_origin(annotation) is list
        # What a missing or hopeless value becomes: its default, an empty list, or None (the
        # reference checks skip a value whose own error is reported).
        fallback = field.get_default(call_default_factory=True) if not field.is_required() else None
        if fallback is None and is_list:
            fallback = []
        key: str | None = name
        if name not in data:
            key = did_you_mean(name, unknown_keys)
            if key is not None:
                renamed[key] = name
        raw = data.get(key) if key is not None else None
        if key is None:
            values[name] = fallback
        elif is_list and isinstance(raw, list):
            adapter: TypeAdapter[Any] = TypeAdapter(get_args(annotation)[0])
            items = []
            for item in raw:
                try:
                    items.append(_salvage(adapter, item))
                except _Failed:
                    declared = _declared_id(item)
                    if declared is not None:
                        broken.setdefault(name, set()).add(declared)
            values[name] = items
        else:
            try:
                values[name] = _salvage(TypeAdapter(annotation), raw)
            except _Failed:
                values[name] = fallback
    return Salvaged(model.model_construct(**values), broken, renamed)
