"""The signing certificate: who it names (CN, serialNumber PNOLV-…), whether it is qualified
(ETSI EN 319 412-5 QCStatements: QcCompliance and QcSSCD), and whether it chained to the trust store
and was valid at the signing time (pyhanko-certvalidator, no network)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from asn1crypto import core
from asn1crypto import x509 as asn1_x509
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator import errors as cv_errors

QC_STATEMENTS_OID = "1.3.6.1.5.5.7.1.3"
QC_COMPLIANCE = "0.4.0.1862.1.1"  # id-etsi-qcs-QcCompliance
QC_SSCD = "0.4.0.1862.1.4"  # id-etsi-qcs-QcSSCD (the key is in a qualified signature creation device)


T = TypeVar("T")


def run_to_end(coro: Coroutine[Any, Any, T]) -> T:
    """Run pyHanko's coroutine to its result from synchronous code. A thread that already runs an
    event loop (an async route, a test under playwright's sync API) cannot `asyncio.run`, so there it
    runs in a thread of its own with its own loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sargs-esign") as pool:
        return pool.submit(asyncio.run, coro).result()


class _QcStatement(core.Sequence):
    _fields = [("statement_id", core.ObjectIdentifier), ("statement_info", core.Any, {"optional": True})]


class _QcStatements(core.SequenceOf):
    _child_spec = _QcStatement


@dataclass(frozen=True)
class Signer:
    name: str | None
    personal_code: str | None
    qualified: bool
    issuer: str | None


def qc_statements(cert: asn1_x509.Certificate) -> set[str]:
    """The statement ids of the certificate's QCStatements extension (empty when it has none)."""
    for ext in cert["tbs_certificate"]["extensions"]:
        if ext["extn_id"].dotted == QC_STATEMENTS_OID:
            raw = ext["extn_value"].contents  # OCTET STRING holding the DER of QCStatements
            try:
                parsed = _QcStatements.load(raw)
                return {item["statement_id"].dotted for item in parsed}
            except (ValueError, TypeError):
                return set()
    return set()


def signer_of(cert: asn1_x509.Certificate) -> Signer:
    """Name, personal code and qualification from the subject and extensions."""
    subject = cert.subject.native
    name = subject.get("common_name")
    if not name and (subject.get("given_name") or subject.get("surname")):
        name = " ".join(p for p in (subject.get("given_name"), subject.get("surname")) if p)
    serial = subject.get("serial_number")
    statements = qc_statements(cert)
    issuer = cert.issuer.native.get("common_name") or cert.issuer.human_friendly
    return Signer(
        name=str(name) if name else None,
        personal_code=str(serial) if serial else None,
        qualified={QC_COMPLIANCE, QC_SSCD} <= statements,
        issuer=str(issuer) if issuer else None,
    )


def check_chain(
    cert: asn1_x509.Certificate,
    *,
    trust_roots: list[asn1_x509.Certificate],
    others: list[asn1_x509.Certificate],
    moment: datetime,
) -> str | None:
    """None when `cert` chains to one of `trust_roots` and every certificate of the path was valid at
    `moment`, for non-repudiation; else the reason. Revocation is not checked (no network)."""
    context = ValidationContext(
        trust_roots=trust_roots,
        other_certs=others,
        moment=moment,
        allow_fetching=False,
        revocation_mode="soft-fail",
    )
    validator = CertificateValidator(cert, intermediate_certs=others, validation_context=context)
    try:
        run_to_end(validator.async_validate_usage({"non_repudiation"}))
    except cv_errors.PathBuildingError:
        return "the signing certificate does not chain to a trusted certification authority"
    except cv_errors.ExpiredError:
        return f"a certificate of the chain had expired at the signing time ({moment:%Y-%m-%d %H:%M} UTC)"
    except cv_errors.NotYetValidError:
        return (
            f"a certificate of the chain was not yet valid at the signing time ({moment:%Y-%m-%d %H:%M} UTC)"
        )
    except cv_errors.RevokedError:
        return "the signing certificate was revoked"
    except cv_errors.InvalidCertificateError as exc:
        return f"the signing certificate may not sign documents ({exc})"
    except (cv_errors.PathValidationError, cv_errors.ValidationError) as exc:
        return f"the certificate chain is not valid ({exc})"
    return None
