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

from bot.infra import audit
from bot.core.messages import Context, Reply
from bot.domain.codes import add_matter, add_slip, find_slip
from bot.conversation import engine
from bot.core.routing import Commands
from handlers import projects
from bot.conversation import fields as F
from bot.conversation.engine import Field, FieldContext, Flow, Group, Invalid
from handlers.minutes import may_dispatch, notify_units
from models import (KIND_SLIP, SLIP_ISSUED, SLIP_PENDING, SLIP_RETURNED, AssignmentSlip, Matter, Person)

commands = Commands()

RE_CODE = re.compile(r"^\s*(JB\s*\d{1,9})\s*(.*)$", re.IGNORECASE | re.DOTALL)


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
    if meta.get("slip_id"):
        slip = s.get(AssignmentSlip, meta["slip_id"])
        if slip is None or slip.state != SLIP_RETURNED or slip.drafted_by_id != ctx.person.id:
            raise Invalid("slip/err_not_editable.txt")
        before = audit.snapshot(slip)
        rev = int((slip.draft or {}).get("rev", 1)) + 1
        slip.leader_id = leader.id
        slip.dispatched_on = F.parse_iso(data["dispatched_on"])
        slip.draft = {**draft, "rev": rev}
        slip.state = SLIP_PENDING
        s.flush()
        b, a = audit.diff(before, audit.snapshot(slip))
        audit.record(s, actor=ctx.person, action="resubmit", entity="assignment_slip", entity_id=slip.code,
                     before=b, after=a, at=ctx.now)
    else:
        rev = 1
        slip = add_slip(s, AssignmentSlip(leader_id=leader.id, dispatched_on=F.parse_iso(data["dispatched_on"]),
                                          drafted_by_id=ctx.person.id, drafting_unit_id=ctx.person.unit_id,
                                          state=SLIP_PENDING, draft={**draft, "rev": rev}, created_at=ctx.now))
        audit.record(s, actor=ctx.person, action="create", entity="assignment_slip", entity_id=slip.code,
                     after=audit.snapshot(slip), at=ctx.now)
    ctx.notify_person(leader, ctx.render("slip/to_leader.txt", slip=slip, draft=draft, drafter=ctx.person, rev=rev),
                      key=f"slip-sign:{slip.id}:{rev}", kind="slip")
    return Reply(ctx.render("slip/submitted.txt", slip=slip, leader=leader, rev=rev))


FLOW = engine.register(Flow(
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
    if slip is None:
        return ctx.render("slip/not_found.txt", code=args)
    if slip.drafted_by_id != ctx.person.id:
        return ctx.render("slip/not_drafter.txt", slip=slip)
    if slip.state != SLIP_RETURNED:
        return ctx.render("slip/not_returned.txt", slip=slip)
    draft = slip.draft or {}
    data = {"leader": draft["leader"], "dispatched_on": draft["dispatched_on"], "rows": draft["rows"]}
    reply = engine.start(ctx, FLOW, data=data, meta={"slip_id": slip.id}, at_summary=True)
    return Reply(ctx.render("slip/reopened.txt", slip=slip) + "\n\n" + reply.text)


def pending_for(ctx: Context, args: str):
    """(slip, rest of args, error reply) for a leader's 同意/退回: the named slip, or the only pending one."""
    m = RE_CODE.match(args or "")
    if m:
        slip = find_slip(ctx.session, m.group(1))
        if slip is None:
            return None, "", ctx.render("slip/not_found.txt", code=m.group(1))
        if slip.leader_id != ctx.person.id:
            return None, "", ctx.render("slip/not_leader.txt", slip=slip)
        if slip.state != SLIP_PENDING:
            return None, "", ctx.render("slip/not_pending.txt", slip=slip)
        return slip, m.group(2).strip(), None
    pending = list(ctx.session.scalars(select(AssignmentSlip).where(
        AssignmentSlip.leader_id == ctx.person.id, AssignmentSlip.state == SLIP_PENDING).order_by(AssignmentSlip.id)))
    if len(pending) == 1:
        return pending[0], (args or "").strip(), None
    return None, "", ctx.render("slip/which.txt", slips=pending)


@commands.command("同意", "签发", summary="签发交办单：同意 编号（退回：退回 编号 原因）", order=32, roles=("leader",))
def sign(ctx: Context, args: str):
    """The leader signs: the slip is issued and its rows enter the ledger."""
    out = projects.approval_hook(ctx, args, approve=True)  # seed 001's forms, topics, minutes share the word
    if out is not None:
        return out
    slip, _rest, error = pending_for(ctx, args)
    if error:
        return error
    s = ctx.session
    before = audit.snapshot(slip)
    draft = slip.draft or {}
    rows = []
    for seq, row in enumerate(draft.get("rows", []), 1):
        due = F.parse_iso(row["deadline"])
        m = add_matter(s, Matter(kind=KIND_SLIP, slip_id=slip.id, seq=seq, title=row["title"],
                                 obstacles=row["obstacles"], measures=row["measures"], leader_id=slip.leader_id,
                                 responsible_unit_id=row["responsible_unit"]["id"], deadline=due,
                                 original_deadline=due, created_by_id=slip.drafted_by_id, created_at=ctx.now))
        audit.record(s, actor=ctx.person, action="create", entity="matter", entity_id=m.id,
                     after=audit.snapshot(m), at=ctx.now)
        rows.append(m)
    slip.state = SLIP_ISSUED
    slip.signed_at = ctx.now
    slip.return_reason = None
    s.flush()
    b, a = audit.diff(before, audit.snapshot(slip))
    audit.record(s, actor=ctx.person, action="sign", entity="assignment_slip", entity_id=slip.code, before=b,
                 after=a, at=ctx.now)
    ctx.notify_group("supervision", ctx.render("slip/copy.md", slip=slip, rows=rows),
                     key=f"slip-copy:{slip.id}", kind="slip")
    notify_units(ctx, rows, key=f"slip-unit:{slip.id}", what=slip, template="slip/unit_notice.txt")
    ctx.notify_person(slip.drafted_by, ctx.render("slip/signed_to_drafter.txt", slip=slip, rows=rows),
                      key=f"slip-signed:{slip.id}", kind="slip")
    return ctx.render("slip/signed.txt", slip=slip, rows=rows)


@commands.command("退回", order=33)
def return_slip(ctx: Context, args: str):
    """The leader returns the slip to its drafter with a reason."""
    out = projects.approval_hook(ctx, args, approve=False)
    if out is not None:
        return out
    slip, reason, error = pending_for(ctx, args)
    if error:
        return error
    if not reason or not any(ch.isalnum() for ch in reason):
        return ctx.render("slip/need_reason.txt", slip=slip)
    if len(reason) > 1000:
        return ctx.render("engine/err_too_long.txt", max=1000, got=len(reason))
    before = audit.snapshot(slip)
    slip.state = SLIP_RETURNED
    slip.return_reason = reason
    ctx.session.flush()
    b, a = audit.diff(before, audit.snapshot(slip))
    audit.record(ctx.session, actor=ctx.person, action="return", entity="assignment_slip", entity_id=slip.code,
                 before=b, after=a, reason=reason, at=ctx.now)
    rev = int((slip.draft or {}).get("rev", 1))
    ctx.notify_person(slip.drafted_by, ctx.render("slip/returned_to_drafter.txt", slip=slip, reason=reason),
                      key=f"slip-returned:{slip.id}:{rev}", kind="slip")
    return ctx.render("slip/returned.txt", slip=slip, reason=reason)
