"""The policy's web section: its references are checked like every other section's."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from sargs.bootstrap import EXAMPLES
from sargs.core.errors import PolicyError
from sargs.domains.policy.loader import content_hash, load_policy
from sargs.domains.policy.schema import Policy


def _with_web(tmp_path: Path, web: str) -> Path:
    text = (EXAMPLES / "telecom.yaml").read_text(encoding="utf-8")
    start = text.index("\nweb:\n")
    end = text.index("\ndeadlines:", start)
    path = tmp_path / "telecom.yaml"
    path.write_text(text[:start] + "\n" + web + text[end:], encoding="utf-8")
    return path


def test_the_telecom_example_names_its_tracking_purpose_and_log_rule(example_policies: list[Policy]) -> None:
    telecom = next(p for p in example_policies if p.id == "lmt-group")
    assert telecom.web is not None and telecom.web.email_tracking_purpose == "email-tracking"
    assert telecom.web.access_logs is not None and telecom.web.access_logs.keep_network


@pytest.mark.parametrize(
    ("web", "message"),
    [
        ("web:\n  controller: nobody\n", "unknown controller 'nobody'"),
        ("web:\n  controller: lmt\n  email_tracking_purpose: service\n", "must rest on consent"),
        ("web:\n  controller: lmt\n  email_tracking_purpose: nope\n", "unknown purpose 'nope'"),
        (
            "web:\n  controller: lmt\n  access_logs: {purpose: website-logs, retention_rule: loyalty-two-years}\n",
            "the rule is for purpose 'loyalty'",
        ),
        (
            "web:\n  controller: lmt\n  access_logs: {purpose: website-logs, retention_rule: website-logs, keep_network: true}\n",
            "keep_network needs the category",
        ),
        (
            "web:\n  controller: lmt\n  access_logs: {purpose: website-logs, retention_rule: website-logs,"
            " keep_network: true, network_category: contact}\n",
            "does not list category 'contact'",
        ),
        ("web:\n  controller: lmt\n  allowed_origins: ['https://www.lmt.lv/path']\n", "is not an origin"),
    ],
)
def test_bad_web_sections_are_refused_naming_the_problem(tmp_path: Path, web: str, message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy(_with_web(tmp_path, web))
    assert message in str(caught.value.details.get("problems") or caught.value.message)


def test_a_policy_without_a_web_section_hashes_as_before_the_section_existed(tmp_path: Path) -> None:
    without = load_policy(_with_web(tmp_path, ""))
    assert without.web is None
    dump = without.model_dump(mode="json", exclude={"web"})  # what the schema held before this section
    canonical = json.dumps(dump, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert content_hash(without) == hashlib.sha256(canonical.encode("utf-8")).hexdigest()
