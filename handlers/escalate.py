"""提请督办 (escalation level 1, seed 000 §三(二)): the liaison of the item's lead unit (牵头单位; the
responsible unit's when the item has none other) raises an item — a responsible unit's liaison asks the
lead unit to, which is told — that spans departments and can't be settled. The supervision group's chat
gets the item with its history (a 保密 item only counted), and each member who may see the item a decision
card (kind `esc` in bot/actions/decision_kinds.py) in their own chat: 立项督办 (takes it on; the bot then asks
for the supervision deadline) or 退回督办 (the bot asks for the reason) — handlers/decisions.py. The typed
立项督办 <编号> <期限> and 退回督办 <编号> <原因> here run the same `decide`, so every member's card shows the
result whoever decided and however. A 保密 item's card goes only to the members who may see it in 查
(`bot.actions.escalation.deciders`). The changes and their notices are bot.actions.escalation's (which also
runs the automatic levels).

分解督办 <编号> (or 立项督办 <编号> <期限> 分解): the supervision group splits an item it took on into
sub-items — content, 主办/协办 units, deadline each, until 完成 — bot.actions.split.
"""
from __future__ import annotations

from bot.actions import decisions as D
from bot.actions.escalation import (
    do_ask_lead_unit_to_escalate,
    do_raise_escalation,
    escalation_of,
    lead_unit_of,
)
from bot.actions.split import SubItem, do_split_matter, may_split
from bot.conversation import engine
from bot.conversation import fields as F
from bot.conversation.engine import Field, Flow, Group
from bot.core.messages import Context, Reply
from bot.core.routing import Commands
from bot.domain.dateparse import DateAmbiguous, DateOk, parse_date
from handlers.common import first_word, is_unit_liaison, item_command
from models import ESC_RAISED, ESC_SUPERVISION_REQUEST, ROLE_ADMIN, ROLE_SUPERVISION, Matter

commands = Commands()


@commands.command("提请督办", "申请督办", summary="提请督导考核组分解督办：提请督办 编号 理由", order=58,
                roles=("unit_liaison",))
def raise_request(ctx: Context, args: str) -> Reply:
    def run(matter: Matter, reason: str) -> Reply:
        if not reason.strip():
            return Reply(ctx.render("escalate/need_reason.txt", m=matter))
        lead = lead_unit_of(matter)
        if lead is not None and lead.id not in ctx.roles.liaison_unit_ids:  # the lead unit raises it
            liaison = do_ask_lead_unit_to_escalate(ctx, matter, reason)
            return Reply(ctx.render("escalate/asked_lead_unit.txt", m=matter, lead=lead, liaison=liaison))
        esc = do_raise_escalation(ctx, matter, ESC_SUPERVISION_REQUEST, reason)
        if esc is None:
            existing = escalation_of(ctx.session, matter, ESC_SUPERVISION_REQUEST)
            return Reply(ctx.render("escalate/already.txt", m=matter, esc=existing))
        return Reply(ctx.render("escalate/raised.txt", m=matter))

    return item_command(ctx, args, usage="escalate/usage.txt", may=may_raise,
                        denied="escalate/not_unit_liaison.txt", run=run)


def may_raise(ctx: Context, matter: Matter) -> bool:
    """The liaison of the item's lead unit raises 提请督办; its responsible unit's liaison may ask for it."""
    lead = lead_unit_of(matter)
    return is_unit_liaison(ctx, matter) or (lead is not None and lead.id in ctx.roles.liaison_unit_ids)


