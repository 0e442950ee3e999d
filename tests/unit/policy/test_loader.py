"""The policy loader's errors name the file, the line and the field (R-POL-1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sargs.core.errors import PolicyError
from sargs.domains.policy.loader import Problem, load_policy, parse_policy
from sargs.domains.policy.schema import Duration

FILE = "demo.yaml"

BASE = """\
policy:
  id: demo
  version: "1"
  published: 2024-01-01
  review_interval_months: 24
supervisory_authority:
  name: {lv: Inspekcija, en: Inspectorate}
  address: Iela 1, Rīga
  url: https://example.org
client_groups:
  - id: own
    title: {lv: Savi klienti, en: Own clients}
default_client_group: own
controllers:
  - id: acme
    legal_name: Acme SIA
    short_name: Acme
    registration_number: "40000000000"
    address: Iela 2, Rīga
data_categories:
  - id: contact
    title: {lv: Kontaktdati, en: Contact data}
purposes:
  - id: offers
    title: {lv: Piedāvājumi, en: Offers}
    description: {lv: Piedāvājumi pa SMS, en: Offers by SMS}
    legal_basis: consent
    dpv_purpose: https://w3id.org/dpv#DirectMarketing
    consent_channels: [sms, portal]
    sms_keyword: JAUNUMI
    data_categories: [contact]
retention_rules:
  - id: offers-until-withdrawal
    purpose: offers
    anchor: consent_withdrawal
"""

SECOND_PURPOSE = """\
  - id: news
    title: {lv: Jaunumi, en: News}
    description: {lv: Jaunumi pa SMS, en: News by SMS}
    legal_basis: consent
    dpv_purpose: https://w3id.org/dpv#DirectMarketing
    consent_channels: [sms]
    sms_keyword: JAUNUMI
