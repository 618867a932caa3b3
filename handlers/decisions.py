"""Decisions in chat: card taps, the answer a button asks for, and typed decisions that confirm first.

- A tap on a decision card (WeCom template_card_event, DingTalk card callback) arrives as an `Incoming`
  with `event="card"` and the button's key; it runs `bot.actions.decisions.decide` for the person who
  tapped — the card is the confirmation. A button that asks for something (`Button.ask`) asks for it
  and the next message is the answer: a reason (退回), or a deadline (立项督办: a date today or later,
  read by `bot.domain.dateparse.parse_date`; an ambiguous, past or unreadable date is asked again, never
  guessed). `ANSWERS` holds how each is asked and read.
- A typed 同意 shows what it will sign and asks 确认/取消 (`confirm`); with several pending and none named,
  it asks which, by number (`choose`).

What is waiting (an answer, a confirmation, a choice) is a small document in the conversation store under
`decision:person:<id>`, written in the message's transaction like a form's draft. Any other message drops
a waiting confirmation or choice and is handled as usual; a waiting answer takes the next message.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Optional

from bot.actions import decisions as D
from bot.conversation.store import Conflict, Stored, store_for
from bot.core.messages import Context, Reply
from bot.core.routing import Commands
from bot.domain.dateparse import DateAmbiguous, DateOk, parse_date
from bot.domain.ledger import TransitionError
from handlers.common import transition_error

commands = Commands()

KEEP = timedelta(hours=24)  # a waiting answer / confirmation older than this is forgotten
REASON_MAX = 1000
YES = {"确认", "确定", "是", "好", "yes", "y"}
NO = {"取消", "否", "不", "算了", "no", "n"}
ALL = {"全部", "都签", "全部签发", "all"}


def state_key(person_id: int) -> str:
    return f"decision:person:{person_id}"


def _key(ctx: Context) -> str:
    return state_key(ctx.person.id)


def load_waiting(ctx: Context) -> tuple[Optional[dict], Optional[int]]:
    loaded = store_for(ctx.runtime).load(ctx.session, _key(ctx))
    if not isinstance(loaded, Stored):
        if loaded is not None:  # lost by the key-value store: forget the anchor
            store_for(ctx.runtime).delete(ctx.session, _key(ctx), None)
        return None, None
    doc = loaded.doc
    try:
        fresh = ctx.now - datetime.fromisoformat(doc["at"]) <= KEEP
    except (KeyError, TypeError, ValueError):
        fresh = False
    if not fresh:
        store_for(ctx.runtime).delete(ctx.session, _key(ctx), None)
        return None, None
    return doc, loaded.version


def wait_for(ctx: Context, doc: dict) -> None:
    """Keep `doc` (what the next message answers) in place of anything waiting before."""
    store = store_for(ctx.runtime)
    _old, version = load_waiting(ctx)
    doc = {**doc, "flow": "decision", "at": ctx.now.isoformat()}
    try:
        store.save(ctx.session, _key(ctx), doc, version, ctx.now, fresh=version is None)
    except Conflict:  # written by a concurrent message of this person's: theirs wins, ours is asked again
        pass


def forget(ctx: Context) -> None:
    store_for(ctx.runtime).delete(ctx.session, _key(ctx), None)


# -- naming records ------------------------------------------------------------------------------

def name_of(ctx: Context, kind: str, record) -> str:
    return ctx.render(D.get(kind).ask, record=record)


def records_of(ctx: Context, items: list) -> list:
    """[(kind, record)] of stored [kind, id] pairs that still exist."""
    out = []
    for kind, rid in items:
        try:
            _d, record = D.load(ctx.session, kind, int(rid))
        except (D.Missing, KeyError):
            continue
        out.append((kind, record))
    return out


# -- taps ----------------------------------------------------------------------------------------

def tapped(ctx: Context, kind: str, record_id: int, button_name: str) -> Reply:
    inc = ctx.incoming
    try:
        d, record = D.load(ctx.session, kind, record_id)
    except (D.Missing, KeyError):
        return Reply(ctx.render("decision/missing.txt"))
    button = d.button(button_name)
    if button is None:
        return Reply(ctx.render("decision/missing.txt"))
    name = name_of(ctx, kind, record)
    try:
        D.check(d, record, ctx.person)
    except D.Refused:
        return Reply(ctx.render(d.refused, what=name))
    except D.Closed as c:
        return Reply(ctx.render("decision/already.txt", what=name, closed=c))
    tap = {"channel": ctx.channel, "task_id": inc.extra.get("task_id"),
           "response_code": inc.extra.get("response_code")}
    if button.ask:
        wait_for(ctx, {"step": "answer", "kind": kind, "id": record.id, "button": button.name, "tap": tap})
        return Reply(ctx.render(ANSWERS[button.ask].prompt, what=name, button=button))
    forget(ctx)
    return run_one(ctx, kind, record, button.name, None, tap)


def run_one(ctx: Context, kind: str, record, button: str, answer: Any, tap: Optional[dict]) -> Reply:
    d = D.get(kind)
    name = name_of(ctx, kind, record)
    try:
        return Reply(D.decide(ctx, kind, record, button, answer, tap=tap))
    except TransitionError as exc:  # refused by the action itself (a reason it needs…)
        return transition_error(ctx, exc)
    except D.Refused:
        return Reply(ctx.render(d.refused, what=name))
    except D.Closed as c:
        return Reply(ctx.render("decision/already.txt", what=name, closed=c))


# -- what the next message answers ---------------------------------------------------------------

class Again(Exception):
    """The typed answer cannot be used: `text` says why and asks again (the question stays open)."""

    def __init__(self, text: str):
        super().__init__(text)
        self.text = text


@dataclass(frozen=True)
class Answer:
    """How a `Button.ask` is asked (`prompt`, rendered with `what` and `button`) and read (`read(ctx, text,
    what, button)` -> the value `decide` passes to the button's action, or Again)."""

    prompt: str
    read: Callable[[Context, str, str, D.Button], Any]
    # a command typed instead (立项督办 M3 12月30日, 查 M3) lapses the question and is handled as usual: no date
    # is a command, while a reason may begin like one and is taken as typed
    commands_pass: bool = False


def read_reason(ctx: Context, text: str, what: str, button: D.Button) -> str:
    if len(text) > REASON_MAX:
        raise Again(ctx.render("engine/err_too_long.txt", max=REASON_MAX, got=len(text)))
    if not any(ch.isalnum() for ch in text):
        raise Again(ctx.render("decision/ask_reason.txt", what=what, button=button))
    return text


def read_deadline(ctx: Context, text: str, what: str, button: D.Button) -> D.Deadline:
    """A date today or later; an ambiguous one ("11月20日" after it passed) is asked back with its readings."""
    result = parse_date(text, ctx.now.date(), "future")
    if isinstance(result, DateOk):
        return D.Deadline(result.value)
    if isinstance(result, DateAmbiguous):
        raise Again(ctx.render("decision/ask_deadline.txt", what=what, button=button, text=text,
                               candidates=result.candidates, literal=result.literal))
    raise Again(ctx.render("decision/ask_deadline.txt", what=what, button=button, text=text, reason=result.reason,
                           direction="future", year=result.year, month=result.month, day=result.day))


ANSWERS = {D.REASON: Answer("decision/ask_reason.txt", read_reason),
           D.DEADLINE: Answer("decision/ask_deadline.txt", read_deadline, commands_pass=True)}


def answer_typed(ctx: Context, doc: dict, text: str) -> Optional[Reply]:
    if not text:
        return None
    found = records_of(ctx, [[doc["kind"], doc["id"]]])
    button = D.get(found[0][0]).button(doc["button"]) if found else None
    if text in NO or button is None or not button.ask:
        forget(ctx)
        return Reply(ctx.render("decision/cancelled.txt", what=name_of(ctx, *found[0]) if found else ""))
    kind, record = found[0]
    asked = ANSWERS[button.ask]
    if asked.commands_pass and ctx.runtime.router.find(text)[0] is not None:
        forget(ctx)
        return None
    try:
        answer = asked.read(ctx, text, name_of(ctx, kind, record), button)
    except Again as again:
        return Reply(again.text)
    forget(ctx)
    return run_one(ctx, kind, record, button.name, answer, doc.get("tap"))


def confirm_typed(ctx: Context, doc: dict, text: str) -> Optional[Reply]:
    if text in NO:
        forget(ctx)
        return Reply(ctx.render("decision/cancelled.txt", what=""))
    if text not in YES:
        forget(ctx)  # something else: the confirmation lapses and the message is handled as usual
        return None
    forget(ctx)
    parts = [run_one(ctx, kind, record, doc["button"], doc.get("reason"), None).text
             for kind, record in records_of(ctx, doc["items"])]
    return Reply("\n\n".join(parts) if parts else ctx.render("decision/missing.txt"))


def choose_typed(ctx: Context, doc: dict, text: str) -> Optional[Reply]:
    items = doc["items"]
    if text in NO:
        forget(ctx)
        return Reply(ctx.render("decision/cancelled.txt", what=""))
    if text in ALL:
        picked = items
    else:
        numbers = re.split(r"[\s,，、]+", text.strip())
        if not numbers or not all(n.isdigit() for n in numbers):
            forget(ctx)
            return None
        if any(not 1 <= int(n) <= len(items) for n in numbers):
            return Reply(ctx.render("decision/choose.txt", found=records_of(ctx, items), bad=text, doc=doc))
        picked = [items[int(n) - 1] for n in dict.fromkeys(numbers)]
    return ask_confirm(ctx, records_of(ctx, picked), doc["button"], [])


@commands.interceptor(priority=5, state=state_key)
def intercept(ctx: Context, text: str) -> Optional[Reply]:
    """A card tap; else the answer to a waiting question, confirmation or choice."""
    inc = ctx.incoming
    if inc.event == "card":
        parsed = D.parse_key(inc.event_key)
        return tapped(ctx, *parsed) if parsed else None
    if inc.event:
        return None
    doc, _version = load_waiting(ctx)
    if doc is None:
        return None
    step = doc.get("step")
    if step in ("answer", "reason"):  # "reason": written before deadlines were asked for too (kept 24 h)
        return answer_typed(ctx, doc, text)
    if step == "confirm":
        return confirm_typed(ctx, doc, text)
    if step == "choose":
        return choose_typed(ctx, doc, text)
    forget(ctx)
    return None


# -- typed decisions (called by the commands that take them, e.g. handlers/slip.py 同意) -----------

def ask_confirm(ctx: Context, found: list, button: str, problems: list[str], reason: Optional[str] = None
                ) -> Reply:
    """Show what `button` will do to each (kind, record) and wait for 确认; `problems`: what was named
    and cannot be decided, and why (rendered lines); `reason`: the note typed with the command."""
    if not found:
        forget(ctx)
        return Reply("\n".join(problems) or ctx.render("decision/missing.txt"))
    wait_for(ctx, {"step": "confirm", "button": button, "items": [[k, r.id] for k, r in found],
                   "reason": (reason or "").strip() or None})
    labels = {D.get(k).button(button).label for k, _r in found}
    return Reply(ctx.render("decision/confirm.txt", found=found, problems=problems, label="、".join(sorted(labels))))


def ask_which(ctx: Context, found: list, button: str) -> Reply:
    """Several await and none was named: a numbered list to choose from."""
    doc = {"step": "choose", "button": button, "items": [[k, r.id] for k, r in found]}
    wait_for(ctx, doc)
    return Reply(ctx.render("decision/choose.txt", found=found, bad=None, doc=doc))
