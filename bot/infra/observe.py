"""Following one message through the logs: a request id per callback, and the log format.

`request_id` is a context variable: the channel callback (or `Runtime.dispatch`, for messages that come
from elsewhere) sets it, every log record made while the message is handled carries it, and the notices
the handler queues store it (`Notice.request_id`), so a notice sent minutes later by the sender can be
traced back to the message that caused it.

`LOG_FORMAT=json` writes one JSON object per line (python-json-logger) with the time, level, logger,
message and request id. Log messages never carry message text or secrets: handlers log ids and counts.
"""
from __future__ import annotations

import contextlib
import contextvars
import logging
import uuid
from collections.abc import Iterator
from typing import Optional

request_id: contextvars.ContextVar[Optional[str]] = contextvars.ContextVar("request_id", default=None)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s"


def new_request_id() -> str:
    return uuid.uuid4().hex


def current() -> Optional[str]:
    return request_id.get()


@contextlib.contextmanager
def request(rid: Optional[str] = None) -> Iterator[str]:
    """Run the block under a request id: `rid`, the one already set (a callback that set it before
    dispatching), or a new one."""
    existing = request_id.get()
    if rid is None and existing is not None:
        yield existing
        return
    token = request_id.set(rid or new_request_id())
    try:
        yield request_id.get()
    finally:
        request_id.reset(token)


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every record (`-` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = request_id.get() or "-"
        return True


def formatter(fmt: str = "text") -> logging.Formatter:
    if fmt == "json":
        from pythonjsonlogger.json import JsonFormatter

        return JsonFormatter(JSON_FIELDS, rename_fields={"asctime": "time", "levelname": "level",
                                                         "name": "logger"}, json_ensure_ascii=False)
    return logging.Formatter(TEXT_FORMAT)


def configure_logging(level: str = "info", fmt: str = "text", stream=None) -> logging.Handler:
    """The root logger's one handler, in `fmt` ("text" or "json"), with the request id filter. Replaces a
    handler this function installed before (so calling it twice does not log twice)."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_bot_handler", False):
            root.removeHandler(h)
    handler = logging.StreamHandler(stream)
    handler._bot_handler = True  # type: ignore[attr-defined]
    handler.setFormatter(formatter(fmt))
    handler.addFilter(RequestIdFilter())
    root.addHandler(handler)
    root.setLevel(getattr(logging, str(level).upper(), logging.INFO))
    return handler
