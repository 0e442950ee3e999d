"""A throw-away test CA and signed samples, for `sargs demo` and the tests: a CA and a qualified-looking
signer certificate (cryptography), ASiC-E containers with a XAdES signature over the data files
built the way EU DSS / eParaksts lay them out (lxml, exclusive c14n; independent of the signxml
verifier), and signed PDFs (pyHanko's signer). Never a real person's data; never a real CA."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID
from lxml import etree

DS = "http://www.w3.org/2000/09/xmldsig#"
XADES = "http://uri.etsi.org/01903/v1.3.2#"
ASIC = "http://uri.etsi.org/02918/v1.2.1#"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
SIGNED_PROPS = "http://uri.etsi.org/01903#SignedProperties"
# QCStatements with QcCompliance and QcSSCD: SEQUENCE { SEQUENCE { OID 0.4.0.1862.1.1 }, SEQUENCE { OID 0.4.0.1862.1.4 } }
QC_STATEMENTS_DER = bytes.fromhex("3014" + "3008" + "060604008e460101" + "3008" + "060604008e460104")


@dataclass
class Identity:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def make_ca(name: str = "Sargs Demo Test CA", *, now: datetime | None = None, days: int = 3650) -> Identity:
    """A self-signed root CA (P-256)."""
    now = now or datetime.now(UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, name), x509.NameAttribute(NameOID.COUNTRY_NAME, "LV")]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Identity(cert, key)


def make_signer(
    ca: Identity,
    *,
    given: str = "Jānis",
    surname: str = "Paraugs",
    code: str = "PNOLV-000000-00000",
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    qualified: bool = True,
) -> Identity:
    """A person's signing certificate (non-repudiation) issued by `ca`, shaped like a Latvian eID one."""
    now = datetime.now(UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "LV"),
            x509.NameAttribute(NameOID.SURNAME, surname),
            x509.NameAttribute(NameOID.GIVEN_NAME, given),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, code),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{given} {surname}"),
        ]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - timedelta(days=1))
        .not_valid_after(not_after or now + timedelta(days=730))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
    )
    if qualified:
        oid = x509.ObjectIdentifier("1.3.6.1.5.5.7.1.3")
        builder = builder.add_extension(x509.UnrecognizedExtension(oid, QC_STATEMENTS_DER), critical=False)
    return Identity(builder.sign(ca.key, hashes.SHA256()), key)


def _c14n(element: etree._Element) -> bytes:
    return etree.tostring(element, method="c14n", exclusive=True, with_comments=False)


def _sub(parent: etree._Element, ns: str, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ns}}}{tag}", attrs)
    if text is not None:
        element.text = text
    return element


