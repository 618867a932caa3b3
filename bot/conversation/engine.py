"""The conversation engine: multi-step forms in chat (python-telegram-bot ConversationHandler style).

A `Flow` is a list of steps; a step is a `Field` (one question) or a `Group` (the same questions for each
item: "matters one by one … until 完成", or a fixed list such as the matters a unit reports on). Each field
has a prompt template, a parser `parse(fc, text) -> value` that raises `Invalid` (what was wrong) or
`Choose` (numbered candidates), optional menu `choices`, and a condition `when`. Global words are
recognised before parsing: 帮助 取消 返回 查看 修改N 确认 (and 完成 in an open group). After the last step the
summary is shown; nothing is written to the ledger until 确认 calls the flow's `save(ctx, data, meta)` in the
message's transaction.

The state of a conversation is one JSON document per person (flow, cursor, data, history, attempts,
edit target, mode, timestamps) with a version, kept in Redis when the runtime has Redis, else in the
`conversation_state` table; each write is a compare-and-set on the version, and a Redis write happens only
after the database transaction commits, so the draft and the ledger never disagree (a finished draft also
leaves a tombstone in the transaction, in case Redis fails before it is deleted). An idle draft
(`CONVERSATION_IDLE_MINUTES`) is offered back with 继续 / 重新开始 until `DRAFT_KEEP_HOURS`.

Public API (see docs/conversations.md): Flow, Field, Group, Invalid, Choose, FieldContext, register,
start, active_flow, drop, plus the parsers in bot/conversation/fields.py.
"""
from __future__ import annotations

import copy
import json
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Callable, Optional, Union

from sqlalchemy import event, update
from sqlalchemy.exc import IntegrityError

from bot.core.messages import Context, Reply
from bot.infra.kv import RedisKV
from bot.infra.text import cn_date, env
from bot.core.routing import Commands
from models import ConversationState, ProcessedMessage

commands = Commands()

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3  # invalid answers in a row before 帮助 / 取消 are offered
MAX_OPTIONS = 9  # numbered candidates shown at most

# Global words (commands inside a conversation; short keywords, not sentences).
W_HELP = ("帮助", "?", "？", "help")
W_CANCEL = ("取消", "放弃", "退出")
W_BACK = ("返回", "上一步")
W_VIEW = ("查看", "预览")
W_CONFIRM = ("确认", "确定", "提交")
W_DONE = ("完成", "结束", "没有了")
W_RESUME = ("继续",)
W_RESTART = ("重新开始", "重新填写")
W_ADD = ("添加", "新增")
RE_EDIT = re.compile(r"^(?:修改|改)\s*第?\s*(\d{1,3})\s*[项步]?$")
RE_DELETE = re.compile(r"^删除\s*第?\s*(\d{1,3})\s*项?$")
RE_NUMBER = re.compile(r"^(\d{1,3})$")

MODE_FIELDS = "fields"
MODE_SUMMARY = "summary"
MODE_GROUP = "group"  # the item list of a group, after 修改 N on a group
MODE_RESUME = "resume"


# -- field specs --------------------------------------------------------------------------------------
class Invalid(Exception):
    """An answer that can't be used: `template` (under templates/) says why, with `kw`."""

    def __init__(self, template: str, **kw):
        super().__init__(template)
        self.template = template
        self.kw = kw


class Choose(Exception):
    """An ambiguous answer: offer these (value, label) options by number."""

    def __init__(self, options: list[tuple[Any, str]], template: str = "engine/choose.txt", **kw):
        super().__init__(template)
        self.options = options[:MAX_OPTIONS]
        self.template = template
        self.kw = kw


@dataclass
class FieldContext:
    """What a parser sees: the message context, the draft so far, the current group item and index."""

    ctx: Context
    data: dict
    meta: dict
    item: Optional[dict] = None
    index: Optional[int] = None

    @property
    def today(self) -> date:
        return self.ctx.now.date()


Parser = Callable[[FieldContext, str], Any]


@dataclass
class Field:
    """One question. `choices(fc)` makes it a menu of (value, label): the answer may be the number or the
    label; otherwise (or if neither matches) `parse` is called. `when(fc)` False skips the field."""

    name: str
    prompt: str
    parse: Optional[Parser] = None
    choices: Optional[Callable[[FieldContext], list[tuple[Any, str]]]] = None
    when: Optional[Callable[[FieldContext], bool]] = None
    help: Optional[str] = None  # template shown on 帮助 (default: the prompt again)


