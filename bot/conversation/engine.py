"""The conversation engine: multi-step forms in chat (python-telegram-bot ConversationHandler style).

Three parts, each in its own module:
- the typed draft (bot/conversation/draft.py): one person's place in a flow and the answers so far;
- navigation (bot/conversation/navigate.py): pure functions (flow, draft, text) -> (new draft, what to show);
- the store (bot/conversation/store.py): where the draft lives between messages (the shared key-value
  store when there is one, else the database), with compare-and-set.

This module joins them for one message: load the draft, find its flow among those the router collected
(`commands.flow(FLOW)` in each handler module), move, render what navigation asked for, and store the new
draft — or, on 确认, run the flow's `save(ctx, data, meta)` in the message's transaction and drop the draft.

Public API (see docs/conversations.md): Flow, Field, Group, Invalid, Choose, FieldContext, start,
active_flow, drop, plus the parsers in bot/conversation/fields.py.
"""
from __future__ import annotations

import logging
import re
from datetime import date, timedelta
from typing import Optional

from bot.conversation import navigate as nav
from bot.conversation.draft import GROUP, ITEM, RESUME, SUMMARY, Draft, Then, Unreadable
from bot.conversation.flow import MAX_OPTIONS, Choose, Field, FieldContext, Flow, Group, Invalid, Parser, Step  # noqa: F401
from bot.conversation.navigate import MAX_ATTEMPTS, Env, Msg, Show  # noqa: F401
from bot.conversation.store import Conflict, Lost, Stored, finish, store_for  # noqa: F401
from bot.core.messages import Context, Reply
from bot.core.routing import Commands, as_reply
from bot.delivery.textsplit import split_utf8, utf8_len
from bot.domain.responsibility import format_unit_roles
from bot.infra import metrics
from bot.infra.text import cn_date, env

commands = Commands()

log = logging.getLogger(__name__)


# -- template helpers ---------------------------------------------------------------------------------
def as_date(value) -> Optional[date]:
    """A stored ISO date string back to a date (templates: `x | as_date | cn_date`)."""
    if not value or isinstance(value, date):
        return value or None
    return date.fromisoformat(value)


env.filters.setdefault("as_date", as_date)

RE_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def display(value) -> str:
    """A stored value as people read it (units/people have a name, dates are shown the Chinese way). A
    date-shaped text that is not a date (a title "2026-02-30") is shown as typed."""
    if value is None:
        return ""
    if isinstance(value, dict):
        if value.get("assist"):  # several responsible units (fields.a_units)
            return format_unit_roles(value["name"], [u["name"] for u in value["assist"]])
        return str(value.get("name") or value.get("label") or "")
    if isinstance(value, str) and RE_ISO_DATE.fullmatch(value):
        try:
            return cn_date(date.fromisoformat(value))
        except ValueError:
            return value
    return str(value)


env.filters.setdefault("show", display)


class AlreadySaved(Exception):
    """The draft's tombstone exists: another message saved it first."""


def state_key(person_id: int) -> str:
    return f"person:{person_id}"


def user_key(ctx: Context) -> str:
    return state_key(ctx.person.id)


def flow_named(ctx: Context, name: str) -> Optional[Flow]:
    return ctx.runtime.router.flows.get(name)


def env_of(ctx: Context) -> Env:
    settings = ctx.runtime.settings
    router = ctx.runtime.router

    def is_command(text: str) -> bool:  # the router's own test (with or without arguments: 提请督办 M9)
        cmd, _args = router.find(text)
        return cmd is not None

    return Env(now=ctx.now, ctx=ctx, idle=timedelta(minutes=settings.CONVERSATION_IDLE_MINUTES),
               is_command=is_command)


def reply_limit(ctx: Context) -> int:
    """The most UTF-8 bytes one passive text reply may carry on the message's channel."""
    from bot.channels.dingtalk import api as dingtalk_api
    from bot.channels.wecom import api as wecom_api

    return dingtalk_api.TEXT_MAX_BYTES if ctx.channel == "dingtalk" else wecom_api.TEXT_MAX_BYTES


def has_work(draft: Draft) -> bool:
    """The person has answered something in the draft (an untouched one is simply replaced)."""
    return bool(draft.history) or draft.data != draft.init.data


def waiting_draft(ctx: Context, loaded) -> Optional[Draft]:
    """The stored draft a new start must not silently replace: readable, of a known flow, not expired, worked on."""
    if not isinstance(loaded, Stored):
        return None
    try:
        draft = Draft.from_doc(loaded.doc)
    except Unreadable:
        return None
    if flow_named(ctx, draft.flow) is None or not has_work(draft):
        return None
    if ctx.now - draft.updated_at > timedelta(hours=ctx.runtime.settings.DRAFT_KEEP_HOURS):
        return None
    return draft


