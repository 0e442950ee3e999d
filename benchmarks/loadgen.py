"""A small HTTP/1.1 keep-alive load generator on asyncio streams.

Python HTTP clients cost more CPU than the server under test on a 2-core machine; this one
parses only what it must (status line, Content-Length or chunked), so the figures describe
the server rather than the client.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

# method, path-with-query, JSON body, and optionally extra header lines ("Name: value\r\n...")
Request = tuple[str, str, bytes | None] | tuple[str, str, bytes | None, str]


@dataclass
class Result:
    count: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000

    def line(self, label: str) -> str:
        return (
            f"{label:<42} {self.per_second:>8.0f}/s  p50 {self.percentile(50):6.1f} ms  "
            f"p99 {self.percentile(99):6.1f} ms  n={self.count} statuses={dict(sorted(self.statuses.items()))}"
        )


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    length = None
    chunked = False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if chunked:
        body = bytearray()
        while True:
            size = int((await reader.readline()).strip(), 16)
            if size == 0:
                await reader.readline()
                break
            body += await reader.readexactly(size)
            await reader.readline()
        return status, bytes(body)
    return status, await reader.readexactly(length or 0)


async def _worker(
    host: str, port: int, headers: str, next_request: Callable[[], Request | None], result: Result
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while (req := next_request()) is not None:
            method, path, body, *extra = req
            head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n{headers}{extra[0] if extra else ''}"
            if body is not None:
                head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            started = time.perf_counter()
            writer.write(head.encode() + b"\r\n" + (body or b""))
            status, _ = await _read_response(reader)
            result.latencies.append(time.perf_counter() - started)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            result.count += 1
    finally:
        writer.close()


def run(host: str, port: int, token: str, requests: list[Request], concurrency: int = 16) -> Result:
    """Send every request over `concurrency` keep-alive connections; returns throughput and latency."""
    items = iter(requests)
    headers = f"Authorization: Bearer {token}\r\n"
    result = Result()

    def next_request() -> Request | None:
        return next(items, None)

    async def main() -> None:
        started = time.perf_counter()
        await asyncio.gather(
            *(_worker(host, port, headers, next_request, result) for _ in range(concurrency))
        )
        result.seconds = time.perf_counter() - started

    asyncio.run(main())
    return result


def body(doc: dict[str, object]) -> bytes:
    return json.dumps(doc).encode()


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0