def _decide(ctx: Context, args: str, accept: bool) -> Reply:
    """The typed 立项督办 / 退回督办: the same `decide` as a tap on the card (kind `esc`), so every member's card
    shows the result whoever decided and however."""
    if not ctx.roles.has(ROLE_SUPERVISION, ROLE_ADMIN):
        return Reply(ctx.render("escalate/not_supervision.txt"))

    def run(matter: Matter, rest: str) -> Reply:
        esc = escalation_of(ctx.session, matter, ESC_SUPERVISION_REQUEST)
        if esc is None or esc.state != ESC_RAISED:
            return Reply(ctx.render("escalate/nothing_raised.txt", m=matter, esc=esc))
        answer = rest
        split = False
        if accept:
            when, note = first_word(rest)
            result = parse_date(when, ctx.now.date(), "future") if when else None
            if isinstance(result, DateAmbiguous):
                return Reply(ctx.render("escalate/ambiguous_date.txt", text=when, candidates=result.candidates,
                                        m=matter))
            if not isinstance(result, DateOk):
                return Reply(ctx.render("escalate/need_deadline.txt", m=matter, text=when))
            split = note.strip().startswith(SPLIT_WORDS)
            if split:
                note = note.strip()[2:].strip()
            answer = D.Deadline(result.value, note)
        try:
            decided = D.decide(ctx, "esc", esc, "accept" if accept else "return", answer)
        except D.Closed:  # decided by another member meanwhile
            return Reply(ctx.render("escalate/nothing_raised.txt", m=matter, esc=esc))
        except D.Refused:
            return Reply(ctx.render("escalate/not_supervision.txt"))
        if split:  # the form starts at once: the hint to send 分解督办 would be one step behind
            decided = ctx.render("escalate/decided.txt", m=matter, esc=esc, accept=True, splittable=False)
            return Reply(decided + "\n\n" + _start_split(ctx, matter).text)
        return Reply(decided)

    return item_command(ctx, args, usage="escalate/usage.txt", run=run,
                        errors={"reason_required": "escalate/need_reason_return.txt"})


@commands.command("立项督办", summary="督导考核组立项督办：立项督办 编号 督办时限（或点待办卡片）", order=59,
                roles=("supervision_member", "admin"))
def accept(ctx: Context, args: str) -> Reply:
    return _decide(ctx, args, True)


@commands.command("退回督办", summary="督导考核组退回督办申请：退回督办 编号 原因（或点待办卡片）", order=59,
                roles=("supervision_member", "admin"))
def refuse(ctx: Context, args: str) -> Reply:
    return _decide(ctx, args, False)


# -- 分解督办 -------------------------------------------------------------------------------------------
SPLIT_WORDS = ("分解",)


def save_split(ctx: Context, data: dict, meta: dict) -> Reply:
    parent = ctx.session.get(Matter, meta["parent_id"])
    subs = [SubItem(x["title"], x["units"]["id"], F.parse_iso(x["deadline"]), F.assist_ids(x["units"]))
            for x in data["subs"]]
    created = do_split_matter(ctx, parent, subs)
    return Reply(ctx.render("split/saved.txt", m=parent, subs=created))


SPLIT_FLOW = commands.flow(Flow(
    name="split",
    steps=[
        Group("subs", [
            Field("title", "split/ask_title.txt", F.text(1000, min_len=2)),
            Field("units", "split/ask_units.txt", F.a_units()),
            Field("deadline", "split/ask_deadline.txt", F.a_date("future")),
        ]),
    ],
    save=save_split,
))


def _start_split(ctx: Context, matter: Matter) -> Reply:
    why = may_split(ctx.session, matter)
    if why is not None:
        return Reply(ctx.render("status/transition_error.txt", code=why, info={"item": matter.code}))
    return engine.start(ctx, SPLIT_FLOW, meta={"parent_id": matter.id, "parent_code": matter.code,
                                               "parent_title": matter.title})


@commands.command("分解督办", "分解", summary="督导考核组分解督办：分解督办 编号（逐项录入子项、主办/协办单位、时限）",
                order=59, roles=("supervision_member", "admin"))
def split(ctx: Context, args: str) -> Reply:
    if not ctx.roles.has(ROLE_SUPERVISION, ROLE_ADMIN):
        return Reply(ctx.render("escalate/not_supervision.txt"))
    return item_command(ctx, args, usage="split/usage.txt", run=lambda matter, _rest: _start_split(ctx, matter))
