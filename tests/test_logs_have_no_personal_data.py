"""Nothing personal in application logs (R-ACC-3): a full run, captured, scanned for identifiers."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable

import pytest

from sargs.core.logging import configure_logging, mask_text
from sargs.entrypoints.container import Container
from tests.conftest import FakeCodeSender
from tests.web import scenario


def identifiers() -> list[str]:
    national = scenario.PHONE.removeprefix("+371")
    return [
        scenario.PHONE,
        national,
        f"{national[:2]} {national[2:5]} {national[5:]}",
        scenario.EMAIL,
        "liga.berzina",
    ]


def test_masking_hides_phone_numbers_and_emails_but_keeps_ids() -> None:
    line = (
        "sent to +371 29 345 678 and 29345678 and liga@example.lv; subject 4f9a0c1e2b3d4e5f6a7b8c9d0e1f2a3b"
    )
    masked = mask_text(line)
    assert "29345678" not in masked and "345 678" not in masked and "liga@example.lv" not in masked
    assert "4f9a0c1e2b3d4e5f6a7b8c9d0e1f2a3b" in masked


@pytest.mark.parametrize("address", ["jānis@piemērs.lv", "ēriks.ozoliņš@lmt.lv", "janis@piemērs.lv"])
def test_masking_hides_latvian_addresses_with_diacritics(address: str) -> None:
    masked = mask_text(f"code sent to {address} for identity email:{address}")
    assert address not in masked and address.split("@")[1] not in masked


def test_a_full_run_logs_no_phone_number_or_email_of_its_people(
    container: Container,
    codes: FakeCodeSender,
    token: Callable[..., str],
    staff_member: Callable[..., tuple[str, str]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    stream = io.StringIO()
    handler = configure_logging("DEBUG", stream=stream)
    caplog.set_level(logging.DEBUG)
    logging.getLogger("sargs.test").info(
        "portal code for %s", scenario.PHONE
    )  # what a careless caller might do
    try:
        scenario.run(container, codes, token, staff_member)
    finally:
        logging.getLogger("sargs").removeHandler(handler)
    json_lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert any(line["message"] == "one-time code sent" for line in json_lines)
    captured = stream.getvalue() + "\n".join(r.getMessage() for r in caplog.records) + caplog.text
    assert len(caplog.records) > 10  # SQLAlchemy, the app and the test all logged something
    for value in identifiers():
        assert value not in captured, f"{value!r} appears in the logs"
