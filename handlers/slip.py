"""交办单: an assignment slip (seed 000 附件4) — drafted in chat, signed by the dispatching leader, issued.

Drafter: 交办单 → leader, 调度时间, rows (事项名称, 难点痛点堵点, 解决措施, 责任单位, 完成时限) until 完成 →
确认: the slip (state pending_signature, rows kept in `draft`) goes to the leader.
Leader: 同意 JB3 (or 签发) → issued: rows become ledger items J<id>, each responsible unit's liaison is told,
the supervision group gets a copy; 退回 JB3 原因 → returned to the drafter, who types 修改交办单 JB3 to edit
and resubmit.
"""
from __future__ import annotations

import re

from sqlalchemy import select

from bot.actions.minutes import (
    do_resubmit_minutes,
    do_set_confidential,
    do_withdraw_minutes,
)
from bot.actions.slip import do_submit_slip, do_withdraw_slip
from bot.conversation import engine
from bot.conversation import fields as F
from bot.conversation.engine import Field, FieldContext, Flow, Group, Invalid
from bot.core.messages import Context, Reply
from bot.core.routing import Commands
from bot.domain.codes import find_slip, split_code, split_code_strict, split_minutes_ref
from bot.domain.ledger import TransitionError
from bot.domain.scope import can_see_record
from handlers import decisions, projects
from handlers.closeout import return_for_redo
from handlers.common import paged
from handlers.minutes import may_dispatch
from models import (
    MINUTES_DRAFTED,
    MINUTES_ISSUED,
    SLIP_ISSUED,
    SLIP_PENDING,
    SLIP_RETURNED,
    AssignmentSlip,
    Minutes,
    Person,
)

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
            Field("title", "slip/ask_title.txt", F.text(300, min_len=2), label="事项名称"),
            Field("obstacles", "slip/ask_obstacles.txt", F.text(1000, min_len=2), label="难点痛点堵点"),
            Field("measures", "slip/ask_measures.txt", F.text(1000, min_len=2), label="解决措施"),
            Field("responsible_unit", "slip/ask_unit.txt", F.a_units(), label="责任单位"),
            Field("deadline", "slip/ask_deadline.txt",
                  F.a_date("future", not_before=dispatched_on, not_before_template="slip/err_deadline_floor.txt"),
                  label="完成时限"),
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


def awaiting(ctx: Context) -> list:
    """What awaits the leader's signature: slips pending, then minutes drafts sent to sign (送签)."""
    slips = list(ctx.session.scalars(select(AssignmentSlip).where(
        AssignmentSlip.leader_id == ctx.person.id, AssignmentSlip.state == SLIP_PENDING).order_by(AssignmentSlip.id)))
    minutes = list(ctx.session.scalars(select(Minutes).where(
        Minutes.leader_id == ctx.person.id, Minutes.state == MINUTES_DRAFTED).order_by(Minutes.id)))
    return slips + minutes


def pending_for(ctx: Context, args: str, returning: bool = False):
    """(slip or minutes, rest of args, error reply) for a leader's 同意/退回: the named slip (JB3) or minutes
    (纪要2), or the only record awaiting them when none is named. A code that does not parse, or that names no
    record of this leader's, is answered alike: nothing tells that someone else's exists."""
    minutes_id, minutes_rest = split_minutes_ref(args)
    if minutes_id is not None:
        minutes = ctx.session.get(Minutes, minutes_id)
        if minutes is None or minutes.leader_id != ctx.person.id:
            return None, "", ctx.render("slip/minutes_not_found.txt", ref=minutes_id)
        if minutes.state != MINUTES_DRAFTED:
            return None, "", ctx.render("slip/not_pending.txt", slip=minutes, minutes=True)
        return minutes, minutes_rest, None
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
    pending = awaiting(ctx)
    if len(pending) == 1:
        return pending[0], (args or "").strip(), None
    return None, "", ctx.render("slip/which.txt", slips=[p for p in pending if isinstance(p, AssignmentSlip)],
                                minutes=[p for p in pending if isinstance(p, Minutes)], returning=returning)


