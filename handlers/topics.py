"""Seed 001 §三: topics (议题) raised to the joint meeting (联合会议), the meeting's agenda and minutes, and
§三(四) transfers of lagging decisions.

提交议题 (a lead unit's liaison) → 通过 YTn / 退回 YTn 原因 (the joint office) → 同意 YTn / 退回 YTn 原因 (a
convener: onto the agenda of the project's next meeting) → 发送议程 HYn (the office: agenda to attendees)
→ 录入会议纪要 HYn (the office: 议定事项) → 签发 HYn (the chairing convener: decisions become T items, the
minutes go to every attending unit and to 区委区政府主要领导). 转办 Tn … (the office) → 批办 ZBn (the leader).
"""
from __future__ import annotations

import re

from sqlalchemy import select

from bot.actions import projects as P
from bot.actions.projects import Refused
from bot.conversation import engine
from bot.conversation import fields as F
from bot.conversation.engine import Field, Flow, Group
from bot.core.messages import Context, Reply
from bot.core.routing import Commands
from bot.domain.codes import find_matter
from bot.domain.unitmatch import match_unit
from models import (
    MEETING_CALLED,
    MEETING_DRAFTED,
    MEETING_PROPOSED,
    TOPIC_APPROVED,
    TOPIC_RETURNED,
    TOPIC_SUBMITTED,
    TRANSFER_TARGETS,
    JointMeeting,
    KeyProject,
    MeetingTopic,
    Unit,
)

commands = Commands()


def refused(ctx: Context, exc: Refused) -> Reply:
    return Reply(ctx.render(exc.template, **exc.kw))


# -- 提交议题 -------------------------------------------------------------------------------------------
def save_topic(ctx: Context, data: dict, meta: dict) -> Reply:
    s = ctx.session
    project = s.get(KeyProject, data["project"])
    topic = s.get(MeetingTopic, meta["topic_id"]) if meta.get("topic_id") else None
    try:
        topic = P.do_submit_topic(ctx, project, data, topic)
    except Refused as exc:
        raise engine.Invalid(exc.template, **exc.kw) from exc
    return Reply(ctx.render("projects/topic_saved.txt", topic=topic, project=project))


TOPIC = commands.flow(Flow(
    name="topic",
    steps=[
        Field("project", "projects/ask_project.txt",
              choices=lambda fc: [(p.id, p.name) for p in fc.ctx.session.scalars(
                  select(KeyProject).where(KeyProject.id.in_(fc.meta["project_ids"])).order_by(KeyProject.seq))]),
        Field("title", "projects/ask_topic_title.txt", F.text(1000, min_len=4)),
        Field("solution", "projects/ask_topic_solution.txt", F.text(2000, min_len=4)),
        Field("units", "projects/ask_topic_units.txt", F.text(300, min_len=2)),
        Field("time_limit", "projects/ask_topic_limit.txt", F.a_date("future")),
        Field("consulted", "projects/ask_topic_consulted.txt", F.text(500, min_len=2)),
    ],
    save=save_topic,
    title="projects/topic_title.txt",
    summary="projects/topic_summary.txt",
))


@commands.command("提交议题", "议题", menu_key="kp_topic", summary="项目牵头单位：提交联合会议议题", order=13,
                  roles=("unit_liaison",))
def submit_topic(ctx: Context, args: str):
    mine = P.lead_projects(ctx.session, ctx.roles.liaison_unit_ids)
    if not mine:
        return ctx.render("projects/topic_denied.txt")
    return engine.start(ctx, TOPIC, meta={"project_ids": [p.id for p in mine],
                                          "project_names": {str(p.id): p.name for p in mine}})


@commands.command("修改议题", order=14)
def edit_topic(ctx: Context, args: str):
    """The raiser reopens a returned topic at its summary; 确认 resubmits it to the joint office."""
    parsed = P.parse_code(ctx.session, args)
    topic = parsed[1] if parsed and parsed[0] == "YT" else ctx.session.scalar(
        select(MeetingTopic).where(MeetingTopic.raised_by_id == ctx.person.id, MeetingTopic.state == TOPIC_RETURNED)
        .order_by(MeetingTopic.id.desc()))
    if topic is None:
        return ctx.render("projects/not_found.txt", code=args or "议题")
    if topic.raised_by_id != ctx.person.id:
        return ctx.render("projects/not_raiser.txt", topic=topic)
    if topic.state != TOPIC_RETURNED:
        return ctx.render("projects/already.txt", code=topic.code, state=topic.state)
    data = {"project": topic.project_id, "title": topic.title, "solution": topic.proposed_solution,
            "units": topic.responsible_units_text, "time_limit": topic.time_limit.isoformat(),
            "consulted": topic.consulted}
    reply = engine.start(ctx, TOPIC, data=data, meta={"project_ids": [topic.project_id], "topic_id": topic.id,
                                                     "project_names": {str(topic.project_id): topic.project.name}},
                         at_summary=True)
    return Reply(ctx.render("projects/topic_reopened.txt", topic=topic) + "\n\n" + reply.text)