"""


def line_of(text: str, fragment: str, occurrence: int = 1) -> int:
    """1-based line of the n-th line containing fragment."""
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if fragment in line]
    assert len(hits) >= occurrence, f"{fragment!r} not in text"
    return hits[occurrence - 1]


def replace(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def problems_of(text: str) -> list[Problem]:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, filename=FILE)
    problems = caught.value.details["problems"]
    assert problems, "a PolicyError must list its problems"
    assert caught.value.message == "\n".join(str(p) for p in problems)
    return problems


def single_problem(text: str) -> Problem:
    problems = problems_of(text)
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def test_the_base_document_is_a_valid_policy() -> None:
    policy = parse_policy(BASE, filename=FILE)
    assert policy.id == "demo"
    assert policy.purpose("acme", "offers") is not None


# --- field errors (pydantic) ------------------------------------------------------------------


def test_a_wrong_enum_value_names_the_file_its_line_and_the_field_path() -> None:
    text = replace(BASE, "legal_basis: consent", "legal_basis: agreement")
    problem = single_problem(text)
    assert problem.file == FILE
    assert problem.line == line_of(text, "legal_basis: agreement")
    assert problem.field == "purposes[0].legal_basis"
    assert "consent" in problem.message
    assert problem.column == 5
    assert str(problem).startswith(f"{FILE}:{problem.line}:5: purposes[0].legal_basis: ")


def test_a_wrong_enum_value_inside_a_list_names_the_list_item() -> None:
    text = replace(BASE, "consent_channels: [sms, portal]", "consent_channels: [sms, pigeon]")
    problem = single_problem(text)
    assert problem.field == "purposes[0].consent_channels[1]"
    assert problem.line == line_of(text, "pigeon")


def test_a_missing_required_field_names_its_parents_line() -> None:
    text = replace(BASE, "    title: {lv: Piedāvājumi, en: Offers}\n", "")
    problem = single_problem(text)
    assert problem.field == "purposes[0].title"
    assert problem.line == line_of(text, "- id: offers")
    assert "required" in problem.message.lower()


def test_a_missing_language_names_the_line_of_its_text() -> None:
    text = replace(BASE, "{lv: Piedāvājumi, en: Offers}", "{lv: Piedāvājumi}")
    problem = single_problem(text)
    assert problem.field == "purposes[0].title.en"
    assert problem.line == line_of(text, "title: {lv: Piedāvājumi}")


def test_a_missing_top_level_section_points_at_the_start_of_the_document() -> None:
    text = replace(BASE, "default_client_group: own\n", "")
    problem = single_problem(text)
    assert problem.field == "default_client_group"
    assert problem.line == 1


def test_an_unknown_key_is_rejected_at_its_line() -> None:
    text = replace(BASE, "    sms_keyword: JAUNUMI\n", "    sms_keyword: JAUNUMI\n    colour: blue\n")
    problem = single_problem(text)
    assert problem.field == "purposes[0].colour"
    assert problem.line == line_of(text, "colour: blue")
    assert problem.message.startswith("unknown key 'colour' (allowed here: ")
    assert "sms_keyword" in problem.message


def test_an_unknown_top_level_key_is_rejected() -> None:
    problem = single_problem(BASE + "comments: none\n")
    assert problem.field == "comments"
    assert problem.line == line_of(BASE + "comments: none\n", "comments: none")


def test_a_non_dpv_iri_is_rejected() -> None:
    text = replace(BASE, "https://w3id.org/dpv#DirectMarketing", "https://schema.org/Marketing")
    problem = single_problem(text)
    assert problem.field == "purposes[0].dpv_purpose"
    assert "https://w3id.org/dpv#" in problem.message


def test_every_field_problem_is_reported_not_only_the_first() -> None:
    text = replace(BASE, "legal_basis: consent", "legal_basis: agreement")
    text = replace(text, "review_interval_months: 24", "review_interval_months: 0")
    fields = {p.field: p.line for p in problems_of(text)}
    assert fields == {
        "policy.review_interval_months": line_of(text, "review_interval_months"),
        "purposes[0].legal_basis": line_of(text, "legal_basis: agreement"),
    }


# --- reference errors -------------------------------------------------------------------------


def test_a_purpose_naming_an_unknown_client_group_is_reported_at_that_item() -> None:
    text = replace(
        BASE,
        "    sms_keyword: JAUNUMI\n",
        "    sms_keyword: JAUNUMI\n    eligible_groups:\n      - own\n      - strangers\n",
    )
    problem = single_problem(text)
    assert problem.field == "purposes[0].eligible_groups[1]"
    assert problem.line == line_of(text, "- strangers")
    assert "unknown client group 'strangers'" in problem.message


def test_a_purpose_naming_an_unknown_controller_is_reported_with_its_line() -> None:
    text = replace(
        BASE, "    sms_keyword: JAUNUMI\n", "    sms_keyword: JAUNUMI\n    controllers: [nobody]\n"
    )
    problem = single_problem(text)
    assert problem.field == "purposes[0].controllers[0]"
    assert problem.line == line_of(text, "controllers: [nobody]")
    assert "unknown controller 'nobody'" in problem.message


def test_an_unknown_default_client_group_is_reported() -> None:
    text = replace(BASE, "default_client_group: own", "default_client_group: everyone")
    problem = single_problem(text)
    assert problem.field == "default_client_group"
    assert problem.line == line_of(text, "default_client_group: everyone")
    assert "everyone" in problem.message


def test_a_retention_rule_for_an_unknown_purpose_is_reported() -> None:
    text = replace(BASE, "    purpose: offers\n", "    purpose: ghosts\n")
    problem = single_problem(text)
    assert problem.field == "retention_rules[0].purpose"
    assert problem.line == line_of(text, "purpose: ghosts")


def test_a_duplicated_sms_keyword_is_reported_at_its_second_use() -> None:
    text = replace(BASE, "retention_rules:\n", SECOND_PURPOSE + "retention_rules:\n")
    problem = single_problem(text)
    assert problem.field == "purposes[1].sms_keyword"
    assert problem.line == line_of(text, "sms_keyword: JAUNUMI", occurrence=2)
    assert "JAUNUMI" in problem.message


def test_an_sms_keyword_without_the_sms_channel_is_reported() -> None:
    text = replace(BASE, "consent_channels: [sms, portal]", "consent_channels: [portal]")
    problem = single_problem(text)
    assert problem.field == "purposes[0].sms_keyword"
    assert problem.line == line_of(text, "sms_keyword: JAUNUMI")


def test_a_duplicated_id_is_reported() -> None:
    second = SECOND_PURPOSE.replace("id: news", "id: offers").replace("JAUNUMI", "ZINAS")
    text = replace(BASE, "retention_rules:\n", second + "retention_rules:\n")
    problem = single_problem(text)
    assert problem.field == "purposes[1].id"
    assert problem.line == line_of(text, "- id: offers", occurrence=2)
    assert "duplicate id 'offers'" in problem.message


# --- documents that are not policies ----------------------------------------------------------


def test_invalid_yaml_reports_the_line_of_the_syntax_error() -> None:
    text = replace(BASE, '  version: "1"\n', '  version: "1"\n   indented: wrongly\n')
    problem = single_problem(text)
    assert problem.field == "(yaml)"
    assert problem.line == line_of(text, "indented: wrongly")
    assert problem.column == 4
    assert str(problem).startswith(f"{FILE}:{problem.line}:4: (yaml): ")


def test_an_unclosed_flow_list_reports_a_yaml_error_with_a_line() -> None:
    text = replace(BASE, "consent_channels: [sms, portal]", "consent_channels: [sms, portal")
    problem = single_problem(text)
    assert problem.field == "(yaml)"
    # where the bracket opens (PyYAML notices on the next line, which the message also names)
    assert (problem.line, problem.column) == (line_of(text, "consent_channels: [sms, portal"), 23)
    assert f"noticed at line {problem.line + 1}" in problem.message


@pytest.mark.parametrize("text", ["- a\n- list\n", "just a string\n", "42\n", ""])
def test_a_document_that_is_not_a_mapping_is_rejected(text: str) -> None:
    problem = single_problem(text)
    assert problem.file == FILE
    assert problem.line == 1
    assert problem.field == "(file)"
    assert "mapping" in problem.message


def test_load_policy_names_the_path_of_a_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(replace(BASE, "legal_basis: consent", "legal_basis: agreement"), encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert caught.value.message.startswith(f"{path}:")


def test_load_policy_reports_a_file_it_cannot_read(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read policy file"):
        load_policy(tmp_path / "missing.yaml")


# --- durations --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected", "days"),
    [
        ("P10Y", Duration(years=10), 3650),
        ("P6M", Duration(months=6), 180),
        ("P2Y", Duration(years=2), 730),
        ("P30D", Duration(days=30), 30),
        ("P1Y6M", Duration(years=1, months=6), 545),
        ("P2W", Duration(weeks=2), 14),
    ],
)
def test_iso_durations_parse_and_round_trip(text: str, expected: Duration, days: int) -> None:
    duration = Duration.parse(text)
    assert duration == expected
    assert duration.iso() == text
    assert duration.approx_days() == days


@pytest.mark.parametrize("text", ["10 years", "P", "", "10Y", "P10y", "PT10H", "P-1Y"])
def test_text_that_is_not_an_iso_duration_is_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="ISO 8601 duration"):
        Duration.parse(text)


def test_a_retention_period_in_words_is_reported_at_its_line() -> None:
    text = replace(
        BASE,
        "    anchor: consent_withdrawal\n",
        "    period: 10 years\n    anchor: last_order\n",
    )
    problem = single_problem(text)
    assert problem.field == "retention_rules[0].period"
    assert problem.line == line_of(text, "period: 10 years")
    assert "10 years" in problem.message


def test_a_retention_period_in_iso_form_is_parsed() -> None:
    text = replace(BASE, "    anchor: consent_withdrawal\n", "    period: P10Y\n    anchor: last_order\n")
    rule = parse_policy(text, filename=FILE).retention_rules[0]
    assert rule.period == Duration(years=10)


def test_a_retention_rule_without_a_period_needs_the_withdrawal_anchor() -> None:
    text = replace(BASE, "    anchor: consent_withdrawal\n", "    anchor: last_order\n")
    problem = single_problem(text)
    assert problem.field == "retention_rules[0].period"
    assert problem.line == line_of(text, "- id: offers-until-withdrawal")


def test_a_key_given_twice_is_an_error_with_its_line() -> None:
    text = "policy:\n  id: x\n  id: y\n"
    with pytest.raises(PolicyError) as info:
        parse_policy(text, filename="dup.yaml")
    assert "dup.yaml:3:3: policy.id: key given twice" in str(info.value)
