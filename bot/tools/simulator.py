"""`python -m bot chat --user USERID`: try the whole bot locally, no WeCom account needed.

The command starts a fake WeCom API on loopback (bot.tools.fakes.wecom_server), starts the bot itself in this
process (a werkzeug server on a free port, with the outbox sender pointed at the fake), and generates demo
credentials. Each line typed is then encrypted and signed exactly as WeCom does, POSTed to the real
`/wecom/callback`, and the decrypted passive reply is printed — followed by whatever the bot pushed to
groups (【群：…】) or to this user (【私信】) since the previous line. With `--url` it talks to a bot that
is already running instead (that bot's WECOM_* settings must then match --token/--aes-key/--corp-id).

To play a month in a few minutes: `--now 2026-12-03T09:00` (or `/now …` at any time) sets the bot's clock,
`/run JOB` runs a scheduled job as of that moment, `/as USERID` speaks as someone else, and `/outbox
[USERID]` shows what everyone (or one person) was sent privately — what the other roles saw.

Crypto is done with wechatpy's WeChatCrypto, the same library the bot uses; the tests check the
bot against an independent implementation instead (tests/wecom_peer.py).
"""
from __future__ import annotations

import base64
import itertools
import secrets
import sys
import threading
import time
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import datetime
from typing import Optional, TextIO
from urllib.parse import urlencode

import click
import requests
from flask.cli import with_appcontext
from werkzeug.serving import WSGIRequestHandler

from bot.infra.text import render
from config.settings import robot_credential, set_robot_credential

DEMO_AGENT_ID = "1000002"
SETTLE_SECONDS = 0.4  # after a reply, how long pushed messages may take to show up
WAIT_SECONDS = 8.0  # a slow reply (empty 200) is waited for this long in the outbox


def card_text(body: dict) -> str:
    """A template card as the simulator shows it: its title, fields and buttons (the button keys can be
    sent as taps with /tap KEY)."""
    title = (body.get("main_title") or {}).get("title")
    if not title:
        return ""
    lines = [title] + ["%s：%s" % (x.get("keyname"), x.get("value")) for x in body.get("horizontal_content_list") or []]
    lines += ["[%s] /tap %s" % (b.get("text"), b.get("key")) for b in body.get("button_list") or []]
    return "\n".join(lines)


