"""Decisions: one registry of what a person is asked to decide (a leader's 同意/退回 of a slip or minutes…),
who may decide it, what its card shows, and which `do_*` action each button runs.

A decision is reached three ways and they are the same code path, `decide`:
- a tap on a WeCom template card (button_interaction) or a DingTalk interactive card — the channel adapter
  turns it into an `Incoming` with `event="card"` and `event_key = button_key(kind, id, button)`;
- the typed command (同意 JB3), after the person has confirmed what it names (handlers/decisions.py);
- the answer typed after a tap on a button that asks for one (`Button.ask`): a reason (退回), a deadline
  (立项督办) — handlers/decisions.py asks, reads the answer and passes it to the button's action.

`decide` checks the person may decide (`Refused`), that the record is still open (`Closed`, with who decided
it and when), runs the action, and queues the card update (`card_done`): the card then shows the result and
no buttons. The update is a notice like any other — if it fails it is retried, and the decision stands.

Cards are platform-neutral in the outbox (`msgtype="card"`, payload `{"content": text, "card": card}`):
WeCom's transport makes a template_card of it, DingTalk's an interactive card, and anything that cannot
show a card delivers `content`, the text the person got before cards existed.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, NamedTuple, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from bot.actions.base import Act, settings_of
from bot.domain.ledger import TransitionError
from bot.infra.text import cn_short_date
from models import AuditLog, Person

KEY_PREFIX = "dc"  # button keys "dc:<kind>:<id>:<button>"; task ids "dc-<kind>-<id>-<rev>"
_KEY_RE = re.compile(r"dc:([a-z]+):(\d{1,12}):([a-z_]+)")
_TASK_RE = re.compile(r"dc-([a-z]+)-(\d{1,12})-(\d{1,6})")
CARD_UPDATE = "card_update"  # msgtype of the notice that turns a card into its result
CARD = "card"  # msgtype of a decision card (text fallback in payload["content"])

# What a button asks for after its tap (`Button.ask`); how each is asked and read is handlers/decisions.py's.
REASON = "reason"  # a reason, passed to the action as the text typed
DEADLINE = "deadline"  # a date today or later, passed as a `Deadline`


class Deadline(NamedTuple):
    """The answer of a button that asks for a deadline: the date, and the note typed with a command (the
    typed equivalent gives both: 立项督办 M3 12月30日 <note>)."""

    value: date
    note: Optional[str] = None


@dataclass(frozen=True)
class Button:
    name: str  # "sign", "return"…: the last part of the button key
    label: str  # 同意签发
    done: str  # what the card shows afterwards: 已签发
    verb: str  # in "已于…由…签发" and in what is asked ("退回原因")
    ask: Optional[str] = None  # what must be typed after a tap: REASON (退回, 不批准…) or DEADLINE (立项督办)
    asked: str = ""  # what the question calls a DEADLINE (督办时限)
    primary: bool = False
    # the action: fn(act, record, answer) -> the reply text for the person who decided; `answer` is what was
    # asked (a reason, a `Deadline`), else the note typed with the command, or None
    run: Callable[[Any, Any, Any], str] = field(default=lambda act, record, answer: "", compare=False)


@dataclass(frozen=True)
class Decision:
    kind: str  # "slip", "minutes": the middle of keys and task ids (letters only)
    entity: str  # the audit entity of the record (assignment_slip, minutes)
    load: Callable[[Session, int], Any]
    deciders: Callable[[Any], list]  # person ids who may decide
    is_open: Callable[[Any], bool]
    rev: Callable[[Session, Any], int]  # which sending of the card (a resubmission is a new card)
    content: Callable[[Act, Any], dict]  # {"title", "desc", "fields": [[k, v]…]} of the card
    buttons: tuple[Button, ...]
    ask: str  # the template that names the record in confirmations ("交办单 JB3")
    show: str = ""  # the template that shows the record in full before a typed decision is confirmed
    decided: Optional[Callable[[Any], Closed]] = None  # who decided and when, if not from the audit trail
    may: Optional[Callable[[Any, Person], bool]] = None  # who may decide, if more than `deciders` (admins)
    refused: str = "decision/not_yours.txt"  # the answer to someone who may not decide (with `what`)

    def button(self, name: str) -> Optional[Button]:
        return next((b for b in self.buttons if b.name == name), None)


REGISTRY: dict[str, Decision] = {}


def register(decision: Decision) -> Decision:
    if not re.fullmatch(r"[a-z]+", decision.kind):
        raise ValueError(f"decision kind {decision.kind!r}: letters only")
    REGISTRY[decision.kind] = decision
    return decision


def get(kind: str) -> Decision:
    _load_kinds()
    return REGISTRY[kind]


def _load_kinds() -> None:
    if not REGISTRY:
        from bot.actions import decision_kinds  # noqa: F401 - registers the kinds


# -- keys ----------------------------------------------------------------------------------------

def button_key(kind: str, record_id: int, button: str) -> str:
    return f"{KEY_PREFIX}:{kind}:{record_id}:{button}"


def parse_key(key: Optional[str]) -> Optional[tuple[str, int, str]]:
    """(kind, record id, button) of a button key, or None for anything else."""
    m = _KEY_RE.fullmatch(key or "")
    return (m.group(1), int(m.group(2)), m.group(3)) if m else None


def task_id(kind: str, record_id: int, rev: int) -> str:
    """The card's id on the platform (WeCom task_id, DingTalk outTrackId): letters, digits and '-'."""
    return f"{KEY_PREFIX}-{kind}-{record_id}-{rev}"