# -- the public API -----------------------------------------------------------------------------------
def start(ctx: Context, flow: Flow, *, data: Optional[dict] = None, meta: Optional[dict] = None,
          at_summary: bool = False, intro: str = "") -> Reply:
    """Begin `flow` for ctx.person and return the first prompt (after `intro`, when given).
    `at_summary` starts from the summary with `data` already filled (editing a returned slip).
    A draft the person has worked on is never replaced silently: it is offered back (继续), and this
    start waits behind it (重新开始 begins it)."""
    store = store_for(ctx.runtime)
    key = user_key(ctx)
    loaded = store.load(ctx.session, key)
    old = waiting_draft(ctx, loaded)
    if old is not None:
        if old.mode != RESUME:
            old.resume_mode, old.mode = old.mode, RESUME
        old.offer = None
        old.then = Then(flow=flow.name, data=data or {}, meta=meta or {}, at_summary=at_summary, intro=intro)
        store.save(ctx.session, key, old.to_doc(), loaded.version, ctx.now)
        return Reply(ctx.render("engine/waiting.txt", title=ctx.render(flow_named(ctx, old.flow).title),
                                new=ctx.render(flow.title), same=old.flow == flow.name,
                                started_at=old.started_at, updated_at=old.updated_at))
    return begin(ctx, store, key, flow, loaded.version if loaded else None, data, meta, at_summary, intro)


def begin(ctx: Context, store, key: str, flow: Flow, version: Optional[int], data, meta, at_summary: bool,
          intro: str) -> Reply:
    draft, show = nav.start(flow, env_of(ctx), data, meta, at_summary)
    metrics.CONVERSATION_STEPS.labels(flow.name, "start").inc()
    reply = render(ctx, flow, draft, show)
    store.save(ctx.session, key, draft.to_doc(), version, ctx.now, fresh=True)
    return Reply(intro + "\n\n" + reply.text) if intro else reply


def active_flow(ctx: Context) -> Optional[str]:
    """The name of the flow of ctx.person's stored draft, if any."""
    loaded = store_for(ctx.runtime).load(ctx.session, user_key(ctx))
    return loaded.doc.get("flow") if isinstance(loaded, Stored) else None


def drop(ctx: Context) -> None:
    """Forget ctx.person's draft."""
    store = store_for(ctx.runtime)
    loaded = store.load(ctx.session, user_key(ctx))
    store.delete(ctx.session, user_key(ctx), loaded.doc.get("id") if isinstance(loaded, Stored) else None)


@commands.interceptor(priority=10, state=state_key)
def intercept(ctx: Context, text: str) -> Optional[Reply]:
    """Give the message to the person's open draft, if there is one."""
    store = store_for(ctx.runtime)
    key = user_key(ctx)
    loaded = store.load(ctx.session, key)
    if loaded is None:
        return None
    if isinstance(loaded, Lost):
        return lost(ctx, store, key, loaded.flow, text)
    try:
        draft = Draft.from_doc(loaded.doc)
    except Unreadable as exc:
        log.warning("draft %s unreadable (%s): dropped", key, exc)
        return lost(ctx, store, key, str(loaded.doc.get("flow", "")) if isinstance(loaded.doc, dict) else "", text)
    flow = flow_named(ctx, draft.flow)
    if flow is None or ctx.now - draft.updated_at > timedelta(hours=ctx.runtime.settings.DRAFT_KEEP_HOURS):
        store.delete(ctx.session, key, draft.id)
        return None
    new, show = nav.handle(flow, draft, text, env_of(ctx))
    if show.screen == nav.PASS:  # not for us (a command while a draft waits to be resumed): the draft is kept
        if new.to_doc() != loaded.doc:
            store.save(ctx.session, key, new.to_doc(), loaded.version, ctx.now)
        return None
    metrics.CONVERSATION_STEPS.labels(flow.name, str(show.screen)).inc()
    if show.screen == nav.RUN:  # 是: the draft paused (继续 brings it back), the command run now
        store.save(ctx.session, key, new.to_doc(), loaded.version, ctx.now)
        cmd, args = ctx.runtime.router.find(show.command or "")
        out = as_reply(cmd.func(ctx, args)) if cmd is not None else None
        return out or Reply(ctx.render("engine/paused.txt", title=ctx.render(flow.title)))
    if show.screen == nav.THEN:  # 重新开始 on a draft a newer start waited behind: that one begins
        then = new.then
        other = flow_named(ctx, then.flow)
        if other is None:
            store.delete(ctx.session, key, new.id)
            return None
        return begin(ctx, store, key, other, loaded.version, then.data, then.meta, then.at_summary, then.intro)
    if show.screen == nav.CANCELLED:
        store.delete(ctx.session, key, new.id)
        return Reply(ctx.render("engine/cancelled.txt", title=ctx.render(flow.title)))
    if show.screen == nav.SAVE:
        try:
            if flow.check is not None:
                flow.check(ctx, new.data, new.meta)
            with ctx.session.begin_nested():
                if not finish(ctx.session, new.id):
                    raise AlreadySaved
                out = flow.save(ctx, new.data, new.meta)
        except AlreadySaved:
            store.delete(ctx.session, key, None)
            return Reply(ctx.render("engine/already_saved.txt", title=ctx.render(flow.title)))
        except Invalid as exc:
            reply = summary(ctx, flow, new, error=message(ctx, flow, Msg(exc.template, exc.kw)))
        else:
            store.delete(ctx.session, key, None)  # its tombstone is written: `finish` above
            return out if isinstance(out, Reply) else Reply(str(out))
    else:
        reply = render(ctx, flow, new, show)
    store.save(ctx.session, key, new.to_doc(), loaded.version, ctx.now)
    return reply


