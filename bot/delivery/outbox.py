"""The durable outbox: every outbound message is a Notice row first, delivered later by the sender.

One way to write notices, `Notices`: collect them (a direct message to a person, a message to a group
chat, a file, a mail, or a raw address such as a DingTalk sessionWebhook), then `flush` them into the caller's
transaction with one INSERT … ON CONFLICT (key) DO NOTHING — so a notice exists if and only if the change
that caused it was committed, and a notice with a `key` is created at most once, ever (a rerun, a second
scheduler or a catch-up adds nothing). Jobs queue thousands this way in one statement; `to_person`,
`to_group` and `enqueue` are the one-notice forms for handlers and adapters.

Where a notice goes is `bot.delivery.addressing`'s decision. Payloads are platform-neutral: a group
message names the people it @-mentions by person id (`payload["mention"]`); each channel's transport
turns them into that platform's fields when it delivers.
"""
from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.utils import parseaddr
from typing import NamedTuple, Optional, Union

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.delivery import addressing
from bot.infra import observe
from bot.infra.db import dialect_insert, insert_ignore_text
from models import TARGET_GROUP, TARGET_MAIL, Notice, Person, PersonIdentity, Unit, utcnow

CHUNK = 10_000  # ids per IN (…) list (SQLite allows 32,766 bound parameters)
MENTION = "mention"  # payload key: person ids a group message @-mentions
MAIL = "mail"  # the channel and msgtype of a mail notice


def mb(n: int) -> str:
    """A size as people read it: 25.3 MB."""
    return f"{n / 1024 / 1024:.1f} MB"


