"""Signed PDFs (PAdES), checked by pyHanko: each signature intact over its byte range, nothing but
allowed updates after it, and its certificate chained to the trust store at the signing time."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko_certvalidator import ValidationContext

from sargs.domains.dsr.signatures import SignatureResult, indeterminate, invalid
from sargs.integrations.esign.certs import check_chain, run_to_end, signer_of


def is_pdf(data: bytes) -> bool:
    return data[:1024].lstrip().startswith(b"%PDF-")


def check_pdf(
    data: bytes, *, trust_roots: list[asn1_x509.Certificate] | None, now: datetime
) -> SignatureResult:
    """Valid when every signature of the PDF is intact, covers the document (later changes only of
    the kinds PAdES allows) and chains to `trust_roots` at its signing time."""
    fmt = {"format": "pades"}
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        embedded = list(reader.embedded_signatures)
    except (PdfError, ValueError, KeyError, TypeError) as exc:
        return invalid(f"the PDF cannot be read ({exc})", **fmt)
    if not embedded:
        return invalid("the PDF holds no signature", **fmt)
    results = [_check_one(sig, trust_roots=trust_roots, now=now) for sig in embedded]
    for wanted in ("invalid", "indeterminate"):
        for result in results:
            if result.status == wanted:
                return result
    return results[-1]


def _check_one(
    sig: object, *, trust_roots: list[asn1_x509.Certificate] | None, now: datetime
) -> SignatureResult:
    from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

    assert isinstance(sig, EmbeddedPdfSignature)
    fmt = {"format": "pades"}
    try:
        cert = sig.signer_cert
    except (ValueError, KeyError, SignatureValidationError) as exc:
        return invalid(f"the signature's certificate cannot be read ({exc})", **fmt)
    signer = signer_of(cert)
    facts: dict[str, Any] = {
        **fmt,
        "signer_name": signer.name,
        "personal_code": signer.personal_code,
        "qualified": signer.qualified,
        "issuer": signer.issuer,
    }
    try:
        context = ValidationContext(trust_roots=trust_roots or [], allow_fetching=False)
        status = run_to_end(async_validate_pdf_signature(sig, signer_validation_context=context))
    except (SignatureValidationError, PdfError, ValueError) as exc:
        return invalid(f"the signature cannot be checked ({exc})", **facts)
    if not status.intact or not status.valid:
        return invalid(
            "the document was changed after it was signed, or the signature value does not match", **facts
        )
    if status.docmdp_ok is False:
        return invalid(
            "the document was changed after it was signed in a way the signature does not allow", **facts
        )
    claimed = status.signer_reported_dt
    if claimed is None:
        return indeterminate("the signature states no signing time", **facts)
    signed_at = claimed.astimezone(UTC)
    facts["signed_at"] = signed_at.isoformat()
    if signed_at > now:
        return invalid("the signing time is in the future", **facts)
    if trust_roots is None:
        return indeterminate("no trust store is configured (SARGS_ESIGN_TRUST)", **facts)
    others = list(sig.other_embedded_certs)
    problem = check_chain(cert, trust_roots=trust_roots, others=others, moment=signed_at)
    if problem:
        return invalid(problem, **facts)
    return SignatureResult(status="valid", **facts)
