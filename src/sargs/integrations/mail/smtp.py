"""Sending e-mail over SMTP with the standard library (STARTTLS and login when configured)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from sargs.domains.mail.ports import PermanentMailError, TransientMailError


class SmtpMailer:
    """One connection per message: simple and right for low-volume mail such as sign-in codes.

    `send` is what portal codes use; `deliver` is the mail outbox's MailSender port (extra headers,
    an optional HTML part, a Message-ID fixed by the outbox id, failures sorted into permanent and
    transient)."""

    def __init__(
        self,
        *,
        host: str,
        port: int = 587,
        sender: str,
        user: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        timeout: float = 15.0,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.user, self.password, self.starttls, self.timeout = user, password, starttls, timeout

    @property
    def domain(self) -> str | None:
        return self.sender.rpartition("@")[2].strip(">") or None

    def _message(
        self,
        to: str,
        subject: str,
        text: str,
        *,
        headers: dict[str, str] | None,
        html: str | None,
        msgid: str,
    ) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = msgid
        for name, value in (headers or {}).items():
            message[name] = value
        message.set_content(text)
        if html is not None:
            message.add_alternative(html, subtype="html")
        return message

    def _submit(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.user:
                smtp.login(self.user, self.password or "")
            smtp.send_message(message)

    def send(self, to: str, subject: str, text: str, headers: dict[str, str] | None = None) -> None:
        self._submit(
            self._message(to, subject, text, headers=headers, html=None, msgid=make_msgid(domain=self.domain))
        )

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
        """Send one outbox message; 5xx answers are permanent failures, the rest transient."""
        msgid = f"<{reference}@{self.domain or 'sargs.local'}>"
        message = self._message(to, subject, text, headers=headers, html=html, msgid=msgid)
        try:
            self._submit(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            if codes and all(500 <= code < 600 for code in codes):
                raise PermanentMailError(f"recipient refused ({codes[0]})") from None
            raise TransientMailError(f"recipient deferred ({codes[0] if codes else '?'})") from None
        except smtplib.SMTPResponseException as exc:
            if 500 <= exc.smtp_code < 600:
                raise PermanentMailError(f"mail server refused the message ({exc.smtp_code})") from None
            raise TransientMailError(f"mail server deferred the message ({exc.smtp_code})") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise TransientMailError(f"mail server unreachable: {type(exc).__name__}") from None
        return msgid