def lost(ctx: Context, store, key: str, flow_name: str, text: str) -> Optional[Reply]:
    """The person had a draft that is gone (expired in, or lost by, the key-value store): say so once,
    unless they have moved on to another command."""
    store.delete(ctx.session, key, None)
    cmd, _args = ctx.runtime.router.find(text)
    if cmd is not None or not text:
        return None
    flow = flow_named(ctx, flow_name)
    return Reply(ctx.render("engine/lost.txt", title=ctx.render(flow.title) if flow else "", text=text))


# -- rendering what navigation asked for ----------------------------------------------------------
def message(ctx: Context, flow: Flow, msg: Optional[Msg]) -> Optional[str]:
    if msg is None:
        return None
    return ctx.render(msg.template, **{"title": ctx.render(flow.title), **msg.kw})


def render(ctx: Context, flow: Flow, draft: Draft, show: Show) -> Reply:
    e = env_of(ctx)
    error = message(ctx, flow, show.error)
    if show.screen == nav.CHOOSE:
        return Reply(ctx.render(show.choose.template, **show.choose.kw))
    if show.screen == nav.OFFER:
        return Reply(ctx.render("engine/resume.txt", title=ctx.render(flow.title), started_at=draft.started_at,
                                updated_at=draft.updated_at))
    if show.screen == nav.ASK:
        k, n = nav.step_number(flow, draft, e)
        return Reply(ctx.render("engine/command_offer.txt", title=ctx.render(flow.title), word=draft.offer,
                                k=k, n=n, mode=draft.mode))
    if show.screen == nav.HELP:
        fld = nav.field_at(flow, draft.cursor) if draft.mode == nav.FIELDS else None
        field_help = None
        if fld is not None and fld.help:
            field_help = ctx.render(fld.help, data=draft.data, meta=draft.meta,
                                    item=nav.context_at(flow, draft, e).item)
        text = ctx.render("engine/help.txt", mode=draft.mode, field_help=field_help, title=ctx.render(flow.title),
                          steps=len(flow.steps))
        return Reply(text + "\n\n" + screen(ctx, flow, draft, e).text)
    if show.screen == nav.VIEW:
        return Reply(ctx.render("engine/view.txt", body=summary_text(ctx, flow, draft)) + "\n\n"
                     + screen(ctx, flow, draft, e).text)
    return screen(ctx, flow, draft, e, error)


def screen(ctx: Context, flow: Flow, draft: Draft, e: Env, error: Optional[str] = None) -> Reply:
    """What the draft's mode shows: the summary, a group's item list, or the question at the cursor."""
    if draft.mode == SUMMARY:
        return summary(ctx, flow, draft, error)
    if draft.mode == GROUP:
        return group_list(ctx, flow, draft, error)
    if draft.mode == ITEM:
        return item_page(ctx, flow, draft, e, error)
    return question(ctx, flow, draft, e, error)


