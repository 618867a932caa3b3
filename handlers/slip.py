"""交办单: an assignment slip (seed 000 附件4) — drafted in chat, signed by the dispatching leader, issued.

Drafter: 交办单 → leader, 调度时间, rows (事项名称, 难点痛点堵点, 解决措施, 责任单位, 完成时限) until 完成 →
确认: the slip (state pending_signature, rows kept in `draft`) goes to the leader.
Leader: 同意 JB3 (or 签发) → issued: rows become ledger items J<id>, each responsible unit's liaison is told,
the supervision group gets a copy; 退回 JB3 原因 → returned to the drafter, who types 修改交办单 JB3 to edit
and resubmit.
"""
from __future__ import annotations


from sqlalchemy import select

from bot.actions.slip import do_return_slip, do_sign_slip, do_submit_slip
from bot.core.messages import Context, Reply
from bot.domain.codes import find_slip, split_code, split_code_strict
from bot.domain.ledger import TransitionError
from bot.conversation import engine
from bot.core.routing import Commands
from handlers import projects
from bot.conversation import fields as F
from bot.conversation.engine import Field, FieldContext, Flow, Group, Invalid
from handlers.closeout import return_for_redo
from handlers.minutes import may_dispatch
from models import SLIP_PENDING, SLIP_RETURNED, AssignmentSlip, Person

commands = Commands()



def dispatched_on(fc: FieldContext):
    return F.parse_iso(fc.data.get("dispatched_on"))


def check(ctx: Context, data: dict, meta: dict) -> None:
    start = F.parse_iso(data.get("dispatched_on"))
    for k, row in enumerate(data.get("rows", []), 1):
        due = F.parse_iso(row.get("deadline"))
        if start and due and due < start:
            raise Invalid("slip/err_deadline_before.txt", no=k, deadline=due, start=start)


def save(ctx: Context, data: dict, meta: dict) -> Reply:
    """确认 by the drafter: a new slip, or a returned one resubmitted; either way it goes to the leader."""
    s = ctx.session
    leader = s.get(Person, data["leader"]["id"])
    draft = {"leader": data["leader"], "dispatched_on": data["dispatched_on"], "rows": data["rows"]}
    editing = None
    if meta.get("slip_id"):
        editing = s.get(AssignmentSlip, meta["slip_id"])
        if editing is None:
            raise Invalid("slip/err_not_editable.txt")
    try:
        slip, rev = do_submit_slip(ctx, leader=leader, dispatched_on=F.parse_iso(data["dispatched_on"]), draft=draft,
                                   slip=editing)
    except TransitionError as exc:
        raise Invalid("slip/err_not_editable.txt") from exc
    return Reply(ctx.render("slip/submitted.txt", slip=slip, leader=leader, rev=rev))


FLOW = commands.flow(Flow(
    name="slip",
    steps=[
        Field("leader", "slip/ask_leader.txt", F.a_leader, choices=F.leader_choices),
        Field("dispatched_on", "slip/ask_date.txt", F.a_date("past")),
        Group("rows", [
            Field("title", "slip/ask_title.txt", F.text(300, min_len=2)),
            Field("obstacles", "slip/ask_obstacles.txt", F.text(1000, min_len=2)),
            Field("measures", "slip/ask_measures.txt", F.text(1000, min_len=2)),
            Field("responsible_unit", "slip/ask_unit.txt", F.a_unit()),
            Field("deadline", "slip/ask_deadline.txt",
                  F.a_date("future", not_before=dispatched_on, not_before_template="slip/err_deadline_floor.txt")),
        ]),
    ],
    save=save,
    check=check,
))


@commands.command("交办单", menu_key="slip", summary="起草事项交办单，送领导签发", order=30,
                roles=("unit_liaison", "office_liaison", "liaison_group_member", "admin"))
def draft_slip(ctx: Context, args: str):
    if not may_dispatch(ctx):
        return ctx.render("slip/denied.txt")
    return engine.start(ctx, FLOW)