class Simulator:
    """WeCom's side of the conversation for one user: encrypt, sign, post, decrypt, show pushes."""

    def __init__(self, url: str, token: str, aes_key: str, corp_id: str, user: str,
                 fake=None, group_names: Optional[dict] = None, out: TextIO = sys.stdout):
        from wechatpy.enterprise.crypto import WeChatCrypto

        self.url = url.rstrip("/") + "/wecom/callback"
        self.crypto = WeChatCrypto(token, aes_key, corp_id)
        self.corp_id, self.user = corp_id, user
        self.fake = fake
        self.group_names = group_names or {}
        self.out = out
        self.seen = 0
        self.http = requests.Session()
        self.http.trust_env = False  # loopback: never through a proxy
        self._ids = itertools.count(int(time.time() * 1000))
        self.local_commands: dict[str, Callable[[str], str]] = {}  # /now, /run: the local bot's, when there is one

    def _post(self, plain_xml: str) -> Optional[str]:
        ts, nonce = str(int(time.time())), str(secrets.randbelow(10**9))
        envelope = self.crypto.encrypt_message(plain_xml, nonce, ts)
        root = ET.fromstring(envelope)
        query = {"msg_signature": root.findtext("MsgSignature"), "timestamp": ts, "nonce": nonce}
        body = (f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName><AgentID>{DEMO_AGENT_ID}</AgentID>"
                f"<Encrypt><![CDATA[{root.findtext('Encrypt')}]]></Encrypt></xml>")
        r = self.http.post(f"{self.url}?{urlencode(query)}", data=body.encode(),
                           headers={"Content-Type": "text/xml"}, timeout=10)
        if r.status_code != 200:
            raise click.ClickException(f"callback answered HTTP {r.status_code}: {r.text[:80]}")
        if not r.content.strip():
            return None
        reply = ET.fromstring(r.content)
        plain = self.crypto.decrypt_message(
            {"Encrypt": reply.findtext("Encrypt")}, reply.findtext("MsgSignature"),
            reply.findtext("TimeStamp"), reply.findtext("Nonce"))
        return ET.fromstring(plain.encode()).findtext("Content") or ""

    @staticmethod
    def _xml(**fields) -> str:
        def cdata(v: str) -> str:
            return "<![CDATA[" + v.replace("]]>", "]]]]><![CDATA[>") + "]]>"

        parts = "".join(f"<{k}>{v}</{k}>" if isinstance(v, int) else f"<{k}>{cdata(str(v))}</{k}>"
                        for k, v in fields.items())
        return f"<xml>{parts}</xml>"

    def send_text(self, text: str) -> Optional[str]:
        return self._post(self._xml(ToUserName=self.corp_id, FromUserName=self.user,
                                    CreateTime=int(time.time()), MsgType="text",
                                    Content=printable(text), MsgId=next(self._ids),
                                    AgentID=int(DEMO_AGENT_ID)))

    def send_event(self, event: str, key: str = "") -> Optional[str]:
        return self._post(self._xml(ToUserName=self.corp_id, FromUserName=self.user,
                                    CreateTime=int(time.time()) + next(self._ids) % 1000, MsgType="event",
                                    Event=event, EventKey=key, AgentID=int(DEMO_AGENT_ID)))

    def send_tap(self, key: str) -> Optional[str]:
        """A tap on a template-card button (`/tap KEY`, the key shown under a card)."""
        return self._post(self._xml(ToUserName=self.corp_id, FromUserName=self.user,
                                    CreateTime=int(time.time()), MsgType="event", Event="template_card_event",
                                    EventKey=key, TaskId="sim-tap", CardType="button_interaction",
                                    ResponseCode="sim-%d" % next(self._ids), AgentID=int(DEMO_AGENT_ID)))

    # -- what the bot pushed --------------------------------------------------------------------
    def private_messages(self, user: Optional[str] = None) -> list[str]:
        """Every app message the fake received so far (for `user`, or for anyone, each with its recipient)."""
        if self.fake is None:
            return []
        out = []
        for item in list(self.fake.sent):
            if item["kind"] != "app" or (user is not None and user not in item["touser"]):
                continue
            body = item["payload"].get(item["msgtype"]) or {}
            content = body.get("content") or body.get("description") or body.get("title") or card_text(body) \
                or item["msgtype"]
            out.append(render("wecom/sim_outbox.txt", to=",".join(item["touser"]), content=content))
        return out

    def pushed(self) -> list[str]:
        """Messages the fake received since the last call, for this user or for groups."""
        if self.fake is None:
            return []
        everything = self.fake.sent
        items = everything[self.seen:]
        self.seen = len(everything)
        keys = {v: k for k, v in self.group_names.items()}
        files = {i["media_id"]: i["filename"] for i in everything if i["kind"] == "upload"}
        out = []
        for item in items:
            body = item["payload"].get(item["msgtype"]) or {}
            if item["msgtype"] in ("image", "file"):
                content = render("wecom/sim_attachment.txt", kind=item["msgtype"],
                                 filename=files.get(body.get("media_id"), ""))
            else:
                content = (body.get("content") or body.get("description") or body.get("title") or card_text(body)
                           or item["msgtype"])
            if item["kind"] == "robot":
                out.append(render("wecom/sim_group.txt", group=keys.get(item["key"], "?"), content=content))
            elif item["kind"] == "app" and self.user in item["touser"]:
                out.append(render("wecom/sim_private.txt", content=content))
        return out

    def wait_pushes(self, expect: bool) -> list[str]:
        """Collect pushes: up to WAIT_SECONDS when a reply is still coming, else a short settle."""
        deadline = time.monotonic() + (WAIT_SECONDS if expect else SETTLE_SECONDS)
        got: list[str] = []
        while time.monotonic() < deadline:
            got += self.pushed()
            if expect and got:
                deadline = min(deadline, time.monotonic() + SETTLE_SECONDS)
                expect = False
            time.sleep(0.05)
        return got + self.pushed()

    def say(self, line: str) -> None:
        """One turn: send, print the passive reply, then what was pushed."""
        word, _, rest = line.strip().partition(" ")
        if word in self.local_commands:
            self.out.write(self.local_commands[word](rest.strip()) + "\n")
            self.out.flush()
            return
        if word == "/as" and rest.strip():
            self.user = rest.strip()
            self.out.write(render("wecom/sim_as.txt", user=self.user) + "\n")
            self.out.flush()
            return
        if word == "/outbox":
            shown = self.private_messages(rest.strip() or None)
            self.out.write(("\n".join(shown) if shown else render("wecom/sim_outbox_empty.txt")) + "\n")
            self.out.flush()
            return
        if line.strip() in ("/menu", "/enter"):
            reply = self.send_event("enter_agent")
        elif line.strip().startswith("/click "):
            reply = self.send_event("click", line.strip()[7:].strip())
        elif line.strip().startswith("/tap "):
            reply = self.send_tap(line.strip()[5:].strip())
        else:
            reply = self.send_text(line)
        if reply:
            self.out.write(render("wecom/sim_reply.txt", content=reply) + "\n")
        for item in self.wait_pushes(expect=reply is None):
            self.out.write(item + "\n")
        self.out.flush()


