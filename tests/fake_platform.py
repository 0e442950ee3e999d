"""The fake e-mail marketing platform served for real: uvicorn on a free port, in a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import uvicorn

from sargs.integrations.sources.fake_mailer import FakeMailer
from tests.processes import free_port

TOKEN = "test-mailer-token"


@contextmanager
def serve_fake_mailer(fake: FakeMailer | None = None) -> Iterator[tuple[FakeMailer, str]]:
    """(the fake, its base URL .../v1) while it serves."""
    fake = fake or FakeMailer(token=TOKEN)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(fake.app(), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:  # waits for the socket; not a timed assert
        if not thread.is_alive():
            raise RuntimeError("the fake platform did not start")
        time.sleep(0.01)
    try:
        yield fake, f"http://127.0.0.1:{port}/v1"
    finally:
        if fake.held is not None:
            fake.held.set()
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def served_mailer(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The retailer's e-mail platform (its http source) served and named in the environment, as an
    operator sets SARGS_SOURCE_MAILER_URL and _TOKEN; it holds nobody the test knows."""
    with serve_fake_mailer() as (_, url):
        monkeypatch.setenv("SARGS_SOURCE_MAILER_URL", url)
        monkeypatch.setenv("SARGS_SOURCE_MAILER_TOKEN", TOKEN)
        yield url
