"""`sargs policy check` reports every problem of a policy in one run, sorted by line (issue 20):
schema and reference problems together, "did you mean" for typos, the valid values of an unknown
reference, and the exact line and column of a YAML error."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sargs.bootstrap import example_policy_paths
from sargs.domains.policy.loader import parse_policy
from sargs.domains.policy.problems import did_you_mean, type_at, unknown
from sargs.domains.policy.schema import Policy
from tests.unit.policy.test_loader import BASE, FILE, line_of, problems_of, replace, single_problem

SECOND_PURPOSE = """\
  - id: surveys
    title: {lv: Aptaujas, en: Surveys}
    description: {lv: Aptaujas, en: Surveys}
    legal_basis: legitimate_intrest
    dpv_purpose: https://w3id.org/dpv#ServiceOptimisation
"""


def test_schema_and_reference_problems_come_together_sorted_by_line() -> None:
    text = replace(BASE, "retention_rules:\n", SECOND_PURPOSE + "retention_rules:\n")
    text = replace(text, "  review_interval_months: 24\n", "  review_intervl_months: 24\n")  # unknown key
    text = replace(text, "    data_categories: [contact]\n", "    data_categories: [contakt]\n")  # reference
    text = replace(text, "    purpose: offers\n", "    purpose: ofers\n")  # reference
    text += "  - id: surveys-kept\n    purpose: surveys\n    period: P1Y\n    anchor: collection\n"
    problems = problems_of(text)
    assert [(p.field, p.line) for p in problems] == [
        ("policy.review_intervl_months", line_of(text, "review_intervl_months")),
        ("purposes[0].data_categories[0]", line_of(text, "data_categories: [contakt]")),
        ("purposes[1].legal_basis", line_of(text, "legitimate_intrest")),
        ("retention_rules[0].purpose", line_of(text, "purpose: ofers")),
    ]
    assert problems == sorted(problems, key=lambda p: (p.line, p.column))
    by_field = {p.field: p.message for p in problems}
    assert by_field["policy.review_intervl_months"] == (
        "unknown key 'review_intervl_months'; did you mean 'review_interval_months'?"
    )
    assert by_field["purposes[0].data_categories[0]"] == (
        "unknown data category 'contakt'; did you mean 'contact'? (valid: contact)"
    )
    assert "did you mean 'legitimate_interest'?" in by_field["purposes[1].legal_basis"]
    assert by_field["retention_rules[0].purpose"].startswith(
        "unknown purpose 'ofers'; did you mean 'offers'?"
    )
    # the rule for the purpose that is itself invalid is not also reported as a dangling reference
    assert not any(p.field.startswith("retention_rules[1]") for p in problems)


def test_a_misspelt_required_key_is_one_problem_without_field_required() -> None:
    text = replace(BASE, "    legal_basis: consent\n", "    legal_basiss: consent\n")
    problem = single_problem(text)
    assert problem.field == "purposes[0].legal_basiss"
    assert problem.message == "unknown key 'legal_basiss'; did you mean 'legal_basis'?"
    assert (problem.line, problem.column) == (line_of(text, "legal_basiss"), 5)


def test_a_misspelt_optional_key_gets_a_suggestion_too() -> None:
    text = replace(BASE, "    sms_keyword: JAUNUMI\n", "    sms_keywrod: JAUNUMI\n")
    problems = problems_of(text)
    [typo] = [p for p in problems if p.field == "purposes[0].sms_keywrod"]
    assert typo.message == "unknown key 'sms_keywrod'; did you mean 'sms_keyword'?"


def test_a_missing_key_beside_an_unrelated_unknown_key_is_still_reported() -> None:
    text = replace(BASE, "    legal_basis: consent\n", "    colour: blue\n")
    fields = [p.field for p in problems_of(text)]
    assert fields == ["purposes[0].legal_basis", "purposes[0].colour"]


def test_an_unknown_reference_lists_the_valid_values() -> None:
    text = replace(BASE, "default_client_group: own", "default_client_group: everyone")
    problem = single_problem(text)
    assert problem.message == "unknown client group 'everyone' (valid: own)"


def test_references_are_checked_inside_an_item_with_a_schema_error() -> None:
    text = replace(BASE, "consent_channels: [sms, portal]", "consent_channels: [sms, pigeon]")
    text = replace(text, "data_categories: [contact]", "data_categories: [contact, nothing]")
    fields = [p.field for p in problems_of(text)]
    assert fields == ["purposes[0].consent_channels[1]", "purposes[0].data_categories[1]"]


def test_a_malformed_value_is_not_also_a_dangling_reference() -> None:
    text = replace(BASE, "default_client_group: own", "default_client_group: Own Clients")
    problem = single_problem(text)
    assert problem.field == "default_client_group"
    assert "pattern" in problem.message


def test_a_key_without_its_colon_is_reported_on_its_own_line_and_column() -> None:
    text = replace(BASE, "    legal_basis: consent\n", "    legal_basis consent\n")
    problem = single_problem(text)
    assert problem.field == "(yaml)"
    assert (problem.line, problem.column) == (line_of(text, "legal_basis consent"), 5)
    assert str(problem).startswith(f"{FILE}:{problem.line}:5: (yaml): could not find expected ':'")


def test_a_character_that_cannot_start_a_value_is_reported_at_its_column() -> None:
    text = replace(BASE, '  version: "1"\n', "  version: @1\n")
    problem = single_problem(text)
    assert (problem.line, problem.column) == (line_of(text, "version: @1"), 12)
    assert "'@'" in problem.message


def test_a_problem_names_file_line_and_column() -> None:
    text = replace(BASE, "review_interval_months: 24", "review_interval_months: 0")
    assert str(single_problem(text)).startswith(f"{FILE}:5:3: policy.review_interval_months: ")


def test_did_you_mean_only_suggests_close_names() -> None:
    assert did_you_mean("markting", ["marketing", "service"]) == "marketing"
    assert did_you_mean("zzz", ["marketing", "service"]) is None
    assert unknown("purpose", "x", []) == "unknown purpose 'x' (valid: none are declared)"


def test_the_base_policy_still_parses() -> None:
    assert parse_policy(BASE, filename=FILE).id == "demo"


def _item_breakages() -> list[tuple[str, str, int, str]]:
    """(example, section, index, required key) for every listed item of both example policies."""
    out: list[tuple[str, str, int, str]] = []
    for path in example_policy_paths():
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for section, items in data.items():
            if not isinstance(items, list):
                continue
            model = type_at(Policy, (section, 0))
            required = [n for n, f in model.model_fields.items() if f.is_required() and n != "id"]
            out.extend((str(path), section, i, required[0]) for i in range(len(items)))
    return out


@pytest.mark.parametrize(("path", "section", "index", "key"), _item_breakages())
def test_an_invalid_item_of_an_example_gives_only_its_own_problem_not_dangling_references_to_it(
    path: str, section: str, index: int, key: str
) -> None:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    del data[section][index][key]
    problems = problems_of(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    assert [p.field for p in problems] == [f"{section}[{index}].{key}"], [str(p) for p in problems]


def test_a_misspelt_section_is_still_checked_under_the_name_it_was_meant_to_have() -> None:
    text = replace(BASE, "purposes:\n", "purpose:\n")
    text = replace(text, "    data_categories: [contact]\n", "    data_categories: [contakt]\n")
    problems = problems_of(text)
    assert [(p.field, p.line) for p in problems] == [
        ("purpose", line_of(text, "purpose:")),
        ("purpose[0].data_categories[0]", line_of(text, "data_categories: [contakt]")),
    ]
    assert problems[0].message == "unknown key 'purpose'; did you mean 'purposes'?"
    # the retention rule's purpose is declared, under the misspelt key: not a dangling reference


def test_an_item_with_a_misspelt_id_still_declares_it() -> None:
    text = replace(BASE, "  - id: offers\n", "  - idd: offers\n")
    problems = problems_of(text)
    assert [p.field for p in problems] == ["purposes[0].idd"], [str(p) for p in problems]


# A reference each list section's items make: (key, whether it holds a list of references).
REFERENCES = {
    "purposes": ("data_categories", True),
    "retention_rules": ("purpose", False),
    "processors": ("data_categories", True),
}


def _line_at(text: str, loc: tuple[str | int, ...]) -> int:
    node = yaml.compose(text)
    for part in loc:
        if isinstance(part, int):
            node = node.value[part]
        else:
            node = next(value for key, value in node.value if key.value == part)
    return node.start_mark.line + 1


def _examples_with(section: str) -> list[str]:
    return [
        str(p)
        for p in example_policy_paths()
        if len(yaml.safe_load(p.read_text(encoding="utf-8")).get(section) or []) >= 2
    ]


def _misspelt_first_items() -> list[tuple[str, str]]:
    return [(path, section) for section in REFERENCES for path in _examples_with(section)]


def _with_bad_reference(item: dict[str, object], key: str, is_list: bool) -> tuple[str | int, ...]:
    """`item` naming something undeclared at `key`; the location (within the item) of that name."""
    if is_list:
        item[key] = [*(item.get(key) or []), "undeclared-thing"]  # type: ignore[misc]
        return (key, len(item[key]) - 1)  # type: ignore[arg-type]
    item[key] = "undeclared-thing"
    return (key,)


@pytest.mark.parametrize(("path", "section"), _misspelt_first_items())
def test_a_later_items_problem_keeps_its_own_index_and_line_when_an_earlier_item_is_invalid(
    path: str, section: str
) -> None:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    items = data[section]
    model = type_at(Policy, (section, 0))
    required = next(
        n
        for n, f in model.model_fields.items()
        if f.is_required() and n not in ("id", *REFERENCES[section][:1])
    )
    items[0][required + "x"] = items[0].pop(required)  # misspelt: the item lacks a required value
    last = 1  # the next one: an index a dropped first item would shift to 0
    at = (section, last, *_with_bad_reference(items[last], *REFERENCES[section]))
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    problems = problems_of(text)
    field = f"{section}[{last}].{at[2]}" + (f"[{at[3]}]" if len(at) > 3 else "")
    assert [p.field for p in problems] == [f"{section}[0].{required}x", field], [str(p) for p in problems]
    assert problems[1].line == _line_at(text, at)
    assert problems[1].message.startswith("unknown ")


@pytest.mark.parametrize("path", _examples_with("retention_rules"))
@pytest.mark.parametrize(
    ("old", "new", "field"),
    [("anchor", "anchr", "anchr"), ("anchor", "anchor", "anchor")],
    ids=["misspelt-key", "bad-value"],
)
def test_an_item_missing_a_required_value_still_has_its_references_checked(
    path: str, old: str, new: str, field: str
) -> None:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    rule = data["retention_rules"][1]
    anchor = rule.pop(old)
    rule[new] = anchor if new != old else "whenever"
    rule["purpose"] = "servise"
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    problems = problems_of(text)
    # sorted by line: the purpose stays where it was, the anchor went to the end of the rule
    fields = [p.field for p in problems]
    assert fields == ["retention_rules[1].purpose", f"retention_rules[1].{field}"], [str(p) for p in problems]
    purpose = next(p for p in problems if p.field == "retention_rules[1].purpose")
    assert purpose.line == _line_at(text, ("retention_rules", 1, "purpose"))
    assert purpose.message.startswith("unknown purpose 'servise'")
    # a check that weighs the missing anchor (is a period needed?) is not guessed at
    assert not any(p.field == "retention_rules[1].period" for p in problems)


def test_a_purpose_with_a_misspelt_legal_basis_still_has_its_data_categories_checked() -> None:
    text = replace(BASE, "    legal_basis: consent\n", "    legal_basiss: consent\n")
    text = replace(text, "    data_categories: [contact]\n", "    data_categories: [contakt]\n")
    problems = problems_of(text)
    assert [(p.field, p.line) for p in problems] == [
        ("purposes[0].legal_basiss", line_of(text, "legal_basiss")),
        ("purposes[0].data_categories[0]", line_of(text, "data_categories: [contakt]")),
    ], [str(p) for p in problems]


def test_a_reference_after_a_left_out_list_element_keeps_its_own_index() -> None:
    text = replace(BASE, "    data_categories: [contact]\n", "    data_categories: [Not A Slug, contakt]\n")
    problems = problems_of(text)
    assert [p.field for p in problems] == ["purposes[0].data_categories[0]", "purposes[0].data_categories[1]"]
    assert problems[1].message.startswith("unknown data category 'contakt'")