def printable(text: str) -> str:
    """What a WeCom client can send: control characters (other than line breaks and tabs) are dropped —
    XML 1.0 cannot carry them, so typing one would otherwise end the session."""
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")


def parse_moment(text: str, tz) -> datetime:
    """`2026-12-05T18:00` / `2026-12-05 18:00` (the bot's zone unless an offset is given)."""
    moment = datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code="-", size="-"):
        pass


class LocalBot:
    """The fake WeCom API plus the bot itself on loopback, with demo credentials."""

    def __init__(self, user: str):
        from bot.tools.fakes.wecom_server import FakeWeCom

        self.user = user
        self.token = secrets.token_urlsafe(16)
        self.aes_key = base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")
        self.corp_id = "wwdemo" + secrets.token_hex(5)
        self.secret = secrets.token_urlsafe(24)
        self.fake = FakeWeCom(self.corp_id, self.secret, agent_id=int(DEMO_AGENT_ID))
        self.server = None
        self.workers: list = []
        self.robot_keys: dict[str, str] = {}

    def start(self, database_url: Optional[str] = None) -> str:
        from werkzeug.serving import make_server

        from bot import create_app
        from bot.tools.cli import prepare_database, start_embedded_workers

        api = self.fake.start()
        config = dict(WECOM_TOKEN=self.token, WECOM_AES_KEY=self.aes_key, WECOM_CORP_ID=self.corp_id,
                      WECOM_SECRET=self.secret, WECOM_AGENT_ID=DEMO_AGENT_ID, WECOM_API_BASE=api,
                      OUTBOX_POLL_SECONDS=0.1, REDIS_URL="")
        if database_url:
            config["DATABASE_URL"] = database_url
        app = create_app(config)
        rt = app.extensions["bot"]
        prepare_database(rt)
        self._demo_robot_keys(rt)
        self.workers = start_embedded_workers(rt)
        self.server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
        threading.Thread(target=self.server.serve_forever, name="bot-http", daemon=True).start()
        self.runtime = rt
        return f"http://127.0.0.1:{self.server.server_port}"

    def _demo_robot_keys(self, rt) -> None:
        """Every chat group gets a demo robot key through the env var it names (nothing is written)."""
        from sqlalchemy import select

        from models import ChatGroup

        with rt.db.session() as s:
            for g in s.scalars(select(ChatGroup)):
                if g.robot_key_env:  # this process only: pushes go to the fake API anyway
                    set_robot_credential(g.robot_key_env, "demo-" + secrets.token_hex(8))
                key = robot_credential(g.robot_key_env) or g.robot_key
                if key:
                    self.robot_keys[g.name] = key

    def set_now(self, text: str) -> str:
        """`/now ISO`: the bot's clock (replies, forms, deadlines); `/now` alone: back to real time."""
        if not text:
            self.runtime.clock.set(None)
            return render("wecom/sim_now.txt", now=None)
        try:
            moment = parse_moment(text, self.runtime.tz)
        except ValueError:
            return render("wecom/sim_bad_now.txt", text=text)
        self.runtime.clock.set(moment)
        return render("wecom/sim_now.txt", now=self.runtime.now())

    def run_job(self, name: str) -> str:
        """`/run JOB`: one scheduled job as of the bot's clock (its notices are delivered as usual)."""
        from bot.jobs import config_of, run_job

        jobs = config_of(self.runtime).jobs
        if name not in jobs:
            return render("wecom/sim_unknown_job.txt", job=name, names=sorted(jobs))
        result = run_job(self.runtime, jobs[name], self.runtime.now())
        return render("wecom/sim_job.txt", result=result)

    def known_user(self) -> Optional[str]:
        from sqlalchemy import select

        from models import Person

        with self.runtime.db.session() as s:
            return s.scalar(select(Person.name).where(Person.wecom_userid == self.user))

    def stop(self) -> None:
        for w in self.workers:
            stop = getattr(w, "stop", None)
            if callable(stop):
                stop()
        if self.server is not None:
            self.server.shutdown()
        self.fake.stop()


