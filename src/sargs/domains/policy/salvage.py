"""A tolerant reading of a policy that has schema errors, so its references can be checked too.

Strict validation (pydantic) reports the schema errors. To report the dangling references in the
same run, this builds the policy from what does validate: a bad optional value or a bad list element
is left out; an item that lacks a required value (or gives a wrong one, e.g. a retention rule's
`anchor`) is left out of `policy`, and its id is returned as *broken*: declared, but with its own
errors already reported, so references to it are not dangling. Such an item is read *in part* too:
`probe` holds it with the values it does give (the bad required ones None), so its own references
are still checked there. Every location found on `policy` or `probe` maps back to the file's own
through `origin` (a left-out element no longer shifts the index of those after it). The result
serves only the reference checks, never the product.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, NamedTuple, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError, create_model

from sargs.domains.policy.problems import Loc, did_you_mean, holds, unwrap

# Each round removes one bad value; an item has a few dozen values at most.
MAX_ROUNDS = 200


class _Failed(Exception):
    pass


# A list element left out: (the list's location, the element's index in it at that moment).
Removal = tuple[Loc, int]


def _remove(data: Any, loc: Loc, kind: str, removed: list[Removal]) -> None:
    """Remove the value at `loc` (or the deepest part of it that exists), noting a list element in
    `removed`; _Failed if only the whole value could go (a required key is missing, or the value
    itself is wrong)."""
    if kind == "missing" or not loc:
        raise _Failed
    parent, part = None, None
    here = data
    depth = 0
    for step in loc:  # pydantic's loc may go on past the data (a dict key's "[key]", a union tag)
        if not holds(here, step):
            break
        parent, part, here = here, step, here[step]
        depth += 1
    if parent is None or part is None:
        raise _Failed
    if isinstance(parent, list):
        assert isinstance(part, int)
        removed.append((loc[: depth - 1], part))
    del parent[part]


class _Reading(NamedTuple):
    value: Any
    removed: list[Removal]  # in the order they were left out, locations inside the value
    given: frozenset[str] | None = None  # of an item read in part: the fields it gives that validate


def _salvage(adapter: TypeAdapter[Any], raw: Any, item: type[BaseModel] | None = None) -> _Reading:
    """`raw` read by `adapter`, leaving out what does not validate. With `item` (the model of a
    list element), an element lacking a required value is read in part instead of failing."""
    data = copy.deepcopy(raw)
    removed: list[Removal] = []
    for _ in range(MAX_ROUNDS):
        try:
            return _Reading(adapter.validate_python(data), removed)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = tuple(first["loc"])
            if item is not None and first["type"] == "missing" and len(loc) == 1 and isinstance(data, dict):
                return _in_part(item, data, removed)
            _remove(data, loc, first["type"], removed)
    raise _Failed


def _in_part(model: type[BaseModel], data: dict[str, Any], removed: list[Removal]) -> _Reading:
    """An item that lacks a required value (or gave a wrong one, already removed): the values it
    does give, validated as in `model` (its validators included), the required ones it lacks None."""
    required: dict[str, Any] = {n: f.annotation for n, f in model.model_fields.items() if f.is_required()}
    loose: type[BaseModel] = create_model(  # type: ignore[call-overload]
        f"Partial{model.__name__}",
        __base__=model,
        **{name: (annotation | None, None) for name, annotation in required.items()},
    )
    reading = _salvage(TypeAdapter(loose), data)
    value = reading.value
    given = frozenset(value.model_fields_set)
    values = {name: getattr(value, name) for name in model.model_fields}
    return _Reading(model.model_construct(**values), removed + reading.removed, given)


def _declared_id(item: Any) -> str | None:
    """The id an item declares, even under a misspelt key (`idd: offers`)."""
    if not isinstance(item, dict):
        return None
    key = "id" if "id" in item else did_you_mean("id", [k for k in item if isinstance(k, str)])
    value = item.get(key) if key is not None else None
    return value if isinstance(value, str) else None


@dataclasses.dataclass
class Salvaged:
    policy: BaseModel  # what validates
    probe: BaseModel  # `policy` with the items read in part too, at their places
    broken: dict[str, set[str]]  # per section, the ids of items that did not validate
    renamed: dict[str, str]  # a section read under the key it was probably meant to be -> that key
    # per list section, the file's index of each element of `policy` and of `probe`
    indices: dict[str, list[int]] = dataclasses.field(default_factory=dict)
    probe_indices: dict[str, list[int]] = dataclasses.field(default_factory=dict)
    # per value (a section, or a list section's element at the file's index): what was left out
    removed: dict[Loc, list[Removal]] = dataclasses.field(default_factory=dict)
    # items read in part, at the file's location: the fields they give
    in_part: dict[Loc, frozenset[str]] = dataclasses.field(default_factory=dict)

    def origin(self, loc: Loc, *, probe: bool = False) -> Loc:
        """The location in the file of `loc`, found on `policy` (or `probe`)."""
        if not loc:
            return loc
        section = str(loc[0])
        indices = (self.probe_indices if probe else self.indices).get(section)
        if indices is not None and len(loc) > 1 and isinstance(loc[1], int) and loc[1] < len(indices):
            head: Loc = (section, indices[loc[1]])
        else:
            head = (section,)
        rest = list(loc[len(head) :])
        for at, index in reversed(self.removed.get(head, [])):
            if tuple(rest[: len(at)]) == at and len(rest) > len(at):
                step = rest[len(at)]
                if isinstance(step, int) and step >= index:
                    rest[len(at)] = step + 1
        return (*head, *rest)


def salvage(model: type[BaseModel], data: dict[str, Any]) -> Salvaged:
    """`model` built from the parts of `data` that validate, the broken ids of each section, and
    the sections read from a misspelt key (`purpose:` for `purposes:`)."""
    values: dict[str, Any] = {}
    probe: dict[str, Any] = {}
    broken: dict[str, set[str]] = {}
    renamed: dict[str, str] = {}
    out = Salvaged(model.model_construct(), model.model_construct(), broken, renamed)
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
            element = get_args(annotation)[0]
            adapter: TypeAdapter[Any] = TypeAdapter(element)
            is_model = isinstance(element, type) and issubclass(element, BaseModel)
            items, probed = [], []
            out.indices[name], out.probe_indices[name] = [], []
            for index, item in enumerate(raw):
                try:
                    reading = _salvage(adapter, item, element if is_model else None)
                except _Failed:
                    reading = None
                if reading is None or reading.given is not None:
                    declared = _declared_id(item)
                    if declared is not None:
                        broken.setdefault(name, set()).add(declared)
                if reading is None:
                    continue
                out.removed[(name, index)] = reading.removed
                if reading.given is None:
                    items.append(reading.value)
                    out.indices[name].append(index)
                else:
                    out.in_part[(name, index)] = reading.given
                probed.append(reading.value)
                out.probe_indices[name].append(index)
            values[name], probe[name] = items, probed
        else:
            try:
                reading = _salvage(TypeAdapter(annotation), raw)
                values[name] = reading.value
                out.removed[(name,)] = reading.removed
            except _Failed:
                values[name] = fallback
    out.policy = model.model_construct(**values)
    out.probe = model.model_construct(**{**values, **probe})
    return out