@dataclass
class Group:
    """A repeating block of fields. `items(fc)` gives a fixed list (as dicts) to go through; without it
    items are entered until 完成 (at least `min_items`)."""

    name: str
    fields: list[Field]
    items: Optional[Callable[[FieldContext], list[dict]]] = None
    min_items: int = 1
    max_items: int = 50

    @property
    def fixed(self) -> bool:
        return self.items is not None


Step = Union[Field, Group]


@dataclass
class Flow:
    """A conversation: `name` is also the template folder (title.txt, summary.txt, saved replies).
    `save(ctx, data, meta)` writes the ledger on 确认 and returns the reply (or raises Invalid)."""

    name: str
    steps: list[Step]
    save: Callable[[Context, dict, dict], Any]
    summary: str = ""
    title: str = ""
    check: Optional[Callable[[Context, dict, dict], None]] = None  # raise Invalid before the summary/save

    def __post_init__(self):
        self.summary = self.summary or f"{self.name}/summary.txt"
        self.title = self.title or f"{self.name}/title.txt"

    def step_no(self, name: str) -> int:
        return next(i for i, s in enumerate(self.steps) if s.name == name) + 1


FLOWS: dict[str, Flow] = {}


def register(flow: Flow) -> Flow:
    """Make a flow known to the engine (so a stored draft can be continued by any process)."""
    FLOWS[flow.name] = flow
    return flow


# -- template helpers ---------------------------------------------------------------------------------
def as_date(value) -> Optional[date]:
    """A stored ISO date string back to a date (templates: `x | as_date | cn_date`)."""
    if not value or isinstance(value, date):
        return value or None
    return date.fromisoformat(value)


env.filters.setdefault("as_date", as_date)


def display(value) -> str:
    """A stored value as people read it (units/people have a name, dates are shown the Chinese way)."""
    if value is None:
        return ""
    if isinstance(value, dict):
        return str(value.get("name") or value.get("label") or "")
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return cn_date(date.fromisoformat(value))
    return str(value)


env.filters.setdefault("show", display)


# -- the session store --------------------------------------------------------------------------------
class Conflict(Exception):
    """The stored draft changed under us (another process wrote it): the message is not applied."""


class DbStore:
    """Drafts in the conversation_state table, written in the message's own transaction."""

    def __init__(self, keep: timedelta):
        self.keep = keep

    def load(self, ctx: Context, key: str) -> Optional[tuple[dict, int]]:
        row = ctx.session.get(ConversationState, key)
        if row is None:
            return None
        return copy.deepcopy(row.data), row.version

    def save(self, ctx: Context, key: str, state: dict, version: Optional[int]) -> None:
        expires = ctx.now + self.keep
        if version is None:
            try:
                with ctx.session.begin_nested():
                    ctx.session.add(ConversationState(user_key=key, data=state, version=1, expires_at=expires,
                                                      updated_at=ctx.now))
            except IntegrityError:
                raise Conflict(key)
            return
        res = ctx.session.execute(
            update(ConversationState).where(ConversationState.user_key == key, ConversationState.version == version)
            .values(data=state, version=version + 1, expires_at=expires, updated_at=ctx.now)
            .execution_options(synchronize_session=False))
        if res.rowcount != 1:
            raise Conflict(key)
        for obj in list(ctx.session.identity_map.values()):
            if isinstance(obj, ConversationState) and obj.user_key == key:
                ctx.session.expire(obj)

    def delete(self, ctx: Context, key: str, state: Optional[dict] = None) -> None:
        """Delete the draft in the message's own transaction (atomic with what the message saved)."""
        row = ctx.session.get(ConversationState, key)
        if row is not None:
            ctx.session.delete(row)
            ctx.session.flush()


_CAS = """
local cur = redis.call('HGET', KEYS[1], 'v')
if (cur or '0') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 's', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
"""