def act(ctx: Context, kind: str, row, approve: bool, rest: str) -> Reply:
    """同意 / 退回 on a topic (by the office while submitted, by a convener once reviewed), on minutes (the chair
    signs or returns them) and on a transfer (the leader 批办 or not). Raises Refused."""
    if kind == "YT":
        # The step is the actor's (office: 审核; convener: 同意), not read off the state, which another person
        # may be changing at this moment: a late second office answer is then told it was already done.
        office, convener = P.is_office(ctx.session, ctx.roles, ctx.person), P.is_convener(ctx.roles)
        if office and convener:
            office = row.state == TOPIC_SUBMITTED
        if office:
            topic = P.do_review_topic(ctx, row, approve, rest)
        elif convener:
            topic = P.do_approve_topic(ctx, row, approve, rest)
        else:
            raise Refused("projects/not_office.txt")
        return Reply(ctx.render("projects/topic_decided.txt", topic=topic, approve=approve,
                                honorific=P.honorific))
    if kind == "HY":
        if row.state == MEETING_PROPOSED:  # only a convener moves a proposal on, so its state can't race here
            P.do_decide_extra_meeting(ctx, row, approve, rest)
            return Reply(ctx.render("projects/extra_decided_reply.txt", meeting=row, approve=approve))
        if approve:
            matters = P.do_sign_minutes(ctx, row)
            return Reply(ctx.render("projects/minutes_signed_reply.txt", meeting=row, matters=matters))
        P.do_return_minutes(ctx, row, rest)
        return Reply(ctx.render("projects/minutes_returned_reply.txt", meeting=row))
    tr = P.do_decide_transfer(ctx, row, approve, rest or None)
    return Reply(ctx.render("projects/transfer_decided.txt", tr=tr, approve=approve,
                            target_name=TRANSFER_TARGETS[tr.target]))


@commands.command("通过", "审核通过", order=84)
def pass_topic(ctx: Context, args: str):
    parsed = P.parse_code(ctx.session, args)
    if parsed is None or parsed[0] != "YT" or parsed[1] is None:
        waiting = [t for t in ctx.session.scalars(select(MeetingTopic).where(MeetingTopic.state == TOPIC_SUBMITTED))]
        if len(waiting) != 1 or parsed is not None:
            return ctx.render("projects/usage_pass.txt", waiting=waiting)
        parsed = ("YT", waiting[0], "")
    try:
        return act(ctx, "YT", parsed[1], True, parsed[2])
    except Refused as exc:
        return refused(ctx, exc)


# -- the meeting ------------------------------------------------------------------------------------------
def meeting_arg(ctx: Context, args: str):
    parsed = P.parse_code(ctx.session, args)
    if parsed is None or parsed[0] != "HY" or parsed[1] is None:
        return None, ""
    return parsed[1], parsed[2]


@commands.command("发送议程", "召开联合会议", order=85)
def call_meeting(ctx: Context, args: str):
    meeting, rest = meeting_arg(ctx, args)
    if meeting is None:
        return ctx.render("projects/usage_meeting.txt", meetings=open_meetings(ctx))
    invited = []
    refs = F.unit_refs(ctx.session)
    for part in [p for p in re.split(r"[\s,，、]+", rest.replace("列席", " ")) if p]:
        hit = match_unit(part, refs)
        if hit.exact is None:
            return ctx.render("engine/err_unit.txt", text=part)
        invited.append(ctx.session.get(Unit, int(hit.exact.id)))
    try:
        P.do_call_meeting(ctx, meeting, invited)
    except Refused as exc:
        return refused(ctx, exc)
    return ctx.render("projects/meeting_called.txt", meeting=meeting,
                      people=P.attendees(ctx.session, meeting))


def open_meetings(ctx: Context) -> list[JointMeeting]:
    return list(ctx.session.scalars(select(JointMeeting).where(JointMeeting.signed_at.is_(None))
                                    .order_by(JointMeeting.meeting_date, JointMeeting.id)))


def save_minutes(ctx: Context, data: dict, meta: dict) -> Reply:
    meeting = ctx.session.get(JointMeeting, meta["meeting_id"])
    try:
        P.do_draft_minutes(ctx, meeting, data["decisions"])
    except Refused as exc:
        raise engine.Invalid(exc.template, **exc.kw) from exc
    return Reply(ctx.render("projects/minutes_saved.txt", meeting=meeting, chair=meeting.chair,
                            honorific=P.honorific))


