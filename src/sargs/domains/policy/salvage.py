"""A tolerant reading of a policy that has schema errors, so its references can be checked too.

Strict validation (pydantic) reports the schema errors. To report the dangling references in the
same run, this builds the policy from what does validate: a bad optional value or a bad list element
is left out; an item that still does not validate (e.g. a purpose missing its title) is dropped
whole, and its id is returned as *broken*: declared, but with its own errors already reported, so
references to it are not dangling. The result serves only the reference checks, never the product.
"""

from __future__ import annotations

import copy
from typing import Any, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError

from sargs.domains.policy.problems import Loc, holds, unwrap

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


def salvage(model: type[BaseModel], data: dict[str, Any]) -> tuple[BaseModel, dict[str, set[str]]]:
    """`model` built from the parts of `data` that validate, and the broken ids of each section."""
    values: dict[str, Any] = {}
    broken: dict[str, set[str]] = {}
    for name, field in model.model_fields.items():
        annotation = unwrap(field.annotation)
        is_list = get_origin(annotation) is list
        # What a missing or hopeless value becomes: its default, an empty list, or None (the
        # reference checks skip a value whose own error is reported).
        fallback = field.get_default(call_default_factory=True) if not field.is_required() else None
        if fallback is None and is_list:
            fallback = []
        raw = data.get(name)
        if name not in data:
            values[name] = fallback
        elif is_list and isinstance(raw, list):
            adapter: TypeAdapter[Any] = TypeAdapter(get_args(annotation)[0])
            items = []
            for item in raw:
                try:
                    items.append(_salvage(adapter, item))
                except _Failed:
                    if isinstance(item, dict) and isinstance(item.get("id"), str):
                        broken.setdefault(name, set()).add(item["id"])
            values[name] = items
        else:
            try:
                values[name] = _salvage(TypeAdapter(annotation), raw)
            except _Failed:
                values[name] = fallback
    return model.model_construct(**values), broken