def mail_message_id(key: str, sender: str) -> str:
    """The Message-ID of the mail a notice with `key` sends, fixed when it is queued: every attempt carries
    the same one, so a resend after an unknown outcome is recognisable as the same mail."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    return f"<notice-{hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]}@{domain}>"


@dataclass(frozen=True)
class Who:
    """The fields of a person a notice needs (loaded in bulk by `people`, or taken from a Person)."""

    id: Optional[int]
    name: str
    mobile: Optional[str]
    identities: Mapping[str, str] = field(default_factory=dict)  # channel -> platform user id
    # how texts name them (bot.domain.address): 杨凤翔区长; a placeholder is never named
    title: Optional[str] = None
    short_title: Optional[str] = None
    unit_name: Optional[str] = None
    placeholder: bool = False

    def identity(self, channel: str) -> Optional[str]:
        return self.identities.get(channel)


def who_of(person: Union[Person, Who]) -> Who:
    if isinstance(person, Who):
        return person
    return Who(person.id, person.name, person.mobile,
               {c: i.external_id for c, i in person.identities.items()}, person.title,
               getattr(person, "short_title", None), None, bool(person.placeholder))


def people(session: Session, ids: Iterable[int]) -> dict[int, Who]:
    """Active people by id with their identities, two queries per CHUNK ids."""
    wanted = sorted({i for i in ids if i is not None})
    out: dict[int, Who] = {}
    for start in range(0, len(wanted), CHUNK):
        part = wanted[start:start + CHUNK]
        identities: dict[int, dict[str, str]] = {}
        for pid, channel, external_id in session.execute(
                select(PersonIdentity.person_id, PersonIdentity.channel, PersonIdentity.external_id)
                .where(PersonIdentity.person_id.in_(part))):
            identities.setdefault(pid, {})[channel] = external_id
        for pid, name, mobile, title, short, unit, placeholder in session.execute(
                select(Person.id, Person.name, Person.mobile, Person.title, Person.short_title, Unit.name,
                       Person.placeholder).outerjoin(Unit, Unit.id == Person.unit_id)
                .where(Person.id.in_(part), Person.active.is_(True))):
            out[pid] = Who(pid, name, mobile, identities.get(pid, {}), title, short, unit, bool(placeholder))
    return out


def people_by(session: Session, pairs) -> dict:
    """`pairs`: a subquery with columns (key, person_id). key -> the people (`Who`, by id; active or not)
    in ONE statement (their identities joined in): the followers of many items at once, say."""
    rows = session.execute(
        select(pairs.c.key, Person.id, Person.name, Person.mobile, Person.title, Person.short_title, Unit.name,
               Person.placeholder, PersonIdentity.channel, PersonIdentity.external_id)
        .join(Person, Person.id == pairs.c.person_id).outerjoin(Unit, Unit.id == Person.unit_id)
        .outerjoin(PersonIdentity, PersonIdentity.person_id == Person.id)
        .order_by(pairs.c.key, Person.id))
    found: dict = {}
    for key, pid, name, mobile, title, short, unit, placeholder, channel, external_id in rows:
        entry = found.setdefault(key, {}).setdefault(pid, [(name, mobile, title, short, unit, placeholder), {}])
        if channel is not None:
            entry[1][channel] = external_id
    return {key: [Who(pid, f[0], f[1], ids, f[2], f[3], f[4], bool(f[5])) for pid, (f, ids) in by_pid.items()]
            for key, by_pid in found.items()}


def group_message(text: str, channel: str, mention: Iterable[Union[Person, Who]] = (), markdown: bool = True
                  ) -> tuple[str, dict]:
    """(msgtype, payload) of a group message on `channel`. Only people the platform can ping there (by
    mobile or by their id on it) are mentioned; mentions make it a text message, the only kind that pings."""
    reachable = [w.id for w in map(who_of, mention) if w.mobile or w.identity(channel)]
    msgtype = "markdown" if markdown and not reachable else "text"
    # a markdown text sent as text (so that its @s ping) reads without its markup (addressing.as_sent)
    payload: dict = {"content": addressing.as_sent(text, channel, msgtype) if markdown else text}
    if reachable:
        payload[MENTION] = reachable
    return msgtype, payload


class Queued(NamedTuple):
    """A notice `flush` inserted."""

    id: int
    key: Optional[str]


class Notices:
    """Notices to exist, inserted together by `flush` (a key already used is left alone)."""

    def __init__(self, settings=None, kind: str = "notice"):
        self.settings = getattr(settings, "settings", settings)  # a Runtime will do
        self.kind = kind
        self.rows: list[dict] = []
        self._keys: set[str] = set()
        self._group_text: dict[int, tuple] = {}  # row index -> (text, mention, markdown)

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, *, channel: Optional[str], target_kind: str, target: str, msgtype: Optional[str],
            payload: Optional[dict], key: Optional[str] = None, kind: Optional[str] = None) -> bool:
        """A notice to an address given as is; False if this batch has its key already."""
        if key is not None:
            if key in self._keys:
                return False
            self._keys.add(key)
        now = utcnow()
        self.rows.append(dict(key=key, kind=kind or self.kind, channel=channel, target_kind=target_kind,
                              target=target, msgtype=msgtype, payload=payload, state="pending", attempts=0,
                              next_attempt_at=now, created_at=now, request_id=observe.current()))
        return True

    def to_person(self, person: Union[Person, Who], text: str, key: Optional[str] = None, *,
                  markdown: bool = False, kind: Optional[str] = None, channel: Optional[str] = None,
                  card: Optional[dict] = None) -> bool:
        """A direct message; False if the person cannot be reached (or the key is in this batch). With
        `card` (bot.actions.decisions.card) it is a decision card, `text` what a channel without cards shows."""
        if card is not None:
            return self.message_to_person(person, "card", {"content": text, "card": card}, key, kind=kind,
                                          channel=channel)
        return self.message_to_person(person, "markdown" if markdown else "text", {"content": text}, key,
                                      kind=kind, channel=channel)

    def message_to_person(self, person: Union[Person, Who], msgtype: str, payload: dict,
                          key: Optional[str] = None, *, kind: Optional[str] = None,
                          channel: Optional[str] = None) -> bool:
        """A direct message of any msgtype the person's channel delivers (a card update…)."""
        address = self._address(person, channel)
        if address is None:
            return False
        return self.add(channel=address.channel, target_kind=address.target_kind, target=address.target,
                        msgtype=msgtype, payload=payload, key=key, kind=kind)

    def file_to_person(self, person: Union[Person, Who], path: str, filename: str, key: Optional[str] = None, *,
                       kind: Optional[str] = None) -> bool:
        """A file as a direct message (the sender uploads `payload["path"]` under `filename`); False if the
        person cannot be reached."""
        address = self._address(person, None)
        if address is None:
            return False
        return self.add(channel=address.channel, target_kind=address.target_kind, target=address.target,
                        msgtype="file", payload={"path": path, "filename": filename}, key=key, kind=kind)

    def rendered_file_to_person(self, person: Union[Person, Who], renderer: str, args: dict, filename: str,
                                key: Optional[str] = None, *, kind: Optional[str] = None) -> bool:
        """A file as a direct message, made when the notice is sent (`render_file`): `renderer` (a name in
        RENDERERS) called with `args` (JSON) gives its bytes. Nothing is rendered while the action's
        transaction — a chat message waiting for its reply — runs; the notice is as durable and
        exactly-once as any other. False if the person cannot be reached."""
        if renderer not in RENDERERS:
            raise ValueError(f"no renderer {renderer!r}")
        address = self._address(person, None)
        if address is None:
            return False
        return self.add(channel=address.channel, target_kind=address.target_kind, target=address.target,
                        msgtype="file", payload={RENDER: renderer, "args": args, "filename": filename}, key=key,
                        kind=kind)

    def _address(self, person: Union[Person, Who], channel: Optional[str]) -> Optional[addressing.Address]:
        who = who_of(person)
        if channel is None:
            return addressing.person_address(who.identities, self.settings)
        target = who.identity(channel)
        return addressing.Address(channel, "user", target) if target else None

    def to_group(self, code: str, text: str, key: Optional[str] = None, *,
                 mention: Iterable[Union[Person, Who]] = (), markdown: bool = True, kind: Optional[str] = None,
                 channel: Optional[str] = None) -> bool:
        """A group-chat message; `mention` people are @-ed. The group's channel (hence who can be @-ed) is
        settled in `flush` unless given."""
        if not self.add(channel=channel, target_kind=TARGET_GROUP, target=code, msgtype=None, payload=None,
                        key=key, kind=kind):
            return False
        self._group_text[len(self.rows) - 1] = (text, [who_of(m) for m in mention], markdown)
        return True

    def file_to_group(self, code: str, path: str, msgtype: str, key: Optional[str] = None, *,
                      kind: Optional[str] = None) -> bool:
        """An image or file message to a group; the sender reads `payload["path"]`."""
        return self.add(channel=None, target_kind=TARGET_GROUP, target=code, msgtype=msgtype,
                        payload={"path": path}, key=key, kind=kind)

    def mail(self, address: str, subject: str, body: str, attachments: Iterable[tuple[str, str]] = (),
             key: Optional[str] = None, *, sender: str = "", kind: Optional[str] = None) -> bool:
        """A mail to `address` with files (path, filename) attached. Its Message-ID is fixed now — from the
        key, so a resend is recognisable as the same mail (bot.channels.mail.transport)."""
        payload = {"subject": subject, "body": body, "message_id": mail_message_id(key or uuid.uuid4().hex, sender),
                   "attachments": [{"path": path, "filename": filename} for path, filename in attachments]}
        return self.add(channel=MAIL, target_kind=TARGET_MAIL, target=address, msgtype=MAIL, payload=payload,
                        key=key, kind=kind)

    def _settle_groups(self, session: Session) -> None:
        if not any(r["channel"] is None for r in self.rows) and not self._group_text:
            return
        channel_of = addressing.group_channels(session, self.settings)
        for i, row in enumerate(self.rows):
            if row["channel"] is None:
                row["channel"] = channel_of(row["target"])
            if i in self._group_text:
                text, mention, markdown = self._group_text[i]
                row["msgtype"], row["payload"] = group_message(text, row["channel"], mention, markdown)

    def flush(self, session: Session, *, count_only: bool = False):
        """Insert every collected notice whose key is new, in the session's transaction.

        Returns the inserted notices (`Queued`), or with `count_only` just how many rows were sent to the
        database: a plain executemany, prepared once — RETURNING costs PostgreSQL+psycopg twice as much
        for thousands of rows; a job that looked up the existing keys first knows the count is right."""
        if not self.rows:
            return 0 if count_only else []
        self._settle_groups(session)
        rows = self.rows
        self.rows, self._keys, self._group_text = [], set(), {}
        if count_only:
            session.connection().execute(insert_ignore_text(Notice.__table__, tuple(rows[0]), ("key",)), rows)
            return len(rows)
        if len(rows) == 1:  # a compiled statement kept (the dialect's on_conflict insert is compiled each time)
            stmt = insert_ignore_text(Notice.__table__, tuple(rows[0]), ("key",), ("id", "key"))
            return [Queued(*r) for r in session.connection().execute(stmt, rows[0]).all()]
        stmt = dialect_insert(session)(Notice).on_conflict_do_nothing(index_elements=["key"])
        result = session.connection().execute(stmt.returning(Notice.id, Notice.key), rows)
        return [Queued(*r) for r in result.all()]


