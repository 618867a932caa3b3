"""登记调度会 and 录入纪要: a dispatch meeting, then its minutes and matters (seed 000 §三(一), 附件3).

登记调度会: leader → 会议/调研/一线调度 → date → lead unit (drafts the minutes) → subject; the lead unit's
liaison is told the first draft is due within 3 days (bot.actions.minutes.do_record_meeting).
录入纪要: dispatching leader → 纪要编号 → 纪要名称 → meeting date → drafting unit → matters one by one
(what, responsible unit, deadline, lead unit) until 完成 → summary → 确认. On 确认 the first draft and its
matters enter the ledger and go to the leader to sign (送签); the copy to the supervision group and the
units' notices wait until the leader signs (handlers/slip.py: 同意 纪要N). 保密 纪要N / 保密 JB3 marks a
draft confidential: it is never copied.
"""
from __future__ import annotations

from sqlalchemy import select

from bot.actions.minutes import MatterInput, do_correct_matter, do_record_meeting, do_record_minutes, reachable
from bot.conversation import engine
from bot.conversation import fields as F
from bot.conversation.engine import Field, FieldContext, Flow, Group, Invalid
from bot.core.messages import Context, Reply
from bot.core.routing import Commands
from bot.domain.dateparse import DateOk, parse_date
from bot.domain.meetings import draft_due
from bot.domain.scope import office_liaisons_of
from bot.domain.unitmatch import match_unit
from handlers.common import item_command
from models import (
    MEETING_FRONTLINE,
    MEETING_MEETING,
    MEETING_RESEARCH,
    ROLE_ADMIN,
    ROLE_LIAISON_GROUP,
    ROLE_OFFICE_LIAISON,
    Person,
    Unit,
    dispatch_row_unit,
)

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
    items = [MatterInput(item["title"], item["responsible_unit"]["id"], F.parse_iso(item["deadline"]),
                         item["lead_unit"]["id"] if item.get("lead_unit") else None,
                         F.assist_ids(item["responsible_unit"])) for item in data["matters"]]
    minutes, matters = do_record_minutes(ctx, leader=s.get(Person, data["leader"]["id"]), number=data.get("number"),
                                         title=data["title"], meeting_date=F.parse_iso(data["meeting_date"]),
                                         drafting_unit=s.get(Unit, data["drafting_unit"]["id"]), matters=items)
    return Reply(ctx.render("minutes/saved.txt", minutes=minutes, matters=matters))