@commands.command("待签", "待签发", summary="查看待您签发的交办单和会议纪要", order=32, roles=("leader",))
def to_sign(ctx: Context, args: str):
    """The leader's list of what awaits their signature, each shown in full."""
    pending = awaiting(ctx)
    return paged(ctx, ctx.render("slip/awaiting.txt", slips=[p for p in pending if isinstance(p, AssignmentSlip)],
                                 minutes=[p for p in pending if isinstance(p, Minutes)]))


@commands.command("同意", "签发", summary="签发交办单或会议纪要：同意 编号（退回：退回 编号 原因）", order=32,
                roles=("leader",))
def sign(ctx: Context, args: str):
    """The leader signs: a slip is issued and its rows enter the ledger; minutes are issued (印发). What will
    be signed is shown first and takes a 确认 (handlers/decisions.py); with several pending and none named,
    the leader picks by number; `同意 JB3 JB4` confirms both, or says which cannot be signed and why. Seed
    001's forms, topics and meeting minutes share the word (their codes)."""
    out = projects.approval_hook(ctx, args, approve=True)
    if out is not None:
        return out
    if not (args or "").strip():
        pending = awaiting(ctx)
        if not pending:
            return ctx.render("slip/which.txt", slips=[], minutes=[], returning=False)
        found = [(kind_of(r), r) for r in pending]
        if len(found) == 1:
            return decisions.ask_confirm(ctx, found, "sign", [])
        return decisions.ask_which(ctx, found, "sign")
    found, problems = [], []
    named = re.sub(r"(纪要|JB|jb)\s+(?=\d)", r"\1", args.strip())  # "纪要 2" is one name
    for token in re.split(r"[\s,，、]+", named):
        record, _rest, error = pending_for(ctx, token)
        if error:
            problems.append(error)
        elif all(r is not record for _k, r in found):
            found.append((kind_of(record), record))
    return decisions.ask_confirm(ctx, found, "sign", problems)


def kind_of(record) -> str:
    return "minutes" if isinstance(record, Minutes) else "slip"


@commands.command("退回", order=33)
def return_slip(ctx: Context, args: str):
    """The leader returns a slip or minutes to its drafter with a reason. An item code (M/J) names a ledger
    item, not a slip: that is the item's 退回重办; a key-project code (a form, a topic, meeting minutes) is that
    approval's."""
    out = projects.approval_hook(ctx, args, approve=False)
    if out is not None:
        return out
    code, _rest = split_code(args)
    if code is not None and code.is_matter:
        return return_for_redo(ctx, args)
    record, reason, error = pending_for(ctx, args, returning=True)
    if error:
        return error
    is_minutes = isinstance(record, Minutes)
    if not reason or not any(ch.isalnum() for ch in reason):
        return ctx.render("slip/need_reason.txt", slip=record, minutes=is_minutes)
    if len(reason) > 1000:
        return ctx.render("engine/err_too_long.txt", max=1000, got=len(reason))
    return decisions.run_one(ctx, kind_of(record), record, "return", reason, None)


def record_of(ctx: Context, args: str):
    """(minutes or slip named by 纪要N / JB N, rest) — None when neither is named or it is not visible."""
    minutes_id, rest = split_minutes_ref(args)
    record = ctx.session.get(Minutes, minutes_id) if minutes_id is not None else None
    if minutes_id is None:
        code, rest = split_code(args)
        record = find_slip(ctx.session, str(code)) if code is not None and not code.is_matter else None
    if record is None or not can_see_record(ctx.roles, record):
        return None, rest
    return record, rest


def is_drafter(ctx: Context, record) -> bool:
    return ctx.person.id == (record.created_by_id if isinstance(record, Minutes) else record.drafted_by_id)


