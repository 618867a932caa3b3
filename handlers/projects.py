"""Seed 001's weekly form and milestones in chat (泉港政办〔2021〕6号 附件 问题清单), and the `项目` query.

周报: the liaison of a project's lead unit (项目总牵头单位) fills the week's form step by step — each milestone's
progress and whether it is met, then the problems (存在问题（需协调事项）) one by one with their category, 问题
责任部门, 协调推进情况 and 下阶段工作对策建议; a category without a problem is shown as 无. The project's leader
reviews it (同意 ZHn / 退回 ZHn 原因); only a reviewed form counts, and it goes to the joint office.
The joint office confirms claimed milestones (确认达成 LCn), adds new ones (新增里程碑) and records solved
problems (问题解决 WTn). 同意 / 退回 / 签发 are shared with the assignment slip (handlers/slip.py asks
`approval_hook` first).
"""
from __future__ import annotations

from typing import Optional

from sqlalchemy import select

from bot.actions import decisions as D
from bot.actions import projects as P
from bot.actions.projects import Refused
from bot.conversation import engine
from bot.conversation import fields as F
from bot.conversation.engine import Field, Flow, Group
from bot.core.messages import Context, Reply
from bot.core.routing import Commands
from bot.domain import keyprojects as K
from bot.domain.codes import split_code_strict
from handlers import decisions
from models import (
    KIND_TOPIC,
    MATTER_CLOSED,
    MEETING_DRAFTED,
    MEETING_PROPOSED,
    PROBLEM_CATEGORIES,
    SLIP_PENDING,
    TOPIC_DECIDED,
    TOPIC_REVIEWED,
    TOPIC_SUBMITTED,
    TRANSFER_REQUESTED,
    WEEKLY_RETURNED,
    WEEKLY_REVIEWED,
    AssignmentSlip,
    DecisionTransfer,
    JointMeeting,
    KeyProject,
    Matter,
    MeetingTopic,
    Unit,
)

commands = Commands()

MET_CHOICES = [("met", "已达成"), ("not_met", "未达成")]
CATEGORY_CHOICES = [(k, v) for k, v in PROBLEM_CATEGORIES.items()]


def refused(ctx: Context, exc: Refused) -> Reply:
    return Reply(ctx.render(exc.template, **exc.kw))


# -- 周报 -------------------------------------------------------------------------------------------------
def save_weekly(ctx: Context, data: dict, meta: dict) -> Reply:
    s = ctx.session
    project = s.get(KeyProject, meta["project_id"])
    unit = s.get(Unit, meta["unit_id"])
    week = F.parse_iso(meta["week"])
    try:
        report = P.do_submit_weekly(ctx, project, unit, week, data, [m["id"] for m in meta["_items_milestones"]])
    except Refused as exc:
        raise engine.Invalid(exc.template, **exc.kw) from exc
    return Reply(ctx.render("projects/weekly_saved.txt", report=report, project=project,
                            leader=project.leader, honorific=P.honorific))


WEEKLY = commands.flow(Flow(
    name="projects",
    steps=[
        Group("milestones", [
            Field("progress", "projects/ask_ms_progress.txt", F.text(1000, min_len=2), label="进展情况"),
            Field("met", "projects/ask_ms_met.txt", choices=lambda fc: MET_CHOICES, label="是否达到节点"),
        ], items=lambda fc: fc.meta["milestones"]),
        Group("problems", [
            Field("category", "projects/ask_category.txt", choices=lambda fc: CATEGORY_CHOICES, label="问题类别"),
            Field("description", "projects/ask_problem.txt", F.text(1000, min_len=2), label="问题描述"),
            Field("unit", "projects/ask_problem_unit.txt", F.a_unit(), label="责任单位"),
            Field("progress", "projects/ask_problem_progress.txt", F.text(1000, min_len=2), label="推进情况"),
            Field("proposal", "projects/ask_problem_proposal.txt", F.text(1000, min_len=2), label="意见建议"),
        ], min_items=0, max_items=30),
    ],
    save=save_weekly,
))


