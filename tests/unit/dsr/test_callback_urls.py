"""OpenDSR status callbacks cannot be aimed at Sargs' own machine or network (no SSRF)."""

from __future__ import annotations

import pytest

from sargs.domains.dsr.callbacks import callback_url_problem


@pytest.mark.parametrize(
    "url",
    [
        "https://processor.example/opendsr/callbacks",
        "https://api.processor.example:8443/cb?x=1",
        "https://93.184.216.34/cb",  # a public address
    ],
)
def test_public_https_urls_are_accepted(url: str) -> None:
    assert callback_url_problem(url) is None


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://processor.example/cb", "https"),
        ("https://localhost/cb", "this machine"),
        ("https://LOCALHOST./cb", "this machine"),
        ("https://db.internal/cb", "local network"),
        ("https://127.0.0.1:5432/", "loopback"),
        ("https://10.1.2.3/cb", "private"),
        ("https://169.254.169.254/latest/meta-data", "private"),  # cloud metadata
        ("https://[::1]/cb", "loopback"),
        ("https://user:pw@processor.example/cb", "user name"),
        ("https:///cb", "host"),
        ("https://127.1/cb", "plain public IP"),
        ("https://2130706433/cb", "plain public IP"),
        ("https://0x7f000001/cb", "plain public IP"),
        ("https://0177.0.0.1/cb", "plain public IP"),
    ],
)
def test_local_private_or_credentialed_urls_are_refused(url: str, why: str) -> None:
    problem = callback_url_problem(url)
    assert problem is not None and why in problem


def test_an_allow_list_admits_only_its_hosts() -> None:
    allowed = ["processor.example"]
    assert callback_url_problem("https://processor.example/cb", allowed_hosts=allowed) is None
    refused = callback_url_problem("https://other.example/cb", allowed_hosts=allowed)
    assert refused == "callbacks may go only to: processor.example"
    assert callback_url_problem("http://processor.example/cb", allowed_hosts=allowed) is not None
