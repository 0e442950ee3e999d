"""The HTTP data-source connector: a SaaS system's REST API, as an `http` source declares it (R-DSR-6).

Access: for each resource, a GET with each of the person's identities of the resource's kind, page
after page (cursor, next link or page number), the records at `records` (JSONPath) and each
declared field read at its path. Erasure: first the same GETs find the records (their ids are
noted through `on_found` before anything changes), then DELETE or POST per record (`{id}`) or
per identity. Every erasure call carries an `Idempotency-Key` that a retry repeats, a record
already gone (404) counts as erased, and the records an interrupted attempt noted are erased by id
even when the GET no longer finds them, so a retry finishes the job and reports it once.

Errors are marked: a timeout, a network failure, 429 (Retry-After honoured) or a 5xx raise or return
a retryable failure (`SourceBusy`, `SourceErasure.retryable`); any other 4xx, a response that is not
JSON, or a next link to another origin is permanent. Messages name the method and the declared path
template, never the filled URL (it holds the person's identity), and the token is never logged.
"""

from __future__ import annotations

import hashlib
import logging
import os
import string
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from sargs.core.errors import ConfigurationError, SargsError, SourceBusy, SourceUnavailable
from sargs.domains.policy.http_sources import HttpApi, HttpErasure, HttpResource
from sargs.domains.policy.schema import RetentionRule
from sargs.domains.policy.sources import DataSource
from sargs.domains.sources.ports import ConnectorFactory, SourceConnector
from sargs.domains.sources.reports import SourceAccess, SourceErasure, TableErasure, TableRows
from sargs.domains.sources.values import json_safe
from sargs.domains.subjects.identifiers import Identity

MAX_RETRY_AFTER = 24 * 3600.0  # seconds: a longer Retry-After is taken as a day
Record = dict[str, Any]


def retry_after(response: httpx.Response, *, now: datetime | None = None) -> float | None:
    """Seconds from the Retry-After header (delta-seconds or an HTTP date), capped at a day."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max((when - (now or datetime.now(UTC))).total_seconds(), 0.0), MAX_RETRY_AFTER)


def _findall(path: str, data: Any) -> list[Any]:
    import jsonpath  # loads with the first HTTP source read, not with every process

    return jsonpath.findall(path, data)


def _first(path: str, data: Any) -> Any:
    found = _findall(path, data)
    return found[0] if found else None


def _value(path: str, record: Record) -> Any:
    """A field's value in a record: one match as itself, several as a list, none as None."""
    found = _findall(path, record)
    if not found:
        return None
    return json_safe(found[0]) if len(found) == 1 else [json_safe(v) for v in found]


def _fill(template: Any, values: Mapping[str, str], *, in_path: bool = False) -> Any:
    """Placeholders replaced: URL-quoted in a path, as they are in query values and JSON bodies."""
    if isinstance(template, str):
        quoted = {k: quote(v, safe="") for k, v in values.items()} if in_path else values
        return string.Formatter().vformat(template, (), dict(quoted))
    if isinstance(template, dict):
        return {k: _fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, values) for v in template]
    return template


def _same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


