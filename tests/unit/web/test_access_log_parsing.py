"""Access log lines (common and combined format) are parsed, and what is kept holds no full IP."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sargs.domains.policy.schema import Duration
from sargs.domains.web.access_logs import Ingester, ip_prefix, minus, parse_line

COMBINED = (
    '192.0.2.17 - anna [23/Nov/2026:10:15:32 +0200] "GET /privatums?email=anna%40example.lv HTTP/1.1" 200 5120 '
    '"https://www.google.com/search?q=lmt+anna" "Mozilla/5.0 (X11; Linux x86_64)"'
)
COMMON = '2001:db8:85a3::8a2e:370:7334 - - [01/Jan/2026:00:00:01 -0500] "POST /api/speedtest HTTP/2.0" 204 -'


def test_a_combined_line_is_parsed_with_time_in_utc_and_the_query_string_dropped() -> None:
    parsed = parse_line(COMBINED)
    assert parsed is not None
    assert parsed.requested_at == datetime(2026, 11, 23, 8, 15, 32, tzinfo=UTC)
    assert (parsed.method, parsed.path, parsed.status, parsed.bytes_sent) == ("GET", "/privatums", 200, 5120)
    assert parsed.referrer == "https://www.google.com/search"  # no query: it can hold personal data
    assert parsed.user_agent == "Mozilla/5.0 (X11; Linux x86_64)"


def test_a_common_line_with_ipv6_and_no_size_is_parsed() -> None:
    parsed = parse_line(COMMON)
    assert parsed is not None
    assert parsed.requested_at == datetime(2026, 1, 1, 5, 0, 1, tzinfo=UTC)
    assert (parsed.method, parsed.bytes_sent, parsed.referrer, parsed.user_agent) == (
        "POST",
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    "line",
    [
        "",
        "garbage",
        '999.1.1.1 - - [23/Nov/2026:10:15:32 +0200] "GET / HTTP/1.1" 200 1',
        '192.0.2.1 - - [31/Feb/2026:10:15:32 +0200] "GET / HTTP/1.1" 200 1',
        '192.0.2.1 - - [23/Foo/2026:10:15:32 +0200] "GET / HTTP/1.1" 200 1',
        '192.0.2.1 - - [23/Nov/2026:10:15:32 +0200] "\\x16\\x03\\x01" 400 0',
        '192.0.2.1 - - [23/Nov/2026:10:15:32 +0200] "GET / HTTP/1.1" 2000 1',
    ],
)
def test_lines_that_are_not_access_log_lines_are_refused(line: str) -> None:
    assert parse_line(line) is None


def test_ips_are_truncated_to_their_network() -> None:
    assert ip_prefix("192.0.2.17") == "192.0.2.0/24"
    assert ip_prefix("2001:db8:85a3::8a2e:370:7334") == "2001:db8:85a3::/48"


def test_pseudonyms_depend_on_the_key_and_never_contain_the_address() -> None:
    a = Ingester(controller="lmt", key=b"k1" * 16, keep_network=False)
    b = Ingester(controller="lmt", key=b"k2" * 16, keep_network=False)
    assert a.pseudonym("192.0.2.17") == a.pseudonym("192.0.2.17") != b.pseudonym("192.0.2.17")
    assert "192" not in a.pseudonym("192.0.2.17")


def test_identical_lines_in_one_second_get_different_keys_and_a_rerun_gets_the_same_ones() -> None:
    parsed = parse_line(COMBINED)
    assert parsed is not None
    first = Ingester(controller="lmt", key=b"k" * 32, keep_network=False)
    keys = [first.line_key(COMBINED, parsed) for _ in range(3)]
    again = Ingester(controller="lmt", key=b"k" * 32, keep_network=False)
    assert len(set(keys)) == 3
    assert [again.line_key(COMBINED, parsed) for _ in range(3)] == keys


def test_retention_cutoff_is_calendar_exact() -> None:
    now = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
    assert minus(now, Duration.parse("P12M")) == datetime(2025, 3, 31, 12, 0, tzinfo=UTC)
    assert minus(now, Duration.parse("P1M")) == datetime(2026, 2, 28, 12, 0, tzinfo=UTC)
    assert minus(now, Duration.parse("P1Y2W")) == datetime(2025, 3, 17, 12, 0, tzinfo=UTC)
