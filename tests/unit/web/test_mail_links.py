"""Signed mail links: genuine tokens verify; forged, altered or foreign ones never do."""

from __future__ import annotations

import base64
import json

import pytest

from sargs.domains.mail.links import LinkPayload, link_key, sign, verify

KEY = link_key("test secret")
CLICK = LinkPayload("c", "s" * 32, "m" * 32, "lmt", url="https://www.lmt.lv/piedavajumi")


def test_a_signed_click_token_gives_back_its_payload() -> None:
    assert verify(KEY, sign(KEY, CLICK), kind="c") == CLICK


def test_a_token_of_another_kind_is_refused() -> None:
    assert verify(KEY, sign(KEY, CLICK), kind="u") is None


def test_a_token_signed_with_another_key_is_refused() -> None:
    assert verify(KEY, sign(link_key("other secret"), CLICK), kind="c") is None


def test_changing_the_url_in_a_token_breaks_it() -> None:
    body, mac = sign(KEY, CLICK).split(".")
    doc = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    doc["u"] = "https://evil.example/"
    forged = base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=").decode()
    assert verify(KEY, f"{forged}.{mac}", kind="c") is None


@pytest.mark.parametrize("token", ["", ".", "abc", "a.b.c", "!!!.???", "x" * 5000, "e30.AAAA"])
def test_malformed_tokens_are_refused(token: str) -> None:
    assert verify(KEY, token, kind="c") is None