@commands.command("保密", summary="标记纪要或交办单涉密（不抄送督导考核组）：保密 纪要编号/JB编号", order=34,
                roles=("unit_liaison", "office_liaison", "liaison_group_member", "admin"))
def mark_confidential(ctx: Context, args: str):
    """The drafter marks a draft 保密 before it is issued ("取消保密" is not offered: a wrong flag is
    corrected by the drafter with 保密 … 取消)."""
    record, rest = record_of(ctx, args)
    if record is None:
        return ctx.render("slip/record_usage.txt", args=args)
    if not is_drafter(ctx, record):
        return ctx.render("slip/not_drafter.txt", slip=record, minutes=isinstance(record, Minutes))
    flag = rest.strip() != "取消"
    try:
        do_set_confidential(ctx, record, flag)
    except TransitionError:
        return ctx.render("slip/already_issued.txt", record=record, minutes=isinstance(record, Minutes))
    return ctx.render("slip/confidential.txt", record=record, minutes=isinstance(record, Minutes), flag=flag)


@commands.command("送签", summary="被退回的纪要修改后重新送签：送签 纪要编号", order=35,
                roles=("unit_liaison", "office_liaison", "liaison_group_member", "admin"))
def resubmit_minutes(ctx: Context, args: str):
    record, _rest = record_of(ctx, args)
    if not isinstance(record, Minutes):
        return ctx.render("slip/record_usage.txt", args=args)
    if not is_drafter(ctx, record):
        return ctx.render("slip/not_drafter.txt", slip=record, minutes=True)
    try:
        do_resubmit_minutes(ctx, record)
    except TransitionError:
        return ctx.render("slip/not_returned.txt", slip=record, minutes=True)
    return ctx.render("minutes/resubmitted.txt", minutes=record)


def may_withdraw(ctx: Context, record) -> bool:
    """Who may withdraw minutes or a slip (a draft, or 撤销印发 of an issued one): its drafter, the office
    liaison of its 附件2 row (who may draft it: the row of the minutes, else a row of its leader), or an
    admin."""
    if is_drafter(ctx, record) or ctx.roles.has("admin"):
        return True
    row_id = getattr(record, "dispatch_row_id", None)
    if row_id is not None:
        return row_id in ctx.roles.liaison_row_ids
    from models import DispatchRow

    rows = set(ctx.session.scalars(select(DispatchRow.id).where(DispatchRow.leader_id == record.leader_id)))
    return bool(rows & ctx.roles.liaison_row_ids)


@commands.command("撤回", "撤销印发", summary="撤回纪要或交办单：撤回 纪要编号/JB编号 原因", order=36,
                  roles=("unit_liaison", "office_liaison", "liaison_group_member", "admin"))
def withdraw(ctx: Context, args: str):
    record, reason = record_of(ctx, args)
    if record is None:
        return ctx.render("slip/record_usage.txt", args=args)
    is_minutes = isinstance(record, Minutes)
    if not may_withdraw(ctx, record):
        return ctx.render("slip/not_drafter.txt", slip=record, minutes=is_minutes)
    issued = record.state in (MINUTES_ISSUED, SLIP_ISSUED)
    try:
        if is_minutes:
            do_withdraw_minutes(ctx, record, reason)
        else:
            do_withdraw_slip(ctx, record, reason)
    except TransitionError as exc:
        return ctx.render("slip/withdraw_refused.txt", slip=record, minutes=is_minutes, code=exc.code)
    if issued:
        matters = list(record.matters if is_minutes else record.rows)
        return ctx.render("slip/revoked.txt", slip=record, minutes=is_minutes, reason=reason.strip(),
                          withdrawn=[m for m in matters if m.state == "withdrawn"],
                          kept=[m for m in matters if m.state != "withdrawn"])
    return ctx.render("slip/withdrawn.txt", slip=record, minutes=is_minutes, reason=reason)