def parse_task(task: Optional[str]) -> Optional[tuple[str, int, int]]:
    m = _TASK_RE.fullmatch(task or "")
    return (m.group(1), int(m.group(2)), int(m.group(3))) if m else None


# -- the card ------------------------------------------------------------------------------------

def card(act: Act, kind: str, record, rev: Optional[int] = None) -> dict:
    """The neutral card of `record`: task id, title, description, key fields and buttons. `rev`: the
    record's revision when the caller has it (else the decision kind's `rev` reads it)."""
    d = get(kind)
    content = d.content(act, record)
    rev = d.rev(act.session, record) if rev is None else rev
    return {"task_id": task_id(kind, record.id, rev), "kind": kind, "id": record.id,
            "title": content["title"], "desc": content.get("desc", ""),
            "fields": [[str(k), str(v)] for k, v in content.get("fields", [])][:6],
            "buttons": [{"key": button_key(kind, record.id, b.name), "name": b.name, "text": b.label,
                         "primary": b.primary} for b in d.buttons]}


def result_label(button: Button, at: datetime) -> str:
    """What a decided card shows: 已签发 · 12月3日 10:02."""
    local = at.astimezone(_tz())
    return f"{button.done} · {cn_short_date(local)} {local:%H:%M}"


def _tz():
    from bot.domain.clock import tz

    return tz()


# -- deciding ------------------------------------------------------------------------------------

class Refused(Exception):
    """The person may not decide this (the card is left as it is)."""


class Closed(Exception):
    """The record was decided already: `who` (a name) `verb` it `at`."""

    def __init__(self, verb: str, who: str, at: Optional[datetime]):
        super().__init__(verb)
        self.verb, self.who, self.at = verb, who, at


class Missing(Exception):
    """No such record."""


def load(session: Session, kind: str, record_id: int):
    d = get(kind)
    record = d.load(session, record_id)
    if record is None:
        raise Missing(kind)
    return d, record


def check(d: Decision, record, person: Person) -> None:
    """Refused unless `person` decides `record`; Closed when it is decided already."""
    allowed = d.may(record, person) if d.may is not None else person.id in d.deciders(record)
    if not allowed:
        raise Refused(d.kind)
    if not d.is_open(record):
        raise closed(d, record)


VERBS = {"sign": "签发", "issue": "签发", "return": "退回", "withdraw": "撤回", "closed": "销号",
         "returned": "退回重办"}  # audit action -> verb


def utc(at: Optional[datetime]) -> Optional[datetime]:
    """A stored time as an aware one (SQLite gives naive UTC back)."""
    return at if at is None or at.tzinfo else at.replace(tzinfo=UTC)


def closed(d: Decision, record) -> Closed:
    """Who decided `record` and when: the kind's own answer, or the last row of its audit trail."""
    if d.decided is not None:
        return d.decided(record)
    row = object_session(record).scalars(select(AuditLog).where(
        AuditLog.entity == d.entity, AuditLog.entity_id == str(record.id)).order_by(AuditLog.id.desc())).first()
    if row is None:
        return Closed("处理", "", None)
    return Closed(VERBS.get(row.action, "处理"), row.actor, utc(row.at))


def decide(act, kind: str, record, button_name: str, answer: Any = None, *,
           tap: Optional[dict] = None) -> str:
    """Run `button_name` on `record` for `act.actor` with `answer` (see `Button.run`); the reply text. Raises
    Refused / Closed (nothing changed), ValueError (no such button) or the action's TransitionError (e.g. a
    reason is missing). The action locks and re-reads the record, so two decisions at once give one, and
    Closed. `tap`: the card callback's {"channel", "task_id", "response_code"}, whose code updates the card
    that was tapped."""
    d = get(kind)
    button = d.button(button_name)
    if button is None:
        raise ValueError(button_name)
    check(d, record, act.actor)
    rev = d.rev(act.session, record)  # before the action: a return makes the next sending a new card
    try:
        text = button.run(act, record, answer)
    except TransitionError:
        if d.is_open(record):  # refused for another reason (a reason missing…): the caller says why
            raise
        raise closed(d, record) from None
    card_done(act, d, record, button, rev, tap)
    return text


def card_done(act, d: Decision, record, button: Button, rev: int, tap: Optional[dict]) -> None:
    """Queue the update of each decider's card to the result (one per card: its key is the task id)."""
    task = task_id(d.kind, record.id, rev)
    label = result_label(button, act.now)
    from bot.delivery import outbox

    settings = settings_of(act)
    for pid in d.deciders(record):
        person = act.session.get(Person, pid)
        if person is None:
            continue
        payload = {"task_id": task, "result": label}
        channel = None
        if tap and tap.get("task_id") == task and pid == getattr(act.actor, "id", None):
            channel = tap.get("channel")
            if tap.get("response_code"):
                payload["response_code"] = tap["response_code"]
        outbox.message_to_person(act.session, person, CARD_UPDATE, payload, settings=settings, channel=channel,
                                 key=f"card-done:{task}:p{pid}", kind="card")
