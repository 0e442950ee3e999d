"""The HTTP connector against a real local fake of the retailer's e-mail platform (uvicorn in a
thread): paging, field mapping, erasure by DELETE and POST, and errors marked retryable or permanent."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from sargs.core.errors import ConfigurationError, SourceBusy, SourceUnavailable
from sargs.domains.policy.schema import Policy
from sargs.domains.policy.sources import DataSource
from sargs.domains.subjects.identifiers import Identity
from sargs.integrations.sources.fake_mailer import FakeMailer
from sargs.integrations.sources.http import HttpConnector, HttpConnectorFactory, retry_after
from tests.fake_platform import TOKEN, serve_fake_mailer

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
EMAIL = "liga.mailer@example.lv"
PERSON = [Identity("email", EMAIL), Identity("msisdn", "+37129111222")]


@pytest.fixture
def mailer_source(example_policies: list[Policy]) -> DataSource:
    return next(s for p in example_policies for s in p.data_sources if s.id == "mailer")


@pytest.fixture
def platform() -> Iterator[tuple[FakeMailer, str]]:
    with serve_fake_mailer() as served:
        yield served


def connector(source: DataSource, url: str, token: str = TOKEN) -> HttpConnector:
    made = HttpConnectorFactory({source.url_variable: url, source.token_variable: token})(source)
    assert isinstance(made, HttpConnector)
    return made


def test_access_pages_through_cursor_and_page_numbers_and_maps_fields_to_categories(
    mailer_source: DataSource, platform: tuple[FakeMailer, str]
) -> None:
    fake, url = platform
    for _ in range(3):  # the same address three times: two contact pages (two a page)
        fake.add_person(EMAIL, name="Līga Ozola", events=20)  # 60 events: two pages of 50
    fake.add_person("someone.else@example.lv", events=4)
    access = connector(mailer_source, url).collect(identities=PERSON)
    tables = {t.table: t for t in access.tables}
    assert len(tables["contacts"].rows) == 3 and len(tables["activity"].rows) == 60
    assert tables["contacts"].categories == {"email": "email", "first_name": "name", "last_name": "name"}
    assert tables["contacts"].rows[0]["first_name"] == "Līga" and tables["contacts"].rows[0]["email"] == EMAIL
    gets = [path for method, path in fake.calls if method == "GET"]
    assert gets.count("/v1/contacts") == 2 and gets.count("/v1/activity") == 2


def test_erasure_deletes_each_contact_and_posts_once_per_address_then_finds_nothing(
    mailer_source: DataSource, platform: tuple[FakeMailer, str]
) -> None:
    fake, url = platform
    fake.add_person(EMAIL, events=3)
    other = fake.add_person("keep.me@example.lv", events=2)
    seen: list[dict[str, list[str]]] = []
    erased = connector(mailer_source, url).erase(identities=PERSON, now=NOW, rules={}, on_found=seen.append)
    assert erased.ok, erased.error
    assert {t.table: t.deleted for t in erased.tables} == {"contacts": 1, "activity": 3}
    assert fake.of(EMAIL) == ([], []) and other in fake.contacts and len(fake.jobs) == 1
    assert list(seen[0]) == ["contacts", "activity"]  # noted before anything changed
    calls = len(fake.calls)
    again = connector(mailer_source, url).erase(identities=PERSON, now=NOW, rules={})
    assert again.ok and all(t.deleted == 0 for t in again.tables)
    assert [m for m, _ in fake.calls[calls:]] == ["GET", "GET"]  # nothing left to erase: no call


def test_a_person_without_an_email_costs_no_call(
    mailer_source: DataSource, platform: tuple[FakeMailer, str]
) -> None:
    fake, url = platform
    access = connector(mailer_source, url).collect(identities=[Identity("msisdn", "+37129111222")])
    assert access.row_count == 0 and fake.calls == []


@pytest.mark.parametrize(
    ("status", "retry", "expected"), [(503, None, None), (429, "120", 120.0), (500, "junk", None)]
)
def test_a_5xx_or_429_is_retryable_and_honours_retry_after(
    mailer_source: DataSource,
    platform: tuple[FakeMailer, str],
    status: int,
    retry: str | None,
    expected: float | None,
) -> None:
    fake, url = platform
    fake.add_person(EMAIL)
    fake.fail_next("GET", "/v1/contacts", status, retry_after=retry)
    with pytest.raises(SourceBusy) as busy:
        connector(mailer_source, url).collect(identities=PERSON)
    assert busy.value.retry_after == expected and f"HTTP {status}" in busy.value.message
    fake.fail_next("DELETE", "/v1/contacts/", status, retry_after=retry)
    erased = connector(mailer_source, url).erase(identities=PERSON, now=NOW, rules={})
    assert not erased.ok and erased.retryable and erased.retry_after == expected


def test_a_refused_token_is_permanent_and_the_message_names_no_one(
    mailer_source: DataSource, platform: tuple[FakeMailer, str], caplog: pytest.LogCaptureFixture
) -> None:
    fake, url = platform
    fake.add_person(EMAIL)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SourceUnavailable) as refused:
        connector(mailer_source, url, token="wrong").collect(identities=PERSON)
    assert not isinstance(refused.value, SourceBusy)
    assert "HTTP 401" in refused.value.message and "token" in refused.value.message
    erased = connector(mailer_source, url, token="wrong").erase(identities=PERSON, now=NOW, rules={})
    assert not erased.ok and not erased.retryable
    for text in (refused.value.message, erased.error or "", caplog.text):
        assert "liga.mailer" not in text and "wrong" not in text.split("401")[-1]
    assert fake.of(EMAIL)[0]  # nothing erased


def test_a_silent_platform_times_out_as_retryable(
    mailer_source: DataSource, platform: tuple[FakeMailer, str]
) -> None:
    fake, url = platform
    slow = mailer_source.model_copy(
        update={"http": mailer_source.http.model_copy(update={"timeout_seconds": 0.2})}  # type: ignore[union-attr]
    )
    release = fake.hold()
    try:
        with pytest.raises(SourceBusy) as busy:
            connector(slow, url).collect(identities=PERSON)
    finally:
        release.set()
    assert "timeout" in busy.value.message


def test_missing_url_or_token_is_a_configuration_error_naming_the_variable(mailer_source: DataSource) -> None:
    no_policy_url = mailer_source.model_copy(
        update={"http": mailer_source.http.model_copy(update={"base_url": None})}  # type: ignore[union-attr]
    )
    with pytest.raises(ConfigurationError, match="SARGS_SOURCE_MAILER_URL"):
        HttpConnectorFactory({})(no_policy_url)
    with pytest.raises(ConfigurationError, match="SARGS_SOURCE_MAILER_TOKEN"):
        HttpConnectorFactory({})(mailer_source)


def test_next_links_are_followed_only_on_the_same_site(mailer_source: DataSource) -> None:
    """Link headers and body links (httpx's mock transport: only the paging is under test here)."""
    api = mailer_source.http
    assert api is not None
    res = api.resources[0]
    linked = res.model_copy(
        update={
            "access": res.access.model_copy(
                update={"pagination": res.access.pagination.model_copy(update={"style": "next_link"})}
            )
        }
    )
    source = mailer_source.model_copy(update={"http": api.model_copy(update={"resources": [linked]})})
    pages = {
        "/v1/contacts": (
            '<https://api.mailer.example/v1/contacts?after=1>; rel="next"',
            [{"id": 1, "email": EMAIL}],
        ),
        "/v1/contacts?after=1": (None, [{"id": 2, "email": EMAIL}]),
    }

    def answer(request: httpx.Request) -> httpx.Response:
        key = request.url.path + ("?" + request.url.query.decode() if b"after" in request.url.query else "")
        link, data = pages[key]
        return httpx.Response(200, json={"data": data}, headers={"Link": link} if link else {})

    ok = HttpConnector(
        source, base_url="https://api.mailer.example/v1", token="t", transport=httpx.MockTransport(answer)
    )
    assert [r["id"] for r in ok.collect(identities=PERSON).tables[0].rows] == [1, 2]
    pages["/v1/contacts"] = ('<https://evil.example/steal>; rel="next"', [{"id": 1}])
    with pytest.raises(SourceUnavailable, match="another site"):
        ok.collect(identities=PERSON)


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after(httpx.Response(429, headers={"Retry-After": "30"})) == 30.0
    when = httpx.Response(503, headers={"Retry-After": "Mon, 23 Nov 2026 10:02:00 GMT"})
    assert retry_after(when, now=NOW) == 120.0
    assert retry_after(httpx.Response(503)) is None