class RedisStore:
    """Drafts in a Redis hash {v: version, s: JSON}; writes are a compare-and-set (Lua) run only after the
    database transaction commits (so a rolled-back message leaves the draft as it was)."""

    def __init__(self, kv: RedisKV, keep: timedelta):
        self.kv = kv
        self.keep = keep
        self.cas = kv.client.register_script(_CAS)

    def _k(self, key: str) -> str:
        return self.kv._k("conv:" + key)

    def load(self, ctx: Context, key: str) -> Optional[tuple[dict, int]]:
        got = self.kv.client.hmget(self._k(key), "v", "s")
        if not got or got[0] is None or got[1] is None:
            return None
        state = json.loads(got[1])
        if state.get("id") and ctx.session.get(ProcessedMessage, _tombstone(state)) is not None:
            # finished in a committed transaction whose Redis delete failed: never offer it again
            try:
                self.kv.client.delete(self._k(key))
            except Exception:
                log.exception("draft %s: could not drop a finished draft", key)
            return None
        return state, int(got[0])

    def _after_commit(self, ctx: Context, key: str, fn: Callable[[], None]) -> None:
        """Run `fn` once the message's transaction has committed. What the message did is saved by then,
        so a failure here must not fail the message (its reply is true, and a platform retry must stay a
        duplicate): it is logged. A draft whose deletion failed is made harmless by its tombstone (see
        `delete`); a draft that could not be advanced keeps its previous step (nothing is lost)."""
        def run(_session) -> None:
            try:
                fn()
            except Conflict:  # another process wrote a newer draft: theirs stands
                log.warning("draft %s changed under a committed message; kept the newer one", key)
            except Exception:
                log.exception("draft %s: Redis write after commit failed; the message's changes are saved", key)

        event.listen(ctx.session, "after_commit", run, once=True)

    def save(self, ctx: Context, key: str, state: dict, version: Optional[int]) -> None:
        payload = json.dumps(state, ensure_ascii=False)
        expected = str(version or 0)
        new = str((version or 0) + 1)
        ttl = int(self.keep.total_seconds() * 1000)

        def write():
            if not self.cas(keys=[self._k(key)], args=[expected, new, payload, ttl]):
                raise Conflict(key)
        self._after_commit(ctx, key, write)

    def delete(self, ctx: Context, key: str, state: Optional[dict] = None) -> None:
        """Drop the draft once the transaction commits. Its tombstone (a processed_message row
        ``draft:<id>``) is written IN the transaction, so a finished draft stays finished even if Redis
        fails between the commit and the delete: a second 确认 cannot save the same thing twice."""
        if state and state.get("id"):
            tomb = _tombstone(state)
            if ctx.session.get(ProcessedMessage, tomb) is None:
                ctx.session.add(ProcessedMessage(key=tomb))
        self._after_commit(ctx, key, lambda: self.kv.client.delete(self._k(key)))


def _tombstone(state: dict) -> str:
    return f"draft:{state['id']}"


def store_for(runtime):
    """The store of a runtime (cached on it): Redis when configured, else the database."""
    store = getattr(runtime, "_conversation_store", None)
    if store is None:
        keep = timedelta(hours=runtime.settings.DRAFT_KEEP_HOURS)
        store = RedisStore(runtime.kv, keep) if isinstance(runtime.kv, RedisKV) else DbStore(keep)
        runtime._conversation_store = store
    return store


def user_key(ctx: Context) -> str:
    return f"person:{ctx.person.id}"


# -- the conversation ---------------------------------------------------------------------------------
def new_state(flow: Flow, ctx: Context, data: dict, meta: dict, mode: str = MODE_FIELDS) -> dict:
    return {"id": uuid.uuid4().hex, "flow": flow.name, "mode": mode, "cursor": [0, 0, 0], "data": data, "meta": meta,
            "history": [], "attempts": 0, "edit": None, "pending": None, "completed": mode == MODE_SUMMARY,
            "resume_mode": None, "started_at": ctx.now.isoformat(), "updated_at": ctx.now.isoformat(),
            "init": {"data": copy.deepcopy(data), "meta": copy.deepcopy(meta), "mode": mode}}


