"""`GET /.well-known/jwks.json`: the public keys that consent receipts are signed with (RFC 7517).

Each controller's key has the kid `<controller id>.<thumbprint>`; retired keys stay listed so a
receipt signed before a key change still verifies. Public, cacheable, outside /api/v1.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse

from sargs.entrypoints.api.deps import ContainerDep
from sargs.entrypoints.container import Container
from sargs.entrypoints.receipts import JWKS_PATH

log = logging.getLogger("sargs.receipts")
router = APIRouter(tags=["receipts"], include_in_schema=False)  # like the other well-known files


@router.get(JWKS_PATH)
def jwks(container: ContainerDep) -> JSONResponse:
    """The JWK set of the receipt signing keys (ES256, P-256)."""
    return JSONResponse(
        container.receipt_keys.jwks(),
        headers={"Cache-Control": "public, max-age=3600", "Access-Control-Allow-Origin": "*"},
    )


def install_well_known(app: FastAPI, container: Container) -> None:
    """Serve the key set; warn once at start-up about controllers whose receipts go out unsigned."""
    app.include_router(router)
    unsigned = container.receipt_keys.unsigned(container.registry.controller_ids)
    if unsigned:
        log.warning(
            "consent receipts of %s are not signed: no key in SARGS_RECEIPT_KEYS (`sargs receipts key`)",
            ", ".join(unsigned),
        )
