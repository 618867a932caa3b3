"""What the channel packages share: refusing a callback, reading a capped body, the error classes of the
platforms' APIs (each client module re-exports them under its own names), the access-token client base
and a lazy handler pool."""
from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional

from flask import Response, request
from werkzeug.exceptions import RequestEntityTooLarge

_INSTANCE_SUFFIX = re.compile(r"-[0-9a-f]{10}$")


def card_instance_id(task_id: str, user_id: str) -> str:
    """The platform's id of the decision card `task_id` (bot.actions.decisions.task_id) as delivered to
    `user_id`: WeCom's template-card task_id and DingTalk's outTrackId are both unique in the app (WeCom
    refuses a used one with 42014, DingTalk's createAndDeliver too), and a decision with several deciders —
    an item's office liaisons, the supervision group's members, the conveners — sends each of them a card of
    the same task. A digest of the recipient keeps the instances apart; a tap maps back (`card_task_of`)."""
    return "%s-%s" % (task_id, hashlib.sha256(user_id.encode()).hexdigest()[:10])


def card_task_of(instance_id: str) -> str:
    """The task id of a card instance (`card_instance_id`); one delivered before cards were per person is its
    task id. No task id ends in ten hex digits: its last part is a revision of at most six."""
    return _INSTANCE_SUFFIX.sub("", instance_id)


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


def claim_once(runtime, key: str, owner: str, ttl: float) -> bool:
    """Claim `key` for `owner` for `ttl` seconds: True the first time, and again for the same owner (a
    platform retry), False for any other owner. Redis SET NX when configured, else two rows of
    processed_message (the key, and key + owner's hash) inserted together, so the claim holds across
    processes and restarts; housekeeping drops the rows after DEDUP_TTL_SECONDS (≥ any ttl used here)."""
    if runtime.shared_state:
        if runtime.kv.set_nx(key, owner, ttl=ttl):
            return True
        return runtime.kv.get(key) == owner
    from sqlalchemy.exc import IntegrityError

    from models import ProcessedMessage

    owned = key + "|" + hashlib.sha256(owner.encode("utf-8")).hexdigest()[:16]
    try:
        with runtime.db.session() as s:
            s.add_all([ProcessedMessage(key=key), ProcessedMessage(key=owned)])
    except IntegrityError:
        with runtime.db.session() as s:
            return s.get(ProcessedMessage, owned) is not None
    return True


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


class UnknownOutcome(RetryableError):
    """The request was sent and no answer came in time: the platform may have delivered it. The sender
    does not resend at once (bot.delivery.sender: UNKNOWN_BACKOFF, WeCom's duplicate check)."""


class PermanentError(ChannelError):
    """The request will not succeed as is (bad user, bad robot key, bad payload)."""


class ConfigError(PermanentError):
    """The deployment is misconfigured (secret, app key, robot token or secret, IP allow-list)."""


class TokenRejected(ChannelError):
    """The platform rejected the access token; a `TokenClient` refreshes it once."""


TOKEN_TTL_MARGIN = 300  # seconds before the platform's expiry a cached token is dropped


class TokenClient:
    """What a platform client with an app access token shares: the token cached in a store every process
    sees (`runtime.kv`: get / set(key, value, ttl) / delete), fetched by one thread of a process at a time
    (checked again under the lock, so threads waiting on a refresh reuse its result), and a rejected
    token replaced once. A client implements `_fetch_token() -> (token, expires_in)`."""

    rejected_again: type = PermanentError  # raised when a fresh token is rejected too

    def __init__(self, token_store: Any, token_key: str):
        self.token_store = token_store
        self.token_key = token_key
        self._token_lock = threading.Lock()

    def _fetch_token(self) -> tuple[str, int]:
        raise NotImplementedError

    def _check_credentials(self) -> None:
        """Raise ConfigError when the client cannot ask for a token at all."""

    def _refresh(self) -> str:
        token, expires_in = self._fetch_token()
        ttl = expires_in - TOKEN_TTL_MARGIN if expires_in > 2 * TOKEN_TTL_MARGIN else max(1, expires_in // 2)
        self.token_store.set(self.token_key, token, ttl)
        return token

    def access_token(self, force: bool = False) -> str:
        """The cached access token; `force=True` fetches a new one."""
        self._check_credentials()
        if not force:
            token = self.token_store.get(self.token_key)
            if token:
                return token
        with self._token_lock:
            if not force:
                token = self.token_store.get(self.token_key)
                if token:
                    return token
            return self._refresh()

    def _drop_token(self, token: str) -> str:
        """Replace a rejected token: reuse a newer shared one (another process refreshed it), else refetch."""
        with self._token_lock:
            current = self.token_store.get(self.token_key)
            if current and current != token:
                return current
            delete = getattr(self.token_store, "delete", None)
            if current and callable(delete):
                delete(self.token_key)
            return self._refresh()

    def _with_token(self, call: Callable[[str], dict]) -> dict:
        token = self.access_token()
        try:
            return call(token)
        except TokenRejected:
            token = self._drop_token(token)
        try:
            return call(token)
        except TokenRejected as exc:
            raise self.rejected_again(exc.errcode, "token rejected again after refresh: " + exc.errmsg,
                                      response=exc.response) from None


RESERVED_CONNECTIONS = 10  # left to the request threads (the inbox write of a late answer) and the sender


def handler_threads(settings, most: int) -> int:
    """Handler threads per process: `most`, but on PostgreSQL fewer than the process's connections, so that
    a request thread never waits for a connection that busy handlers hold (a late answer's inbox write
    must be quick: the platform's 5 s run meanwhile). More handlers than connections only wait anyway."""
    if settings.DATABASE_URL.startswith("sqlite"):
        return most
    return max(2, min(most, settings.DATABASE_POOL_SIZE + settings.DATABASE_MAX_OVERFLOW - RESERVED_CONNECTIONS))


def lazy_pool(size: int, name: str) -> Callable[..., ThreadPoolExecutor]:
    """A function returning this process's handler threads, created on first use (so after a gunicorn
    fork, never inherited from the master); `pool(settings)` sizes it by `handler_threads`."""
    made: list[ThreadPoolExecutor] = []
    lock = threading.Lock()

    def pool(settings=None) -> ThreadPoolExecutor:
        with lock:
            if not made:
                n = size if settings is None else handler_threads(settings, size)
                made.append(ThreadPoolExecutor(max_workers=n, thread_name_prefix=name))
            return made[0]

    return pool
