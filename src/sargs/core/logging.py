"""Structured (JSON) logs with phone numbers and e-mail addresses masked (R-ACC-3).

Masking happens when a record is created, so every handler (ours, pytest's, a server's)
sees the masked text; code should still log `Identity.masked()` rather than raw values.

The id of the HTTP request being served (`request_id`, set by the API's middleware) is added to
every record logged while it runs, by `RequestIdFilter` on our handler.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

# Plain or URL-encoded (%40 for @, %2B for +, + for a space), as they appear in logged URLs; any
# letters, so internationalised addresses (jānis@piemērs.lv, accepted as identities) are masked too.
_EMAIL = re.compile(r"[\w.%+\-]+(?:@|%40)[\w.\-]+\.[^\W\d_]{2,}")
# Eight or more digits, optionally with a leading + and single spaces, dashes or pluses between.
_PHONE = re.compile(r"(?:(?<=%2B)|(?<=%2b)|(?<![\w.]))\+?\d(?:[ +\-]?\d){7,16}(?!\w)")
_STANDARD = set(vars(logging.makeLogRecord({})))

# The id of the request this task or thread is serving (threads of a sync endpoint inherit it).
request_id: ContextVar[str | None] = ContextVar("sargs_request_id", default=None)


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to records logged while a request is served (unless the caller set one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        rid = request_id.get()
        if rid is not None and not hasattr(record, "request_id"):
            record.request_id = rid
        return True


# What every match of _PHONE contains; far cheaper to look for (most log text has no such run).
_PHONE_HINT = re.compile(r"\d(?:[ +\-]?\d){7}")


def mask_text(text: str) -> str:
    """Replace e-mail addresses and phone-number-like digit runs."""
    if "@" in text or "%40" in text:  # the e-mail pattern is slow to rule out: only when it may match
        text = _EMAIL.sub(lambda m: m.group(0)[:1] + "***@***", text)
    if _PHONE_HINT.search(text):
        text = _PHONE.sub(lambda m: m.group(0)[:4] + "***", text)
    return text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and key not in doc:
                doc[key] = value if isinstance(value, int | float | bool | None) else mask_text(str(value))
        if record.exc_info:
            doc["error"] = mask_text(self.formatException(record.exc_info))
        return json.dumps(doc, ensure_ascii=False)


_original_factory: Callable[..., logging.LogRecord] | None = None


def _masking_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    assert _original_factory is not None
    record = _original_factory(*args, **kwargs)
    try:
        message = record.getMessage()
    except Exception:  # a malformed call: keep the record as it is
        return record
    record.msg, record.args = mask_text(message), None
    return record


def install_masking() -> None:
    """Mask every log record in this process at creation (idempotent)."""
    global _original_factory
    if _original_factory is None:
        _original_factory = logging.getLogRecordFactory()
        logging.setLogRecordFactory(_masking_factory)


def configure_logging(level: str = "INFO", stream: IO[str] | None = None) -> logging.Handler:
    """JSON lines on stderr for the `sargs` loggers, masked; safe to call more than once."""
    install_masking()
    logger = logging.getLogger("sargs")
    for old in [h for h in logger.handlers if getattr(h, "_sargs", False)]:
        logger.removeHandler(old)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    handler._sargs = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    return handler
