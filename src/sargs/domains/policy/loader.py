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

# A policy nests five or six levels and holds a few thousand values; these bounds only stop
# documents that would exhaust the stack or, through aliases, expand without bound.
MAX_DEPTH = 64
MAX_VALUES = 200_000


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


OPTIONAL_SECTIONS: tuple[str, ...] = ("sms", "web")


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


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, bounded in depth, with bad scalars reported as YAML errors."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self._depth >= MAX_DEPTH:
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(None, None, f"nested more than {MAX_DEPTH} levels deep", mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _checked(construct: Any) -> Any:
    """A scalar constructor whose ValueError (2021-02-30, an int of 5,000 digits) is a YAML error."""

    def checked(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
        try:
            return construct(loader, node)
        except (ValueError, OverflowError) as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {str(node.value)[:40]!r}: {exc}", node.start_mark
            ) from None

    return checked


for _tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:timestamp"):
    _Loader.add_constructor(_tag, _checked(yaml.SafeLoader.yaml_constructors[_tag]))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _alias_problem(root: yaml.Node) -> tuple[int, str] | None:
    """An alias inside the node it names, or aliases expanding the document past MAX_VALUES
    values (the "billion laughs"), as (line, message); None for a document of sane shape."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()  # the nodes on the path from the root to the current one
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        if finished:
            open_nodes.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(child)] for child in _children(node))
            if sizes[id(node)] > MAX_VALUES:
                return node.start_mark.line + 1, f"aliases expand the document past {MAX_VALUES} values"
            continue
        if id(node) in sizes:
            continue
        open_nodes.add(id(node))
        stack.append((node, True))
        for child in _children(node):
            if id(child) in open_nodes:
                return node.start_mark.line + 1, "an alias refers to a node that contains it"
            stack.append((child, False))
    return None


def _read_yaml(text: str, filename: str) -> tuple[yaml.Node | None, Any]:
    """The YAML node tree (for line numbers) and the data of `text`."""
    try:
        loader = _Loader(text)  # refuses control characters YAML does not allow
        try:
            root = loader.get_single_node()
            shape = _alias_problem(root) if root is not None else None
            if shape is not None:
                problem = Problem(filename, shape[0], "(yaml)", shape[1])
                raise PolicyError(str(problem), problems=[problem])
            return root, loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        problem = Problem(filename, line, "(yaml)", f"character U+{char:04X} is not allowed in YAML")
        raise PolicyError(str(problem), problems=[problem]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = Problem(filename, line, "(yaml)", str(getattr(exc, "problem", exc)))
        raise PolicyError(str(problem), problems=[problem]) from None


def parse_policy(text: str, *, filename: str = "<policy>") -> Policy:
    """Validate a policy document; raises PolicyError listing every problem with its line."""
    root, data = _read_yaml(text, filename)
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
