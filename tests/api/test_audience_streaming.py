"""The audience export's read-ahead: chunks in order, errors handed on, and a response that stops
early stops the reader and ends its transaction (the iterator is closed in the reader's thread)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from sargs.entrypoints.api.routers.audiences import _prefetched


def test_read_ahead_hands_on_every_chunk_in_order() -> None:
    chunks = [f"{n}\n".encode() for n in range(100)]
    assert list(_prefetched(iter(chunks), depth=2)) == chunks


def test_a_reader_error_is_raised_where_the_chunks_are_taken() -> None:
    def failing() -> Iterator[bytes]:
        yield b"a\n"
        raise RuntimeError("database went away")

    got = _prefetched(failing())
    assert next(got) == b"a\n"
    with pytest.raises(RuntimeError, match="database went away"):
        next(got)


def test_a_response_that_stops_early_stops_the_reader_and_closes_the_chunks() -> None:
    closed = threading.Event()
    closed_in: list[str] = []

    def endless() -> Iterator[bytes]:
        try:
            while True:
                yield b"row\n"
        finally:
            closed_in.append(threading.current_thread().name)
            closed.set()

    got = _prefetched(endless(), depth=2)
    assert next(got) == b"row\n"
    got.close()  # the client went away
    assert closed.wait(10)
    assert closed_in == ["audience-export"]
    deadline = time.monotonic() + 10
    while any(t.name == "audience-export" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not any(t.name == "audience-export" for t in threading.enumerate())
