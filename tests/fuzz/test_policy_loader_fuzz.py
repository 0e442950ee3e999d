"""Property-based fuzzing of the policy loader (issue 8, hostile input).

Whatever a policy file holds (any text, broken YAML, the example policy with keys dropped,
values of the wrong type, huge strings, aliases that refer to themselves or expand without
bound, nesting thousands deep), `parse_policy` either returns a Policy or raises a PolicyError
whose every problem names the file, a line inside it and a field. Never any other exception.
"""

from __future__ import annotations

import copy
import re
from datetime import date
from typing import Any

import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sargs.bootstrap import example_policy_paths
from sargs.core.errors import PolicyError
from sargs.domains.policy.loader import content_hash, parse_policy
from sargs.domains.policy.schema import Policy

FILE = "fuzz/policy.yaml"
YAML_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")  # what YAML counts lines by
FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None)
SLOW = settings(max_examples=60, deadline=None, derandomize=True, database=None)

TELECOM_TEXT = next(p for p in example_policy_paths() if p.name == "telecom.yaml").read_text(encoding="utf-8")
TELECOM_DATA: dict[str, Any] = yaml.safe_load(TELECOM_TEXT)


def parses_or_points_at_the_problem(text: str) -> Policy | None:
    """The property: a Policy, or a PolicyError whose problems each name file, line and field."""
    try:
        policy = parse_policy(text, filename=FILE)
    except PolicyError as exc:
        problems = exc.details.get("problems")
        assert problems, f"a PolicyError without problems: {exc}"
        last_line = len(YAML_LINE_BREAK.split(text))
        for problem in problems:
            assert problem.file == FILE, problem
            assert isinstance(problem.line, int) and 1 <= problem.line <= last_line, (problem, last_line)
            assert isinstance(problem.field, str) and problem.field.strip(), problem
            assert problem.message, problem
            assert problem.column >= 1, problem
            assert str(problem).startswith(f"{FILE}:{problem.line}:{problem.column}: "), problem
        return None
    assert isinstance(policy, Policy)
    content_hash(policy)
    return policy


# --- any text and YAML-shaped text -------------------------------------------------------------

TOKENS = st.sampled_from(
    [
        *("policy", "id", "version", "published", "purposes", "controllers", "sms", "number", "replies"),
        *(":", ": ", " ", "  ", "\n", "\n  ", "\n    ", "- ", "-", "\t", "[", "]", "{", "}", ",", "?", "? "),
        *("&a ", "*a", "&b ", "*b", "<<: *a", "!!str ", "!!int ", "!!binary ", "!!python/object ", "!foo "),
        *("'", '"', "#", "|", ">-", "---", "...", "%YAML 1.1\n", "%TAG ! tag:x,2000:\n", "\ufeff", "\x00"),
        *(
            "1",
            "-1",
            "0x1F",
            "1e309",
            ".nan",
            "1:2:3",
            "1" * 5000,
            "2021-02-30",
            "2021-01-12",
            "2021-01-01 25:00",
        ),
        *("null", "~", "yes", "No", "true", "ā", "😀", "\u202e", "\r", "\x85", "\u2028"),
    ]
)
YAMLISH = st.lists(st.one_of(TOKENS, st.text(max_size=10)), max_size=60).map("".join)

# Well-formed flow YAML whose scalars are the awkward ones (dates that do not exist, integers
# longer than int() takes) and whose collections may carry anchors and aliases, also to
# themselves, or sit thousands of levels deep.
BAD_SCALARS = st.sampled_from(
    [
        "2021-02-30",
        "2021-13-01",
        "2021-01-01 25:00:00",
        "1" * 5000,
        "-" + "9" * 4400,
        "1e309",
        "0o9",
        "x",
        "1",
    ]
)
KEYS = st.sampled_from(["policy", "published", "version", "id", "purposes", "sms", "a", "1", "2021-01-01"])


@st.composite
def flow_yaml(draw: st.DrawFn, depth: int = 0) -> str:
    anchor = draw(st.sampled_from(["", "", "&a ", "&b "])) if depth else ""
    kind = draw(
        st.sampled_from(["scalar", "alias", "map", "list", "deep"] if depth < 4 else ["scalar", "alias"])
    )
    if kind == "scalar":
        return draw(BAD_SCALARS)
    if kind == "alias":
        return draw(st.sampled_from(["*a", "*b"]))
    if kind == "deep":
        n = draw(st.integers(1, 3000))
        return "[" * n + draw(BAD_SCALARS) + "]" * n
    items = draw(st.lists(flow_yaml(depth + 1), max_size=4))
    if kind == "list":
        return f"{anchor}[{', '.join(items)}]"
    return anchor + "{" + ", ".join(f"{draw(KEYS)}: {item}" for item in items) + "}"