def xades_signature(
    files: dict[str, bytes],
    signer: Identity,
    *,
    signing_time: datetime | None = None,
    chain: list[Identity] = (),  # type: ignore[assignment]
) -> bytes:
    """META-INF/signatures0.xml: a XAdES-B signature with one detached reference per data file and
    one to its SignedProperties (SigningTime, SigningCertificateV2)."""
    moment = (signing_time or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    root = etree.Element(f"{{{ASIC}}}XAdESSignatures", nsmap={"asic": ASIC, "ds": DS, "xades": XADES})
    sig = _sub(root, DS, "Signature", Id="S0")
    info = _sub(sig, DS, "SignedInfo")
    _sub(info, DS, "CanonicalizationMethod", Algorithm=EXC_C14N)
    _sub(info, DS, "SignatureMethod", Algorithm=ECDSA_SHA256)
    for n, (name, content) in enumerate(files.items()):
        ref = _sub(info, DS, "Reference", Id=f"r-{n}", URI=name.replace(" ", "%20"))
        _sub(ref, DS, "DigestMethod", Algorithm=SHA256)
        _sub(ref, DS, "DigestValue", base64.b64encode(hashlib.sha256(content).digest()).decode())
    props_ref = _sub(info, DS, "Reference", Type=SIGNED_PROPS, URI="#S0-SignedProperties")
    transforms = _sub(props_ref, DS, "Transforms")
    _sub(transforms, DS, "Transform", Algorithm=EXC_C14N)
    _sub(props_ref, DS, "DigestMethod", Algorithm=SHA256)
    props_digest = _sub(props_ref, DS, "DigestValue")
    value = _sub(sig, DS, "SignatureValue", Id="S0-SignatureValue")
    x509_data = _sub(_sub(sig, DS, "KeyInfo"), DS, "X509Data")
    for ident in (signer, *chain):
        der = ident.cert.public_bytes(serialization.Encoding.DER)
        _sub(x509_data, DS, "X509Certificate", base64.b64encode(der).decode())
    qualifying = _sub(_sub(sig, DS, "Object"), XADES, "QualifyingProperties", Target="#S0")
    props = _sub(qualifying, XADES, "SignedProperties", Id="S0-SignedProperties")
    ssp = _sub(props, XADES, "SignedSignatureProperties")
    _sub(ssp, XADES, "SigningTime", moment.strftime("%Y-%m-%dT%H:%M:%SZ"))
    cert_digest = _sub(_sub(_sub(ssp, XADES, "SigningCertificateV2"), XADES, "Cert"), XADES, "CertDigest")
    _sub(cert_digest, DS, "DigestMethod", Algorithm=SHA256)
    fingerprint = signer.cert.fingerprint(hashes.SHA256())
    _sub(cert_digest, DS, "DigestValue", base64.b64encode(fingerprint).decode())
    props_digest.text = base64.b64encode(hashlib.sha256(_c14n(props)).digest()).decode()
    der_sig = signer.key.sign(_c14n(info), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der_sig)
    value.text = base64.b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode()
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def asice(files: dict[str, bytes], signature_xml: bytes | None) -> bytes:
    """An ASiC-E zip: `mimetype` first and stored, the data files, manifest and signature."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.etsi.asic-e+zip", zipfile.ZIP_STORED)
        for name, content in files.items():
            z.writestr(name, content, zipfile.ZIP_DEFLATED)
        entries = "".join(
            f'<manifest:file-entry manifest:full-path="{name}" manifest:media-type="application/octet-stream"/>'
            for name in files
        )
        z.writestr(
            "META-INF/manifest.xml",
            '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
            'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
            f'<manifest:file-entry manifest:full-path="/" manifest:media-type="{"application/vnd.etsi.asic-e+zip"}"/>'
            f"{entries}</manifest:manifest>",
        )
        if signature_xml is not None:
            z.writestr("META-INF/signatures0.xml", signature_xml, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def signed_asice(files: dict[str, bytes], signer: Identity, *, signing_time: datetime | None = None) -> bytes:
    """A signed ASiC-E container holding `files`."""
    return asice(files, xades_signature(files, signer, signing_time=signing_time))


def replace_file(container: bytes, name: str, content: bytes) -> bytes:
    """A copy of `container` with one entry's content changed (the signature kept): a tampered copy."""
    src = zipfile.ZipFile(io.BytesIO(container))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for info in src.infolist():
            data = content if info.filename == name else src.read(info.filename)
            z.writestr(info, data, info.compress_type)
    return out.getvalue()


def signed_pdf(signer: Identity, ca: Identity, *, text: str = "Pieprasījums / Request") -> bytes:
    """A one-page PDF signed (PAdES B-B) with pyHanko's signer."""
    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    from sargs.integrations.esign.certs import run_to_end

    key_der = signer.key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    pdf_signer = signers.SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(signer.cert.public_bytes(serialization.Encoding.DER)),
        signing_key=asn1_keys.PrivateKeyInfo.load(key_der),
        cert_registry=SimpleCertificateStore.from_certs(
            [asn1_x509.Certificate.load(ca.cert.public_bytes(serialization.Encoding.DER))]
        ),
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(_plain_pdf(text)))
    out = io.BytesIO()
    run_to_end(
        signers.async_sign_pdf(
            writer, signers.PdfSignatureMetadata(field_name="Signature1"), signer=pdf_signer, output=out
        )
    )
    return out.getvalue()


def _plain_pdf(text: str) -> bytes:
    """A minimal one-page PDF with one line of text (ASCII shown)."""
    shown = text.encode("ascii", "replace").decode().replace("(", "[").replace(")", "]")
    stream = f"BT /F1 14 Tf 72 720 Td ({shown}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % n + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def write_trust_folder(folder: Path, ca: Identity) -> Path:
    """`folder`/ca.pem: a trust folder SARGS_ESIGN_TRUST can name."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ca.pem").write_bytes(ca.pem)
    return folder