def milestone_items(project: KeyProject, only_open: bool = True) -> list[dict]:
    """The milestones the form asks about: those not yet met (all of them once every one is met)."""
    rows = [m for m in project.milestones if m.done_on is None or not only_open] or list(project.milestones)
    return [{"id": m.id, "code": f"LC{m.id}", "seq": m.seq, "target": m.target, "deadline": m.deadline.isoformat(),
             "claimed": m.claimed_on is not None} for m in rows]


@commands.command("周报", "项目周报", "填报问题清单", menu_key="kp_weekly",
                  summary="项目牵头单位：每周一填报“难硬重新”项目问题清单", order=12, roles=("unit_liaison",))
def weekly(ctx: Context, args: str):
    s = ctx.session
    mine = P.lead_projects(s, ctx.roles.liaison_unit_ids)
    if not mine:
        return ctx.render("projects/weekly_denied.txt")
    hits = P.find_project(mine, args)
    if len(hits) != 1:
        return ctx.render("projects/which_project.txt", projects=mine, command="周报")
    project = hits[0]
    unit = next(u for u in project.lead_units if u.id in ctx.roles.liaison_unit_ids)
    week = K.week_start(ctx.now.date())
    report = P.weekly_report(s, project.id, week)
    if report is not None and report.state == WEEKLY_REVIEWED:
        return ctx.render("projects/weekly_final.txt", report=report, project=project)
    meta = {"project_id": project.id, "project_name": project.name, "unit_id": unit.id, "unit_name": unit.name,
            "week": week.isoformat(), "milestones": milestone_items(project),
            "contact": {"name": project.contact_name, "mobile": project.contact_mobile}}
    if report is not None and report.draft:
        # A returned (or still waiting) form is reopened at its summary: 修改 N, then 确认 resubmits it.
        ids = report.draft.get("milestone_ids", [])
        meta["milestones"] = ([m for m in milestone_items(project, only_open=False) if m["id"] in ids]
                              or meta["milestones"])
        meta["_items_milestones"] = meta["milestones"]
        reply = engine.start(ctx, WEEKLY, data=report.draft["data"], meta=meta, at_summary=True)
        return Reply(ctx.render("projects/weekly_reopened.txt", report=report, project=project) + "\n\n" + reply.text)
    intro = ctx.render("projects/weekly_intro.txt", project=project, unit=unit, week=week, due=K.form_due(week),
                       count=len(meta["milestones"]))
    reply = engine.start(ctx, WEEKLY, meta=meta)
    return Reply(intro + "\n\n" + reply.text)


# -- 同意 / 退回 / 签发 shared with the slip ---------------------------------------------------------------
def waiting_for(ctx: Context) -> list[tuple[str, object]]:
    """Everything of seed 001 waiting for this person's 同意 / 退回: forms to review, topics to approve,
    minutes to sign, transfers to 批办."""
    s = ctx.session
    out: list[tuple[str, object]] = [("ZH", r) for r in P.pending_reviews(s, ctx.person)]
    if P.is_convener(ctx.roles):
        out += [("YT", t) for t in s.scalars(select(MeetingTopic).where(MeetingTopic.state == TOPIC_REVIEWED)
                                              .order_by(MeetingTopic.id))]
    if P.is_convener(ctx.roles):
        out += [("HY", m) for m in s.scalars(select(JointMeeting).where(JointMeeting.state == MEETING_PROPOSED)
                                             .order_by(JointMeeting.id))]
    out += [("HY", m) for m in s.scalars(select(JointMeeting).where(JointMeeting.chair_id == ctx.person.id,
                                                                    JointMeeting.state == MEETING_DRAFTED))]
    out += [("ZB", t) for t in s.scalars(select(DecisionTransfer).where(
        DecisionTransfer.approver_id == ctx.person.id, DecisionTransfer.state == TRANSFER_REQUESTED))]
    return out