@FUZZ
@given(st.one_of(st.text(), YAMLISH, flow_yaml()))
@example("a: &x [*x]")  # an alias inside itself
@example("policy: &p {id: *p}")
@example("a: &x {<<: *x}")
@example("[" * 5000 + "]" * 5000)  # deeper than the parser's recursion
@example("a: " + "{b: " * 3000 + "1" + "}" * 3000)
@example("a: 1" + "0" * 5000)  # more digits than int() takes
@example("policy:\n  published: 2021-02-30")  # a date that does not exist
@example("a: 2021-01-01 25:00:00")
@example(  # "billion laughs": 9 aliases of 9 aliases of ... 9**9 values
    "a: &a [x,x,x,x,x,x,x,x,x]\n"
    + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{','.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8))
    + "policy: *i\n"
)
@example("? [1]\n: 1")
@example("\ufeffpolicy: x")
def test_any_text_is_a_policy_or_a_pointed_policy_error(text: str) -> None:
    parses_or_points_at_the_problem(text)


# --- structured mutations of the telecom example ---------------------------------------------

VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**20),
    st.floats(),
    st.text(max_size=30),
    st.text(min_size=1, max_size=3).map(lambda s: s * 3_000),  # very long strings
    st.sampled_from(["JAUNUMI", "lmt", "own", "consent", "P2Y", "P", "Pxyz", "{controller}", "{nope}", "{"]),
    st.sampled_from(["<script>alert(1)</script>", "' OR 1=1 --", "\u202eevil", "ā" * 70, "😀"]),
    st.dates(),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
    st.just([[[[[[[[[[[]]]]]]]]]]]),
    st.just({1: "int key", None: "null key", 2.5: "float key", date(2020, 1, 1): "date key"}),
)


def _containers(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths of every mapping and list in `data`."""
    found: list[tuple[Any, ...]] = []
    if isinstance(data, dict):
        found.append(path)
        for key, value in data.items():
            found.extend(_containers(value, (*path, key)))
    elif isinstance(data, list):
        found.append(path)
        for i, value in enumerate(data):
            found.extend(_containers(value, (*path, i)))
    return found


CONTAINERS = _containers(TELECOM_DATA)


def _at(data: Any, path: tuple[Any, ...]) -> Any:
    """The value at `path`, or None when an earlier edit removed or replaced it."""
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


@st.composite
def mutated_policies(draw: st.DrawFn) -> str:
    """The telecom example after a few edits: keys dropped or added, values replaced, lists
    emptied or grown, dumped back to YAML."""
    data = copy.deepcopy(TELECOM_DATA)
    for _ in range(draw(st.integers(1, 4))):
        parent = _at(data, draw(st.sampled_from(CONTAINERS)))
        if not isinstance(parent, dict | list):
            continue  # an earlier edit replaced it
        keys = list(parent) if isinstance(parent, dict) else list(range(len(parent)))
        edit = draw(st.sampled_from(["drop", "replace", "replace", "add", "duplicate", "empty"]))
        if edit == "drop" and keys:
            del parent[draw(st.sampled_from(keys))]
        elif edit == "replace" and keys:
            parent[draw(st.sampled_from(keys))] = draw(VALUES)
        elif edit == "add":
            if isinstance(parent, dict):
                parent[
                    draw(st.one_of(st.text(max_size=10), st.sampled_from(["id", "sms_keyword", "extra"])))
                ] = draw(VALUES)
            else:
                parent.append(draw(VALUES))
        elif edit == "duplicate" and isinstance(parent, list) and parent:
            parent.append(copy.deepcopy(parent[draw(st.sampled_from(keys))]))
        elif edit == "empty":
            parent.clear()
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=10_000)


@SLOW
@given(mutated_policies())
def test_a_mutated_example_is_a_policy_or_a_pointed_policy_error(text: str) -> None:
    parses_or_points_at_the_problem(text)


@st.composite
def edited_texts(draw: st.DrawFn) -> str:
    """The telecom example's text with lines deleted, duplicated, re-indented or cut short."""
    lines = TELECOM_TEXT.splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        edit = draw(st.sampled_from(["delete", "duplicate", "indent", "dedent", "tab", "insert", "cut"]))
        if edit == "delete":
            del lines[i]
        elif edit == "duplicate":
            lines.insert(i, lines[i])
        elif edit == "indent":
            lines[i] = "  " + lines[i]
        elif edit == "dedent":
            lines[i] = lines[i][2:] if lines[i].startswith("  ") else lines[i]
        elif edit == "tab":
            lines[i] = "\t" + lines[i].lstrip(" ")
        elif edit == "insert":
            lines.insert(i, draw(YAMLISH) + "\n")
        else:
            lines = lines[:i]
            break
        if not lines:
            break
    return "".join(lines)


@SLOW
@given(edited_texts())
def test_an_edited_example_text_is_a_policy_or_a_pointed_policy_error(text: str) -> None:
    parses_or_points_at_the_problem(text)


def test_the_unchanged_example_is_a_policy() -> None:
    assert parses_or_points_at_the_problem(TELECOM_TEXT) is not None
