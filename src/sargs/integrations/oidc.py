"""Staff sign-in through an OpenID Connect provider: authorization code flow with PKCE.

Authlib builds the authorization request (RFC 6749 parameters, RFC 7636 S256 challenge) and
joserfc (Authlib's JOSE library) checks the ID token: its signature against the provider's JWKS
(fetched from the discovery document; fetched again once when a token names an unknown key, so
key rotation works), and iss, aud, exp, iat, nonce, sub. The token endpoint is called with
httpx (client_secret_basic). Authlib's own httpx client integration is deprecated in the version
locked, so it is not used.

Between the redirect to the provider and its redirect back, the state, nonce and PKCE verifier
live in a cookie sealed with an HMAC of SARGS_SECRET_KEY and valid for 10 minutes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from sargs.core.config import Settings
from sargs.core.errors import ConfigurationError, Unauthenticated

FLOW_SECONDS = 600
ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA")


@dataclass(frozen=True)
class OidcStart:
    url: str  # where to send the browser
    cookie: str  # the sealed state, nonce and verifier


class OidcClient:
    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        client_secret: str,
        scopes: str,
        signing_key: str,
        now: Callable[[], float] = time.time,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.issuer = issuer  # compared exactly with the discovery document's and the tokens' iss
        self.client_id = client_id
        self._secret = client_secret
        self._scopes = scopes
        self._key = hashlib.sha256(b"sargs oidc flow\x00" + signing_key.encode()).digest()
        self._now = now
        self._http = httpx.Client(timeout=timeout, transport=transport)
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._jwks: KeySet | None = None

    @classmethod
    def from_settings(cls, settings: Settings, now: Callable[[], float] = time.time) -> OidcClient | None:
        """The client if issuer, client id and secret are all set; None if none is; else an error."""
        values = (settings.oidc_issuer, settings.oidc_client_id, settings.oidc_client_secret)
        if not any(values):
            return None
        if not all(values):
            raise ConfigurationError(
                "set SARGS_OIDC_ISSUER, SARGS_OIDC_CLIENT_ID and SARGS_OIDC_CLIENT_SECRET together"
            )
        assert settings.oidc_issuer and settings.oidc_client_id and settings.oidc_client_secret
        return cls(
            issuer=settings.oidc_issuer,
            client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret,
            scopes=settings.oidc_scopes,
            signing_key=settings.secret_key,
            now=now,
        )

    def close(self) -> None:
        self._http.close()

    # --- the provider's documents -------------------------------------------------------------

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = self._http.get(url)
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise Unauthenticated(f"the identity provider is unreachable ({type(exc).__name__})") from None
        if not isinstance(body, dict):
            raise Unauthenticated("the identity provider sent an unexpected answer")
        return body

    def metadata(self) -> dict[str, Any]:
        with self._lock:
            if self._metadata is None:
                meta = self._get_json(self.issuer.rstrip("/") + "/.well-known/openid-configuration")
                if meta.get("issuer") != self.issuer:
                    raise Unauthenticated("the identity provider's discovery document names another issuer")
                self._metadata = meta
            return self._metadata

    def _keys(self, *, refresh: bool = False) -> KeySet:
        with self._lock:
            if self._jwks is None or refresh:
                self._jwks = None
                meta = self._metadata or {}
                self._jwks = KeySet.import_key_set(self._get_json(meta["jwks_uri"]))  # type: ignore[arg-type]
            return self._jwks

    # --- the flow -----------------------------------------------------------------------------

    def _seal(self, data: dict[str, Any]) -> str:
        body = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()
        mac = hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()
        return f"{body}.{mac}"

    def _unseal(self, cookie: str) -> dict[str, Any]:
        body, _, mac = cookie.partition(".")
        good = hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()
        if not body or not hmac.compare_digest(good.encode(), mac.encode()):
            raise Unauthenticated("the sign-in expired or was started elsewhere; start again")
        data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body))
        if not 0 <= self._now() - float(data["t"]) <= FLOW_SECONDS:
            raise Unauthenticated("the sign-in expired; start again")
        return data

    def start(self, *, redirect_uri: str) -> OidcStart:
        meta = self.metadata()
        state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
        url = prepare_grant_uri(
            meta["authorization_endpoint"],
            client_id=self.client_id,
            response_type="code",
            redirect_uri=redirect_uri,
            scope=self._scopes,
            state=state,
            nonce=nonce,
            code_challenge=create_s256_code_challenge(verifier),
            code_challenge_method="S256",
        )
        return OidcStart(url, self._seal({"s": state, "n": nonce, "v": verifier, "t": self._now()}))

    def finish(self, *, cookie: str, code: str, state: str, redirect_uri: str) -> dict[str, Any]:
        """The checked ID-token claims of the sign-in the provider sent back."""
        flow = self._unseal(cookie)
        if not state or not hmac.compare_digest(flow["s"].encode(), state.encode()):
            raise Unauthenticated("the sign-in's state does not match; start again")
        if not code:
            raise Unauthenticated("the identity provider sent no code")
        meta = self.metadata()
        try:
            response = self._http.post(
                meta["token_endpoint"],
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": redirect_uri,
                    "code_verifier": flow["v"],
                },
                auth=(self.client_id, self._secret),
                headers={"Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise Unauthenticated(f"the identity provider is unreachable ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise Unauthenticated("the identity provider refused the code")
        id_token = response.json().get("id_token")
        if not isinstance(id_token, str):
            raise Unauthenticated("the identity provider sent no ID token")
        return self._check_id_token(id_token, flow["n"])

    def _check_id_token(self, id_token: str, nonce: str) -> dict[str, Any]:
        try:
            try:
                token = jwt.decode(id_token, self._keys(), algorithms=list(ALGORITHMS))
            except (ValueError, JoseError):  # perhaps a rotated key: fetch the key set once more
                token = jwt.decode(id_token, self._keys(refresh=True), algorithms=list(ALGORITHMS))
            JWTClaimsRegistry(
                now=lambda: int(self._now()),
                leeway=60,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.client_id},
                sub={"essential": True},
                exp={"essential": True},
                iat={"essential": True},
                nonce={"essential": True, "value": nonce},
            ).validate(token.claims)
        except (ValueError, JoseError) as exc:
            raise Unauthenticated(f"the ID token is not valid ({type(exc).__name__})") from None
        return dict(token.claims)
