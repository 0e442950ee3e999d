"""`sargs sms`: deliver the SMS outbox, simulate an inbound message, count the outbox."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from sargs.core.config import Settings
from sargs.core.errors import SargsError
from sargs.domains.delivery import LEASE
from sargs.domains.sms.outbox import DeliveryReport, deliver_due, status_counts
from sargs.domains.sms.ports import SmsSender
from sargs.entrypoints.cli.output import console, err
from sargs.entrypoints.cli.output import fail as _fail
from sargs.entrypoints.cli.stopping import stop_on_signals
from sargs.entrypoints.container import Container


def make_sms_cli(
    container: Callable[..., Container], sms_sender: Callable[[Settings], SmsSender]
) -> typer.Typer:
    """The `sargs sms` commands."""
    sms_app = typer.Typer(help="The SMS keyword channel and its outbox.", no_args_is_help=True)

    # --- sms --------------------------------------------------------------------------------

    @sms_app.command("send")
    def sms_send(
        once: Annotated[bool, typer.Option("--once", help="Send what is due, then stop.")] = False,
        interval: Annotated[float, typer.Option(help="Seconds between polls when idle.", min=0.1)] = 2.0,
        batch: Annotated[int, typer.Option(help="Messages claimed per round.", min=1, max=1000)] = 100,
        lease: Annotated[
            float, typer.Option(help="Seconds a crashed worker's batch waits before others retry it.", min=4)
        ] = LEASE.total_seconds(),
    ) -> None:
        """Deliver queued replies and codes through SARGS_SMS_PROVIDER (console or http).

        Safe to run several at once and to kill at any moment: a message is leased while it is
        being sent, retried with backoff on transient failures and never marked sent twice.
        SIGTERM or Ctrl+C stops it after the message being sent; the rest of its batch is handed
        back at once."""
        c = container(publish=False)
        try:
            sender = sms_sender(c.settings)
        except SargsError as exc:
            raise _fail(exc.message) from None
        totals = DeliveryReport()
        with stop_on_signals() as stop:
            while not stop.is_set():
                report = deliver_due(
                    sessions=c.sessions,
                    sender=sender,
                    now=c.clock.now,
                    limit=batch,
                    lease=timedelta(seconds=lease),
                    should_stop=stop.is_set,
                )
                totals.sent, totals.retried, totals.failed = (
                    totals.sent + report.sent,
                    totals.retried + report.retried,
                    totals.failed + report.failed,
                )
                if report.handled:
                    err.print(f"sent {report.sent}, to retry {report.retried}, failed {report.failed}")
                if report.released:
                    err.print(f"stopping: {report.released} message(s) handed back unsent")
                if once and not report.handled:
                    break
                if not report.handled:
                    stop.wait(interval)
        console.print(f"delivered {totals.sent}, to retry later {totals.retried}, failed {totals.failed}")

    @sms_app.command("simulate")
    def sms_simulate(
        sender: Annotated[str, typer.Option("--from", help="The sender's phone number.")],
        text: Annotated[str, typer.Option(help="The message text, e.g. 'JAUNUMI' or 'JAUNUMI STOP'.")],
        to: Annotated[str | None, typer.Option(help="The number texted (default: the only one).")] = None,
    ) -> None:
        """Handle one inbound message as if the provider had delivered it; print the outcome and reply."""
        from sargs.core.ids import new_id
        from sargs.domains.sms.service import InboundMessage, handle_inbound

        c = container()
        routes = c.sms.routes
        if to is None:
            if len(routes) != 1:
                known = ", ".join(r.config.number for r in routes) or "none"
                raise _fail(f"say which number with --to (configured: {known})")
            to = routes[0].config.number
        msg = InboundMessage(provider="cli", message_id=f"cli-{new_id()}", sender=sender, to=to, text=text)
        try:
            with c.sessions.begin() as session:
                result = handle_inbound(session=session, directory=c.sms, msg=msg, now=c.clock.now())
        except SargsError as exc:
            raise _fail(exc.message) from None
        console.print(
            f"outcome: [bold]{result.outcome}[/] ({result.command} {result.keyword or ''})".rstrip()
        )
        if result.detail:
            console.print(f"detail:  {result.detail}", markup=False)
        console.print(f"reply:   {result.reply_text}", markup=False, highlight=False)
        console.print("(queued in the outbox; `sargs sms send` delivers it)")

    @sms_app.command("outbox")
    def sms_outbox() -> None:
        """How many texts are queued, being sent, sent and failed."""
        c = container(publish=False)
        with c.read_sessions.begin() as session:
            counts = status_counts(session=session)
        table = Table("status", "messages")
        for status in ("queued", "sending", "sent", "failed"):
            table.add_row(status, str(counts.get(status, 0)))
        console.print(table)

    return sms_app
