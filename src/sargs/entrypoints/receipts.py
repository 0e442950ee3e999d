"""Serving a consent receipt as JSON or signed (JWT), the same way from the API, console and portal."""

from __future__ import annotations

from typing import Any, Literal

from starlette.responses import JSONResponse, Response

from sargs.domains.consent.receipts import receipt_controller
from sargs.entrypoints.container import Container

ReceiptFormat = Literal["json", "jwt"]
JWKS_PATH = "/.well-known/jwks.json"
JWT_MEDIA_TYPE = "application/jwt"


def receipt_response(
    container: Container, receipt: dict[str, Any], *, fmt: ReceiptFormat, download: bool
) -> Response:
    """The receipt as JSON, or as a compact JWS signed with its controller's key (ReceiptsUnsigned,
    a 409, when that controller has no key); `download` names it as a file."""
    name = f"consent-receipt-{receipt['consentReceiptID']}"
    if fmt == "jwt":
        headers = {"Content-Disposition": f'attachment; filename="{name}.jwt"'} if download else None
        return Response(container.receipt_keys.sign(receipt), media_type=JWT_MEDIA_TYPE, headers=headers)
    headers = {"Content-Disposition": f'attachment; filename="{name}.json"'} if download else None
    return JSONResponse(receipt, headers=headers)


def signing_kid(container: Container, receipt: dict[str, Any]) -> str | None:
    """The id of the key this receipt is signed with, or None when its controller has none."""
    key = container.receipt_keys.key_for(receipt_controller(receipt))
    return key.kid if key is not None else None