@commands.command("修改交办单", order=31)
def edit_slip(ctx: Context, args: str):
    """The drafter reopens a returned slip at its summary (修改 N, then 确认 resubmits it)."""
    slip = find_slip(ctx.session, args) if args else ctx.session.scalar(
        select(AssignmentSlip).where(AssignmentSlip.drafted_by_id == ctx.person.id,
                                     AssignmentSlip.state == SLIP_RETURNED).order_by(AssignmentSlip.id.desc()))
    if slip is None or slip.drafted_by_id != ctx.person.id:  # someone else's slip: as if there were none
        return ctx.render("slip/not_found.txt", code=args, role="drafter")
    if slip.state != SLIP_RETURNED:
        return ctx.render("slip/not_returned.txt", slip=slip)
    draft = slip.draft or {}
    data = {"leader": draft["leader"], "dispatched_on": draft["dispatched_on"], "rows": draft["rows"]}
    reply = engine.start(ctx, FLOW, data=data, meta={"slip_id": slip.id}, at_summary=True)
    return Reply(ctx.render("slip/reopened.txt", slip=slip) + "\n\n" + reply.text)


def pending_for(ctx: Context, args: str, returning: bool = False):
    """(slip, rest of args, error reply) for a leader's 同意/退回: the named slip, or the only pending one
    when no code is given. A code that does not parse, or names no slip of this leader's, is answered alike."""
    code, rest, malformed = split_code_strict(args)
    if malformed or (code is not None and code.is_matter):
        return None, "", ctx.render("slip/not_found.txt", code=(args or "").split()[0], role="leader")
    if code is not None:
        slip = find_slip(ctx.session, str(code))
        if slip is None or slip.leader_id != ctx.person.id:
            return None, "", ctx.render("slip/not_found.txt", code=str(code), role="leader")
        if slip.state != SLIP_PENDING:
            return None, "", ctx.render("slip/not_pending.txt", slip=slip)
        return slip, rest, None
    pending = list(ctx.session.scalars(select(AssignmentSlip).where(
        AssignmentSlip.leader_id == ctx.person.id, AssignmentSlip.state == SLIP_PENDING).order_by(AssignmentSlip.id)))
    if len(pending) == 1:
        return pending[0], (args or "").strip(), None
    return None, "", ctx.render("slip/which.txt", slips=pending, returning=returning)


@commands.command("同意", "签发", summary="签发交办单：同意 编号（退回：退回 编号 原因）", order=32, roles=("leader",))
def sign(ctx: Context, args: str):
    """The leader signs: the slip is issued and its rows enter the ledger."""
    out = projects.approval_hook(ctx, args, approve=True)  # seed 001's forms, topics, minutes share the word
    if out is not None:
        return out
    slip, _rest, error = pending_for(ctx, args)
    if error:
        return error
    try:
        rows = do_sign_slip(ctx, slip)
    except TransitionError:
        return ctx.render("slip/not_pending.txt", slip=slip)
    return ctx.render("slip/signed.txt", slip=slip, rows=rows)


@commands.command("退回", order=33)
def return_slip(ctx: Context, args: str):
    """The leader returns the slip to its drafter with a reason. An item code (M/J) names a ledger item,
    not a slip: that is the item's 退回重办; a key-project code (a form, a topic, minutes) is that approval's."""
    out = projects.approval_hook(ctx, args, approve=False)
    if out is not None:
        return out
    code, _rest = split_code(args)
    if code is not None and code.is_matter:
        return return_for_redo(ctx, args)
    slip, reason, error = pending_for(ctx, args, returning=True)
    if error:
        return error
    if not reason or not any(ch.isalnum() for ch in reason):
        return ctx.render("slip/need_reason.txt", slip=slip)
    if len(reason) > 1000:
        return ctx.render("engine/err_too_long.txt", max=1000, got=len(reason))
    try:
        do_return_slip(ctx, slip, reason)
    except TransitionError:
        return ctx.render("slip/not_pending.txt", slip=slip)
    return ctx.render("slip/returned.txt", slip=slip, reason=reason)
