"""A real server (uvicorn in a thread, temp SQLite) and a real headless Chromium (playwright)."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sargs.bootstrap import build, create_app
from sargs.core.config import Settings
from sargs.domains.policy.schema import Policy
from sargs.entrypoints.container import Container
from sargs.migrations import upgrade
from tests.conftest import FakeCodeSender

CHROMIUM = os.environ.get("SARGS_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

pytestmark = pytest.mark.browser


def _chromium_available() -> bool:
    return Path(CHROMIUM).exists() or shutil.which("chromium") is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    def __init__(self, container: Container) -> None:
        import uvicorn

        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(container), host="127.0.0.1", port=self.port, log_level="warning", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        # A worker beside the server, as `make demo` runs one: it runs the queued fulfilments.
        from tests.helpers import tasks_only_worker

        self.worker = tasks_only_worker(container)

    def __enter__(self) -> LiveServer:
        self.worker.start()
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.worker.shutdown(grace=5)


@pytest.fixture
def live(
    tmp_path: Path, example_policies: list[Policy]
) -> Iterator[tuple[LiveServer, Container, FakeCodeSender]]:
    """The whole application on a free port, against its own SQLite file (real clock)."""
    url = f"sqlite:///{tmp_path / 'e2e.db'}"
    upgrade(url)
    container = build(Settings(database_url=url, demo=True), policies=example_policies)
    codes = FakeCodeSender()
    container.code_sender = codes
    with LiveServer(container) as server:
        yield server, container, codes
    container.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not _chromium_available():
        pytest.skip(f"chromium not installed at {CHROMIUM} (apt-get install chromium); .ci/run installs it")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency")
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
            headless=True,
            args=ARGS,
        )
        yield chromium
        chromium.close()


@pytest.fixture
def shoot(request: pytest.FixtureRequest) -> Any:
    """shoot(page, "name") saves a full-page screenshot under test-artifacts/screenshots/<test>/."""
    folder = ARTIFACTS / request.node.name
    folder.mkdir(parents=True, exist_ok=True)
    counter = iter(range(1, 1000))

    def take(page: Any, name: str) -> Path:
        path = folder / f"{next(counter):02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
