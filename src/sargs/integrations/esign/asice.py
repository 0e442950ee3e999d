"""ASiC-E containers (.edoc / .asice, ETSI EN 319 162-1): a zip whose first entry `mimetype` reads
application/vnd.etsi.asic-e+zip, data files, and META-INF/signatures*.xml holding XAdES signatures
with detached references to the data files. The XML signature (SignedInfo, every reference's digest,
SignedProperties and the signing-certificate digest) is checked by signxml; the certificate by
pyhanko-certvalidator (sargs.integrations.esign.certs)."""

from __future__ import annotations

import base64
import io
import re
import zipfile
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from lxml import etree
from signxml import exceptions as sx_errors
from signxml.xades import XAdESSignatureConfiguration, XAdESVerifier

from sargs.domains.dsr.signatures import SignatureResult, indeterminate, invalid
from sargs.integrations.esign.certs import check_chain, signer_of

MIMETYPE = "application/vnd.etsi.asic-e+zip"
DS = "http://www.w3.org/2000/09/xmldsig#"
XADES = "http://uri.etsi.org/01903/v1.3.2#"
MAX_UNPACKED = 64 * 1024 * 1024  # a zip that unpacks to more is refused (zip bombs)
_SIGNATURES = re.compile(r"^META-INF/[^/]*signatures[^/]*\.xml$")


def is_zip(data: bytes) -> bool:
    return data[:4] == b"PK\x03\x04"


def check_asice(
    data: bytes, *, trust_roots: list[asn1_x509.Certificate] | None, now: datetime
) -> SignatureResult:
    """Valid when every signature covers every data file unchanged and its certificate chains to
    `trust_roots` and was valid when it signed. `trust_roots` None: no trust store configured."""
    fmt = {"format": "asic-e"}
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = [i for i in archive.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, ValueError):
        return invalid("the file is not a zip archive, so not an ASiC-E container", **fmt)
    if sum(i.file_size for i in entries) > MAX_UNPACKED:
        return invalid("the container unpacks to more than 64 MiB", **fmt)
    names = [i.filename for i in entries]
    try:
        mimetype = archive.read("mimetype").decode("ascii", "replace").strip() if "mimetype" in names else ""
        if mimetype != MIMETYPE:
            return invalid(f"the zip is not an ASiC-E container (mimetype {mimetype or 'missing'})", **fmt)
        signature_files = sorted(n for n in names if _SIGNATURES.match(n))
        data_files = {n: archive.read(n) for n in names if n != "mimetype" and not n.startswith("META-INF/")}
        signatures = {n: archive.read(n) for n in signature_files}
    except (zipfile.BadZipFile, OSError, RuntimeError) as exc:  # a damaged entry, an encrypted one
        return invalid(f"the container cannot be read ({exc})", **fmt)
    if not signature_files:
        return invalid("the container holds no signature (META-INF/signatures*.xml)", **fmt)
    if not data_files:
        return invalid("the container holds no signed document", **fmt)
    results = [
        _check_signature(xml, name, data_files, trust_roots=trust_roots, now=now)
        for name, xml in signatures.items()
    ]
    for wanted in ("invalid", "indeterminate"):
        for result in results:
            if result.status == wanted:
                return result
    return results[0]


def _check_signature(
    xml: bytes,
    name: str,
    data_files: dict[str, bytes],
    *,
    trust_roots: list[asn1_x509.Certificate] | None,
    now: datetime,
) -> SignatureResult:
    fmt = {"format": "asic-e"}
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError as exc:
        return invalid(f"{name} is not well-formed XML ({exc})", **fmt)
    found = root.findall(f".//{{{DS}}}Signature") if root.tag != f"{{{DS}}}Signature" else [root]
    if len(found) != 1:
        return indeterminate(f"{name} holds {len(found)} signatures; one per file is supported", **fmt)
    signature = found[0]
    certs_b64 = [
        (c.text or "")
        for c in signature.iterfind(f"{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate")
    ]
    if not certs_b64:
        return invalid("the signature carries no certificate", **fmt)
    try:
        certs = [asn1_x509.Certificate.load(base64.b64decode("".join(t.split()))) for t in certs_b64]
    except ValueError:
        return invalid("the signature's certificate cannot be read", **fmt)
    signing_cert = certs[0]
    signer = signer_of(signing_cert)
    facts: dict[str, Any] = {
        **fmt,
        "signer_name": signer.name,
        "personal_code": signer.personal_code,
        "qualified": signer.qualified,
        "issuer": signer.issuer,
    }
    covered: list[str] = []

    def resolve(uri: str) -> bytes:
        file = unquote(uri)
        if file not in data_files:
            raise sx_errors.InvalidInput(f"the signature refers to {file}, which the container lacks")
        covered.append(file)
        return data_files[file]

    crypto_cert = x509.load_der_x509_certificate(signing_cert.dump())
    claimed = _signing_time(signature)
    # signxml checks the mathematics only; whether the certificate was valid when it signed, and
    # chains to the trust store, is asked of pyhanko-certvalidator below (one place, clear reasons).
    # So signxml gets a moment inside the certificate's validity window.
    inside = min(max(claimed or now, crypto_cert.not_valid_before_utc), crypto_cert.not_valid_after_utc)
    config = XAdESSignatureConfiguration(expect_references=True, verification_time=inside)
    try:
        XAdESVerifier().verify(
            xml, x509_cert=crypto_cert, uri_resolver=resolve, parser=parser, expect_config=config
        )
    except sx_errors.InvalidDigest as exc:
        text = str(exc)
        match = re.search(r"\((.+)\)$", text)
        if match and unquote(match.group(1)) in data_files:
            return invalid(f"the file {unquote(match.group(1))} was changed after it was signed", **facts)
        return invalid(f"a signed part does not match its digest ({text})", **facts)
    except sx_errors.InvalidSignature as exc:
        return invalid(f"the signature value does not match the signed data ({exc})", **facts)
    except (sx_errors.InvalidInput, sx_errors.InvalidCertificate) as exc:
        return invalid(f"the signature is malformed ({exc})", **facts)
    except (sx_errors.SignXMLException, etree.DocumentInvalid, ValueError) as exc:
        return invalid(f"the signature cannot be checked ({exc})", **facts)
    unsigned = sorted(set(data_files) - set(covered))
    facts["files"] = sorted(set(covered))
    if unsigned:
        return invalid(
            f"the container holds a file the signature does not cover: {', '.join(unsigned)}", **facts
        )
    signed_at = claimed
    if signed_at is None:
        return indeterminate("the signature states no signing time (xades:SigningTime)", **facts)
    facts["signed_at"] = signed_at.isoformat()
    if signed_at > now:
        return invalid("the signing time is in the future", **facts)
    if trust_roots is None:
        return indeterminate("no trust store is configured (SARGS_ESIGN_TRUST)", **facts)
    problem = check_chain(signing_cert, trust_roots=trust_roots, others=certs[1:], moment=signed_at)
    if problem:
        return invalid(problem, **facts)
    return SignatureResult(status="valid", **facts)


def _signing_time(signature: etree._Element) -> datetime | None:
    text = signature.findtext(f".//{{{XADES}}}SignedSignatureProperties/{{{XADES}}}SigningTime")
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.astimezone(UTC)
