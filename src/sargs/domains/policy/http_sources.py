"""HTTP data sources in the policy file: a SaaS system reached over its REST API (R-DSR-6).

A source of kind `http` declares, per resource (contacts, activity...): how to find a person's
records (GET with the person's identity, page after page), which response fields hold which data
category (JSONPath, RFC 9535), and how erasure removes them (DELETE or POST, per record or per
identity). The base URL may be in the policy (the vendor's public API) or in the environment
(`SARGS_SOURCE_<ID>_URL`, which wins); the token is always in the environment
(`SARGS_SOURCE_<ID>_TOKEN`, or `<...>_TOKEN_FILE`), because it is a deployment secret.
"""

from __future__ import annotations

import string
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from sargs.domains.policy.problems import unknown
from sargs.domains.policy.text import Frozen as _Frozen
from sargs.domains.policy.text import Text

SourceSlug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)]
JsonPath = Annotated[str, StringConstraints(min_length=1, max_length=300)]
# A path on the source's base URL, with {placeholders}: /contacts/{id}, /contacts?list={customer}
UrlPath = Annotated[str, StringConstraints(pattern=r"^/[^\s]*$", max_length=500)]
IdentityKindName = Literal["msisdn", "email", "customer"]
PLACEHOLDERS = {"msisdn", "email", "customer", "id"}


class HttpPagination(_Frozen):
    """How the access GET pages through a person's records.

    - none: one response holds them all;
    - cursor: the response's `next_cursor` path holds the next page's cursor, sent back in the
      query parameter `cursor_param`; no cursor (or an empty one) ends it;
    - next_link: the response's `next_link` path holds the next page's URL (same origin as the
      base URL), or, without `next_link`, the `Link: <...>; rel="next"` header does;
    - page: page numbers from `first_page` in `page_param`, `page_size` records a page (sent in
      `size_param` when given); a page with fewer records ends it.
    """

    style: Literal["none", "cursor", "next_link", "page"] = "none"
    cursor_param: str = "cursor"
    next_cursor: JsonPath | None = None
    next_link: JsonPath | None = None
    page_param: str = "page"
    size_param: str | None = None
    page_size: int = Field(default=100, ge=1, le=10_000)
    first_page: int = Field(default=1, ge=0)
    max_pages: int = Field(default=1000, ge=1, le=100_000, description="A safety stop against a looping API.")


class HttpAccess(_Frozen):
    """The GET that lists one person's records of a resource."""

    path: UrlPath
    query: dict[str, str] = Field(
        default_factory=dict, description="Query parameters; values may hold placeholders."
    )
    records: JsonPath = Field(default="$[*]", description="Where the records are in each response page.")
    pagination: HttpPagination = Field(default_factory=HttpPagination)


class HttpErasure(_Frozen):
    """The call that erases: once per record found when it names `{id}`, else once per identity."""

    method: Literal["DELETE", "POST"]
    path: UrlPath
    query: dict[str, str] = Field(default_factory=dict)
    body: dict[str, Any] | None = Field(
        default=None, description="JSON body (POST); string values may hold placeholders."
    )

    @property
    def per_record(self) -> bool:
        return "id" in _placeholders(self.path, self.query, self.body)


class HttpField(_Frozen):
    """A response field holding personal data: `path` (JSONPath within a record, default `$.<name>`)."""

    name: str = Field(min_length=1, max_length=64)
    path: JsonPath | None = None
    category: SourceSlug

    @property
    def json_path(self) -> str:
        if self.path:
            return self.path
        return f"$.{self.name}" if self.name.isidentifier() else f"$['{self.name}']"


class HttpResource(_Frozen):
    """One kind of record the platform holds for a person (e.g. contacts), found by `identity`."""

    name: SourceSlug
    identity: IdentityKindName
    id: JsonPath = Field(default="$.id", description="The record's id within a record (used by {id}).")
    access: HttpAccess
    fields: list[HttpField] = Field(default_factory=list)
    erasure: HttpErasure | None = None
    keep_reason: Text | None = Field(default=None, description="Required when the resource has no erasure.")


