"""The DingTalk (钉钉) callback: the enterprise-internal robot's messages in, as `Incoming`.

`POST /dingtalk/callback` takes a message the robot received (one-to-one, or an @ in a group):

1. refuse early: not configured (no DINGTALK_APP_SECRET) → 404, body over MAX_BODY_BYTES → 413;
2. check the headers: `timestamp` (ms) within an hour of now and `sign` = base64(HMAC-SHA256(appSecret,
   timestamp + "\\n" + appSecret)), compared in constant time → 403 otherwise;
3. parse the JSON (not an object, or no msgId → 400) and bind what the sign does not cover: the
   robotCode (and chatbotCorpId, when DINGTALK_CORP_ID is set) must be ours, the conversation type one
   we know → 403/400 otherwise. Nothing is stored before this point;
4. accept each (timestamp, sign) pair for one message only (`claim_once`): only the timestamp is signed,
   so a captured pair would otherwise carry any body, sender and sessionWebhook for an hour → 403;
5. build a platform-neutral `Incoming` (dedup id = msgId); its sessionWebhook is kept only if it is
   DingTalk's own endpoint (`session_webhook_allowed`), and never used for an unregistered sender;
6. run `runtime.dispatch` in a thread pool with a time budget; the reply is queued in the outbox *inside
   the handler's transaction* as a notice to the message's sessionWebhook (or, without a usable one, a
   one-to-one batchSend), so a change and its answer are committed together; answer `{}` at once.

`POST /dingtalk/card` takes a tap on an interactive decision card (`card_callback`), signed and
deduplicated the same way, and dispatched as an `Incoming` with `event="card"`.

DingTalk never takes the answer in the HTTP response: every reply is delivered by the sender through
`bot.channels.dingtalk.transport`.
"""
from __future__ import annotations

import hmac
import json
import logging
import time
from dataclasses import replace
from datetime import datetime
from typing import Optional

from flask import Blueprint, Response, current_app, jsonify, request

from bot.channels.common import Refused, card_task_of, claim_once, lazy_pool, read_body, refusal
from bot.channels.dingtalk import api as dingtalk_api
from bot.channels.dingtalk.api import ConfigError  # noqa: F401 - part of this module's interface
from bot.core import replies
from bot.core.messages import Incoming, Reply
from bot.core.runtime import find_person
from bot.delivery import addressing, outbox
from models import TARGET_WEBHOOK

log = logging.getLogger(__name__)

bp = Blueprint("dingtalk", __name__, url_prefix="/dingtalk")

CHANNEL = "dingtalk"
MAX_CLOCK_SKEW_MS = 3600 * 1000  # DingTalk: reject a timestamp more than an hour off
POOL_SIZE = 32
TARGET_MAX = 200  # Notice.target length: a longer sessionWebhook falls back to batchSend
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


def bind(body: dict, settings) -> None:
    """Refuse a body that is not for this robot: DingTalk's sign covers only the timestamp, so these
    fields are what ties a signed request to this deployment (403 robot / corp, 400 conversation)."""
    ours = settings.DINGTALK_ROBOT_CODE or settings.DINGTALK_APP_KEY
    if ours and body.get("robotCode") != ours:
        raise Refused(403, "robotCode is not ours")
    if settings.DINGTALK_CORP_ID and body.get("chatbotCorpId") != settings.DINGTALK_CORP_ID:
        raise Refused(403, "chatbotCorpId is not ours")
    kind = str(body.get("conversationType", "1"))
    if kind not in ("1", "2") or (kind == "2" and not body.get("conversationId")):
        raise Refused(400, "unknown conversation type")


