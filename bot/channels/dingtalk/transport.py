"""How DingTalk notices are delivered (the `Transport` of bot.delivery.sender): one-to-one messages of the
enterprise robot (batchSend), custom group robots (加签) and sessionWebhooks (a reply while it is valid)."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Optional

from bot.channels.common import card_instance_id
from bot.channels.dingtalk import api as dingtalk_api
from bot.channels.dingtalk.api import DingTalkClient, PermanentError
from bot.delivery.sender import Job, Transport, register_transport, robot_window
from bot.delivery.textsplit import split_utf8
from config.settings import robot_credential
from models import TARGET_GROUP, TARGET_USER, TARGET_WEBHOOK, ChatGroup

log = logging.getLogger(__name__)

CHANNEL = "dingtalk"
WEBHOOK_MARGIN_MS = 60_000  # do not start on a sessionWebhook that expires within a minute


def card_params(card: dict) -> dict:
    """The cardParamMap of a decision card (bot.actions.decisions.card) for the template described in
    docs/dingtalk.md: title, content (markdown), task_id, two buttons (text and the action name a tap
    sends back), status ("open" until decided, then "done" with `result`)."""
    lines = [dingtalk_api.escape_markdown(card.get("desc") or "")] if card.get("desc") else []
    lines += ["**%s**：%s" % (dingtalk_api.escape_markdown(k), dingtalk_api.escape_markdown(v))
              for k, v in card.get("fields") or []]
    params = {"title": card["title"], "content": "\n\n".join(lines), "task_id": card["task_id"],
              "status": "open", "result": ""}
    for n, b in enumerate(card["buttons"][:2], 1):
        params[f"btn{n}_text"], params[f"btn{n}_action"] = b["text"], b["name"]
    return params


class DingTalkTransport(Transport):
    channel = CHANNEL
    target_kinds = (TARGET_USER, TARGET_GROUP, TARGET_WEBHOOK)
    app_settings = ("DINGTALK_APP_KEY", "DINGTALK_APP_SECRET", "DINGTALK_ROBOT_CODE")
    resends_unknown = False  # batchSend, robot/send and sendBySession have no duplicate check

    def __init__(self, runtime, client: Optional[DingTalkClient] = None, clock: Callable[[], float] = time.time):
        super().__init__(runtime, client)
        self.clock = clock

    def make_client(self, s) -> DingTalkClient:
        return DingTalkClient(s.DINGTALK_API_BASE, s.DINGTALK_OAPI_BASE, s.DINGTALK_APP_KEY,
                              s.DINGTALK_APP_SECRET, s.DINGTALK_ROBOT_CODE,
                              token_store=self.runtime.kv, timeout=s.HTTP_TIMEOUT_SECONDS)

    def robot(self, job: Job, group: ChatGroup) -> None:
        env = group.robot_key_env or ""
        if group.channel != CHANNEL:
            job.problem = f"chat group {job.target!r} is a {group.channel} group, not a dingtalk one"
            return
        job.robot_key = group.robot_key or robot_credential(env)
        job.robot_secret = group.robot_secret or robot_credential(env and env + "_SECRET")
        if not job.robot_key:
            job.problem = f"no robot token for group {job.target!r} (set {env or 'robot_key'})"

    def parts(self, job: Job) -> list[Callable[[], object]]:
        """One callable per API call, in order (content split at TEXT_MAX_BYTES)."""
        p, mt = job.payload, job.msgtype
        if mt in ("card", "card_update") and job.target_kind == TARGET_USER:
            template = self.runtime.settings.DINGTALK_CARD_TEMPLATE_ID
            if mt == "card_update":  # nothing to update where the decision went as text
                return [self._card_update(job.target, p["task_id"], p["result"])] if template else []
            if template:
                return [self._card(job.target, template, p["card"])]
            mt = "text"  # no card template configured: the text the card stands for
        if mt == "file" and job.target_kind == TARGET_USER:  # media/upload, then a sampleFile message
            path = Path(p["path"])
            return [self._file_to_user(job.target, p.get("filename") or path.name, path)]
        if mt == "file":
            raise PermanentError(None, "a DingTalk custom group robot cannot send files (msgtype file): "
                                       "the file reaches people one-to-one or by mail")
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
        build = dingtalk_api.markdown_payload if mt == "markdown" else None
        calls = []
        for i, c in enumerate(chunks):
            at = (job.mobiles, job.user_ids) if i == 0 else ((), ())  # the @-mentions ride on the first part
            body = build(c, title, *at) if build else dingtalk_api.text_payload(c, *at)
            calls.append(self._robot(job.robot_key, job.robot_secret, body))
        return calls

    def _one_to_one(self, user: str, msgtype: str, content: str, title: str):
        def call():
            key, param = dingtalk_api.robot_message(msgtype, content, title)
            self.client.batch_send([user], key, param)
        return call

    def _card(self, user: str, template: str, card: dict):
        params = card_params(card)
        route = self.runtime.settings.DINGTALK_CARD_ROUTE_KEY

        def call():
            self.client.card_create_and_deliver(card_instance_id(card["task_id"], user), template, user, params,
                                                route)
        return call

    def _card_update(self, user: str, task_id: str, result: str):
        def call():
            self.client.card_update(card_instance_id(task_id, user), {"status": "done", "result": result})
        return call

    def _file_to_user(self, user: str, filename: str, path: Path):
        def call():
            data = path.read_bytes()
            if len(data) > dingtalk_api.FILE_MAX_BYTES:
                raise PermanentError(None, "file %s is %.1f MB, over DingTalk's 20 MB" % (filename, len(data) / 2**20))
            media_id = self.client.media_upload(filename, data)
            key, param = dingtalk_api.file_message(media_id, filename)
            self.client.batch_send([user], key, param)
        return call

    def _robot(self, token: str, secret: Optional[str], body: dict):
        def call():
            self.client.robot_send(token, secret, body)
        call.rate = (robot_window("dt-robot:", token), dingtalk_api.ROBOT_PER_MINUTE)
        return call

    def _session(self, job: Job, msgtype: str, content: str, title: str):
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


register_transport(CHANNEL, DingTalkTransport)