def question(ctx: Context, flow: Flow, draft: Draft, e: Env, error: Optional[str] = None) -> Reply:
    """The current question, with its step header and (after an invalid answer) what was wrong."""
    s, i, f = draft.cursor
    step = nav.step_at(flow, s)
    fld = nav.field_at(flow, draft.cursor)
    fc = nav.context_at(flow, draft, e)
    options = fld.choices(fc) if fld.choices else None
    current = (fc.item if isinstance(step, Group) else draft.data).get(fld.name)
    shown = next((label for v, label in options if v == current), None) if options else None
    body = ctx.render(fld.prompt, data=draft.data, meta=draft.meta, item=fc.item, index=i, options=options,
                      current=current, fixed=nav.fixed_item(flow, draft, e, step, i))
    k, n = nav.step_number(flow, draft, e)
    group = None
    if isinstance(step, Group):
        group = {"name": step.name, "no": i + 1, "fixed": step.fixed,
                 "total": len(nav.fixed_items(flow, draft, e, step)) if step.fixed else None,
                 "can_finish": nav.can_finish_group(flow, draft)}
    container = fc.item if isinstance(step, Group) else draft.data
    text = ctx.render("engine/step.txt", title=ctx.render(flow.title), n=k, m=n, body=body,
                      error=error, group=group, current=shown or display(current),
                      has_value=container is not None and fld.name in container,
                      stuck=draft.attempts >= MAX_ATTEMPTS, editing=draft.edit is not None,
                      first=not draft.history)
    return Reply(text)


def view_data(flow: Flow, draft: Draft) -> dict:
    """The draft with every field present ("" when not answered yet), for 查看 before the end."""
    view = dict(draft.data)
    for step in flow.steps:
        if isinstance(step, Group):
            view[step.name] = [{**{fld.name: "" for fld in step.fields}, **item}
                               for item in draft.data.get(step.name, []) if item]
        else:
            view.setdefault(step.name, "")
    return view


def summary_text(ctx: Context, flow: Flow, draft: Draft) -> str:
    num = {step.name: k + 1 for k, step in enumerate(flow.steps)}
    return ctx.render(flow.summary, data=view_data(flow, draft), meta=draft.meta, num=num)


def paged(ctx: Context, template: str, body: str, draft: Draft, **kw) -> Reply:
    """`template` with the whole `body` when it fits one reply on this channel, else with page `page` of it
    (cut at line breaks; the template says 第 p/P 页 and 回复“下一页”). Nothing is clipped. The draft's page is
    kept within the pages there are."""
    limit = reply_limit(ctx)
    whole = ctx.render(template, body=body, page=None, pages=1, **kw)
    if utf8_len(whole) <= limit:
        draft.page = 0
        return Reply(whole)
    frame = utf8_len(ctx.render(template, body="", page=99, pages=99, **kw))
    chunks = [c.strip("\n") for c in split_utf8(body, max(200, limit - frame - 8))]
    page = draft.page = max(0, min(draft.page, len(chunks) - 1))
    return Reply(ctx.render(template, body=chunks[page], page=page + 1, pages=len(chunks), **kw))


def summary(ctx: Context, flow: Flow, draft: Draft, error: Optional[str] = None) -> Reply:
    problem = None
    if flow.check is not None:
        try:
            flow.check(ctx, draft.data, draft.meta)
        except Invalid as exc:
            problem = ctx.render(exc.template, **exc.kw)
    return paged(ctx, "engine/summary.txt", summary_text(ctx, flow, draft), draft, title=ctx.render(flow.title),
                 error=error, problem=problem, steps=len(flow.steps))


def group_list(ctx: Context, flow: Flow, draft: Draft, error: Optional[str] = None) -> Reply:
    step = nav.step_at(flow, draft.group)
    count = len(nav.items_of(draft, step))
    return paged(ctx, "engine/group.txt", summary_text(ctx, flow, draft), draft, title=ctx.render(flow.title),
                 error=error, fixed=step.fixed, count=count, can_delete=count > step.min_items)


def item_page(ctx: Context, flow: Flow, draft: Draft, e: Env, error: Optional[str] = None) -> Reply:
    """修改 on an item: its fields, numbered, with what each holds now."""
    s, i = draft.group, draft.item or 0
    step = nav.step_at(flow, s)
    item = nav.items_of(draft, step)[i]
    fc = nav.context_at(flow, draft, e, (s, i, 0))
    rows = []
    for _f, fld in nav.item_fields(flow, draft, e, s, i):
        value = item.get(fld.name)
        options = fld.choices(fc) if fld.choices else None
        label = next((lbl for v, lbl in options if v == value), None) if options else None
        rows.append((fld.title, label or display(value)))
    return Reply(ctx.render("engine/item.txt", title=ctx.render(flow.title), no=i + 1, rows=rows, error=error,
                            fixed=nav.fixed_item(flow, draft, e, step, i)))