@click.command("chat")
@click.option("--user", required=True, help="The WeCom userid to speak as (e.g. liuzhaoxuan).")
@click.option("--url", default=None, help="Talk to an already running bot instead of starting one.")
@click.option("--token", default=None, help="With --url: the bot's WECOM_TOKEN.")
@click.option("--aes-key", default=None, help="With --url: the bot's WECOM_AES_KEY.")
@click.option("--corp-id", default=None, help="With --url: the bot's WECOM_CORP_ID.")
@click.option("--any-db", is_flag=True,
              help="Allow a non-SQLite DATABASE_URL (its pending notices would be 'sent' to the fake API).")
@click.option("--verbose", is_flag=True, help="Show the bot's log lines (warnings only by default).")
@click.option("--now", "now_text", default=None,
              help="Start with the bot's clock at this moment, e.g. 2026-12-03T09:00 (/now changes it later).")
@with_appcontext
def chat_command(user: str, url: Optional[str], token, aes_key, corp_id, any_db: bool, verbose: bool,
                 now_text: Optional[str]) -> None:
    """A console that talks to the bot through the real, encrypted WeCom callback."""
    import logging

    from flask import current_app

    if not verbose:
        logging.getLogger().setLevel(logging.WARNING)
    local = None
    if url:
        s = current_app.extensions["bot"].settings
        token, aes_key, corp_id = token or s.WECOM_TOKEN, aes_key or s.WECOM_AES_KEY, corp_id or s.WECOM_CORP_ID
        if not (token and aes_key and corp_id):
            raise click.UsageError("--url needs the bot's WECOM_TOKEN, WECOM_AES_KEY and WECOM_CORP_ID")
        sim = Simulator(url, token, aes_key, corp_id, user)
    else:
        db_url = current_app.extensions["bot"].settings.DATABASE_URL
        if not db_url.startswith("sqlite") and not any_db:
            raise click.UsageError("chat runs its own bot on a demo SQLite database; unset DATABASE_URL "
                                   "(or pass --any-db), or use --url to talk to a running bot")
        local = LocalBot(user)
        base = local.start(db_url)
        sim = Simulator(base, local.token, local.aes_key, local.corp_id, user, fake=local.fake,
                        group_names=local.robot_keys)
        sim.local_commands = {"/now": local.set_now, "/run": local.run_job}
        name = local.known_user()
        click.echo(render("wecom/sim_banner.txt", user=user, person_name=name, url=base, db=_safe_db(db_url)))
        if now_text:
            click.echo(local.set_now(now_text))
    interactive = sys.stdin.isatty()
    try:
        while True:
            if interactive:
                click.echo("> ", nl=False)
            line = sys.stdin.readline()
            if not line:
                break
            line = printable(line.rstrip("\n"))
            if not line.strip():
                continue
            if line.strip() in ("/quit", "/exit"):
                break
            if not interactive:
                click.echo(f"> {line}")
            sim.say(line)
    except KeyboardInterrupt:
        pass
    finally:
        if local is not None:
            local.stop()


def _safe_db(url: str) -> str:
    """The database URL without a password."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return "?"


def register_cli(app) -> None:
    app.cli.add_command(chat_command)
