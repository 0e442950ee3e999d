"""The policy's `sms:` section: numbers, their controller, bare STOP and reply overrides."""

from __future__ import annotations

from sargs.domains.policy.loader import content_hash, parse_policy
from tests.unit.policy.test_loader import BASE, FILE, line_of, problems_of, single_problem

SMS = """\
sms:
  - number: "29307777"
    controller: acme
"""


def test_a_number_with_defaults() -> None:
    policy = parse_policy(BASE + SMS, filename=FILE)
    (number,) = policy.sms
    assert (number.number, number.controller, number.bare_stop, number.language, number.replies) == (
        "29307777",
        "acme",
        "withdraw_all",
        None,
        {},
    )


def test_an_unknown_controller_is_named_with_its_line() -> None:
    text = BASE + SMS.replace("controller: acme", "controller: nobody")
    problem = single_problem(text)
    assert problem.field == "sms[0].controller"
    assert problem.line == line_of(text, "controller: nobody")
    assert "unknown controller 'nobody'" in problem.message


def test_a_number_listed_twice_is_refused() -> None:
    text = BASE + SMS + '  - number: "29307777"\n    controller: acme\n'
    problem = single_problem(text)
    assert problem.field == "sms[1].number"
    assert "listed twice" in problem.message


def test_a_reply_with_an_unknown_field_is_refused() -> None:
    text = BASE + SMS + '    replies:\n      granted: {lv: "Paldies {name}", en: "Thanks {keyword}"}\n'
    problems = problems_of(text)
    assert [p.field for p in problems] == ["sms[0].replies"]
    assert "unknown field(s) ['name']" in problems[0].message


def test_a_bad_bare_stop_choice_is_refused() -> None:
    problem = single_problem(BASE + SMS + "    bare_stop: ignore\n")
    assert problem.field == "sms[0].bare_stop"


def test_leaving_the_section_out_does_not_change_the_content_hash() -> None:
    without = parse_policy(BASE, filename=FILE)
    explicit_empty = parse_policy(BASE + "sms: []\n", filename=FILE)
    with_number = parse_policy(BASE + SMS, filename=FILE)
    assert content_hash(without) == content_hash(explicit_empty)
    assert content_hash(with_number) != content_hash(without)