# Files made when their notice is sent (`Notices.rendered_file_to_person`): renderer name -> "module:function",
# the function called as fn(session, **args) -> bytes in the sender's transaction. Names are stored in
# notices: keep a name as long as notices may carry it.
RENDERERS = {
    "problem_list": "bot.actions.report:problem_list_workbook",  # 附件3 of a lead unit's problem list
}
RENDER = "render"  # payload key: the renderer of a file made at send time
PATH = "path"  # payload key: the file a file notice sends


def render_file(session: Session, settings, notice_id: int, payload: dict) -> str:
    """Make the file of a notice queued by `rendered_file_to_person` and save it under
    INSTANCE_DIR/exports/<date>/<random>/; returns its path."""
    import importlib
    import secrets
    from pathlib import Path

    module, _, name = RENDERERS[payload[RENDER]].partition(":")
    data = getattr(importlib.import_module(module), name)(session, **(payload.get("args") or {}))
    folder = Path(settings.INSTANCE_DIR) / "exports" / utcnow().strftime("%Y%m%d") / secrets.token_hex(8)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (payload.get("filename") or f"notice-{notice_id}")
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)
    return str(path)


def _one(session: Session, batch: Notices) -> Optional[Queued]:
    queued = batch.flush(session)
    return queued[0] if queued else None