def start(ctx: Context, flow: Flow, *, data: Optional[dict] = None, meta: Optional[dict] = None,
          at_summary: bool = False) -> Reply:
    """Begin `flow` for ctx.person (replacing any older draft) and return the first prompt.
    `at_summary` starts from the summary with `data` already filled (editing a returned slip)."""
    store = store_for(ctx.runtime)
    key = user_key(ctx)
    loaded = store.load(ctx, key)
    version = loaded[1] if loaded else None
    state = new_state(flow, ctx, data or {}, meta or {}, MODE_SUMMARY if at_summary else MODE_FIELDS)
    conv = Conversation(ctx, flow, state)
    if at_summary:
        reply = conv.show_summary()
    else:
        conv.settle()
        reply = conv.prompt()
    if conv.finished:
        if loaded:
            store.delete(ctx, key, loaded[0])
        return reply
    store.save(ctx, key, conv.state, version)
    return reply


def active_flow(ctx: Context) -> Optional[str]:
    """The name of the flow of ctx.person's stored draft, if any."""
    loaded = store_for(ctx.runtime).load(ctx, user_key(ctx))
    return loaded[0]["flow"] if loaded else None


def drop(ctx: Context) -> None:
    """Forget ctx.person's draft."""
    store = store_for(ctx.runtime)
    loaded = store.load(ctx, user_key(ctx))
    store.delete(ctx, user_key(ctx), loaded[0] if loaded else None)


@commands.interceptor(priority=10)
def intercept(ctx: Context, text: str) -> Optional[Reply]:
    """Give the message to the person's open draft, if there is one."""
    store = store_for(ctx.runtime)
    key = user_key(ctx)
    loaded = store.load(ctx, key)
    if loaded is None:
        return None
    state, version = loaded
    flow = FLOWS.get(state.get("flow"))
    settings = ctx.runtime.settings
    age = ctx.now - datetime.fromisoformat(state["updated_at"])
    if flow is None or age > timedelta(hours=settings.DRAFT_KEEP_HOURS):
        store.delete(ctx, key, state)
        return None
    conv = Conversation(ctx, flow, state)
    if state["mode"] != MODE_RESUME and age > timedelta(minutes=settings.CONVERSATION_IDLE_MINUTES):
        reply = conv.offer_resume()
    else:
        reply = conv.handle(text)
    if reply is None:  # not for us (a command while a draft waits to be resumed)
        return None
    if conv.finished:
        store.delete(ctx, key, state)
    else:
        if conv.touched:
            state["updated_at"] = ctx.now.isoformat()
        store.save(ctx, key, conv.state, version)
    return reply