class HttpConnector:
    """Collects and erases one person's records in one SaaS system, as its declaration says."""

    def __init__(
        self,
        source: DataSource,
        *,
        base_url: str,
        token: str | None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if source.kind != "http" or source.http is None:
            raise ConfigurationError(f"data source {source.id!r} is not an http source", source=source.id)
        # httpx logs every request's full URL at INFO, and an access GET's URL holds the person's
        # identity: its logger is kept to warnings (which carry no URL).
        if logging.getLogger("httpx").getEffectiveLevel() < logging.WARNING:
            logging.getLogger("httpx").setLevel(logging.WARNING)
        self.source = source
        self.api: HttpApi = source.http
        headers = {"Accept": "application/json", "User-Agent": "sargs"}
        if self.api.auth != "none" and token:
            headers[self.api.auth_header] = f"Bearer {token}" if self.api.auth == "bearer" else token
        self.base = httpx.URL(base_url.rstrip("/") + "/")
        self.client = httpx.Client(
            base_url=self.base,
            headers=headers,
            timeout=self.api.timeout_seconds,
            follow_redirects=False,
            transport=transport,
        )

    def close(self) -> None:
        """Release the connection pool."""
        self.client.close()

    # --- the port -------------------------------------------------------------------------

    def collect(self, *, identities: Sequence[Identity]) -> SourceAccess:
        """Every record of every resource reached from `identities`, the declared fields read."""
        tables = []
        for res in self.api.resources:
            records = self._find(res, identities)
            rows = [self._row(res, r) for _, (r, _) in sorted(records.items())]
            tables.append(
                TableRows(table=res.name, rows=rows, categories={f.name: f.category for f in res.fields})
            )
        return SourceAccess(source=self.source.id, tables=tables)

    def erase(
        self,
        *,
        identities: Sequence[Identity],
        now: datetime,
        rules: Mapping[str, RetentionRule],
        earlier: Mapping[str, Sequence[Any]] | None = None,
        on_found: Callable[[dict[str, list[Any]]], None] | None = None,
    ) -> SourceErasure:
        """Find the records, note their ids (`on_found`), then erase them call by call.

        Never raises for a failure of the source: returns ok=False with a safe error, marked
        retryable or not; records erased before the failure stay erased and a retry finishes."""
        earlier = earlier or {}
        try:
            found = {res.name: self._find(res, identities) for res in self.api.resources}
            if on_found is not None:
                on_found({name: sorted(recs) for name, recs in found.items() if recs})
            results = [
                self._erase_resource(res, identities, found[res.name], earlier) for res in self.api.resources
            ]
        except SourceBusy as exc:
            error = exc.message + "; records erased before this stay erased, the retry finishes the rest"
            return SourceErasure(
                source=self.source.id, ok=False, error=error, retryable=True, retry_after=exc.retry_after
            )
        except SargsError as exc:
            return SourceErasure(source=self.source.id, ok=False, error=exc.message)
        return SourceErasure(source=self.source.id, ok=True, tables=results)

    def identities(self, *, tables: Sequence[str] | None = None) -> Iterator[Identity]:
        """An API is asked about one person at a time: it cannot list everyone it holds."""
        raise ConfigurationError(
            f"source {self.source.id!r} is an http source: it cannot list every identity it holds",
            source=self.source.id,
        )

    def check(self) -> dict[str, int]:
        """GET the declared `check_path` (if any); SourceUnavailable (or SourceBusy) if it fails."""
        if self.api.check_path:
            self._send("GET", self.api.check_path, self.api.check_path)
        return {}

    # --- finding a person's records ------------------------------------------------------------

    def _values(self, res: HttpResource, identities: Sequence[Identity]) -> list[str]:
        return list(dict.fromkeys(i.value for i in identities if i.kind == res.identity))

    def _find(self, res: HttpResource, identities: Sequence[Identity]) -> dict[str, tuple[Record, str]]:
        """record id -> (record, the identity value it was found by)."""
        out: dict[str, tuple[Record, str]] = {}
        for value in self._values(res, identities):
            for record in self._pages(res, {res.identity: value}):
                rid = _first(res.id, record)
                if rid is None or isinstance(rid, dict | list):
                    raise SourceUnavailable(
                        f"a record of resource {res.name!r} of source {self.source.id!r} has no id at {res.id}",
                        source=self.source.id,
                    )
                out.setdefault(str(rid), (record, value))
        return out

    def _pages(self, res: HttpResource, values: Mapping[str, str]) -> Iterator[Record]:
        access, page = res.access, res.access.pagination
        what = access.path
        url: str | httpx.URL = _fill(access.path, values, in_path=True).lstrip("/")
        params: dict[str, Any] | None = {k: _fill(v, values) for k, v in access.query.items()}
        number = page.first_page
        seen: set[str] = set()
        for _ in range(page.max_pages):
            if page.style == "page" and params is not None:
                params[page.page_param] = number
                if page.size_param:
                    params[page.size_param] = page.page_size
            response = self._send("GET", what, url, params=params)
            body = self._json(response, what)
            records = [r for r in _findall(access.records, body) if isinstance(r, dict)]
            yield from records
            if page.style == "none":
                return
            if page.style == "cursor":
                cursor = _first(page.next_cursor or "$.next", body)
                if cursor in (None, "") or str(cursor) in seen:
                    return
                seen.add(str(cursor))
                assert params is not None
                params[page.cursor_param] = cursor
            elif page.style == "next_link":
                link = (
                    _first(page.next_link, body)
                    if page.next_link
                    else response.links.get("next", {}).get("url")
                )
                if not link or link in seen:
                    return
                seen.add(link)
                url = self.base.join(str(link))
                if not _same_origin(url, self.base):
                    raise SourceUnavailable(
                        f"the next link of GET {what} of source {self.source.id!r} leads to another site",
                        source=self.source.id,
                    )
                params = None  # the link carries its query
            else:
                if len(records) < page.page_size:
                    return
                number += 1
        raise SourceUnavailable(
            f"GET {what} of source {self.source.id!r} gave more than {page.max_pages} pages",
            source=self.source.id,
        )

    def _row(self, res: HttpResource, record: Record) -> dict[str, Any]:
        row = {"id": json_safe(_first(res.id, record))}
        row.update({f.name: _value(f.json_path, record) for f in res.fields})
        return row

    # --- erasure -----------------------------------------------------------------------------

    def _erase_resource(
        self,
        res: HttpResource,
        identities: Sequence[Identity],
        found: dict[str, tuple[Record, str]],
        earlier: Mapping[str, Sequence[Any]],
    ) -> TableErasure:
        ids = list(dict.fromkeys([*(str(k) for k in earlier.get(res.name, [])), *sorted(found)]))
        if res.erasure is None:
            return TableErasure(
                table=res.name, kept=len(found), kept_reason=res.keep_reason if found else None
            )
        if not ids:
            return TableErasure(table=res.name)
        values = self._values(res, identities)
        erasure = res.erasure
        if erasure.per_record:
            for rid in ids:
                value = found[rid][1] if rid in found else (values[0] if values else "")
                self._erase_call(res, erasure, {res.identity: value, "id": rid}, key_of=[rid])
        else:
            for value in values:
                self._erase_call(res, erasure, {res.identity: value}, key_of=[value, *sorted(ids)])
        return TableErasure(table=res.name, deleted=len(ids))

    def _erase_call(
        self, res: HttpResource, erasure: HttpErasure, values: Mapping[str, str], *, key_of: list[str]
    ) -> None:
        digest = hashlib.sha256("\x1f".join([self.source.id, res.name, *key_of]).encode()).hexdigest()[:40]
        self._send(
            erasure.method,
            erasure.path,
            _fill(erasure.path, values, in_path=True).lstrip("/"),
            params={k: _fill(v, values) for k, v in erasure.query.items()} or None,
            json=_fill(erasure.body, values) if erasure.body is not None else None,
            headers={"Idempotency-Key": f"sargs-{digest}"},
            gone_ok=True,
        )

    # --- HTTP ----------------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        what: str,
        url: str | httpx.URL,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        gone_ok: bool = False,
    ) -> httpx.Response:
        """One call; SourceBusy for what may pass (timeout, network, 429, 5xx), else SourceUnavailable."""
        call = f"{method} {what} of source {self.source.id!r}"
        try:
            response = self.client.request(method, url, params=params, json=json, headers=headers)
        except httpx.TimeoutException:
            raise SourceBusy(f"timeout on {call}", source=self.source.id) from None
        except httpx.TransportError as exc:
            raise SourceBusy(f"{type(exc).__name__} on {call}", source=self.source.id) from None
        status = response.status_code
        if status == 429 or status >= 500:
            raise SourceBusy(
                f"HTTP {status} from {call}", retry_after=retry_after(response), source=self.source.id
            )
        if gone_ok and status in (404, 410):
            return response
        if status >= 300:
            hint = "; check its token" if status in (401, 403) else "; check the source's declaration"
            raise SourceUnavailable(f"HTTP {status} from {call} (permanent{hint})", source=self.source.id)
        return response

    def _json(self, response: httpx.Response, what: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise SourceUnavailable(
                f"GET {what} of source {self.source.id!r} answered something that is not JSON",
                source=self.source.id,
            ) from None


def _secret(environ: Mapping[str, str], name: str) -> str | None:
    """`name` from the environment, or the contents of the file `<name>_FILE` names."""
    value = environ.get(name)
    if value:
        return value.strip()
    path = environ.get(name + "_FILE")
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip() or None
        except OSError:
            raise ConfigurationError(f"cannot read {name}_FILE ({path})") from None
    return None


class HttpConnectorFactory:
    """Connectors for http sources: base URL from `SARGS_SOURCE_<ID>_URL` (else the policy's
    `base_url`), token from `SARGS_SOURCE_<ID>_TOKEN` (or `_TOKEN_FILE`). One per declaration."""

    def __init__(
        self, environ: Mapping[str, str] | None = None, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.environ = environ if environ is not None else os.environ
        self.transport = transport
        self._cache: dict[tuple[str, str, str | None], HttpConnector] = {}
        self._lock = threading.Lock()

    def __call__(self, source: DataSource) -> SourceConnector:
        if source.kind != "http" or source.http is None:
            raise ConfigurationError(f"data source {source.id!r} is not an http source", source=source.id)
        base_url = self.environ.get(source.url_variable) or source.http.base_url
        if not base_url:
            raise ConfigurationError(
                f"data source {source.id!r} has no base URL: set {source.url_variable}", source=source.id
            )
        token = _secret(self.environ, source.token_variable)
        if source.http.auth != "none" and not token:
            raise ConfigurationError(
                f"data source {source.id!r} has no API token: set {source.token_variable}", source=source.id
            )
        key = (source.model_dump_json(), base_url, token)
        with self._lock:
            connector = self._cache.get(key)
            if connector is None:
                connector = self._cache[key] = HttpConnector(
                    source, base_url=base_url, token=token, transport=self.transport
                )
        return connector

    def close(self) -> None:
        """Release every connector's connection pool."""
        with self._lock:
            for connector in self._cache.values():
                connector.close()
            self._cache.clear()


class KindConnectors:
    """The connector factory bootstrap wires: each source goes to the factory of its kind."""

    def __init__(self, factories: Mapping[str, ConnectorFactory]) -> None:
        self.factories = dict(factories)

    def __call__(self, source: DataSource) -> SourceConnector:
        factory = self.factories.get(source.kind)
        if factory is None:
            kinds = " and ".join(sorted(self.factories))
            raise ConfigurationError(
                f"data source {source.id!r} is of kind {source.kind!r}; only {kinds} sources have a connector",
                source=source.id,
            )
        return factory(source)

    def close(self) -> None:
        for factory in self.factories.values():
            close = getattr(factory, "close", None)
            if close is not None:
                close()


def _conforms(
    factory: HttpConnectorFactory, connector: HttpConnector, kinds: KindConnectors
) -> tuple[ConnectorFactory, SourceConnector, ConnectorFactory]:
    """mypy checks here that these implement the ports."""
    return factory, connector, kinds
