"""YAML -> Policy, with errors that name the file, the line and the field."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sargs.core.errors import PolicyError
from sargs.domains.policy.schema import Policy

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message}"


def _field_name(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(file)"


def _line_of(root: yaml.Node | None, loc: Loc) -> int:
    """The 1-based line of the deepest YAML node the location reaches."""
    node = root
    line = (root.start_mark.line + 1) if root is not None else 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = None
            for key, value in node.value:
                if key.value == part:
                    nxt = value
                    line = key.start_mark.line + 1
                    break
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
        if node is None:
            break
    return line


OPTIONAL_SECTIONS: tuple[str, ...] = ("sms",)


def content_hash(policy: Policy) -> str:
    """SHA-256 of the policy's meaning (not its whitespace or comments)."""
    # Optional sections a file leaves out do not count, so adding a new optional section to the
    # schema does not change the hash (and so the identity) of an already published version.
    absent = {name for name in OPTIONAL_SECTIONS if not getattr(policy, name)}
    canonical = json.dumps(
        policy.model_dump(mode="json", exclude=absent),
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _duplicate_keys(node: yaml.Node | None, path: Loc = ()) -> list[tuple[Loc, int]]:
    """Keys given twice in one mapping (YAML would silently keep the last)."""
    found: list[tuple[Loc, int]] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[object] = set()
        for key, value in node.value:
            if key.value in seen:
                found.append(((*path, key.value), key.start_mark.line + 1))
            seen.add(key.value)
            found.extend(_duplicate_keys(value, (*path, key.value)))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found.extend(_duplicate_keys(item, (*path, i)))
    return found


def parse_policy(text: str, *, filename: str = "<policy>") -> Policy:
    """Validate a policy document; raises PolicyError listing every problem with its line."""
    try:
        root = yaml.compose(text)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = Problem(filename, line, "(yaml)", str(getattr(exc, "problem", exc)))
        raise PolicyError(str(problem), problems=[problem]) from None
    if not isinstance(data, dict):
        problem = Problem(filename, 1, "(file)", "a policy file must be a YAML mapping")
        raise PolicyError(str(problem), problems=[problem])
    duplicates = [
        Problem(filename, line, _field_name(loc), "key given twice") for loc, line in _duplicate_keys(root)
    ]
    if duplicates:
        raise PolicyError("\n".join(map(str, duplicates)), problems=duplicates)
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        problems = [
            Problem(filename, _line_of(root, tuple(err["loc"])), _field_name(tuple(err["loc"])), err["msg"])
            for err in exc.errors()
        ]
        raise PolicyError("\n".join(map(str, problems)), problems=problems) from None
    ref_problems = [
        Problem(filename, _line_of(root, loc), _field_name(loc), msg)
        for loc, msg in policy.reference_problems()
    ]
    if ref_problems:
        raise PolicyError("\n".join(map(str, ref_problems)), problems=ref_problems)
    return policy


def load_policy(path: str | Path) -> Policy:
    """Read and validate one policy file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"{p}: cannot read policy file: {exc.strerror}") from None
    return parse_policy(text, filename=str(p))
