"""A mail sender for the demo: prints each message instead of sending it."""

from __future__ import annotations

import sys


class ConsoleMailSender:
    """Writes the message's headers and text to stderr; returns a Message-ID."""

    def deliver(
        self,
        *,
        to: str,
        subject: str,
        text: str,
        html: str | None,
        headers: dict[str, str],
        reference: str,
    ) -> str:
        lines = [f"--- e-mail {reference} to {to}", f"Subject: {subject}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        lines += ["", text, "---"]
        print("\n".join(lines), file=sys.stderr)
        return f"<{reference}@console>"
