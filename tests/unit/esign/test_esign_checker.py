"""The e-signature checker on real signed files made here: ASiC-E containers with a XAdES signature
over their data files and PAdES PDFs signed by pyHanko, each by a test CA made for the test; then
tampered with (a changed or added data file, a changed signed property, an untrusted or expired
certificate, a zip that is not a container)."""

from __future__ import annotations

import asyncio
import base64
import io
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from sargs.core.errors import ConfigurationError
from sargs.integrations.esign import sample
from sargs.integrations.esign.checker import EsignChecker

FILES = {"pieprasijums.txt": "Lūdzu izsniegt manus datus.".encode(), "pielikums 1.pdf": b"%PDF-1.4 any bytes"}
NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def ca() -> sample.Identity:
    return sample.make_ca()


@pytest.fixture(scope="module")
def signer(ca: sample.Identity) -> sample.Identity:
    return sample.make_signer(ca, given="Anna", surname="Bērziņa", code="PNOLV-111111-11111")


@pytest.fixture(scope="module")
def checker(ca: sample.Identity, tmp_path_factory: pytest.TempPathFactory) -> EsignChecker:
    return EsignChecker(sample.write_trust_folder(tmp_path_factory.mktemp("trust"), ca))


def test_a_signed_container_is_valid_and_names_the_qualified_signer(
    checker: EsignChecker, signer: sample.Identity
) -> None:
    result = checker.check(sample.signed_asice(FILES, signer))
    assert result.status == "valid", result.reason
    assert (result.signer_name, result.personal_code) == ("Anna Bērziņa", "PNOLV-111111-11111")
    assert result.qualified and result.format == "asic-e"
    assert result.files == sorted(FILES)
    assert result.signed_at is not None and result.signed_at.startswith(f"{NOW:%Y-%m-%d}")


def test_the_checker_works_inside_a_running_event_loop(
    checker: EsignChecker, ca: sample.Identity, signer: sample.Identity
) -> None:
    """A route or a test under playwright's sync API calls it from a thread that runs a loop."""
    container, pdf = sample.signed_asice(FILES, signer), sample.signed_pdf(signer, ca)

    async def inside() -> list[str]:
        return [checker.check(container).status, checker.check(pdf, file_name="request.pdf").status]

    with ThreadPoolExecutor(1) as pool:  # a thread of its own: this one may already run a loop
        assert pool.submit(asyncio.run, inside()).result() == ["valid", "valid"]


def test_a_certificate_without_the_qc_statements_is_not_qualified(
    checker: EsignChecker, ca: sample.Identity
) -> None:
    plain = sample.make_signer(ca, qualified=False)
    result = checker.check(sample.signed_asice(FILES, plain))
    assert result.status == "valid" and result.qualified is False


def test_a_changed_data_file_makes_the_signature_invalid(
    checker: EsignChecker, signer: sample.Identity
) -> None:
    box = sample.signed_asice(FILES, signer)
    tampered = sample.replace_file(box, "pieprasijums.txt", "Lūdzu dzēst manus datus.".encode())
    result = checker.check(tampered)
    assert result.status == "invalid"
    assert result.reason == "the file pieprasijums.txt was changed after it was signed"
    assert result.signer_name == "Anna Bērziņa"  # who claimed to sign it is still shown


def test_a_data_file_added_after_signing_is_refused(checker: EsignChecker, signer: sample.Identity) -> None:
    box = sample.asice({**FILES, "extra.txt": b"unsigned"}, sample.xades_signature(FILES, signer))
    result = checker.check(box)
    assert result.status == "invalid" and "extra.txt" in result.reason and "does not cover" in result.reason


def test_a_signed_file_missing_from_the_container_is_refused(
    checker: EsignChecker, signer: sample.Identity
) -> None:
    box = sample.asice({"pieprasijums.txt": FILES["pieprasijums.txt"]}, sample.xades_signature(FILES, signer))
    result = checker.check(box)
    assert result.status == "invalid" and "pielikums 1.pdf" in result.reason


def test_a_changed_signing_time_breaks_the_signed_properties(
    checker: EsignChecker, signer: sample.Identity
) -> None:
    xml = sample.xades_signature(FILES, signer, signing_time=NOW - timedelta(hours=1))
    stamp = (NOW - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    assert stamp in xml
    earlier = xml.replace(stamp, (NOW - timedelta(days=400)).strftime("%Y-%m-%dT%H:%M:%SZ").encode())
    result = checker.check(sample.asice(FILES, earlier))
    assert result.status == "invalid" and "digest" in result.reason


def test_a_forged_signature_value_is_refused(checker: EsignChecker, signer: sample.Identity) -> None:
    xml = sample.xades_signature(FILES, signer)
    start = xml.index(b'Id="S0-SignatureValue">') + len(b'Id="S0-SignatureValue">')
    value = bytearray(base64.b64decode(xml[start : xml.index(b"<", start)]))
    value[5] ^= 0xFF
    forged = xml[:start] + base64.b64encode(bytes(value)) + xml[xml.index(b"<", start) :]
    result = checker.check(sample.asice(FILES, forged))
    assert result.status == "invalid" and "signature value" in result.reason


def test_a_certificate_from_an_untrusted_ca_is_refused(checker: EsignChecker) -> None:
    other_ca = sample.make_ca("Someone Else's CA")
    result = checker.check(sample.signed_asice(FILES, sample.make_signer(other_ca)))
    assert result.status == "invalid"
    assert result.reason == "the signing certificate does not chain to a trusted certification authority"


def test_a_certificate_expired_at_the_signing_time_is_refused(
    checker: EsignChecker, ca: sample.Identity
) -> None:
    expired = sample.make_signer(ca, not_before=NOW - timedelta(days=400), not_after=NOW - timedelta(days=2))
    result = checker.check(sample.signed_asice(FILES, expired))
    assert result.status == "invalid" and "expired at the signing time" in result.reason


def test_a_certificate_expired_since_is_still_valid_for_what_it_signed_in_time(
    checker: EsignChecker, ca: sample.Identity
) -> None:
    lapsed = sample.make_signer(ca, not_before=NOW - timedelta(days=400), not_after=NOW - timedelta(days=2))
    box = sample.signed_asice(FILES, lapsed, signing_time=NOW - timedelta(days=30))
    assert checker.check(box).status == "valid"


def test_a_signing_time_in_the_future_is_refused(checker: EsignChecker, signer: sample.Identity) -> None:
    box = sample.signed_asice(FILES, signer, signing_time=NOW + timedelta(days=3))
    result = checker.check(box)
    assert result.status == "invalid" and "future" in result.reason


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"PK\x03\x04 not really a zip", "not a zip archive"),
        (None, "not an ASiC-E container (mimetype missing)"),
        (b"just text", "neither an ASiC-E container"),
        (b"%PDF-1.7\n%%EOF", "PDF"),
    ],
)
def test_files_that_are_not_signed_containers_are_invalid(
    checker: EsignChecker, data: bytes | None, reason: str
) -> None:
    if data is None:  # a plain zip of a document
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as z:
            z.writestr("pieprasijums.txt", "x")
        data = out.getvalue()
    result = checker.check(data)
    assert result.status == "invalid" and reason in result.reason