def decision_of(ctx: Context, kind: str, row) -> Optional[str]:
    """The decision kind (bot.actions.decision_kinds) of a form or topic this person may decide now: the
    leader's review of a submitted form, a convener's approval of a reviewed topic. None otherwise (not
    theirs, decided already, the office's review of a topic): the action itself then says why."""
    name = {"ZH": "weekly", "YT": "topic"}.get(kind)
    if name is None:
        return None
    if name == "topic" and P.is_office(ctx.session, ctx.roles, ctx.person) and row.state == TOPIC_SUBMITTED:
        return None  # an office member who is also a convener: the office's 审核 comes first
    try:
        D.check(D.get(name), row, ctx.person)
    except (D.Refused, D.Closed):
        return None
    return name


def has_reason(text: Optional[str]) -> bool:
    try:
        P.need_reason(text)
    except Refused:
        return False
    return True


def act(ctx: Context, kind: str, row, approve: bool, rest: str) -> Reply:
    """Apply 同意 (approve) or 退回 (with the reason in `rest`) to a seed-001 row."""
    from handlers import topics

    decision = decision_of(ctx, kind, row)
    if decision is not None and approve:  # shown in full first, done on 确认 (handlers/decisions.py)
        return decisions.ask_confirm(ctx, [(decision, row)], "approve", [])
    if decision is not None and has_reason(rest):  # 退回 with its reason: as a tap would, card updated
        return decisions.run_one(ctx, decision, row, "return", rest, None)
    try:
        if kind == "ZH":
            report = P.do_review_weekly(ctx, row, approve, rest)
            return Reply(ctx.render("projects/weekly_decided.txt", report=report, project=report.project,
                                    approve=approve))
        if kind in ("YT", "HY", "ZB"):
            return topics.act(ctx, kind, row, approve, rest)
    except Refused as exc:
        return refused(ctx, exc)
    return Reply(ctx.render("projects/not_for_approval.txt", code=f"{kind}{row.id}"))


def approval_hook(ctx: Context, args: str, approve: bool) -> Optional[Reply]:
    """For 同意 / 签发 / 退回: a seed-001 code (ZH, YT, HY, ZB) is handled here; without a code, when the person
    has no slip to sign but seed-001 items waiting, the only one is acted on (several are listed)."""
    s = ctx.session
    parsed = P.parse_code(s, args)
    if parsed is not None:
        kind, row, rest = parsed
        if row is None:
            return Reply(ctx.render("projects/not_found.txt", code=(args or "").split()[0]))
        return act(ctx, kind, row, approve, rest)
    code, _rest, malformed = split_code_strict(args)
    if code is not None or malformed or (approve and (args or "").strip()):
        return None  # a ledger or slip code (JB3, M3), a malformed one, or text that is no code of ours:
        # the slip's handler answers (a malformed code is an error there, never a reason here)
    if s.scalar(select(AssignmentSlip.id).where(AssignmentSlip.leader_id == ctx.person.id,
                                                AssignmentSlip.state == SLIP_PENDING)):
        return None
    waiting = waiting_for(ctx)
    if len(waiting) == 1:
        kind, row = waiting[0]
        return act(ctx, kind, row, approve, (args or "").strip())
    if waiting:
        return Reply(ctx.render("projects/which_waiting.txt", waiting=waiting, approve=approve))
    return None


# -- milestones and problems (the joint office) ---------------------------------------------------------
# The joint office's commands stay out of the menu (it would outgrow one WeCom reply): every notice that
# calls for one says what to type, and docs/key-projects.md lists them.
@commands.command("确认达成", order=81)
def confirm_milestone(ctx: Context, args: str):
    parsed = P.parse_code(ctx.session, args)
    if parsed is None or parsed[0] != "LC" or parsed[1] is None:
        return ctx.render("projects/usage_confirm.txt")
    try:
        ms = P.do_confirm_milestone(ctx, parsed[1])
    except Refused as exc:
        return refused(ctx, exc)
    return ctx.render("projects/milestone_confirmed.txt", ms=ms, project=ms.project)


