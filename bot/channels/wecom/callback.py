"""The WeCom (企业微信) callback: a thin adapter between WeCom's encrypted XML and `bot.core.runtime`.

`GET /wecom/callback` answers the URL check; `POST /wecom/callback` takes a message or event:

1. refuse early: not configured → 404, body over MAX_BODY_BYTES → 413, XML with a DTD / entities /
   external references or otherwise malformed → 400 (defusedxml, before wechatpy sees anything);
2. check the signature and the CorpID and decrypt (wechatpy's `WeChatCrypto`): forged → 403,
   undecryptable (wrong AES key…) → 400; a signed `timestamp` further than WECOM_TIMESTAMP_WINDOW_SECONDS
   from now → 403 (a capture replayed after its dedup entry expired). Nothing is stored before this point;
3. build a platform-neutral `Incoming` (dedup id = MsgId, TaskId + ResponseCode for a card tap, or
   FromUserName + CreateTime for other events);
4. answer quick or late (`bot.core.replies`, with a time budget of PASSIVE_REPLY_SECONDS): a quick answer
   becomes an encrypted passive reply (text over 2048 bytes: the first part passive, the rest through the
   outbox); a slow one gets an empty 200 now and is queued in the outbox as an app message to the user —
   inside the handler's own transaction, so it cannot be lost; a platform retry gets an empty 200.

Handlers never see XML, signatures or platform names: a DingTalk adapter plugs into the same
`Runtime.dispatch` and outbox.
"""
from __future__ import annotations

import hashlib
import logging
import secrets
import time
from datetime import datetime
from functools import lru_cache
from typing import Optional
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from flask import Blueprint, Response, current_app, request
from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from wechatpy.exceptions import InvalidSignatureException

from bot.channels.common import Refused, card_task_of, lazy_pool, read_body, refusal
from bot.core import replies
from bot.core.messages import Incoming, Reply
from bot.delivery import addressing, outbox
from bot.delivery.textsplit import split_utf8, utf8_len

log = logging.getLogger(__name__)

bp = Blueprint("wecom", __name__, url_prefix="/wecom")

CHANNEL = "wecom"
PASSIVE_MAX_BYTES = 2048  # a passive text reply's content, like an app text message
POOL_SIZE = 32  # handler threads per process; queued work still counts against the time budget
ANSWER_WITHIN = 4.0  # seconds after WeCom sent the callback (it gives up at 5 s)
# Events that reach the router (others — view, LOCATION, unsubscribe, contact changes… — are acknowledged).
EVENTS = {"subscribe": "subscribe", "enter_agent": "enter_agent", "click": "click",
          "template_card_event": "card"}


# -- crypto and XML ----------------------------------------------------------------------------

@lru_cache(maxsize=8)
def _crypto(token: str, aes_key: str, corp_id: str) -> WeChatCrypto:
    return WeChatCrypto(token, aes_key, corp_id)


def crypto_for(settings) -> WeChatCrypto:
    """The WeChatCrypto of the configured app; Refused(404) when WeCom is not configured."""
    if not settings.wecom_enabled:
        raise Refused(404, "wecom not configured")
    try:
        return _crypto(settings.WECOM_TOKEN, settings.WECOM_AES_KEY, settings.WECOM_CORP_ID)
    except (AssertionError, ValueError) as exc:  # an EncodingAESKey that is not 43 base64 chars
        log.error("WECOM_AES_KEY is invalid: %s", type(exc).__name__)
        raise Refused(404, "wecom not configured") from None


