"""录入纪要: record a dispatch meeting's minutes and its matters into the ledger (seed 000 附件3).

Steps: dispatching leader → 纪要编号 → 纪要名称 → meeting date → drafting unit → matters one by one
(what, responsible unit, deadline, lead unit) until 完成 → summary → 确认. On 确认 the minutes and matters
enter the ledger, the supervision group gets a copy and each responsible unit's liaison is told.
"""
from __future__ import annotations

from sqlalchemy import select

from bot.infra import audit
from bot.core.messages import Context, Reply
from bot.domain.codes import add_matter
from bot.conversation import engine
from bot.core.routing import Commands
from bot.conversation import fields as F
from bot.conversation.engine import Field, FieldContext, Flow, Group, Invalid
from models import (KIND_MINUTES, MINUTES_DRAFTED, ROLE_ADMIN, ROLE_LIAISON_GROUP, ROLE_OFFICE_LIAISON, DispatchRow,
                    Matter, Minutes, Person, Unit, dispatch_row_unit)

commands = Commands()


def may_dispatch(ctx: Context) -> bool:
    """Who may record minutes or draft slips: office liaisons (and the 调度联络组, which turns problems into
    slips), admins, and liaisons of a dispatch row's lead unit."""
    if ctx.roles.has(ROLE_ADMIN, ROLE_OFFICE_LIAISON, ROLE_LIAISON_GROUP):
        return True
    if not ctx.roles.liaison_unit_ids:
        return False
    lead = set(ctx.session.scalars(select(dispatch_row_unit.c.unit_id)))
    return bool(lead & set(ctx.roles.liaison_unit_ids))


def meeting_date(fc: FieldContext):
    return F.parse_iso(fc.data.get("meeting_date"))


def check(ctx: Context, data: dict, meta: dict) -> None:
    """Cross-field rules, checked again on 确认 (the meeting date may have been changed after the matters)."""
    met = F.parse_iso(data.get("meeting_date"))
    for k, item in enumerate(data.get("matters", []), 1):
        due = F.parse_iso(item.get("deadline"))
        if met and due and due < met:
            raise Invalid("minutes/err_deadline_before_meeting.txt", no=k, deadline=due, meeting=met)


def save(ctx: Context, data: dict, meta: dict) -> Reply:
    s = ctx.session
    leader = s.get(Person, data["leader"]["id"])
    drafting = s.get(Unit, data["drafting_unit"]["id"])
    rows = list(s.scalars(select(DispatchRow).where(DispatchRow.leader_id == leader.id).order_by(DispatchRow.seq)))
    row = next((r for r in rows if drafting in r.lead_units), rows[0] if rows else None)
    minutes = Minutes(number=data.get("number"), title=data["title"], leader_id=leader.id,
                      dispatch_row_id=row.id if row else None, meeting_date=F.parse_iso(data["meeting_date"]),
                      drafting_unit_id=drafting.id, state=MINUTES_DRAFTED, drafted_at=ctx.now,
                      created_by_id=ctx.person.id, created_at=ctx.now)
    s.add(minutes)
    s.flush()
    audit.record(s, actor=ctx.person, action="create", entity="minutes", entity_id=minutes.id,
                 after=audit.snapshot(minutes), at=ctx.now)
    matters = []
    for seq, item in enumerate(data["matters"], 1):
        due = F.parse_iso(item["deadline"])
        lead = item.get("lead_unit")
        m = add_matter(s, Matter(kind=KIND_MINUTES, minutes_id=minutes.id, seq=seq, title=item["title"],
                                 leader_id=leader.id, responsible_unit_id=item["responsible_unit"]["id"],
                                 lead_unit_id=lead["id"] if lead else None, deadline=due, original_deadline=due,
                                 created_by_id=ctx.person.id, created_at=ctx.now))
        audit.record(s, actor=ctx.person, action="create", entity="matter", entity_id=m.id,
                     after=audit.snapshot(m), at=ctx.now)
        matters.append(m)
    s.refresh(minutes)
    ctx.notify_group("supervision", ctx.render("minutes/copy.md", minutes=minutes, matters=matters),
                     key=f"minutes-copy:{minutes.id}", kind="minutes")
    notify_units(ctx, matters, key=f"minutes-unit:{minutes.id}", what=minutes)
    return Reply(ctx.render("minutes/saved.txt", minutes=minutes, matters=matters))


def notify_units(ctx: Context, matters: list[Matter], *, key: str, what,
                 template: str = "minutes/unit_notice.txt") -> None:
    """Tell each responsible unit's liaison what it owes and by when (one message per unit)."""
    by_unit: dict[int, list[Matter]] = {}
    for m in matters:
        by_unit.setdefault(m.responsible_unit_id, []).append(m)
    for unit_id, items in by_unit.items():
        unit = ctx.session.get(Unit, unit_id)
        liaison = unit.liaison
        if liaison is None or liaison.placeholder or not liaison.active:
            continue
        ctx.notify_person(liaison, ctx.render(template, unit=unit, matters=items, source=what),
                          key=f"{key}:{unit_id}", kind="assignment")


FLOW = commands.flow(Flow(
    name="minutes",
    steps=[
        Field("leader", "minutes/ask_leader.txt", F.a_leader, choices=F.leader_choices),
        Field("number", "minutes/ask_number.txt", F.text(100, optional=True)),
        Field("title", "minutes/ask_title.txt", F.text(300, min_len=2)),
        Field("meeting_date", "minutes/ask_meeting_date.txt", F.a_date("past")),
        Field("drafting_unit", "minutes/ask_drafting_unit.txt", F.a_unit()),
        Group("matters", [
            Field("title", "minutes/ask_matter_title.txt", F.text(1000, min_len=2)),
            Field("responsible_unit", "minutes/ask_matter_unit.txt", F.a_unit()),
            Field("deadline", "minutes/ask_matter_deadline.txt",
                  F.a_date("future", not_before=meeting_date,
                           not_before_template="minutes/err_deadline_floor.txt")),
            Field("lead_unit", "minutes/ask_matter_lead_unit.txt",
                  F.a_unit(optional=True, same_as="responsible_unit")),
        ]),
    ],
    save=save,
    check=check,
))


@commands.command("录入纪要", menu_key="minutes", summary="录入调度会议纪要及事项", order=20,
                roles=("unit_liaison", "office_liaison", "liaison_group_member", "admin"))
def record_minutes(ctx: Context, args: str):
    if not may_dispatch(ctx):
        return ctx.render("minutes/denied.txt")
    return engine.start(ctx, FLOW)
