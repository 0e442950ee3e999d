"""One ledger anchoring run from the settings, for `sargs ledger anchor` and the worker's job."""

from __future__ import annotations

from sargs.domains.consent.anchors import (
    AnchorRun,
    Deliver,
    FileSink,
    anchor_ledger,
    load_signing_key,
    parse_sink,
)
from sargs.entrypoints.container import Container


def run_anchor(container: Container) -> AnchorRun:
    """Anchor the ledger with SARGS_LEDGER_ANCHOR_KEY to SARGS_LEDGER_ANCHOR_SINK (ConfigurationError
    with one clear line if either is missing or wrong; AnchorFailed if the ledger does not verify or
    the sink refuses)."""
    settings = container.settings
    key = load_signing_key(settings.ledger_anchor_key)
    kind, target = parse_sink(settings.ledger_anchor_sink)
    deliver: Deliver | None = None
    close = None
    if kind == "file":
        deliver = FileSink(target)
    elif kind == "http":
        from sargs.integrations.anchor_http import HttpAnchorSink

        sink = HttpAnchorSink(target)
        deliver, close = sink, sink.close
    try:
        return anchor_ledger(
            sessions=container.sessions,
            registry=container.registry,
            key=key,
            sink=kind,
            deliver=deliver,
            now=container.clock.now,
            configured=settings.dsr_reminder_to,
            snapshot=container.engine.dialect.name == "postgresql",
        )
    finally:
        if close is not None:
            close()
