"""The trust store (SARGS_ESIGN_TRUST): a folder of CA certificates (PEM or DER: .pem .crt .cer .der),
or an EU trusted-list XML file (ETSI TS 119 612) the operator downloaded. Nothing is fetched."""

from __future__ import annotations

import base64
from pathlib import Path

from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from lxml import etree

from sargs.core.errors import ConfigurationError

TSL = "http://uri.etsi.org/02231/v2#"
# Services whose certificates anchor qualified signatures; withdrawn services are left out.
CA_QC = "http://uri.etsi.org/TrstSvc/Svctype/CA/QC"
CERT_SUFFIXES = (".pem", ".crt", ".cer", ".der")


def load_certificates(data: bytes) -> list[asn1_x509.Certificate]:
    """Every certificate in a PEM bundle, or the one DER certificate."""
    if pem.detect(data):
        return [asn1_x509.Certificate.load(der) for _, _, der in pem.unarmor(data, multiple=True)]
    return [asn1_x509.Certificate.load(data)]


def trusted_list_certificates(data: bytes) -> list[asn1_x509.Certificate]:
    """The CA/QC service certificates of a trusted list whose status is granted (or, for older lists,
    under supervision / accredited). The list's own XML signature is not checked here: the operator
    vouches for the file they downloaded."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    root = etree.fromstring(data, parser)
    found = []
    for info in root.iter(f"{{{TSL}}}ServiceInformation"):
        kind = info.findtext(f"{{{TSL}}}ServiceTypeIdentifier") or ""
        status = info.findtext(f"{{{TSL}}}ServiceStatus") or ""
        if kind.strip() != CA_QC or not status.strip().endswith(
            ("/granted", "/undersupervision", "/accredited")
        ):
            continue
        for element in info.iter(f"{{{TSL}}}X509Certificate"):
            text = "".join((element.text or "").split())
            if text:
                found.append(asn1_x509.Certificate.load(base64.b64decode(text)))
    return found


def load_trust_store(path: Path) -> list[asn1_x509.Certificate]:
    """The trusted CA certificates at `path` (a folder or a trusted-list XML file)."""
    if path.is_dir():
        certs = []
        for item in sorted(path.iterdir()):
            if item.suffix.lower() in CERT_SUFFIXES and item.is_file():
                try:
                    certs.extend(load_certificates(item.read_bytes()))
                except ValueError as exc:
                    raise ConfigurationError(
                        f"SARGS_ESIGN_TRUST: {item} is not a certificate ({exc})"
                    ) from None
        return certs
    if path.is_file():
        try:
            return trusted_list_certificates(path.read_bytes())
        except (etree.XMLSyntaxError, ValueError) as exc:
            raise ConfigurationError(
                f"SARGS_ESIGN_TRUST: {path} is not a trusted-list XML file ({exc})"
            ) from None
    raise ConfigurationError(f"SARGS_ESIGN_TRUST: there is no folder or file {path}")