MINUTES = commands.flow(Flow(
    name="joint_minutes",
    steps=[
        Group("decisions", [
            Field("topic", "projects/ask_decision_topic.txt", choices=lambda fc: [
                ({"id": t["id"], "name": t["code"]}, f'{t["code"]} {t["title"][:30]}') for t in fc.meta["topics"]],
                  label="议题"),
            Field("title", "projects/ask_decision_title.txt", F.text(1000, min_len=2), label="议定事项"),
            Field("unit", "projects/ask_decision_unit.txt", F.a_unit(), label="责任单位"),
            Field("deadline", "projects/ask_decision_deadline.txt", F.a_date("future"), label="完成时限"),
        ]),
    ],
    save=save_minutes,
    title="projects/minutes_title.txt",
    summary="projects/minutes_summary.txt",
))


@commands.command("录入会议纪要", "联合会议纪要", order=86)
def record_minutes(ctx: Context, args: str):
    if not P.is_office(ctx.session, ctx.roles, ctx.person):
        return ctx.render("projects/not_office.txt")
    meeting, _rest = meeting_arg(ctx, args)
    if meeting is None:
        return ctx.render("projects/usage_meeting.txt", meetings=open_meetings(ctx))
    if meeting.state not in (MEETING_CALLED, MEETING_DRAFTED):
        return ctx.render("projects/already.txt", code=meeting.code, state=meeting.state)
    topics = [{"id": t.id, "code": t.code, "title": t.title} for t in meeting.topics if t.state == TOPIC_APPROVED]
    meta = {"meeting_id": meeting.id, "meeting_code": meeting.code, "topics": topics,
            "project_name": meeting.project.name if meeting.project else ""}
    return engine.start(ctx, MINUTES, meta=meta)


# -- §三(四) transfers --------------------------------------------------------------------------------------
TARGET_WORDS = {"区委督查室": "party", "区政府督查室": "gov"}


@commands.command("转办", "转督查室", order=87)
def transfer(ctx: Context, args: str):
    parts = (args or "").split(maxsplit=2)
    matter = find_matter(ctx.session, parts[0]) if parts else None
    target = TARGET_WORDS.get(parts[1]) if len(parts) > 1 else None
    if matter is None or target is None or len(parts) < 3:
        return ctx.render("projects/usage_transfer.txt")
    rest = parts[2]
    discipline = "通报纪委监委" in rest or "通报区纪委监委" in rest
    efficiency = "通报效能办" in rest or "通报区效能办" in rest
    reason = re.sub(r"通报区?(纪委监委|效能办)", "", rest).strip(" ，,；;")
    meeting = P.meeting_of(matter, ctx.session)
    approver = meeting.chair if meeting and meeting.chair else (P.conveners(ctx.session) or [None])[0]
    if approver is None:
        return ctx.render("projects/usage_transfer.txt")
    try:
        tr = P.do_request_transfer(ctx, matter, target, reason, approver, discipline, efficiency)
    except Refused as exc:
        return refused(ctx, exc)
    return ctx.render("projects/transfer_requested.txt", tr=tr, matter=matter, approver=approver,
                      target_name=TRANSFER_TARGETS[target], honorific=P.honorific)


@commands.command("批办", order=88)  # out of the menu: the request to the leader says what to type
def approve_transfer(ctx: Context, args: str):
    return _decide_transfer(ctx, args, True)


@commands.command("不批办", order=89)
def refuse_transfer(ctx: Context, args: str):
    return _decide_transfer(ctx, args, False)


def _decide_transfer(ctx: Context, args: str, approve: bool):
    parsed = P.parse_code(ctx.session, args)
    if parsed is None or parsed[0] != "ZB" or parsed[1] is None:
        return ctx.render("projects/usage_decide_transfer.txt")
    try:
        return act(ctx, "ZB", parsed[1], approve, parsed[2])
    except Refused as exc:
        return refused(ctx, exc)


# -- extra meetings (§三(一)) --------------------------------------------------------------------------------
def save_extra(ctx: Context, data: dict, meta: dict) -> Reply:
    project = ctx.session.get(KeyProject, data["project"])
    try:
        meeting = P.do_propose_meeting(ctx, project, F.parse_iso(data["day"]), data["purpose"])
    except Refused as exc:
        raise engine.Invalid(exc.template, **exc.kw) from exc
    return Reply(ctx.render("projects/extra_saved.txt", meeting=meeting, project=project))


EXTRA = commands.flow(Flow(
    name="extra_meeting",
    steps=[
        Field("project", "projects/ask_project.txt",
              choices=lambda fc: [(p.id, p.name) for p in P.all_projects(fc.ctx.session)]),
        Field("day", "projects/ask_extra_day.txt", F.a_date("future")),
        Field("purpose", "projects/ask_extra_purpose.txt", F.text(500, min_len=4)),
    ],
    save=save_extra,
    title="projects/extra_title.txt",
    summary="projects/extra_summary.txt",
))


@commands.command("提议召开会议", "提议会议", order=90)
def propose_meeting(ctx: Context, args: str):
    if not P.may_propose_meeting(ctx):
        return ctx.render("projects/not_member.txt")
    names = {str(p.id): p.name for p in P.all_projects(ctx.session)}
    return engine.start(ctx, EXTRA, meta={"project_names": names})