def claim_sign(runtime, timestamp: str, signature: str, msg_id: str, now_ms: Optional[int] = None) -> None:
    """Accept a (timestamp, sign) pair for one msgId only, for as long as the pair is valid (the platform
    retrying the same message passes; the msgId dedup then answers it). Refused(403) for a replayed pair."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    ttl = max(1.0, (int(timestamp) + MAX_CLOCK_SKEW_MS - now_ms) / 1000 + 60)
    if not claim_once(runtime, f"sign:{CHANNEL}:{timestamp}:{signature}", msg_id, ttl):
        raise Refused(403, "sign already used")


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


def to_incoming(body: dict, tz, oapi_base: Optional[str] = None) -> Incoming:
    """An `Incoming` for a callback body; Refused(400) when it lacks a message id or a sender. A
    sessionWebhook that is not DingTalk's endpoint on `oapi_base` is dropped (the reply goes one-to-one)."""
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
    if not dingtalk_api.session_webhook_allowed(webhook, oapi_base):
        if webhook:
            log.warning("dingtalk callback %s names a session webhook that is not DingTalk's: dropped", msg_id)
        webhook = None
    extra = {"msgtype": msgtype, "session_webhook": webhook,
             "session_webhook_expires": expires}
    return Incoming(channel=CHANNEL, user_id=staff, msg_id=msg_id, created_at=created, text=_text_of(body),
                    conversation_id=str(body.get("conversationId") or "") or None if group else None,
                    extra=extra)


# -- the reply: always through the outbox ------------------------------------------------------

def queue_reply(session, incoming: Incoming, reply: Optional[Reply], key: Optional[str] = None) -> Optional[object]:
    """Queue `reply` to the sessionWebhook of `incoming` (or one-to-one when there is none), once per `key`."""
    if reply is None or not reply.text:
        return None
    key = key or replies.reply_key(incoming, "reply")
    msgtype = "markdown" if reply.markdown else "text"
    webhook = incoming.extra.get("session_webhook")
    if webhook and find_person(session, CHANNEL, incoming.user_id) is None:
        webhook = None  # an unregistered sender's URL is never called; a staff id still gets one-to-one
    payload = {"content": reply.text, "user_id": incoming.user_id}
    if webhook and len(webhook) <= TARGET_MAX:
        payload["expires"] = int(incoming.extra.get("session_webhook_expires") or 0)
        return outbox.enqueue(session, target_kind=TARGET_WEBHOOK, target=webhook, msgtype=msgtype,
                              payload=payload, channel=CHANNEL, key=key, kind="reply")
    if incoming.user_id.startswith("ext:"):
        return None  # no webhook and no staff id: there is nobody to answer
    address = addressing.reply_address(incoming)
    return outbox.enqueue(session, target_kind=address.target_kind, target=address.target, msgtype=msgtype,
                          payload={"content": reply.text}, channel=address.channel, key=key, kind="reply")


pool = lazy_pool(POOL_SIZE, "dingtalk-handler")  # this process's handler threads
replies.register_queue(CHANNEL, queue_reply)  # how bot.core.replies.drain_inbox answers a DingTalk message


def handle(runtime, incoming: Incoming, budget: Optional[float] = None) -> bool:
    """Dispatch with a time budget; True if the handler finished within it. DingTalk takes no answer in
    the HTTP response, so every reply goes through the outbox (`bot.core.replies` without a passive form)."""
    budget = runtime.settings.PASSIVE_REPLY_SECONDS if budget is None else budget
    return replies.respond(runtime, incoming, pool(runtime.settings), budget, queue_reply).in_time


# -- HTTP --------------------------------------------------------------------------------------

def signed_body(settings, secret: str) -> tuple[bytes, str, str]:
    """A signed POST from DingTalk (the robot's callback, a card tap): (body, `timestamp`, `sign`) once
    DingTalk is configured (else Refused 404), the body is within MAX_BODY_BYTES and the headers verify
    with `secret`; Refused otherwise."""
    if not settings.dingtalk_enabled:
        raise Refused(404, "dingtalk not configured")
    data = read_body(settings.MAX_BODY_BYTES)
    timestamp, signature = request.headers.get("timestamp", ""), request.headers.get("sign", "")
    verify(secret, timestamp, signature)
    return data, timestamp, signature


