"""What both channel adapters share: refusing a callback, reading a capped body, and the error classes
of the platforms' APIs (each client module re-exports them under its own names)."""
from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Optional

from flask import Response, request
from werkzeug.exceptions import RequestEntityTooLarge


class Refused(Exception):
    """A callback refused with a 4xx and a short plain-text body."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def refusal(exc: Refused, log: logging.Logger, channel: str) -> Response:
    log.warning("%s callback refused (%d): %s from %s", channel, exc.status, exc.reason, request.remote_addr)
    return Response(exc.reason, status=exc.status, mimetype="text/plain")


def read_body(limit: int) -> bytes:
    """The request body, refused with 413 past `limit` bytes (declared or actual)."""
    if request.content_length is not None and request.content_length > limit:
        raise Refused(413, "body too large")
    try:
        data = request.get_data(cache=False)
    except RequestEntityTooLarge:
        raise Refused(413, "body too large") from None
    if len(data) > limit:
        raise Refused(413, "body too large")
    return data


class ChannelError(Exception):
    """Base error of a platform API: `errcode` (None for transport errors), `errmsg`, `response`."""

    retryable = False

    def __init__(self, errcode, errmsg: str, *, response: Optional[dict] = None):
        super().__init__(errcode, errmsg)
        self.errcode = errcode
        self.errmsg = errmsg
        self.response = response

    def __str__(self) -> str:
        return "%s: errcode=%s errmsg=%s" % (type(self).__name__, self.errcode, self.errmsg)


class RetryableError(ChannelError):
    """Transient: network, timeout, HTTP 5xx/429, the platform's rate limits; `retry_after` seconds."""

    retryable = True

    def __init__(self, errcode, errmsg, *, retry_after: Optional[float] = None, response=None):
        super().__init__(errcode, errmsg, response=response)
        self.retry_after = retry_after


class PermanentError(ChannelError):
    """The request will not succeed as is (bad user, bad robot key, bad payload)."""


class ConfigError(PermanentError):
    """The deployment is misconfigured (secret, app key, robot token or secret, IP allow-list)."""


def cached_token(store, key: str, lock, fetch, force: bool = False) -> str:
    """An access token from the store shared by all processes; else one fetch per process at a time
    (checked again under `lock`, so threads waiting on a refresh reuse its result)."""
    if not force:
        token = store.get(key)
        if token:
            return token
    with lock:
        if not force:
            token = store.get(key)
            if token:
                return token
        return fetch()


def lazy_pool(size: int, name: str) -> Callable[[], ThreadPoolExecutor]:
    """A function returning this process's handler threads, created on first use (so after a gunicorn
    fork, never inherited from the master)."""
    made: list[ThreadPoolExecutor] = []
    lock = threading.Lock()

    def pool() -> ThreadPoolExecutor:
        with lock:
            if not made:
                made.append(ThreadPoolExecutor(max_workers=size, thread_name_prefix=name))
            return made[0]

    return pool