class Conversation:
    """One step of one person's conversation: `handle(text)` changes `state` and returns the reply."""

    def __init__(self, ctx: Context, flow: Flow, state: dict):
        self.ctx = ctx
        self.flow = flow
        self.state = state
        self.finished = False
        self.touched = True

    # -- accessors --------------------------------------------------------------------------------
    @property
    def data(self) -> dict:
        return self.state["data"]

    @property
    def meta(self) -> dict:
        return self.state["meta"]

    def render(self, name: str, **kw) -> str:
        return self.ctx.render(name, data=self.data, meta=self.meta, **kw)

    def step(self, s: Optional[int] = None) -> Optional[Step]:
        s = self.state["cursor"][0] if s is None else s
        return self.flow.steps[s] if s < len(self.flow.steps) else None

    def items(self, group: Group) -> list[dict]:
        return self.data.setdefault(group.name, [])

    def fc(self, cursor=None) -> FieldContext:
        s, i, _f = cursor or self.state["cursor"]
        step = self.step(s)
        if isinstance(step, Group):
            items = self.items(step)
            item = items[i] if i < len(items) else {}
            return FieldContext(self.ctx, self.data, self.meta, item, i)
        return FieldContext(self.ctx, self.data, self.meta)

    def current_field(self) -> Optional[Field]:
        s, _i, f = self.state["cursor"]
        step = self.step(s)
        if isinstance(step, Group):
            return step.fields[f] if f < len(step.fields) else None
        return step

    def fixed_items(self, group: Group) -> list[dict]:
        """The fixed list of a group (computed once, kept in meta so it doesn't move under the user)."""
        key = f"_items_{group.name}"
        if key not in self.meta:
            self.meta[key] = group.items(FieldContext(self.ctx, self.data, self.meta))
        return self.meta[key]

    # -- navigation -------------------------------------------------------------------------------
    def applies(self, cursor) -> bool:
        s, i, f = cursor
        step = self.step(s)
        fld = step.fields[f] if isinstance(step, Group) else step
        return fld.when is None or bool(fld.when(self.fc(cursor)))

    def settle(self) -> None:
        """Move the cursor forward past skipped fields, finished items and finished steps."""
        while True:
            s, i, f = self.state["cursor"]
            step = self.step(s)
            if step is None:
                self.enter_summary()
                return
            if isinstance(step, Group):
                if step.fixed:
                    total = len(self.fixed_items(step))
                    if i >= total:
                        self.state["cursor"] = [s + 1, 0, 0]
                        continue
                    while len(self.items(step)) <= i:
                        self.items(step).append({})
                elif i >= step.max_items:
                    self.state["cursor"] = [s + 1, 0, 0]
                    continue
                if f >= len(step.fields):
                    if self.end_edit_if_done(item_done=True):
                        return
                    self.state["cursor"] = [s, i + 1, 0]
                    continue
                if not self.applies([s, i, f]):
                    self.state["cursor"] = [s, i, f + 1]
                    continue
                return
            if not self.applies([s, 0, 0]):
                self.state["cursor"] = [s + 1, 0, 0]
                continue
            return

    def end_edit_if_done(self, item_done: bool = False) -> bool:
        """After an edit (修改 N) is complete, go back where the person was. True if we went back."""
        edit = self.state.get("edit")
        if not edit:
            return False
        s, _i, _f = self.state["cursor"]
        step = self.step(s)
        if isinstance(step, Group) and not item_done:
            return False
        self.state["edit"] = None
        back = edit["back"]
        if back == MODE_SUMMARY:
            self.enter_summary()
        else:
            self.state["cursor"] = back
            self.state["mode"] = MODE_FIELDS
            self.settle()
        return True

    def advance(self) -> None:
        s, i, f = self.state["cursor"]
        self.state["history"].append([s, i, f])
        self.state["history"] = self.state["history"][-200:]
        self.state["attempts"] = 0
        self.state["pending"] = None
        step = self.step(s)
        if isinstance(step, Group):
            self.state["cursor"] = [s, i, f + 1]
        else:
            if self.end_edit_if_done():
                return
            self.state["cursor"] = [s + 1, 0, 0]
        self.settle()

    def enter_summary(self) -> None:
        self.prune()
        self.state["mode"] = MODE_SUMMARY
        self.state["completed"] = True
        self.state["edit"] = None
        self.state["pending"] = None

    def prune(self) -> None:
        """Drop answers of fields that no longer apply (e.g. a planned deadline after 已完成)."""
        for s, step in enumerate(self.flow.steps):
            if isinstance(step, Group):
                for i, item in enumerate(self.items(step)):
                    for f, fld in enumerate(step.fields):
                        if fld.name in item and not self.applies([s, i, f]):
                            item.pop(fld.name)

    # -- replies ----------------------------------------------------------------------------------
    def positions(self) -> list[tuple[int, int, int]]:
        """Every question on the way through the flow as it stands (for 第 n/m 步)."""
        out = []
        for s, step in enumerate(self.flow.steps):
            if isinstance(step, Group):
                if step.fixed:
                    n = len(self.fixed_items(step))
                else:
                    n = max(len(self.items(step)), self.state["cursor"][1] + 1 if self.state["cursor"][0] == s
                            else len(self.items(step)), step.min_items)
                for i in range(n):
                    out.extend((s, i, f) for f in range(len(step.fields))
                               if i >= len(self.items(step)) or self.applies([s, i, f]))
            else:
                if self.applies([s, 0, 0]):
                    out.append((s, 0, 0))
        return out

    def prompt(self, error: Optional[str] = None) -> Reply:
        """The current question, with its step header and (after an invalid answer) what was wrong."""
        if self.state["mode"] == MODE_SUMMARY:
            return self.show_summary(error=error)
        if self.state["mode"] == MODE_GROUP:
            return self.show_group(error=error)
        s, i, f = self.state["cursor"]
        step = self.step(s)
        fld = self.current_field()
        fc = self.fc()
        options = fld.choices(fc) if fld.choices else None
        current = (fc.item if isinstance(step, Group) else self.data).get(fld.name)
        shown = next((label for v, label in options if v == current), None) if options else None
        body = self.render(fld.prompt, item=fc.item, index=i, options=options, current=current,
                           fixed=fixed_item(self, step, i))
        positions = self.positions()
        n = positions.index((s, i, f)) + 1 if (s, i, f) in positions else len(positions)
        group = None
        if isinstance(step, Group):
            group = {"name": step.name, "no": i + 1, "fixed": step.fixed,
                     "total": len(self.fixed_items(step)) if step.fixed else None,
                     "can_finish": (not step.fixed and f == 0 and i >= step.min_items
                                    and i >= len(self.items(step)) and not self.state.get("edit"))}
        text = self.ctx.render("engine/step.txt", title=self.ctx.render(self.flow.title), n=n, m=len(positions),
                               body=body, error=error, group=group, current=shown or display(current),
                               stuck=self.state["attempts"] >= MAX_ATTEMPTS, editing=bool(self.state.get("edit")),
                               first=not self.state["history"])
        return Reply(text)

    def view_data(self) -> dict:
        """The draft with every field present ("" when not answered yet), for 查看 before the end."""
        view = dict(self.data)
        for step in self.flow.steps:
            if isinstance(step, Group):
                view[step.name] = [{**{fld.name: "" for fld in step.fields}, **item}
                                   for item in self.data.get(step.name, []) if item]
            else:
                view.setdefault(step.name, "")
        return view

    def summary_text(self) -> str:
        num = {step.name: k + 1 for k, step in enumerate(self.flow.steps)}
        return self.ctx.render(self.flow.summary, data=self.view_data(), meta=self.meta, num=num)

    def show_summary(self, error: Optional[str] = None) -> Reply:
        problem = None
        if self.flow.check is not None:
            try:
                self.flow.check(self.ctx, self.data, self.meta)
            except Invalid as exc:
                problem = self.ctx.render(exc.template, **exc.kw)
        return Reply(self.ctx.render("engine/summary.txt", title=self.ctx.render(self.flow.title),
                                     body=self.summary_text(), error=error, problem=problem,
                                     steps=len(self.flow.steps)))

    def show_group(self, error: Optional[str] = None) -> Reply:
        step = self.step(self.state["group"])
        return Reply(self.ctx.render("engine/group.txt", title=self.ctx.render(self.flow.title),
                                     body=self.summary_text(), error=error, fixed=step.fixed,
                                     count=len(self.items(step)), can_delete=len(self.items(step)) > step.min_items))

    def offer_resume(self) -> Reply:
        if self.state["mode"] != MODE_RESUME:
            self.state["resume_mode"] = self.state["mode"]
            self.state["mode"] = MODE_RESUME
        self.touched = False
        return Reply(self.ctx.render("engine/resume.txt", title=self.ctx.render(self.flow.title),
                                     started_at=datetime.fromisoformat(self.state["started_at"]),
                                     updated_at=datetime.fromisoformat(self.state["updated_at"])))

    # -- handling a message -------------------------------------------------------------------------
    def handle(self, text: str) -> Optional[Reply]:
        text = (text or "").strip()
        mode = self.state["mode"]
        if mode == MODE_RESUME:
            return self.handle_resume(text)
        if text in W_CANCEL:
            self.finished = True
            return Reply(self.ctx.render("engine/cancelled.txt", title=self.ctx.render(self.flow.title)))
        if text in W_HELP:
            return self.help()
        if text in W_VIEW and mode == MODE_SUMMARY:
            return self.show_summary()
        if text in W_VIEW:
            return Reply(self.ctx.render("engine/view.txt", body=self.summary_text()) + "\n\n" + self.prompt().text)
        if text in W_BACK:
            return self.back()
        m = RE_EDIT.match(text)
        if m:
            return self.edit(int(m.group(1)))
        if text in W_CONFIRM:
            if mode == MODE_SUMMARY:
                return self.confirm()
            return self.prompt(error=self.ctx.render("engine/not_yet.txt"))
        cmd, args = self.ctx.runtime.router.find(text)
        if cmd is not None and not args and text not in W_DONE:
            return self.prompt(error=self.ctx.render("engine/busy_with_draft.txt", word=text,
                                                     title=self.ctx.render(self.flow.title)))
        if mode == MODE_SUMMARY:
            return self.prompt(error=self.ctx.render("engine/summary_hint.txt"))
        if mode == MODE_GROUP:
            return self.handle_group(text)
        return self.answer(text)

    def handle_resume(self, text: str) -> Optional[Reply]:
        if text in W_RESUME:
            self.state["mode"] = self.state.get("resume_mode") or MODE_FIELDS
            return self.prompt()
        if text in W_RESTART:
            init = self.state["init"]
            fresh = new_state(self.flow, self.ctx, copy.deepcopy(init["data"]), copy.deepcopy(init["meta"]),
                              init.get("mode", MODE_FIELDS))
            fresh["started_at"] = self.ctx.now.isoformat()
            self.state.clear()
            self.state.update(fresh)
            if self.state["mode"] == MODE_SUMMARY:
                return self.show_summary()
            self.settle()
            return self.prompt()
        if text in W_CANCEL:
            self.finished = True
            return Reply(self.ctx.render("engine/cancelled.txt", title=self.ctx.render(self.flow.title)))
        self.touched = False
        return None  # another command: the draft keeps waiting

    def help(self) -> Reply:
        fld = self.current_field() if self.state["mode"] == MODE_FIELDS else None
        field_help = None
        if fld is not None and fld.help:
            field_help = self.render(fld.help, item=self.fc().item)
        text = self.ctx.render("engine/help.txt", mode=self.state["mode"], field_help=field_help,
                               title=self.ctx.render(self.flow.title), steps=len(self.flow.steps))
        self.state["attempts"] = 0
        return Reply(text + "\n\n" + self.prompt().text)

    def back(self) -> Reply:
        history = self.state["history"]
        if self.state["mode"] == MODE_GROUP:
            return self.leave_group()
        if not history:
            return self.prompt(error=self.ctx.render("engine/at_first.txt"))
        self.state["cursor"] = history.pop()
        self.state["mode"] = MODE_FIELDS
        self.state["edit"] = None
        self.state["pending"] = None
        self.state["attempts"] = 0
        return self.prompt()

    def edit(self, n: int) -> Reply:
        """修改 N: jump to step N (from the summary, or back to an answered step), then come back."""
        steps = self.flow.steps
        if not 1 <= n <= len(steps):
            return self.prompt(error=self.ctx.render("engine/bad_step.txt", n=n, m=len(steps)))
        s = n - 1
        reached = self.state["completed"] or s < self.state["cursor"][0]
        if not reached:
            return self.prompt(error=self.ctx.render("engine/not_reached.txt", n=n))
        back = MODE_SUMMARY if self.state["completed"] else list(self.state["cursor"])
        step = steps[s]
        self.state["pending"] = None
        self.state["attempts"] = 0
        if isinstance(step, Group):
            self.state["mode"] = MODE_GROUP
            self.state["group"] = s
            self.state["group_back"] = back
            return self.show_group()
        if not self.applies([s, 0, 0]):
            return self.prompt(error=self.ctx.render("engine/not_reached.txt", n=n))
        self.state["history"].append(list(self.state["cursor"]) if self.state["mode"] == MODE_FIELDS
                                     else [len(steps), 0, 0])
        self.state["edit"] = {"back": back}
        self.state["cursor"] = [s, 0, 0]
        self.state["mode"] = MODE_FIELDS
        return self.prompt()

    def handle_group(self, text: str) -> Reply:
        """The item list of a group: a number re-enters that item, 添加 / 删除 N for open groups."""
        s = self.state["group"]
        step = self.step(s)
        items = self.items(step)
        m = RE_NUMBER.match(text)
        if m:
            i = int(m.group(1)) - 1
            if not 0 <= i < len(items):
                return self.show_group(error=self.ctx.render("engine/bad_item.txt", n=i + 1, count=len(items)))
            return self.begin_item_edit(s, i)
        if not step.fixed and text in W_ADD:
            if len(items) >= step.max_items:
                return self.show_group(error=self.ctx.render("engine/too_many.txt", max=step.max_items))
            return self.begin_item_edit(s, len(items))
        m = RE_DELETE.match(text)
        if m and not step.fixed:
            i = int(m.group(1)) - 1
            if not 0 <= i < len(items):
                return self.show_group(error=self.ctx.render("engine/bad_item.txt", n=i + 1, count=len(items)))
            if len(items) <= step.min_items:
                return self.show_group(error=self.ctx.render("engine/too_few.txt", min=step.min_items))
            items.pop(i)
            return self.show_group()
        return self.show_group(error=self.ctx.render("engine/group_hint.txt", fixed=step.fixed))

    def leave_group(self) -> Reply:
        back = self.state.get("group_back") or MODE_SUMMARY
        if back == MODE_SUMMARY:
            self.enter_summary()
        else:
            self.state["mode"] = MODE_FIELDS
            self.state["cursor"] = back
            self.settle()
        return self.prompt()

    def begin_item_edit(self, s: int, i: int) -> Reply:
        self.state["edit"] = {"back": self.state.get("group_back") or MODE_SUMMARY}
        self.state["mode"] = MODE_FIELDS
        self.state["cursor"] = [s, i, 0]
        self.state["history"].append([len(self.flow.steps), 0, 0])
        self.settle()
        return self.prompt()

    def answer(self, text: str) -> Reply:
        """Parse an answer to the current field; store it and move on, or say what was wrong."""
        s, i, f = self.state["cursor"]
        step = self.step(s)
        fld = self.current_field()
        fc = self.fc()
        pending = self.state.get("pending")
        if pending:
            m = RE_NUMBER.match(text)
            if m and 1 <= int(m.group(1)) <= len(pending):
                return self.store(step, fld, fc, pending[int(m.group(1)) - 1][0])
            self.state["pending"] = None
        if isinstance(step, Group) and not step.fixed and f == 0 and i >= len(self.items(step)) \
                and text in W_DONE and not self.state.get("edit"):
            if i < step.min_items:
                return self.prompt(error=self.ctx.render("engine/too_few.txt", min=step.min_items))
            self.state["history"].append([s, i, f])
            self.state["cursor"] = [s + 1, 0, 0]
            self.state["attempts"] = 0
            self.settle()
            return self.prompt()
        try:
            value = self.parse(fld, fc, text)
        except Invalid as exc:
            self.state["attempts"] += 1
            return self.prompt(error=self.ctx.render(exc.template, **exc.kw))
        except Choose as exc:
            self.state["pending"] = [[v, label] for v, label in exc.options]
            return Reply(self.ctx.render(exc.template, options=[label for _v, label in exc.options], **exc.kw))
        return self.store(step, fld, fc, value)

    def parse(self, fld: Field, fc: FieldContext, text: str):
        if not text:
            raise Invalid("engine/err_blank.txt")
        if fld.choices is not None:
            options = fld.choices(fc)
            m = RE_NUMBER.match(text)
            if m:
                k = int(m.group(1))
                if 1 <= k <= len(options):
                    return options[k - 1][0]
                if fld.parse is None:
                    raise Invalid("engine/err_choice.txt", options=[label for _v, label in options])
            for value, label in options:
                if text == label:
                    return value
            if fld.parse is None:
                raise Invalid("engine/err_choice.txt", options=[label for _v, label in options])
        if fld.parse is None:
            return text
        return fld.parse(fc, text)

    def store(self, step: Step, fld: Field, fc: FieldContext, value) -> Reply:
        s, i, _f = self.state["cursor"]
        if isinstance(step, Group):
            items = self.items(step)
            while len(items) <= i:
                items.append({})
            items[i][fld.name] = value
        else:
            self.data[fld.name] = value
        self.advance()
        return self.prompt()

    def confirm(self) -> Reply:
        """确认: run the flow's checks and save in this transaction; the draft is dropped with the commit."""
        try:
            if self.flow.check is not None:
                self.flow.check(self.ctx, self.data, self.meta)
            with self.ctx.session.begin_nested():
                out = self.flow.save(self.ctx, self.data, self.meta)
        except Invalid as exc:
            return self.show_summary(error=self.ctx.render(exc.template, **exc.kw))
        self.finished = True
        return out if isinstance(out, Reply) else Reply(str(out))


def fixed_item(conv: Conversation, step: Step, i: int) -> Optional[dict]:
    """For a fixed group, the given item (e.g. the matter being reported on)."""
    if isinstance(step, Group) and step.fixed:
        items = conv.fixed_items(step)
        return items[i] if i < len(items) else None
    return None