def accept(runtime, incoming: Incoming) -> Response:
    """Answer a verified callback: `{}` once handled (or handed on), 503 when not durably accepted, so that
    DingTalk retries."""
    try:
        handle(runtime, incoming)
    except replies.NotAccepted:
        return Response("retry later", status=503, mimetype="text/plain")
    return jsonify({})


@bp.post("/callback")
def receive():
    """A message to the robot: `{}` once it is handled (or handed on); the reply goes through the outbox."""
    runtime = current_app.extensions["bot"]
    settings = runtime.settings
    try:
        data, timestamp, signature = signed_body(settings, settings.DINGTALK_APP_SECRET)
        body = parse_body(data)
        bind(body, settings)
        incoming = to_incoming(body, runtime.tz, settings.DINGTALK_OAPI_BASE)
        claim_sign(runtime, timestamp, signature, incoming.msg_id)
    except Refused as exc:
        return refusal(exc, log, "dingtalk")
    return accept(runtime, incoming)


# -- interactive-card taps (POST /dingtalk/card) ---------------------------------------------------

def card_incoming(body: dict, tz, corp_id: str = "") -> Incoming:
    """The `Incoming` of a card callback: `outTrackId` (`card_instance_id`: our task id, bot.actions.decisions.task_id,
    and the recipient's digest), `userId` (the staff id who tapped), `content` — a JSON string whose
    `cardPrivateData` holds the tapped button's `actionIds` and `params` (the template's buttons send
    `{"action": "<button>"}`, see docs/dingtalk.md). Refused(400) for anything else, 403 for another corp's."""
    from bot.actions.decisions import button_key, parse_task

    if corp_id and body.get("corpId") not in (None, "", corp_id):
        raise Refused(403, "corpId is not ours")
    track, user = body.get("outTrackId"), body.get("userId")
    task = card_task_of(track) if isinstance(track, str) else None
    parsed = parse_task(task)
    if parsed is None or not isinstance(user, str) or not user or len(user) > 64:
        raise Refused(400, "not a decision card callback")
    content = body.get("content")
    try:
        content = json.loads(content) if isinstance(content, str) else content
    except (ValueError, RecursionError):
        raise Refused(400, "malformed card content") from None
    private = content.get("cardPrivateData") if isinstance(content, dict) else None
    private = private if isinstance(private, dict) else {}
    params = private.get("params") if isinstance(private.get("params"), dict) else {}
    ids = private.get("actionIds") if isinstance(private.get("actionIds"), list) else []
    action = params.get("action") or (ids[0] if ids else None)
    if not isinstance(action, str) or not action.isascii() or not action.replace("_", "").isalpha():
        raise Refused(400, "no button in the card callback")
    kind, record_id, _rev = parsed
    return Incoming(channel=CHANNEL, user_id=user, msg_id="card:%s:%s:%s" % (track, user, action),
                    created_at=datetime.now(tz), event="card", event_key=button_key(kind, record_id, action),
                    extra={"task_id": task, "msgtype": "card"})


@bp.post("/card")
def card_callback():
    """A tap on a decision card: signed like the robot's callback (headers `timestamp`, `sign`, keyed with
    DINGTALK_CARD_SECRET or the app secret), each (timestamp, sign) accepted once; the answer goes
    one-to-one through the outbox and the card is updated through it (bot.actions.decisions)."""
    runtime = current_app.extensions["bot"]
    settings = runtime.settings
    try:
        secret = settings.DINGTALK_CARD_SECRET or settings.DINGTALK_APP_SECRET
        data, timestamp, signature = signed_body(settings, secret)
        incoming = card_incoming(parse_body(data), runtime.tz, settings.DINGTALK_CORP_ID)
        claim_sign(runtime, timestamp, signature, incoming.msg_id + ":" + timestamp)
        incoming = replace(incoming, msg_id="%s:%s" % (incoming.msg_id, timestamp))
    except Refused as exc:
        return refusal(exc, log, "dingtalk")
    return accept(runtime, incoming)


__all__ = ["bp", "verify", "bind", "claim_sign", "parse_body", "to_incoming", "queue_reply", "handle", "card_incoming",
           "ConfigError", "Refused"]