FLOW = commands.flow(Flow(
    name="minutes",
    steps=[
        Field("leader", "minutes/ask_leader.txt", F.a_leader, choices=F.leader_choices),
        Field("number", "minutes/ask_number.txt", F.text(100, optional=True)),
        Field("title", "minutes/ask_title.txt", F.text(300, min_len=2)),
        Field("meeting_date", "minutes/ask_meeting_date.txt", F.a_date("past")),
        Field("drafting_unit", "minutes/ask_drafting_unit.txt", F.a_unit()),
        Group("matters", [
            Field("title", "minutes/ask_matter_title.txt", F.text(1000, min_len=2), label="事项内容"),
            Field("responsible_unit", "minutes/ask_matter_unit.txt", F.a_units(), label="责任单位"),
            Field("deadline", "minutes/ask_matter_deadline.txt",
                  F.a_date("future", not_before=meeting_date,
                           not_before_template="minutes/err_deadline_floor.txt"), label="完成时限"),
            Field("lead_unit", "minutes/ask_matter_lead_unit.txt",
                  F.a_unit(optional=True, same_as="responsible_unit"), label="牵头单位"),
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


def kind_choices(fc: FieldContext) -> list[tuple[str, str]]:
    return [(MEETING_MEETING, "会议"), (MEETING_RESEARCH, "调研"), (MEETING_FRONTLINE, "一线调度")]


def save_meeting(ctx: Context, data: dict, meta: dict) -> Reply:
    s = ctx.session
    lead = s.get(Unit, data["lead_unit"]["id"])
    meeting = do_record_meeting(ctx, leader=s.get(Person, data["leader"]["id"]),
                                meeting_date=F.parse_iso(data["meeting_date"]), lead_unit=lead, kind=data["kind"],
                                subject=data.get("subject"))
    return Reply(ctx.render("meeting/saved.txt", meeting=meeting, due=draft_due(meeting.meeting_date),
                            reached=reachable(lead) is not None))


MEETING_FLOW = commands.flow(Flow(
    name="meeting",
    steps=[
        Field("leader", "meeting/ask_leader.txt", F.a_leader, choices=F.leader_choices),
        Field("kind", "meeting/ask_kind.txt", choices=kind_choices),
        Field("meeting_date", "meeting/ask_date.txt", F.a_date("past")),
        Field("lead_unit", "meeting/ask_lead_unit.txt", F.a_unit()),
        Field("subject", "meeting/ask_subject.txt", F.text(300, optional=True)),
    ],
    save=save_meeting,
))


@commands.command("登记调度会", "登记会议", summary="登记领导调度会（会议、调研、一线调度）", order=19,
                roles=("unit_liaison", "office_liaison", "liaison_group_member", "admin"))
def record_meeting(ctx: Context, args: str):
    if not may_dispatch(ctx):
        return ctx.render("meeting/denied.txt")
    return engine.start(ctx, MEETING_FLOW)


# -- 更正: a typed-in matter corrected by whoever may draft it --------------------------------------
CORRECT_FIELDS = {"名称": "title", "内容": "title", "事项": "title", "时限": "deadline", "完成时限": "deadline",
                  "单位": "responsible_unit_id", "责任单位": "responsible_unit_id"}


def may_correct(ctx: Context, matter) -> bool:
    """The drafter of the item's minutes or slip, the office liaisons of its row, or an admin."""
    if ctx.roles.has(ROLE_ADMIN) or ctx.person in office_liaisons_of(ctx.session, matter):
        return True
    if matter.minutes is not None:
        return matter.minutes.created_by_id == ctx.person.id
    return matter.slip is not None and matter.slip.drafted_by_id == ctx.person.id


def _correction(ctx: Context, matter, rest: str):
    """(field, value, reason) from "时限 12月31日；录入笔误", or a reply saying what is wrong."""
    what, _sep, reason = rest.replace(";", "；").partition("；")
    word, _sp, raw = what.strip().partition(" ")
    field, raw = CORRECT_FIELDS.get(word), raw.strip()
    if field is None or not raw:
        return None, Reply(ctx.render("minutes/correct_usage.txt", m=matter))
    if field == "title":
        value = raw
    elif field == "deadline":
        parsed = parse_date(raw, ctx.now.date(), "future")
        if not isinstance(parsed, DateOk):
            return None, Reply(ctx.render("minutes/correct_bad_date.txt", text=raw))
        value = parsed.value
    else:
        hit = match_unit(raw, F.unit_refs(ctx.session))
        if hit.exact is None:
            return None, Reply(ctx.render("minutes/correct_bad_unit.txt", text=raw))
        value = int(hit.exact.id)
    return (field, value, reason.strip()), None


@commands.command("更正", summary="更正事项：更正 编号 名称/时限/责任单位 新内容；原因", order=25,
                roles=("unit_liaison", "office_liaison", "liaison_group_member", "admin"))
def correct(ctx: Context, args: str) -> Reply:
    def run(matter, rest: str) -> Reply:
        parsed, err = _correction(ctx, matter, rest)
        if err:
            return err
        field, value, reason = parsed
        do_correct_matter(ctx, matter, field, value, reason)
        return Reply(ctx.render("minutes/corrected.txt", m=matter, field=field, reason=reason))

    return item_command(ctx, args, usage="minutes/correct_usage.txt", may=may_correct,
                        denied="minutes/correct_denied.txt", run=run,
                        errors={"reason_required": "minutes/correct_need_reason.txt",
                                "extended": "minutes/correct_extended.txt"})