def enqueue(session: Session, *, target_kind: str, target: str, msgtype: str, payload: dict,
            channel: str = "wecom", key: Optional[str] = None, kind: str = "notice") -> Optional[Queued]:
    """One notice to an address given as is; None (and nothing added) if `key` was used before."""
    batch = Notices(kind=kind)
    batch.add(channel=channel, target_kind=target_kind, target=target, msgtype=msgtype, payload=payload, key=key)
    return _one(session, batch)


def to_person(session: Session, person: Union[Person, Who], text: str, *, settings=None,
              channel: Optional[str] = None, markdown: bool = False, key: Optional[str] = None,
              kind: str = "notice", card: Optional[dict] = None) -> Optional[Queued]:
    """A direct message to one person (a decision card with `card`); None if they cannot be reached or
    `key` was used before."""
    batch = Notices(settings, kind)
    batch.to_person(person, text, key, markdown=markdown, channel=channel, card=card)
    return _one(session, batch)


def message_to_person(session: Session, person: Union[Person, Who], msgtype: str, payload: dict, *,
                      settings=None, channel: Optional[str] = None, key: Optional[str] = None,
                      kind: str = "notice") -> Optional[Queued]:
    """A direct message of `msgtype` as is (a card update); None if unreachable or `key` was used."""
    batch = Notices(settings, kind)
    batch.message_to_person(person, msgtype, payload, key, channel=channel)
    return _one(session, batch)


def to_group(session: Session, group_code: str, text: str, *, settings=None, channel: Optional[str] = None,
             markdown: bool = True, mention: Iterable[Union[Person, Who]] = (), key: Optional[str] = None,
             kind: str = "notice") -> Optional[Queued]:
    """A group-chat message; None if `key` was used before."""
    batch = Notices(settings, kind)
    batch.to_group(group_code, text, key, mention=mention, markdown=markdown, channel=channel)
    return _one(session, batch)
