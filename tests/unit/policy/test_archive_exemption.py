"""A retention rule's archive exemption (R 2.5): the whole rule (`true`, as before), or only the
tables and data categories it names; every bad name is reported at its line."""

from __future__ import annotations

import pytest

from sargs.bootstrap import EXAMPLES
from sargs.core.errors import SargsError
from sargs.domains.policy.loader import parse_policy
from sargs.domains.policy.schema import ArchiveExemption, Policy

TEXT = (EXAMPLES / "retailer.yaml").read_text(encoding="utf-8")
START = TEXT.index("    archive_exemption:\n")


def with_exemption(block: str) -> str:
    """The retailer with the ten-year rule's exemption (up to the rule's description) replaced."""
    return TEXT[:START] + block + TEXT[TEXT.index("    description:", START) :]


def ten_years(policy: Policy) -> object:
    return next(r for r in policy.retention_rules if r.id == "service-ten-years").archive_exemption


def test_the_retailer_keeps_only_its_orders_for_the_state_archive() -> None:
    exemption = ten_years(parse_policy(TEXT))
    assert isinstance(exemption, ArchiveExemption) and exemption.tables == ["shop/orders"]


def test_the_whole_rule_flag_still_loads() -> None:
    assert ten_years(parse_policy(with_exemption("    archive_exemption: true\n"))) is True


@pytest.mark.parametrize(
    ("block", "field", "message"),
    [
        ("      tabels: [shop/orders]\n", "archive_exemption.tabels", "did you mean 'tables'?"),
        ("      tables: [orders]\n", "archive_exemption.tables", "name a table as source/table"),
        ("      tables: [shop/nope]\n", "archive_exemption.tables[0]", "unknown table 'shop/nope'"),
        ("      tables: [shop/email_events]\n", "archive_exemption.tables[0]", "no retention binding"),
        (
            "      data_categories: [accounting]\n",
            "archive_exemption.data_categories[0]",
            "unknown data category",
        ),
        ("      reason: {lv: a, en: b}\n", "archive_exemption", "name the tables or data_categories"),
    ],
)
def test_a_bad_exemption_is_reported_once_at_its_line(block: str, field: str, message: str) -> None:
    text = with_exemption("    archive_exemption:\n" + block)
    with pytest.raises(SargsError) as caught:
        parse_policy(text, filename="retailer.yaml")
    (problem,) = caught.value.details["problems"]
    line = text.splitlines().index("    archive_exemption:") + 1
    assert problem.field == f"retention_rules[0].{field}" and message in problem.message
    assert problem.line in (line, line + 1)