@commands.command("问题解决", order=83)
def close_problem(ctx: Context, args: str):
    parsed = P.parse_code(ctx.session, args)
    if parsed is None or parsed[0] != "WT" or parsed[1] is None:
        return ctx.render("projects/usage_problem.txt")
    try:
        problem = P.do_close_problem(ctx, parsed[1])
    except Refused as exc:
        return refused(ctx, exc)
    return ctx.render("projects/problem_closed.txt", problem=problem, categories=PROBLEM_CATEGORIES)


def save_milestone(ctx: Context, data: dict, meta: dict) -> Reply:
    project = ctx.session.get(KeyProject, data["project"])
    try:
        ms = P.do_add_milestone(ctx, project, data["target"], F.parse_iso(data["deadline"]))
    except Refused as exc:
        raise engine.Invalid(exc.template, **exc.kw) from exc
    return Reply(ctx.render("projects/milestone_saved.txt", ms=ms, project=project))


MILESTONE = commands.flow(Flow(
    name="milestone",
    steps=[
        Field("project", "projects/ask_project.txt",
              choices=lambda fc: [(p.id, p.name) for p in P.all_projects(fc.ctx.session)]),
        Field("target", "projects/ask_target.txt", F.text(500, min_len=2)),
        Field("deadline", "projects/ask_ms_deadline.txt", F.a_date("future")),
    ],
    save=save_milestone,
    title="projects/milestone_title.txt",
    summary="projects/milestone_summary.txt",
))


@commands.command("新增里程碑", order=82)
def add_milestone(ctx: Context, args: str):
    if not P.is_office(ctx.session, ctx.roles, ctx.person):
        return ctx.render("projects/not_office.txt")
    names = {str(p.id): p.name for p in P.all_projects(ctx.session)}
    return engine.start(ctx, MILESTONE, meta={"project_names": names})


# -- 项目 --------------------------------------------------------------------------------------------------
def project_view(ctx: Context, project: KeyProject) -> dict:
    s = ctx.session
    today = ctx.now.date()
    week = K.week_start(today)
    topics = list(s.scalars(select(MeetingTopic).where(MeetingTopic.project_id == project.id,
                                                       MeetingTopic.state != TOPIC_DECIDED).order_by(MeetingTopic.id)))
    decisions = list(s.scalars(select(Matter).join(MeetingTopic, MeetingTopic.id == Matter.topic_id).where(
        Matter.kind == KIND_TOPIC, MeetingTopic.project_id == project.id, Matter.state != MATTER_CLOSED)
        .order_by(Matter.deadline, Matter.id)))
    problems = P.open_problems(s, project)
    by_cat = {k: [p for p in problems if p.category == k] for k in PROBLEM_CATEGORIES}
    return {"project": project, "milestones": [P.milestone_view(m, today) for m in project.milestones],
            "report": P.weekly_report(s, project.id, week), "week": week, "due": K.form_due(week),
            "problems": by_cat, "topics": topics, "decisions": decisions, "today": today}


@commands.command("项目", "重点项目", menu_key="kp_status", summary="查看“难硬重新”项目进展", order=45)
def projects(ctx: Context, args: str):
    visible = P.visible_projects(ctx)
    if not visible:
        return ctx.render("projects/none_visible.txt")
    hits = P.find_project(visible, args)
    if not hits:
        return ctx.render("projects/which_project.txt", projects=visible, command="项目")
    views = [project_view(ctx, p) for p in hits]
    return ctx.render("projects/overview.txt", views=views, categories=PROBLEM_CATEGORIES, honorific=P.honorific,
                      detail=len(views) == 1, WEEKLY_RETURNED=WEEKLY_RETURNED, WEEKLY_REVIEWED=WEEKLY_REVIEWED)
