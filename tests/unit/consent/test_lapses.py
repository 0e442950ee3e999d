"""Which consents lapse when a person changes client group (issue 19): exactly those the old group
may give and the new one may not, as the telecom seed's SMS table says."""

from __future__ import annotations

from sargs.domains.consent.lapses import lapsing_purposes
from sargs.domains.policy.registry import PolicyRegistry
from sargs.domains.policy.schema import Policy


def test_leaving_own_lapses_the_four_own_only_consents_and_nothing_else(
    example_policies: list[Policy],
) -> None:
    registry = PolicyRegistry(example_policies)
    leaving = lapsing_purposes(registry=registry, controller="lmt", old="own", new="other_operator")
    assert sorted(leaving) == ["location", "loyalty", "metadata", "profiling"]  # not offers (JAUNUMI)
    assert lapsing_purposes(registry=registry, controller="lmt", old="other_operator", new="own") == []
    assert lapsing_purposes(registry=registry, controller="lmt", old="own", new="own") == []
    # The retailer asks every group alike: nothing ever lapses there.
    assert (
        lapsing_purposes(registry=registry, controller="lytagra-lv", old="client", new="website_user") == []
    )