def parse_xml(data: bytes | str) -> Element:
    """Parse untrusted XML: any DTD, entity or external reference is refused (400)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not data or not data.strip():
        raise Refused(400, "empty body")
    try:
        return SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise Refused(400, "xml with dtd or entities refused") from None
    except (ParseError, ValueError):
        raise Refused(400, "malformed xml") from None


def xml_fields(root: Element) -> dict:
    """Top-level children as {tag: text}; SelectedItems of template-card events as a list of dicts."""
    out: dict = {}
    for child in root:
        if child.tag == "SelectedItems":
            out["SelectedItems"] = [_selected_item(item) for item in child]
        elif len(child):
            out[child.tag] = {g.tag: (g.text or "").strip() for g in child}
        else:
            text = child.text or ""
            out[child.tag] = text if child.tag == "Content" else text.strip()
    return out


def _selected_item(item: Element) -> dict:
    options: list[str] = []
    for holder in ("OptionIds", "OpitonIds"):  # WeCom spells it both ways in the wild
        for node in item.findall(holder):
            options.extend((o.text or "").strip() for o in node if (o.text or "").strip())
    return {"question_key": (item.findtext("QuestionKey") or "").strip(), "option_ids": options}


def decrypt(crypto: WeChatCrypto, encrypt: str, signature: str, timestamp: str, nonce: str) -> str:
    """Check the signature and CorpID, and decrypt; Refused(403/400) otherwise."""
    try:
        return crypto.decrypt_message({"Encrypt": encrypt}, signature, timestamp, nonce)
    except InvalidSignatureException:
        raise Refused(403, "bad signature") from None
    except InvalidCorpIdException:
        raise Refused(403, "bad corpid") from None
    except Exception:  # noqa: BLE001 - a wrong AES key surfaces as struct.error, UnicodeDecodeError…
        raise Refused(400, "cannot decrypt") from None


def check_fresh(timestamp: str, window: float, now: Optional[float] = None) -> None:
    """Refused(403) unless the signed `timestamp` (seconds) is within `window` of now: the signature
    never expires, so freshness is what stops a captured callback (dedup keeps its id longer than this)."""
    try:
        ts = int(timestamp)
    except ValueError:
        raise Refused(403, "bad timestamp") from None
    if abs((time.time() if now is None else now) - ts) > window:
        raise Refused(403, "timestamp outside the window")


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def passive_reply(crypto: WeChatCrypto, corp_id: str, user_id: str, content: str) -> str:
    """The encrypted, signed passive text reply (hand-built so "]]>" in the content stays valid XML)."""
    now = str(int(time.time()))
    plain = (f"<xml><ToUserName>{_cdata(user_id)}</ToUserName><FromUserName>{_cdata(corp_id)}</FromUserName>"
             f"<CreateTime>{now}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
             f"<Content>{_cdata(content)}</Content></xml>")
    return crypto.encrypt_message(plain, str(secrets.randbelow(10**10)), now)


# -- the platform-neutral message --------------------------------------------------------------

def _dedup_id(fields: dict) -> str:
    if fields.get("MsgId"):
        return fields["MsgId"]
    if fields.get("Event", "").lower() == "template_card_event" and fields.get("TaskId") and fields.get("ResponseCode"):
        raw = f"{fields['TaskId']}:{fields['ResponseCode']}"  # each tap has its own ResponseCode
        return "card:" + (raw if len(raw) <= 150 else hashlib.sha256(raw.encode()).hexdigest())
    raw = ":".join(fields.get(k, "") for k in ("FromUserName", "CreateTime", "Event", "EventKey"))
    return "ev:" + (raw if len(raw) <= 150 else hashlib.sha256(raw.encode()).hexdigest())


def to_incoming(fields: dict, tz) -> Optional[Incoming]:
    """An `Incoming` for a decrypted message, or None for what the bot ignores (view, LOCATION…)."""
    user = fields.get("FromUserName", "")
    msgtype = fields.get("MsgType", "").lower()
    if not user or not msgtype:
        raise Refused(400, "message without sender or type")
    try:
        created = datetime.fromtimestamp(int(fields.get("CreateTime") or 0), tz)
    except (ValueError, OverflowError, OSError):
        raise Refused(400, "bad CreateTime") from None
    base = dict(channel=CHANNEL, user_id=user, msg_id=_dedup_id(fields), created_at=created)
    if msgtype == "text":
        return Incoming(text=fields.get("Content", ""), **base)
    if msgtype != "event":
        return Incoming(extra={"msgtype": msgtype}, **base)
    event = EVENTS.get(fields.get("Event", "").lower())
    if event is None:
        return None
    extra = {}
    if event == "card":
        # the card's task: its per-recipient task_id (bot.channels.common.card_instance_id) mapped back
        extra = {"task_id": card_task_of(fields.get("TaskId", "")), "response_code": fields.get("ResponseCode", ""),
                 "card_type": fields.get("CardType", ""),
                 "selected": {i["question_key"]: i["option_ids"] for i in fields.get("SelectedItems", [])}}
    return Incoming(event=event, event_key=fields.get("EventKey") or None, extra=extra, **base)


# -- quick or late (bot.core.replies): what a passive reply can carry -----------------------------

def queue_reply(session, incoming: Incoming, reply: Reply, key: str) -> None:
    """A reply through the outbox: an app message to the sender."""
    address = addressing.reply_address(incoming)
    outbox.enqueue(session, target_kind=address.target_kind, target=address.target,
                   msgtype="markdown" if reply.markdown else "text", payload={"content": reply.text},
                   channel=address.channel, key=key, kind="reply")


def split_passive(reply: Reply) -> tuple[Optional[str], Optional[Reply]]:
    """(passive text, rest for the outbox): a passive reply is plain text of at most PASSIVE_MAX_BYTES."""
    if reply.markdown or not reply.text:
        return None, reply if reply.text else None
    if utf8_len(reply.text) <= PASSIVE_MAX_BYTES:
        return reply.text, None
    parts = split_utf8(reply.text, PASSIVE_MAX_BYTES)
    return parts[0], Reply("".join(parts[1:]))


pool = lazy_pool(POOL_SIZE, "wecom-handler")  # this process's handler threads
replies.register_queue(CHANNEL, queue_reply)  # how bot.core.replies.drain_inbox answers a WeCom message


def budget_for(settings, timestamp: str, now: Optional[float] = None) -> float:
    """Seconds left for a passive reply: PASSIVE_REPLY_SECONDS, shortened by the time the callback already
    waited before reaching us (a full accept queue under load), read from WeCom's signed timestamp. It has
    one-second resolution, so a second is given back; clocks more than a minute apart are not trusted."""
    budget = settings.PASSIVE_REPLY_SECONDS
    try:
        waited = (time.time() if now is None else now) - int(timestamp) - 1
    except ValueError:
        return budget
    if -60 < waited < 60:
        budget = min(budget, ANSWER_WITHIN - max(0.0, waited))
    return max(0.0, budget)


def answer(runtime, incoming: Incoming, started: float, budget: Optional[float] = None) -> Optional[str]:
    """Dispatch with a time budget; the passive reply text, or None (empty 200)."""
    budget = runtime.settings.PASSIVE_REPLY_SECONDS if budget is None else budget
    return replies.respond(runtime, incoming, pool(runtime.settings), budget, queue_reply, split_passive,
                           started).passive_text


# -- HTTP --------------------------------------------------------------------------------------

def _query(*names: str) -> list[str]:
    values = [request.args.get(n, "") for n in names]
    if not all(values):
        raise Refused(400, "missing query parameters")
    return values


@bp.get("/callback")
def verify_url():
    """URL check: answer the decrypted echostr as the raw body."""
    runtime = current_app.extensions["bot"]
    try:
        crypto = crypto_for(runtime.settings)
        signature, timestamp, nonce, echostr = _query("msg_signature", "timestamp", "nonce", "echostr")
        echostr = echostr.replace(" ", "+")  # a '+' that arrived unescaped
        try:
            plain = crypto.check_signature(signature, timestamp, nonce, echostr)
        except InvalidSignatureException:
            raise Refused(403, "bad signature") from None
        except InvalidCorpIdException:
            raise Refused(403, "bad corpid") from None
        except Exception:  # noqa: BLE001 - wrong AES key
            raise Refused(400, "cannot decrypt") from None
    except Refused as exc:
        return refusal(exc, log, "wecom")
    return Response(plain, mimetype="text/plain")


@bp.post("/callback")
def receive():
    """A message or event: passive reply, or an empty 200 (duplicate, ignored, or answered later)."""
    started = time.monotonic()
    runtime = current_app.extensions["bot"]
    settings = runtime.settings
    try:
        crypto = crypto_for(settings)
        signature, timestamp, nonce = _query("msg_signature", "timestamp", "nonce")
        envelope = xml_fields(parse_xml(read_body(settings.MAX_BODY_BYTES)))
        encrypt = envelope.get("Encrypt")
        if not encrypt or not isinstance(encrypt, str):
            raise Refused(400, "no Encrypt element")
        plain = decrypt(crypto, encrypt, signature, timestamp, nonce)
        check_fresh(timestamp, settings.WECOM_TIMESTAMP_WINDOW_SECONDS)
        incoming = to_incoming(xml_fields(parse_xml(plain)), runtime.tz)
    except Refused as exc:
        return refusal(exc, log, "wecom")
    if incoming is None:
        return Response("", status=200)
    try:
        text = answer(runtime, incoming, started, budget_for(settings, timestamp))
    except replies.NotAccepted:  # not durably accepted: no empty 200, WeCom retries
        return Response("retry later", status=503, mimetype="text/plain")
    if not text:
        return Response("", status=200)
    body = passive_reply(crypto, settings.WECOM_CORP_ID, incoming.user_id, text)
    return Response(body, mimetype="application/xml")
