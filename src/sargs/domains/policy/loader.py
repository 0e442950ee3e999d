"""YAML -> Policy, with errors that name the file, the line and the field."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sargs.core.errors import PolicyError
from sargs.domains.policy.problems import DANGLING, Loc, Problem, schema_messages
from sargs.domains.policy.salvage import salvage
from sargs.domains.policy.schema import Policy

__all__ = ["Problem", "content_hash", "load_policy", "parse_policy"]

# A policy nests five or six levels and holds a few thousand values; these bounds only stop
# documents that would exhaust the stack or, through aliases, expand without bound.
MAX_DEPTH = 64
MAX_VALUES = 200_000


def _field_name(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(file)"


def _position(root: yaml.Node | None, loc: Loc) -> tuple[int, int]:
    """The 1-based line and column of the deepest YAML node the location reaches (a key's own
    position for a mapping entry; a missing key's parent)."""
    node = root
    mark = root.start_mark if root is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = None
            for key, value in node.value:
                if key.value == part:
                    nxt = value
                    mark = key.start_mark
                    break
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            mark = node.start_mark
        else:
            break
        if node is None:
            break
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def _problem(filename: str, root: yaml.Node | None, loc: Loc, message: str) -> Problem:
    line, column = _position(root, loc)
    return Problem(filename, line, _field_name(loc), message, column)


def _failed(problems: list[Problem]) -> PolicyError:
    problems = sorted(problems, key=lambda p: (p.line, p.column))
    return PolicyError("\n".join(map(str, problems)), problems=problems)


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


def _duplicate_keys(node: yaml.Node | None, path: Loc = ()) -> list[tuple[Loc, yaml.Mark]]:
    """Keys given twice in one mapping (YAML would silently keep the last)."""
    found: list[tuple[Loc, yaml.Mark]] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[object] = set()
        for key, value in node.value:
            if key.value in seen:
                found.append(((*path, key.value), key.start_mark))
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


def _alias_problem(root: yaml.Node) -> tuple[yaml.Mark, str] | None:
    """An alias inside the node it names, or aliases expanding the document past MAX_VALUES
    values (the "billion laughs"), as (where, message); None for a document of sane shape."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()  # the nodes on the path from the root to the current one
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        if finished:
            open_nodes.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(child)] for child in _children(node))
            if sizes[id(node)] > MAX_VALUES:
                return node.start_mark, f"aliases expand the document past {MAX_VALUES} values"
            continue
        if id(node) in sizes:
            continue
        open_nodes.add(id(node))
        stack.append((node, True))
        for child in _children(node):
            if id(child) in open_nodes:
                return node.start_mark, "an alias refers to a node that contains it"
            stack.append((child, False))
    return None


# Errors PyYAML notices only on a later line (where the key's ':' or the closing bracket should
# have been): the place to fix is where the construct began, its context mark.
_STARTS_AT_CONTEXT = ("while scanning a simple key", "while parsing a flow", "while scanning a quoted")


def _yaml_problem(filename: str, exc: yaml.MarkedYAMLError) -> Problem:
    problem, context = exc.problem or str(exc), exc.context or ""
    mark = exc.problem_mark
    if exc.context_mark is not None and context.startswith(_STARTS_AT_CONTEXT):
        thing = context.removeprefix("while scanning a ").removeprefix("while parsing a ")
        problem += f", in the {thing} that starts here"
        if exc.problem_mark is not None:
            problem += f" (noticed at line {exc.problem_mark.line + 1}, column {exc.problem_mark.column + 1})"
        mark = exc.context_mark
    if mark is None:
        return Problem(filename, 1, "(yaml)", problem)
    return Problem(filename, mark.line + 1, "(yaml)", problem, mark.column + 1)


def _read_yaml(text: str, filename: str) -> tuple[yaml.Node | None, Any]:
    """The YAML node tree (for line numbers) and the data of `text`."""
    try:
        loader = _Loader(text)  # refuses control characters YAML does not allow
        try:
            root = loader.get_single_node()
            shape = _alias_problem(root) if root is not None else None
            if shape is not None:
                mark, message = shape
                raise _failed([Problem(filename, mark.line + 1, "(yaml)", message, mark.column + 1)])
            return root, loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        message = f"character U+{char:04X} is not allowed in YAML"
        raise _failed([Problem(filename, line, "(yaml)", message, column)]) from None
    except yaml.MarkedYAMLError as exc:
        raise _failed([_yaml_problem(filename, exc)]) from None
    except yaml.YAMLError as exc:
        raise _failed([Problem(filename, 1, "(yaml)", str(exc))]) from None


def _salvaged_references(data: dict[str, Any]) -> tuple[list[tuple[Loc, str]], dict[str, str]]:
    """The reference problems of what validates in `data`, at the file's own locations, and the
    sections read from a misspelt key. An item read in part (it lacks a required value) is checked
    only for what it names that is not declared, at the values it gives: a check that weighs
    several of its values (a period against the anchor) would be a guess."""
    salvaged = salvage(Policy, data)
    assert isinstance(salvaged.policy, Policy) and isinstance(salvaged.probe, Policy)
    found = [(salvaged.origin(loc), m) for loc, m in salvaged.policy.reference_problems(salvaged.broken)]
    if salvaged.in_part:
        for loc, message in salvaged.probe.reference_problems(salvaged.broken):
            at = salvaged.origin(loc, probe=True)
            given = salvaged.in_part.get(at[:2])
            if given is not None and len(at) > 2 and at[2] in given and message.startswith(DANGLING):
                found.append((at, message))
    return found, salvaged.renamed


def parse_policy(text: str, *, filename: str = "<policy>") -> Policy:
    """Validate a policy document; raises PolicyError listing every problem, sorted by line.

    Schema errors and dangling references come in one run: when the schema has errors, the
    references are checked on what does validate (salvage.py)."""
    root, data = _read_yaml(text, filename)
    if not isinstance(data, dict):
        raise _failed([Problem(filename, 1, "(file)", "a policy file must be a YAML mapping")])
    problems = [
        Problem(filename, mark.line + 1, _field_name(loc), "key given twice", mark.column + 1)
        for loc, mark in _duplicate_keys(root)
    ]
    policy: Policy | None = None
    renamed: dict[str, str] = {}
    try:
        policy = Policy.model_validate(data)
        schema: list[tuple[Loc, str]] = []
        found = policy.reference_problems()
    except ValidationError as exc:
        schema = schema_messages(Policy, data, exc.errors())
        found, renamed = _salvaged_references(data)
    malformed = [loc for loc, _ in schema]
    back = {name: key for key, name in renamed.items()}
    references = [
        # a section read from a misspelt key is reported where it is, under that key
        ((back.get(str(loc[0]), loc[0]), *loc[1:]), message)
        for loc, message in found
        # a value reported as malformed is not reported again as a dangling reference, nor is what
        # holds it (the tolerant reading left the bad part out, so the rest may look incomplete)
        if not any(loc[: len(bad)] == bad or bad[: len(loc)] == loc for bad in malformed)
    ]
    problems += [_problem(filename, root, loc, message) for loc, message in schema + references]
    if problems or policy is None:
        raise _failed(problems)
    return policy


def load_policy(path: str | Path) -> Policy:
    """Read and validate one policy file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"{p}: cannot read policy file: {exc.strerror}") from None
    return parse_policy(text, filename=str(p))
