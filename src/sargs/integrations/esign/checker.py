"""The SignatureChecker bootstrap wires: picks the format by the file's first bytes and checks it
against the trust store (read once, at start, so a misconfigured one stops the process there)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sargs.domains.dsr.signatures import SignatureResult, invalid

if TYPE_CHECKING:
    from asn1crypto import x509 as asn1_x509

MAX_FILE = 20 * 1024 * 1024


class EsignChecker:
    """ASiC-E (.edoc, .asice) and PAdES (.pdf) signatures; `trust` None: no trust store configured,
    so a signature that is otherwise sound is indeterminate."""

    def __init__(self, trust: Path | None = None, *, now: Callable[[], datetime] | None = None) -> None:
        self.trust_roots: list[asn1_x509.Certificate] | None = None
        if trust:  # asn1crypto and lxml load only when there is a trust store to read
            from sargs.integrations.esign.trust import load_trust_store

            self.trust_roots = load_trust_store(trust)
        self._now = now or (lambda: datetime.now(UTC))

    def check(self, data: bytes, *, file_name: str = "") -> SignatureResult:
        """The result for one signed file."""
        if len(data) > MAX_FILE:
            return invalid("the signed file is over 20 MiB")
        # signxml and pyHanko are imported on first use: most processes never check a signature.
        if data[:4] == b"PK\x03\x04":
            from sargs.integrations.esign.asice import check_asice

            return check_asice(data, trust_roots=self.trust_roots, now=self._now())
        if data[:1024].lstrip().startswith(b"%PDF-"):
            from sargs.integrations.esign.pades import check_pdf

            return check_pdf(data, trust_roots=self.trust_roots, now=self._now())
        return invalid("the file is neither an ASiC-E container (.edoc, .asice) nor a signed PDF")