class HttpApi(_Frozen):
    """How Sargs reaches an `http` source: where, how it authenticates, and its resources."""

    base_url: str | None = Field(
        default=None, pattern=r"^https?://[^\s]+$", description="Default; SARGS_SOURCE_<ID>_URL wins."
    )
    auth: Literal["bearer", "header", "none"] = "bearer"
    auth_header: str = Field(default="Authorization", pattern=r"^[A-Za-z0-9-]+$")
    token_env: str | None = Field(
        default=None, pattern=r"^[A-Z][A-Z0-9_]*$", description="Default SARGS_SOURCE_<ID>_TOKEN."
    )
    timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    check_path: UrlPath | None = Field(
        default=None, description="A GET `sargs sources check` sends to see the source answer (no identity)."
    )
    resources: list[HttpResource] = Field(min_length=1)


def _placeholders(*parts: Any) -> set[str]:
    """The {names} used in URL paths, query values and (string values of) JSON bodies."""
    names: set[str] = set()
    for part in parts:
        if isinstance(part, str):
            names |= {f for _, f, _, _ in string.Formatter().parse(part) if f is not None}
        elif isinstance(part, dict):
            names |= _placeholders(*part.values())
        elif isinstance(part, list):
            names |= _placeholders(*part)
    return names


def _path_problem(path: str) -> str | None:
    import jsonpath  # only policies with http sources have paths to check

    try:
        jsonpath.compile(path)
    except jsonpath.JSONPathError as exc:
        return f"not a JSONPath: {str(exc).splitlines()[0][:120]}"
    return None


def http_problems(
    api: HttpApi, at: tuple[str | int, ...], *, categories: set[str]
) -> list[tuple[tuple[str | int, ...], str]]:
    """Problems in an http source's declaration, each with its location in the file."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    names = [r.name for r in api.resources]
    for k, res in enumerate(api.resources):
        rat = (*at, "resources", k)
        if names.count(res.name) > 1:
            problems.append(((*rat, "name"), f"resource {res.name!r} is listed twice"))
        for where, path in (("id", res.id), ("access", res.access.records)):
            if problem := _path_problem(path):
                problems.append(((*rat, where), problem))
        page = res.access.pagination
        for attr in ("next_cursor", "next_link"):
            value = getattr(page, attr)
            if value and (problem := _path_problem(value)):
                problems.append(((*rat, "access", "pagination", attr), problem))
        if page.style == "cursor" and not page.next_cursor:
            problems.append(
                ((*rat, "access", "pagination", "next_cursor"), "cursor paging needs next_cursor")
            )
        used = _placeholders(res.access.path, res.access.query)
        for name in sorted(used - PLACEHOLDERS):
            problems.append(((*rat, "access"), f"unknown placeholder {{{name}}}; use {{{res.identity}}}"))
        if "id" in used:
            problems.append(((*rat, "access"), "{id} is known only after the access GET: use it in erasure"))
        if res.identity not in used:
            problems.append(((*rat, "access"), f"the access GET must send the person's {{{res.identity}}}"))
        fields = [f.name for f in res.fields]
        for m, f in enumerate(res.fields):
            if f.category not in categories:
                problems.append(
                    ((*rat, "fields", m, "category"), unknown("data category", f.category, categories))
                )
            if fields.count(f.name) > 1:
                problems.append(((*rat, "fields", m, "name"), f"field {f.name!r} is listed twice"))
            if problem := _path_problem(f.json_path):
                problems.append(((*rat, "fields", m, "path"), problem))
        if res.erasure is None:
            if res.keep_reason is None:
                problems.append(
                    ((*rat, "erasure"), "declare how erasure removes these records, or keep_reason")
                )
            continue
        used = _placeholders(res.erasure.path, res.erasure.query, res.erasure.body)
        allowed = {res.identity, "id"}
        for name in sorted(used - allowed):
            problems.append(
                ((*rat, "erasure"), f"unknown placeholder {{{name}}}; use {{id}} or {{{res.identity}}}")
            )
        if not used & allowed:
            problems.append(
                (
                    (*rat, "erasure"),
                    f"the erasure call must name the record ({{id}}) or the person ({{{res.identity}}})",
                )
            )
        if res.erasure.body is not None and res.erasure.method != "POST":
            problems.append(((*rat, "erasure", "body"), "only a POST erasure has a body"))
    return problems
