"""How WeCom notices are delivered (the `Transport` of bot.delivery.sender): app messages to users,
group-robot messages (text with @-mentions, markdown, image, file) to group chats."""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Optional

from bot.channels.wecom import api as wecom_api
from bot.channels.wecom.api import PermanentError, WeComClient
from bot.delivery.sender import PROGRESS, UNKNOWN_SINCE, Job, RateLimited, Transport, register_transport, robot_window
from bot.delivery.textsplit import split_utf8
from config.settings import robot_credential
from models import TARGET_USER, ChatGroup

CHANNEL = "wecom"
TASK_ID_USED = 42014  # "taskid has existed": a template card's task_id is unique in the app
CARD_CODE_TTL = 72 * 3600  # a response_code can update its card within 72 hours


def card_code_key(task_id: str, user: str) -> str:
    return f"wecom:card-code:{task_id}:{user}"


def unknown_for(job: Job) -> Optional[int]:
    """A resend of a send whose outcome was unknown: WeCom's duplicate check over the time since the
    first unanswered attempt (plus a minute), so the earlier, slow success is not delivered twice."""
    since = job.payload.get(UNKNOWN_SINCE)
    return int(time.time() - float(since)) + 60 if since else None


class WeComTransport(Transport):
    channel = CHANNEL
    app_settings = ("WECOM_CORP_ID", "WECOM_SECRET", "WECOM_AGENT_ID")

    def make_client(self, s) -> WeComClient:
        return WeComClient(s.WECOM_API_BASE, s.WECOM_CORP_ID, s.WECOM_SECRET, s.WECOM_AGENT_ID or 0,
                           token_store=self.runtime.kv, timeout=s.HTTP_TIMEOUT_SECONDS)

    def robot(self, job: Job, group: ChatGroup) -> None:
        job.robot_key = group.robot_key or robot_credential(group.robot_key_env)
        if not job.robot_key:
            job.problem = f"no robot key for group {job.target!r} (set {group.robot_key_env or 'robot_key'})"

    def parts(self, job: Job) -> list[Callable[[], object]]:
        p, mt = job.payload, job.msgtype
        if job.target_kind == TARGET_USER:
            if mt in ("text", "markdown"):
                return [self._app(job, mt, {"content": c})
                        for c in split_utf8(p.get("content", ""), wecom_api.TEXT_MAX_BYTES)]
            if mt == "textcard":
                body = wecom_api.textcard_body(p["title"], p["description"], p["url"], p.get("btntxt", ""))
                return [self._app(job, mt, body)]
            if mt == "card":  # a decision card (bot.actions.decisions)
                return [self._card(job, p["card"])]
            if mt == "card_update":
                return [self._card_update(job)]
            if mt == "template_card":
                return [self._app(job, mt, {k: v for k, v in p.items() if k not in (PROGRESS, UNKNOWN_SINCE)})]
            if mt == "file":  # media/upload, then an app file message
                path = Path(p["path"])
                return [self._app_file(job.target, p.get("filename") or path.name, path)]
            raise PermanentError(None, f"unsupported app msgtype {mt!r}")
        key = job.robot_key
        if mt == "text":
            chunks = split_utf8(p.get("content", ""), wecom_api.TEXT_MAX_BYTES)
            return [self._robot(key, wecom_api.text_payload(  # the @-mentions ride on the first part only
                c, job.mobiles if i == 0 else None, job.user_ids if i == 0 else None))
                for i, c in enumerate(chunks)]
        if mt == "markdown":
            return [self._robot(key, wecom_api.markdown_payload(c))
                    for c in split_utf8(p.get("content", ""), wecom_api.ROBOT_MARKDOWN_MAX_BYTES)]
        if mt == "image":
            return [self._robot(key, wecom_api.image_payload(Path(p["path"]).read_bytes()))]
        if mt == "file":
            path = Path(p["path"])
            return [self._robot_file(key, p.get("filename") or path.name, path)]
        raise PermanentError(None, f"unsupported robot msgtype {mt!r}")

    def _app(self, job: Job, msgtype: str, body: dict):
        user = job.target

        def call():
            check = unknown_for(job)
            result = (self.client.send_app([user], msgtype, body, duplicate_check=check) if check
                      else self.client.send_app([user], msgtype, body))
            if user in wecom_api.invalid_users(result):
                raise PermanentError(None, f"invalid user {user!r}")
        call.rate = (f"member:{user}", wecom_api.MEMBER_PER_MINUTE)
        return call

    def _card(self, job: Job, card: dict):
        """Send the template card and keep the send's response_code (72 h) for the update after a decision
        taken elsewhere (typed, or on DingTalk); a tap brings its own code."""
        user = job.target
        body = wecom_api.template_card_body(card, user)

        def call():
            check = unknown_for(job)
            try:
                result = (self.client.send_app([user], "template_card", body, duplicate_check=check) if check
                          else self.client.send_app([user], "template_card", body))
            except wecom_api.PermanentError as exc:
                if exc.errcode == TASK_ID_USED:  # this very card was delivered (a resend after an unknown
                    return  # outcome): WeCom keeps one card per task_id, so it is not sent twice
                raise
            if user in wecom_api.invalid_users(result):
                raise PermanentError(None, f"invalid user {user!r}")
            if result.get("response_code"):
                self.runtime.kv.set(card_code_key(card["task_id"], user), str(result["response_code"]),
                                    ttl=CARD_CODE_TTL)
        call.rate = (f"member:{user}", wecom_api.MEMBER_PER_MINUTE)
        return call

    def _card_update(self, job: Job):
        user, p = job.target, job.payload
        stored = card_code_key(p["task_id"], user)

        def call():
            code = p.get("response_code") or self.runtime.kv.get(stored)
            if not code:
                raise PermanentError(None, f"no response_code for card {p['task_id']} (sent over 72 hours ago, "
                                           "or not as a card): it cannot be updated")
            self.client.update_template_card([user], code, p["result"])
            self.runtime.kv.delete(stored)  # consumed either way: a code works once
        return call

    def _app_file(self, user: str, filename: str, path: Path):
        def call():
            media_id = self.client.media_upload(filename, path.read_bytes())
            result = self.client.send_app([user], "file", {"media_id": media_id})
            if user in wecom_api.invalid_users(result):
                raise PermanentError(None, f"invalid user {user!r}")
        call.rate = (f"member:{user}", wecom_api.MEMBER_PER_MINUTE)
        return call

    def _robot(self, key: str, payload: dict):
        def call():
            self.client.webhook_send(key, payload)
        call.rate = (robot_window("robot:", key), wecom_api.ROBOT_PER_MINUTE)
        return call

    def _robot_file(self, key: str, filename: str, path: Path):
        def call():  # upload, then send: two robot calls, so a second rate slot
            if not self.limiter.take(robot_window("robot:", key), wecom_api.ROBOT_PER_MINUTE):
                raise RateLimited(wecom_api.ROBOT_PER_MINUTE)
            media_id = self.client.webhook_upload(key, filename, path.read_bytes())
            self.client.webhook_send(key, wecom_api.file_payload(media_id))
        call.rate = (robot_window("robot:", key), wecom_api.ROBOT_PER_MINUTE)
        return call


register_transport(CHANNEL, WeComTransport)
