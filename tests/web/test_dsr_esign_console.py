"""E-signed requests in the console (issue 16): the uploaded file is checked; the request page shows
the result with the signer's name and personal code beside the requester's; a tampered file is
refused (422) with the reason and the request stays unverified."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from sargs.bootstrap import create_app
from sargs.domains.dsr.model import DsrRequest
from sargs.entrypoints.container import Container
from sargs.integrations.esign.checker import EsignChecker
from tests.esign_fixtures import make_esign
from tests.web.test_dsr_console import C, file_in_console
from tests.web_helpers import console_csrf, console_login

Staff = Callable[..., tuple[str, str]]


def _upload(browser: TestClient, rid: str, data: bytes, lang: str = "en") -> object:
    return browser.post(
        f"/console/dsr/{rid}/verify?lang={lang}",
        data={"csrf": console_csrf(browser), "method": "e_signature"},
        files={"signed_file": ("pieprasijums.edoc", data, "application/vnd.etsi.asic-e+zip")},
        follow_redirects=False,
    )


def test_the_request_page_shows_a_valid_signature_and_its_signer(
    container: Container, staff_member: Staff, tmp_path: Path
) -> None:
    esign = make_esign(tmp_path / "trust", given="Edgars", surname="Zariņš")
    container.signatures = EsignChecker(esign.trust)
    with TestClient(create_app(container)) as browser:
        console_login(browser, *staff_member("operator", controllers=[C]))
        rid = file_in_console(browser, channel="email", name="Edgars Zariņš")
        r = _upload(browser, rid, esign.signed())
        assert r.status_code == 303, r.text  # type: ignore[attr-defined]
        page = browser.get(f"/console/dsr/{rid}?lang=en").text
        assert 'id="esig-result" data-status="valid">valid' in page
        assert "Edgars Zariņš (PNOLV-222222-22222) — requester: Edgars Zariņš" in page
        assert "the signer is not the requester" not in page and "yes (QcCompliance, QSCD)" in page
        lv = browser.get(f"/console/dsr/{rid}?lang=lv").text
        assert "E-paraksts" in lv and ">derīgs" in lv and "Parakstītājs" in lv


def test_a_tampered_file_is_refused_with_the_reason(
    container: Container, staff_member: Staff, tmp_path: Path
) -> None:
    esign = make_esign(tmp_path / "trust")
    container.signatures = EsignChecker(esign.trust)
    with TestClient(create_app(container)) as browser:
        console_login(browser, *staff_member("operator", controllers=[C]))
        rid = file_in_console(browser, channel="email", name="Juris Bērziņš")
        r = _upload(browser, rid, esign.tampered())
        assert r.status_code == 422  # type: ignore[attr-defined]
        assert "the file pieprasijums.txt was changed after it was signed" in r.text  # type: ignore[attr-defined]
        r = _upload(browser, rid, b"not a container at all")
        assert r.status_code == 422 and "neither an ASiC-E container" in r.text  # type: ignore[attr-defined]
    with container.sessions.begin() as session:
        row = session.get(DsrRequest, rid)
        assert row is not None and row.status == "received" and row.verification is None


def test_the_upload_route_takes_binary_files_but_no_nul_in_its_text_fields(
    container: Container, staff_member: Staff
) -> None:
    with TestClient(create_app(container)) as browser:
        console_login(browser, *staff_member("operator", controllers=[C]))
        rid = file_in_console(browser)  # in person: an ID document
        r = browser.post(
            f"/console/dsr/{rid}/verify?lang=en",
            data={"csrf": console_csrf(browser), "method": "id_document", "document_type": "pase\x00x"},
            files={"signed_file": ("", b"", "application/octet-stream")},
        )
        assert r.status_code == 422 and "NUL characters" in r.text
    with container.sessions.begin() as session:
        row = session.get(DsrRequest, rid)
        assert row is not None and row.verification is None