def test_a_container_without_a_signature_is_invalid(checker: EsignChecker) -> None:
    result = checker.check(sample.asice(FILES, None))
    assert result.status == "invalid" and "no signature" in result.reason


def test_without_a_trust_store_a_sound_signature_is_indeterminate(signer: sample.Identity) -> None:
    result = EsignChecker(None).check(sample.signed_asice(FILES, signer))
    assert result.status == "indeterminate" and "SARGS_ESIGN_TRUST" in result.reason
    assert result.signer_name == "Anna Bērziņa"
    tampered = sample.replace_file(sample.signed_asice(FILES, signer), "pieprasijums.txt", b"x")
    assert EsignChecker(None).check(tampered).status == "invalid"  # tampering shows even so


def test_a_signed_pdf_is_valid_and_a_changed_byte_invalidates_it(
    checker: EsignChecker, ca: sample.Identity, signer: sample.Identity
) -> None:
    pdf = sample.signed_pdf(signer, ca, text="Request 42")
    result = checker.check(pdf, file_name="request.pdf")
    assert result.status == "valid", result.reason
    assert (result.format, result.signer_name, result.personal_code) == (
        "pades",
        "Anna Bērziņa",
        "PNOLV-111111-11111",
    )
    assert result.qualified
    changed = pdf.replace(b"(Request 42)", b"(Request 43)")
    assert changed != pdf
    result = checker.check(changed)
    assert result.status == "invalid" and "changed after it was signed" in result.reason


def test_a_pdf_signed_under_an_untrusted_or_expired_certificate_is_refused(
    checker: EsignChecker, ca: sample.Identity
) -> None:
    other = sample.make_ca("Other CA")
    result = checker.check(sample.signed_pdf(sample.make_signer(other), other))
    assert result.status == "invalid" and "trusted certification authority" in result.reason
    expired = sample.make_signer(ca, not_before=NOW - timedelta(days=400), not_after=NOW - timedelta(days=1))
    result = checker.check(sample.signed_pdf(expired, ca))
    assert result.status == "invalid" and "expired" in result.reason


def _trusted_list(ca: sample.Identity, status: str) -> bytes:
    der = base64.b64encode(ca.cert.public_bytes(serialization.Encoding.DER)).decode()
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<TrustServiceStatusList xmlns="http://uri.etsi.org/02231/v2#"><TrustServiceProviderList><TrustServiceProvider>
<TSPServices><TSPService><ServiceInformation>
<ServiceTypeIdentifier>http://uri.etsi.org/TrstSvc/Svctype/CA/QC</ServiceTypeIdentifier>
<ServiceName><Name xml:lang="en">Test QC CA</Name></ServiceName>
<ServiceDigitalIdentity><DigitalId><X509Certificate>{der}</X509Certificate></DigitalId></ServiceDigitalIdentity>
<ServiceStatus>http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/{status}</ServiceStatus>
</ServiceInformation></TSPService></TSPServices></TrustServiceProvider></TrustServiceProviderList>
</TrustServiceStatusList>""".encode()


def test_a_trusted_list_file_trusts_its_granted_qualified_cas_only(
    tmp_path: Path, ca: sample.Identity, signer: sample.Identity
) -> None:
    box = sample.signed_asice(FILES, signer)
    granted = tmp_path / "lv-tl.xml"
    granted.write_bytes(_trusted_list(ca, "granted"))
    assert EsignChecker(granted).check(box).status == "valid"
    withdrawn = tmp_path / "withdrawn.xml"
    withdrawn.write_bytes(_trusted_list(ca, "withdrawn"))
    assert EsignChecker(withdrawn).check(box).status == "invalid"


def test_a_trust_store_that_cannot_be_read_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no folder or file"):
        EsignChecker(tmp_path / "missing")
    (tmp_path / "bad.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    with pytest.raises(ConfigurationError, match="is not a certificate"):
        EsignChecker(tmp_path)
    (tmp_path / "bad.pem").unlink()
    (tmp_path / "list.xml").write_bytes(b"<not-closed")
    with pytest.raises(ConfigurationError, match="trusted-list"):
        EsignChecker(tmp_path / "list.xml")
