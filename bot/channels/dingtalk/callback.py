"""The DingTalk (钉钉) channel: the enterprise-internal robot's HTTP callback, and the outbox transport.

`POST /dingtalk/callback` takes a message the robot received (one-to-one, or an @ in a group):

1. refuse early: not configured (no DINGTALK_APP_SECRET) → 404, body over MAX_BODY_BYTES → 413;
2. check the headers: `timestamp` (ms) within an hour of now and `sign` = base64(HMAC-SHA256(appSecret,
   timestamp + "\\n" + appSecret)), compared in constant time → 403 otherwise;
3. parse the JSON (not an object, or no msgId → 400). Nothing is stored before this point;
4. build a platform-neutral `Incoming` (dedup id = msgId: only the timestamp is signed, so a captured
   request replays for an hour and must be deduplicated);
5. run `runtime.dispatch` in a thread pool with a time budget; the reply is queued in the outbox *inside
   the handler's transaction* as a notice to the message's sessionWebhook (or, without a usable one, a
   one-to-one batchSend), so a change and its answer are committed together; answer `{}` at once.

DingTalk never takes the answer in the HTTP response: every reply is delivered by the sender through
`DingTalkTransport` (registered with `bot.delivery.sender` when this module is imported, which `create_app`
does — so `serve`, `scheduler` and `outbox run` all have it).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime
from typing import Callable, Optional

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import select

from bot.delivery import outbox
from bot.delivery import sender
from bot.channels.dingtalk import api as dingtalk_api
from bot.channels.common import Refused, lazy_pool, read_body, refusal
from bot.channels.dingtalk.api import ConfigError, DingTalkClient, PermanentError, RetryableError
from bot.core.messages import DUPLICATE, Incoming, Reply
from bot.delivery.textsplit import split_utf8
from config.settings import robot_credential
from models import TARGET_GROUP, TARGET_USER, TARGET_WEBHOOK, ChatGroup, Notice

log = logging.getLogger(__name__)

bp = Blueprint("dingtalk", __name__, url_prefix="/dingtalk")

CHANNEL = "dingtalk"
MAX_CLOCK_SKEW_MS = 3600 * 1000  # DingTalk: reject a timestamp more than an hour off
POOL_SIZE = 32
TARGET_MAX = 200  # Notice.target length: a longer sessionWebhook falls back to batchSend
WEBHOOK_MARGIN_MS = 60_000  # do not start on a sessionWebhook that expires within a minute
# Message types answered with a hint to type text (everything but text and recognised audio).
TEXT_TYPES = {"text"}


# -- the signature -----------------------------------------------------------------------------

def verify(secret: str, timestamp: str, signature: str, now_ms: Optional[int] = None) -> None:
    """Check the `timestamp` and `sign` headers; Refused(403) otherwise."""
    if not timestamp or not signature:
        raise Refused(403, "missing timestamp or sign")
    try:
        ts = int(timestamp)
    except ValueError:
        raise Refused(403, "bad timestamp") from None
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    if abs(now_ms - ts) > MAX_CLOCK_SKEW_MS:
        raise Refused(403, "timestamp too far off")
    expected = dingtalk_api.sign(secret, timestamp).encode("ascii")
    if not hmac.compare_digest(expected, signature.encode("utf-8", "replace")):
        raise Refused(403, "bad signature")


def parse_body(data: bytes) -> dict:
    """The callback JSON as a dict; Refused(400) for anything else."""
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Refused(400, "malformed json") from None
    if not isinstance(body, dict):
        raise Refused(400, "json is not an object")
    return body


# -- the platform-neutral message --------------------------------------------------------------

def _text_of(body: dict) -> Optional[str]:
    msgtype = body.get("msgtype") or "text"
    if msgtype == "text":
        text = (body.get("text") or {}).get("content") if isinstance(body.get("text"), dict) else None
        return text.lstrip() if isinstance(text, str) else ""
    if msgtype == "audio":
        content = body.get("content")
        recognition = content.get("recognition") if isinstance(content, dict) else None
        return recognition.strip() if isinstance(recognition, str) and recognition.strip() else None
    return None


def to_incoming(body: dict, tz) -> Incoming:
    """An `Incoming` for a callback body; Refused(400) when it lacks a message id or a sender."""
    msg_id = body.get("msgId")
    if not isinstance(msg_id, str) or not msg_id or len(msg_id) > 150:
        raise Refused(400, "no msgId")
    staff = body.get("senderStaffId")
    if not isinstance(staff, str) or not staff:
        sender_id = body.get("senderId")
        if not isinstance(sender_id, str) or not sender_id:
            raise Refused(400, "no sender")
        staff = "ext:" + sender_id[:60]  # an external contact: no staff id, so never a registered person
    try:
        created = datetime.fromtimestamp(int(body.get("createAt") or time.time() * 1000) / 1000, tz)
    except (TypeError, ValueError, OverflowError, OSError):
        raise Refused(400, "bad createAt") from None
    webhook = body.get("sessionWebhook")
    try:
        expires = int(body.get("sessionWebhookExpiredTime") or 0)
    except (TypeError, ValueError):
        expires = 0
    group = str(body.get("conversationType", "1")) == "2"
    msgtype = str(body.get("msgtype") or "text")
    extra = {"msgtype": msgtype, "session_webhook": webhook if isinstance(webhook, str) else None,
             "session_webhook_expires": expires}
    return Incoming(channel=CHANNEL, user_id=staff, msg_id=msg_id, created_at=created, text=_text_of(body),
                    conversation_id=str(body.get("conversationId") or "") or None if group else None,
                    extra=extra)


# -- the reply: always through the outbox ------------------------------------------------------

def reply_key(incoming: Incoming, part: str = "reply") -> str:
    raw = f"reply:{CHANNEL}:{incoming.user_id}:{incoming.msg_id}:{part}"
    return raw if len(raw) <= 200 else "reply:" + hashlib.sha256(raw.encode()).hexdigest()


def queue_reply(session, incoming: Incoming, reply: Optional[Reply], part: str = "reply") -> Optional[Notice]:
    """Queue `reply` to the sessionWebhook of `incoming` (or one-to-one when there is none); once per message
    and `part` ("reply" from the handler's transaction, "error" for an apology after a rollback)."""
    if reply is None or not reply.text:
        return None
    msgtype = "markdown" if reply.markdown else "text"
    webhook = incoming.extra.get("session_webhook")
    payload = {"content": reply.text, "user_id": incoming.user_id}
    if webhook and webhook.startswith(("https://", "http://")) and len(webhook) <= TARGET_MAX:
        payload["expires"] = int(incoming.extra.get("session_webhook_expires") or 0)
        return outbox.enqueue(session, target_kind=TARGET_WEBHOOK, target=webhook, msgtype=msgtype,
                              payload=payload, channel=CHANNEL, key=reply_key(incoming, part), kind="reply")
    if incoming.user_id.startswith("ext:"):
        return None  # no webhook and no staff id: there is nobody to answer
    return outbox.enqueue(session, target_kind=TARGET_USER, target=incoming.user_id, msgtype=msgtype,
                          payload={"content": reply.text}, channel=CHANNEL, key=reply_key(incoming, part),
                          kind="reply")


pool = lazy_pool(POOL_SIZE, "dingtalk-handler")  # this process's handler threads


def handle(runtime, incoming: Incoming, budget: Optional[float] = None) -> bool:
    """Dispatch with a time budget; True if the handler finished within it.

    The reply is queued inside the handler's transaction; error and busy replies (which come back
    outside it, after a rollback) are queued afterwards — from a background thread when slow."""
    seen: list = []

    def in_transaction(session, reply):
        queue_reply(session, incoming, reply)
        seen.append(reply)

    def after(future) -> None:
        try:
            reply = future.result()
            if reply is None or reply is DUPLICATE or (seen and reply is seen[-1]):
                return
            with runtime.db.session() as s:  # busy/error: the message may be retried, its answer keyed apart
                queue_reply(s, incoming, reply, "error")
        except Exception:  # noqa: BLE001 - maybe a background thread: log, never raise
            log.exception("could not queue the reply to dingtalk user %s", incoming.user_id)

    future = pool().submit(runtime.dispatch, incoming, before_commit=in_transaction)
    budget = runtime.settings.PASSIVE_REPLY_SECONDS if budget is None else budget
    try:
        future.result(timeout=max(0.0, budget))
    except FutureTimeout:
        log.info("slow handler for dingtalk user %s: answering now, reply follows", incoming.user_id)
        future.add_done_callback(after)  # runs at once if it finished meanwhile
        return False
    after(future)  # in this thread, so the reply is queued before DingTalk gets its answer
    return True


# -- HTTP --------------------------------------------------------------------------------------

@bp.post("/callback")
def receive():
    """A message to the robot: `{}` once it is handled (or handed on); the reply goes through the outbox."""
    runtime = current_app.extensions["bot"]
    settings = runtime.settings
    try:
        if not settings.dingtalk_enabled:
            raise Refused(404, "dingtalk not configured")
        data = read_body(settings.MAX_BODY_BYTES)
        verify(settings.DINGTALK_APP_SECRET, request.headers.get("timestamp", ""),
               request.headers.get("sign", ""))
        incoming = to_incoming(parse_body(data), runtime.tz)
    except Refused as exc:
        return refusal(exc, log, "dingtalk")
    handle(runtime, incoming)
    return jsonify({})


# -- outbound: the transport for bot.delivery.sender ----------------------------------------------------

class DingTalkTransport:
    """Delivers DingTalk notices: one-to-one (batchSend), custom group robots (加签), sessionWebhooks."""

    channel = CHANNEL

    def __init__(self, runtime, client: Optional[DingTalkClient] = None,
                 clock: Callable[[], float] = time.time):
        self.runtime = runtime
        self._client = client
        self.clock = clock
        self.limiter = sender.RateLimiter(runtime.kv)

    @property
    def client(self) -> DingTalkClient:
        if self._client is None:
            s = self.runtime.settings
            self._client = DingTalkClient(s.DINGTALK_API_BASE, s.DINGTALK_OAPI_BASE, s.DINGTALK_APP_KEY,
                                          s.DINGTALK_APP_SECRET, s.DINGTALK_ROBOT_CODE,
                                          token_store=self.runtime.kv, timeout=s.HTTP_TIMEOUT_SECONDS)
        return self._client

    def prepare(self, session, notice: Notice) -> sender.Job:
        job = sender.Job(notice.id, notice.channel, notice.target_kind, notice.target, notice.msgtype,
                         dict(notice.payload or {}), notice.attempts)
        if notice.target_kind == TARGET_GROUP:
            group = session.scalar(select(ChatGroup).where(ChatGroup.code == notice.target))
            env = (group.robot_key_env or "") if group is not None else ""
            if group is None:
                job.problem = f"no chat group with code {notice.target!r}"
            elif group.channel != CHANNEL:
                job.problem = f"chat group {notice.target!r} is a {group.channel} group, not a dingtalk one"
            else:
                job.robot_key = group.robot_key or robot_credential(env)
                secret = group.robot_secret or robot_credential(env and env + "_SECRET")
                job.payload["_secret"] = secret or None
                if not job.robot_key:
                    job.problem = f"no robot token for group {notice.target!r} (set {env or 'robot_key'})"
        elif notice.target_kind not in (TARGET_USER, TARGET_WEBHOOK):
            job.problem = f"dingtalk cannot deliver to a {notice.target_kind!r} target"
        return job

    # -- the parts of a notice ------------------------------------------------------------------
    def parts(self, job: sender.Job) -> list[Callable[[], object]]:
        """One callable per API call, in order (content split at TEXT_MAX_BYTES)."""
        p, mt = job.payload, job.msgtype
        if mt not in ("text", "markdown"):
            raise PermanentError(None, f"unsupported msgtype {mt!r}")
        chunks = split_utf8(p.get("content") or "", dingtalk_api.TEXT_MAX_BYTES)
        if not chunks:
            raise PermanentError(None, "empty content")
        title = p.get("title") or dingtalk_api.markdown_title(chunks[0])
        if job.target_kind == TARGET_USER:
            return [self._one_to_one(job.target, mt, c, title) for c in chunks]
        if job.target_kind == TARGET_WEBHOOK:
            return [self._session(job, mt, c, title) for c in chunks]
        mobiles, userids = p.get("mentioned_mobile_list") or [], p.get("mentioned_list") or []
        build = dingtalk_api.markdown_payload if mt == "markdown" else None
        calls = []
        for i, c in enumerate(chunks):
            at = (mobiles, userids) if i == 0 else ((), ())
            body = build(c, title, *at) if build else dingtalk_api.text_payload(c, *at)
            calls.append(self._robot(job.robot_key, p.get("_secret"), body))
        return calls

    def _one_to_one(self, user: str, msgtype: str, content: str, title: str):
        def call():
            key, param = dingtalk_api.robot_message(msgtype, content, title)
            self.client.batch_send([user], key, param)
        return call

    def _robot(self, token: str, secret: Optional[str], body: dict):
        def call():
            self.client.robot_send(token, secret, body)
        call.rate = ("dt-robot:" + hashlib.sha256(token.encode()).hexdigest()[:16], dingtalk_api.ROBOT_PER_MINUTE)
        return call

    def _session(self, job: sender.Job, msgtype: str, content: str, title: str):
        """Reply to the sessionWebhook while it is valid; after that (or if DingTalk refuses it), one-to-one."""
        user = job.payload.get("user_id")
        body = (dingtalk_api.markdown_payload(content, title) if msgtype == "markdown"
                else dingtalk_api.text_payload(content))

        def call():
            expires = int(job.payload.get("expires") or 0)
            if expires and self.clock() * 1000 >= expires - WEBHOOK_MARGIN_MS:
                if not user or user.startswith("ext:"):
                    raise PermanentError(None, "session webhook expired and no user to message instead")
                return self._one_to_one(user, msgtype, content, title)()
            try:
                self.client.session_send(job.target, body)
            except PermanentError as exc:
                if not user or user.startswith("ext:"):
                    raise
                log.info("session webhook refused (%s); replying one-to-one to %s", exc.errcode, user)
                self._one_to_one(user, msgtype, content, title)()
        return call

    # -- delivery -------------------------------------------------------------------------------
    def deliver(self, job: sender.Job) -> sender.Outcome:
        done = int(job.payload.get(sender.PROGRESS, 0))
        if job.problem:
            return sender.Outcome(done, error=job.problem, permanent=True)
        try:
            calls = self.parts(job)
        except (PermanentError, ValueError, KeyError) as exc:
            return sender.Outcome(done, error=f"cannot build the message: {exc}", permanent=True)
        for call in calls[done:]:
            rate = getattr(call, "rate", None)
            if rate is not None and not self.limiter.take(rate[0], rate[1]):
                return sender.Outcome(done, deferred=sender.RATE_WINDOW / rate[1])
            try:
                call()
            except RetryableError as exc:
                return sender.Outcome(done, error=str(exc), retry_after=exc.retry_after)
            except PermanentError as exc:  # ConfigError included
                return sender.Outcome(done, error=str(exc), permanent=True)
            except ValueError as exc:
                return sender.Outcome(done, error=f"ValueError: {exc}", permanent=True)
            done += 1
        return sender.Outcome(done, done=True)


sender.register_transport(CHANNEL, DingTalkTransport)

__all__ = ["bp", "verify", "parse_body", "to_incoming", "queue_reply", "handle", "DingTalkTransport",
           "ConfigError", "Refused"]
