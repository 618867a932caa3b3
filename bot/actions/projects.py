"""Seed 001 (泉港政办〔2021〕6号) as actions: the weekly form and its review, milestones, topics (议题), the
joint meeting (联合会议) and its minutes, decisions tracked as ledger items, §三(四) transfers, and who may do
what. Each `do_*` runs in the caller's transaction (a handler's message or a job): it checks, writes the rows,
audits and queues the notices. A state change is a conditional UPDATE (… WHERE state = expected), so two
people acting at once cannot both apply it: the second gets `Refused("…/already.txt")`.

The texts are templates/projects/*.txt; the recipients are the org chart's (config/seed/quangang.yaml):
the project's lead units' liaisons and its leader (KeyProject.leader), the joint office (work group
`joint_office`, chat `joint_office`), the conveners (ROLE_CONVENER), 区委区政府主要领导 (`main_leaders`),
区委督查室 / 区政府督查室 (`party_supervision` / `gov_supervision`), 区纪委监委 (`discipline`), 区效能办
(`efficiency_office`).
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Optional
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.actions import decisions
from bot.actions.base import settings_of
from bot.actions.forms import send_forms
from bot.core.messages import Context
from bot.documents.projects import form_info_from_seed, projects_filename, projects_xlsx
from bot.domain import keyprojects as K
from bot.domain.address import address
from bot.domain.codes import add_matter
from bot.infra import audit
from models import (
    KIND_TOPIC,
    MATTER_CLOSED,
    MEETING_CALLED,
    MEETING_DECLINED,
    MEETING_DRAFTED,
    MEETING_PLANNED,
    MEETING_PROPOSED,
    MEETING_SIGNED,
    PROBLEM_CATEGORIES,
    ROLE_ADMIN,
    ROLE_CONVENER,
    ROLE_SUPERVISION,
    TOPIC_APPROVED,
    TOPIC_DECIDED,
    TOPIC_RETURNED,
    TOPIC_REVIEWED,
    TOPIC_SUBMITTED,
    TRANSFER_APPROVED,
    TRANSFER_REFUSED,
    TRANSFER_REQUESTED,
    TRANSFER_TARGETS,
    WEEKLY_RETURNED,
    WEEKLY_REVIEWED,
    WEEKLY_SUBMITTED,
    DecisionTransfer,
    GroupMembership,
    JointMeeting,
    KeyProject,
    Matter,
    MeetingTopic,
    Milestone,
    MilestoneProgress,
    Person,
    ProjectProblem,
    Unit,
    WeeklyProjectReport,
    WorkGroup,
    key_project_unit,
)

OFFICE_CHAT = "joint_office"
TZ = ZoneInfo("Asia/Shanghai")  # the office's dates (DOMAIN.md)
TRANSFER_GROUP = {"party": "party_supervision", "gov": "gov_supervision"}


class Refused(Exception):
    """The action can't be done: `template` (templates/projects/…) says why, with `kw`."""

    def __init__(self, template: str, **kw):
        super().__init__(template)
        self.template = template
        self.kw = kw


# -- who is who -------------------------------------------------------------------------------------------
def honorific(person: Optional[Person]) -> str:
    """A leader by name and title as the office writes it (bot.domain.address.address)."""
    return address(person)


def group_members(session: Session, code: str) -> list[Person]:
    return list(session.scalars(
        select(Person).join(GroupMembership, GroupMembership.person_id == Person.id)
        .join(WorkGroup, WorkGroup.id == GroupMembership.group_id)
        .where(WorkGroup.code == code, Person.active.is_(True)).order_by(GroupMembership.seq, Person.id)))


def is_office(session: Session, ctx_roles, person: Person) -> bool:
    """A member of 联合协调领导小组办公室 (or an admin)."""
    if ctx_roles.has(ROLE_ADMIN):
        return True
    return person.id in {p.id for p in group_members(session, "joint_office")}


def is_convener(ctx_roles) -> bool:
    return ctx_roles.has(ROLE_CONVENER)


def conveners(session: Session) -> list[Person]:
    """总召集人 first, then the 召集人, in the leadership group's order."""
    out = []
    for m in session.scalars(select(GroupMembership).join(WorkGroup).where(
            WorkGroup.code == "joint_leadership", GroupMembership.position.in_(("总召集人", "召集人")))
            .order_by(GroupMembership.seq)):
        out.append(m.person)
    return out


def lead_projects(session: Session, unit_ids: Iterable[int]) -> list[KeyProject]:
    """The projects whose 总牵头单位 is one of these units (the liaison fills the form for them)."""
    ids = list(unit_ids)
    if not ids:
        return []
    return list(session.scalars(select(KeyProject).join(key_project_unit).where(
        key_project_unit.c.unit_id.in_(ids)).distinct().order_by(KeyProject.seq)))


def led_projects(session: Session, person: Person) -> list[KeyProject]:
    return list(session.scalars(select(KeyProject).where(KeyProject.leader_id == person.id).order_by(KeyProject.seq)))


def all_projects(session: Session) -> list[KeyProject]:
    return list(session.scalars(select(KeyProject).order_by(KeyProject.seq)))


def visible_projects(ctx: Context) -> list[KeyProject]:
    """Conveners, the joint office, the supervision group and admins see all projects; a project's leader and
    its lead units' liaisons and heads see theirs."""
    s = ctx.session
    if is_convener(ctx.roles) or ctx.roles.has(ROLE_SUPERVISION) or is_office(s, ctx.roles, ctx.person):
        return all_projects(s)
    mine = {p.id: p for p in led_projects(s, ctx.person)}
    for p in lead_projects(s, set(ctx.roles.liaison_unit_ids) | set(ctx.roles.head_unit_ids)):
        mine.setdefault(p.id, p)
    return sorted(mine.values(), key=lambda p: p.seq)


def find_project(projects: list[KeyProject], text: str) -> list[KeyProject]:
    """Projects named by (part of) the name or by their number: 锦川, 1, 医院."""
    text = (text or "").strip()
    if not text:
        return projects
    if text.isdigit():
        return [p for p in projects if p.seq == int(text)]
    return [p for p in projects if text in p.name]


def live(person: Optional[Person]) -> bool:
    """Someone a notice can reach: a real, active person (not a 待指定 placeholder)."""
    return person is not None and person.active and not person.placeholder


def lead_liaisons(project: KeyProject) -> list[Person]:
    return [u.liaison for u in project.lead_units if live(u.liaison)]


def _transition(session: Session, model, obj, expected, **values) -> None:
    """Move `obj` to new values only if its state is still one of `expected` (a second actor loses)."""
    expected = (expected,) if isinstance(expected, str) else tuple(expected)
    done = session.execute(update(model).where(model.id == obj.id, model.state.in_(expected)).values(**values)
                           .execution_options(synchronize_session=False)).rowcount
    if not done:
        session.refresh(obj)
        raise Refused("projects/already.txt", code=obj.code, state=obj.state)
    session.refresh(obj)


def _audit(ctx: Context, action: str, entity: str, obj, before: dict, reason: Optional[str] = None) -> None:
    b, a = audit.diff(before, audit.snapshot(obj))
    audit.record(ctx.session, actor=ctx.person, action=action, entity=entity, entity_id=obj.code, before=b,
                 after=a, reason=reason, at=ctx.now)


def need_reason(reason: Optional[str]) -> str:
    reason = (reason or "").strip()
    if not reason or not any(ch.isalnum() for ch in reason):
        raise Refused("projects/need_reason.txt")
    if len(reason) > 1000:
        raise Refused("projects/too_long.txt", max=1000, got=len(reason))
    return reason


# -- the weekly form --------------------------------------------------------------------------------------
def weekly_report(session: Session, project_id: int, week: date) -> Optional[WeeklyProjectReport]:
    return session.scalar(select(WeeklyProjectReport).where(WeeklyProjectReport.project_id == project_id,
                                                            WeeklyProjectReport.week_start == week))


def do_submit_weekly(ctx: Context, project: KeyProject, unit: Unit, week: date, data: dict,
                     milestone_ids: list[int]) -> WeeklyProjectReport:
    """The lead unit's liaison submits (or, after 退回 or while it waits, revises) the week's form; the project's
    leader is asked to review it. A reviewed form is final for its week."""
    s = ctx.session
    report = weekly_report(s, project.id, week)
    before = audit.snapshot(report) if report else {}
    if report is not None and report.state == WEEKLY_REVIEWED:
        raise Refused("projects/weekly_final.txt", report=report, project=project)
    if report is None:
        report = WeeklyProjectReport(project_id=project.id, week_start=week, submitted_by_id=ctx.person.id,
                                     submitted_at=ctx.now, state=WEEKLY_SUBMITTED, revision=1)
        s.add(report)
    else:
        report.revision = (report.revision or 1) + 1
        report.state = WEEKLY_SUBMITTED
        report.submitted_by_id = ctx.person.id
        report.submitted_at = ctx.now
        report.milestone_lines.clear()
        report.problems.clear()
        s.flush()
    report.filled_unit_id = unit.id
    report.return_reason = None
    report.draft = {"data": data, "milestone_ids": list(milestone_ids)}
    for ms_id, line in zip(milestone_ids, data.get("milestones", []), strict=False):
        report.milestone_lines.append(MilestoneProgress(milestone_id=ms_id, progress=line["progress"],
                                                        met=line["met"] == "met"))
    for p in data.get("problems", []):
        report.problems.append(ProjectProblem(category=p["category"], description=p["description"],
                                              responsible_unit_id=p["unit"]["id"], progress=p["progress"],
                                              proposal=p["proposal"]))
    s.flush()
    audit.record(s, actor=ctx.person, action="submit" if report.revision == 1 else "resubmit",
                 entity="weekly_project_report", entity_id=report.code,
                 before=audit.diff(before, audit.snapshot(report))[0] if before else None,
                 after=audit.snapshot(report, only=("project_id", "week_start", "state", "revision",
                                                    "filled_unit_id")), at=ctx.now)
    leader = project.leader
    if live(leader):
        ctx.notify_person(leader, ctx.render("projects/weekly_to_leader.txt", report=report, project=project,
                                             unit=unit, leader=leader, categories=PROBLEM_CATEGORIES),
                          key=f"kp-weekly-review:{report.id}:{report.revision}", kind="key_project",
                          card=decisions.card(ctx, "weekly", report))
    return report


def pending_reviews(session: Session, person: Person) -> list[WeeklyProjectReport]:
    return list(session.scalars(select(WeeklyProjectReport).join(KeyProject).where(
        KeyProject.leader_id == person.id, WeeklyProjectReport.state == WEEKLY_SUBMITTED)
        .order_by(WeeklyProjectReport.id)))


def do_review_weekly(ctx: Context, report: WeeklyProjectReport, approve: bool,
                     reason: Optional[str] = None) -> WeeklyProjectReport:
    """The project's leader reviews the form: 同意 sends it to the joint office (only then does it count as
    submitted; milestones it claims met wait for the office's confirmation) and mails the week's form to the
    project's report mailbox, 退回 with a reason sends it back."""
    s = ctx.session
    project = report.project
    if project.leader_id != ctx.person.id:
        raise Refused("projects/not_project_leader.txt", project=project, leader=project.leader)
    before = audit.snapshot(report)
    if approve:
        _transition(s, WeeklyProjectReport, report, WEEKLY_SUBMITTED, state=WEEKLY_REVIEWED,
                    reviewed_by_id=ctx.person.id, reviewed_at=ctx.now)
        _audit(ctx, "review", "weekly_project_report", report, before)
        claims = []
        for line in report.milestone_lines:
            ms = line.milestone
            if line.met and ms.done_on is None and ms.claimed_on is None:
                ms.claimed_on = ctx.now.date()
                claims.append(ms)
        s.flush()
        ctx.notify_group(OFFICE_CHAT, ctx.render("projects/weekly_to_office.md", report=report, project=project,
                                                 leader=ctx.person, claims=claims, categories=PROBLEM_CATEGORIES,
                                                 honorific=honorific),
                         key=f"kp-weekly-office:{report.id}", kind="key_project")
        _mail_weekly_form(ctx, report, project)
        notice_to = report.submitted_by
        if live(notice_to):
            ctx.notify_person(notice_to, ctx.render("projects/weekly_reviewed_to_filler.txt", report=report,
                                                    project=project, leader=ctx.person, honorific=honorific),
                              key=f"kp-weekly-reviewed:{report.id}", kind="key_project")
        return report
    reason = need_reason(reason)
    _transition(s, WeeklyProjectReport, report, WEEKLY_SUBMITTED, state=WEEKLY_RETURNED, return_reason=reason)
    _audit(ctx, "return", "weekly_project_report", report, before, reason=reason)
    if live(report.submitted_by):
        ctx.notify_person(report.submitted_by, ctx.render(
            "projects/weekly_returned_to_filler.txt", report=report, project=project, leader=ctx.person,
            reason=reason, honorific=honorific), key=f"kp-weekly-returned:{report.id}:{report.revision}",
            kind="key_project")
    return report


def _mail_weekly_form(ctx: Context, report: WeeklyProjectReport, project: KeyProject) -> None:
    """The reviewed week's form (.xlsx) to the project's report mailbox (seed 001: 7719664@qq.com)."""
    settings = settings_of(ctx)
    if settings is None or not project.report_mailbox:
        return
    unit = ctx.session.get(Unit, report.filled_unit_id) if report.filled_unit_id else None
    data = projects_xlsx(ctx.session, report.week_start, form_info_from_seed(settings.SEED_FILE),
                         unit.name if unit else "")
    send_forms(ctx, [(projects_filename(report.week_start), data)], key=f"kp-weekly:{report.id}", kind="key_project",
               mailboxes=[project.report_mailbox], mail="weekly", project=project, report=report, leader=ctx.person,
               filler=report.submitted_by if live(report.submitted_by) else None)


# -- milestones -------------------------------------------------------------------------------------------
def milestone_view(ms: Milestone, today: date) -> dict:
    st = K.milestone_state(ms.deadline, ms.done_on, today)
    return {"ms": ms, "state": st.state, "days": st.days, "claimed": ms.claimed_on is not None and ms.done_on is None}


def do_confirm_milestone(ctx: Context, ms: Milestone) -> Milestone:
    """The joint office confirms a milestone met (on the day the reviewed form claimed it, else today)."""
    if not is_office(ctx.session, ctx.roles, ctx.person):
        raise Refused("projects/not_office.txt")
    done = ms.claimed_on or ctx.now.date()
    n = ctx.session.execute(update(Milestone).where(Milestone.id == ms.id, Milestone.done_on.is_(None))
                            .values(done_on=done, confirmed_by_id=ctx.person.id)
                            .execution_options(synchronize_session=False)).rowcount
    ctx.session.refresh(ms)
    if not n:
        raise Refused("projects/milestone_already.txt", ms=ms)
    audit.record(ctx.session, actor=ctx.person, action="confirm", entity="milestone", entity_id=f"LC{ms.id}",
                 after={"done_on": done.isoformat()}, at=ctx.now)
    for p in lead_liaisons(ms.project):
        ctx.notify_person(p, ctx.render("projects/milestone_met.txt", ms=ms, project=ms.project),
                          key=f"kp-milestone-met:{ms.id}:{p.id}", kind="key_project")
    return ms


def do_add_milestone(ctx: Context, project: KeyProject, target: str, deadline: date) -> Milestone:
    """The joint office adds the next target of a project (the seed's table is the first batch)."""
    if not is_office(ctx.session, ctx.roles, ctx.person):
        raise Refused("projects/not_office.txt")
    seq = (ctx.session.scalar(select(func.max(Milestone.seq)).where(Milestone.project_id == project.id)) or 0) + 1
    ms = Milestone(project_id=project.id, seq=seq, target=target, deadline=deadline, created_by_id=ctx.person.id)
    ctx.session.add(ms)
    ctx.session.flush()
    audit.record(ctx.session, actor=ctx.person, action="create", entity="milestone", entity_id=f"LC{ms.id}",
                 after=audit.snapshot(ms), at=ctx.now)
    for p in lead_liaisons(project):
        ctx.notify_person(p, ctx.render("projects/milestone_added.txt", ms=ms, project=project),
                          key=f"kp-milestone-added:{ms.id}:{p.id}", kind="key_project")
    return ms


def do_close_problem(ctx: Context, problem: ProjectProblem) -> ProjectProblem:
    """The joint office records a problem of the form as solved (counted for its responsible unit, §四(一))."""
    if not is_office(ctx.session, ctx.roles, ctx.person):
        raise Refused("projects/not_office.txt")
    n = ctx.session.execute(update(ProjectProblem).where(ProjectProblem.id == problem.id,
                                                         ProjectProblem.closed_at.is_(None))
                            .values(closed_at=ctx.now, closed_by_id=ctx.person.id)
                            .execution_options(synchronize_session=False)).rowcount
    ctx.session.refresh(problem)
    if not n:
        raise Refused("projects/problem_already.txt", problem=problem)
    audit.record(ctx.session, actor=ctx.person, action="close", entity="project_problem", entity_id=f"WT{problem.id}",
                 at=ctx.now)
    return problem


def open_problems(session: Session, project: KeyProject) -> list[ProjectProblem]:
    """Problems of the project's latest reviewed form not yet recorded as solved."""
    last = session.scalar(select(WeeklyProjectReport).where(
        WeeklyProjectReport.project_id == project.id, WeeklyProjectReport.state == WEEKLY_REVIEWED)
        .order_by(WeeklyProjectReport.week_start.desc()))
    if last is None:
        return []
    return [p for p in last.problems if p.closed_at is None]


# -- topics -----------------------------------------------------------------------------------------------
def do_submit_topic(ctx: Context, project: KeyProject, data: dict, topic: Optional[MeetingTopic] = None
                    ) -> MeetingTopic:
    """A lead unit raises a topic (§三(二)): what needs coordinating, 办理意见, responsible units and time limit,
    the departments consulted beforehand (§四(一)); or resubmits a returned one. The joint office reviews it."""
    s = ctx.session
    values = dict(title=data["title"], proposed_solution=data["solution"], responsible_units_text=data["units"],
                  time_limit=date.fromisoformat(data["time_limit"]), consulted=data["consulted"])
    if topic is None:
        topic = MeetingTopic(project_id=project.id, raised_by_id=ctx.person.id, raised_at=ctx.now,
                             state=TOPIC_SUBMITTED, revision=1, **values)
        s.add(topic)
        s.flush()
        audit.record(s, actor=ctx.person, action="create", entity="meeting_topic", entity_id=topic.code,
                     after=audit.snapshot(topic), at=ctx.now)
    else:
        if topic.raised_by_id != ctx.person.id:
            raise Refused("projects/not_raiser.txt", topic=topic)
        before = audit.snapshot(topic)
        _transition(s, MeetingTopic, topic, TOPIC_RETURNED, state=TOPIC_SUBMITTED, return_reason=None,
                    revision=topic.revision + 1, **values)
        _audit(ctx, "resubmit", "meeting_topic", topic, before)
    ctx.notify_group(OFFICE_CHAT, ctx.render("projects/topic_to_office.md", topic=topic, project=project),
                     key=f"kp-topic-office:{topic.id}:{topic.revision}", kind="key_project")
    return topic


def _tell_raiser(ctx: Context, topic: MeetingTopic, template: str, key: str, **kw) -> None:
    if live(topic.raised_by):
        ctx.notify_person(topic.raised_by, ctx.render(template, topic=topic, actor=ctx.person, honorific=honorific,
                                                      **kw), key=key, kind="key_project")


def do_review_topic(ctx: Context, topic: MeetingTopic, approve: bool, reason: Optional[str] = None) -> MeetingTopic:
    """The joint office checks the materials (经审核): 通过 → the conveners are asked; 退回 → back with a reason."""
    if not is_office(ctx.session, ctx.roles, ctx.person):
        raise Refused("projects/not_office.txt")
    before = audit.snapshot(topic)
    if approve:
        _transition(ctx.session, MeetingTopic, topic, TOPIC_SUBMITTED, state=TOPIC_REVIEWED,
                    reviewed_by_id=ctx.person.id, reviewed_at=ctx.now)
        _audit(ctx, "review", "meeting_topic", topic, before)
        for c in conveners(ctx.session):
            if live(c):
                ctx.notify_person(c, ctx.render("projects/topic_to_convener.txt", topic=topic, convener=c,
                                                honorific=honorific),
                                  key=f"kp-topic-convener:{topic.id}:{topic.revision}:{c.id}", kind="key_project",
                                  card=decisions.card(ctx, "topic", topic))
        _tell_raiser(ctx, topic, "projects/topic_reviewed_to_raiser.txt",
                     f"kp-topic-reviewed:{topic.id}:{topic.revision}")
        return topic
    reason = need_reason(reason)
    _transition(ctx.session, MeetingTopic, topic, TOPIC_SUBMITTED, state=TOPIC_RETURNED, return_reason=reason,
                reviewed_by_id=ctx.person.id, reviewed_at=ctx.now)
    _audit(ctx, "return", "meeting_topic", topic, before, reason=reason)
    _tell_raiser(ctx, topic, "projects/topic_returned_to_raiser.txt", f"kp-topic-returned:{topic.id}:{topic.revision}",
                 reason=reason)
    return topic


def next_meeting(ctx: Context, project: KeyProject) -> JointMeeting:
    """The project's next joint meeting not yet called (联合会议原则上按专项每周召开一次): created for the
    Monday after today when there is none."""
    s = ctx.session
    meeting = s.scalar(select(JointMeeting).where(JointMeeting.project_id == project.id,
                                                  JointMeeting.state == MEETING_PLANNED).order_by(JointMeeting.id))
    if meeting is None:
        today = ctx.now.date()
        day = K.form_due(today + timedelta(days=7 - today.weekday()))
        meeting = JointMeeting(project_id=project.id, meeting_date=day, state=MEETING_PLANNED,
                               created_by_id=ctx.person.id, created_at=ctx.now, invited_unit_ids=[])
        s.add(meeting)
        s.flush()
        audit.record(s, actor=ctx.person, action="create", entity="joint_meeting", entity_id=meeting.code,
                     after=audit.snapshot(meeting), at=ctx.now)
    return meeting


def do_approve_topic(ctx: Context, topic: MeetingTopic, approve: bool, reason: Optional[str] = None) -> MeetingTopic:
    """A convener (总召集人 or 召集人) agrees (报总召集人或召集人同意后，列入议题): the topic goes on the agenda of the
    project's next joint meeting, which this convener chairs unless another already does; or returns it."""
    if not is_convener(ctx.roles):
        raise Refused("projects/not_convener.txt")
    before = audit.snapshot(topic)
    if approve:
        meeting = next_meeting(ctx, topic.project)
        _transition(ctx.session, MeetingTopic, topic, TOPIC_REVIEWED, state=TOPIC_APPROVED,
                    approved_by_id=ctx.person.id, approved_at=ctx.now, meeting_id=meeting.id,
                    meeting_date=meeting.meeting_date)
        if meeting.chair_id is None:
            meeting.chair_id = ctx.person.id
        ctx.session.flush()
        _audit(ctx, "approve", "meeting_topic", topic, before)
        _tell_raiser(ctx, topic, "projects/topic_approved_to_raiser.txt", f"kp-topic-approved:{topic.id}",
                     meeting=meeting)
        ctx.notify_group(OFFICE_CHAT, ctx.render("projects/topic_approved_to_office.txt", topic=topic,
                                                 meeting=meeting, actor=ctx.person, honorific=honorific),
                         key=f"kp-topic-agenda:{topic.id}", kind="key_project")
        return topic
    reason = need_reason(reason)
    _transition(ctx.session, MeetingTopic, topic, TOPIC_REVIEWED, state=TOPIC_RETURNED, return_reason=reason)
    _audit(ctx, "return", "meeting_topic", topic, before, reason=reason)
    _tell_raiser(ctx, topic, "projects/topic_returned_to_raiser.txt", f"kp-topic-returned:{topic.id}:{topic.revision}",
                 reason=reason)
    return topic


# -- the joint meeting ------------------------------------------------------------------------------------
def attending_units(session: Session, meeting: JointMeeting) -> list[Unit]:
    """The units at the meeting: the project's lead units, the units its members head, and those invited (列席)."""
    ids: list[int] = []
    if meeting.project is not None:
        ids += [u.id for u in meeting.project.lead_units]
    ids = list(dict.fromkeys(ids + list(meeting.invited_unit_ids or [])))
    return [session.get(Unit, i) for i in ids]


def attendees(session: Session, meeting: JointMeeting) -> list[Person]:
    """Who gets the agenda and the minutes: the chair, the units' liaisons, the project's leader."""
    people = []
    if meeting.chair is not None:
        people.append(meeting.chair)
    if meeting.project is not None and meeting.project.leader is not None:
        people.append(meeting.project.leader)
    people += [u.liaison for u in attending_units(session, meeting) if u.liaison is not None]
    return [p for p in dict.fromkeys(people) if live(p)]


def do_call_meeting(ctx: Context, meeting: JointMeeting, invited: list[Unit] = ()) -> JointMeeting:
    """The joint office sends the agenda (the approved topics) to the attendees beforehand."""
    if not is_office(ctx.session, ctx.roles, ctx.person):
        raise Refused("projects/not_office.txt")
    agenda = [t for t in meeting.topics if t.state == TOPIC_APPROVED]
    if not agenda:
        raise Refused("projects/no_agenda.txt", meeting=meeting)
    before = audit.snapshot(meeting)
    ids = list(dict.fromkeys(list(meeting.invited_unit_ids or []) + [u.id for u in invited]))
    _transition(ctx.session, JointMeeting, meeting, MEETING_PLANNED, state=MEETING_CALLED, called_at=ctx.now,
                invited_unit_ids=ids)
    _audit(ctx, "call", "joint_meeting", meeting, before)
    text = ctx.render("projects/agenda.txt", meeting=meeting, agenda=agenda, honorific=honorific,
                      units=attending_units(ctx.session, meeting))
    for p in attendees(ctx.session, meeting):
        ctx.notify_person(p, text, key=f"kp-agenda:{meeting.id}:{p.id}", kind="key_project")
    ctx.notify_group(OFFICE_CHAT, text, key=f"kp-agenda:{meeting.id}:office", kind="key_project")
    return meeting


def do_draft_minutes(ctx: Context, meeting: JointMeeting, decisions: list[dict]) -> JointMeeting:
    """The joint office records the minutes' decisions (议定事项); the chairing convener is asked to 签发."""
    if not is_office(ctx.session, ctx.roles, ctx.person):
        raise Refused("projects/not_office.txt")
    before = audit.snapshot(meeting)
    _transition(ctx.session, JointMeeting, meeting, (MEETING_CALLED, MEETING_DRAFTED), state=MEETING_DRAFTED,
                draft={"decisions": decisions, "rev": int((meeting.draft or {}).get("rev", 0)) + 1},
                drafted_by_id=ctx.person.id)
    _audit(ctx, "draft", "joint_meeting", meeting, before)
    if live(meeting.chair):
        ctx.notify_person(meeting.chair, ctx.render("projects/minutes_to_chair.txt", meeting=meeting,
                                                    decisions=decisions, honorific=honorific),
                          key=f"kp-minutes-sign:{meeting.id}:{meeting.draft['rev']}", kind="key_project")
    return meeting


def do_sign_minutes(ctx: Context, meeting: JointMeeting) -> list[Matter]:
    """The chairing convener signs (由总召集人或召集人签发): every decision becomes a T item of the ledger, the
    topics are decided, the minutes go to every attending unit and are copied to 区委区政府主要领导."""
    s = ctx.session
    if meeting.state != MEETING_DRAFTED:
        raise Refused("projects/already.txt", code=meeting.code, state=meeting.state)
    if meeting.chair_id != ctx.person.id:
        raise Refused("projects/not_chair.txt", meeting=meeting, chair=meeting.chair, honorific=honorific)
    before = audit.snapshot(meeting)
    _transition(s, JointMeeting, meeting, MEETING_DRAFTED, state=MEETING_SIGNED, signed_at=ctx.now)
    _audit(ctx, "sign", "joint_meeting", meeting, before)
    lead = meeting.project.lead_units[0] if meeting.project and meeting.project.lead_units else None
    matters = []
    for seq, d in enumerate((meeting.draft or {}).get("decisions", []), 1):
        due = date.fromisoformat(d["deadline"])
        m = add_matter(s, Matter(kind=KIND_TOPIC, topic_id=d["topic"]["id"], seq=seq, title=d["title"],
                                 leader_id=ctx.person.id, responsible_unit_id=d["unit"]["id"],
                                 lead_unit_id=lead.id if lead else None, deadline=due, original_deadline=due,
                                 created_by_id=meeting.drafted_by_id, created_at=ctx.now))
        audit.record(s, actor=ctx.person, action="create", entity="matter", entity_id=m.code,
                     after=audit.snapshot(m), at=ctx.now)
        matters.append(m)
    for t in meeting.topics:
        if t.state == TOPIC_APPROVED:
            t.state = TOPIC_DECIDED
            t.decision = "；".join(m.title for m in matters if m.topic_id == t.id) or None
    s.flush()
    units = {u.id: u for u in attending_units(s, meeting)}
    for m in matters:
        units.setdefault(m.responsible_unit_id, m.responsible_unit)
    text = ctx.render("projects/minutes_signed.txt", meeting=meeting, matters=matters, honorific=honorific,
                      chair=ctx.person)
    for uid, unit in units.items():
        mine = [m for m in matters if m.responsible_unit_id == uid]
        if live(unit.liaison):
            ctx.notify_person(unit.liaison, ctx.render("projects/minutes_to_unit.txt", meeting=meeting, unit=unit,
                                                       matters=matters, mine=mine, chair=ctx.person,
                                                       honorific=honorific),
                              key=f"kp-minutes-unit:{meeting.id}:{uid}", kind="key_project")
    for p in group_members(s, "main_leaders"):
        if live(p):
            ctx.notify_person(p, text, key=f"kp-minutes-copy:{meeting.id}:{p.id}", kind="key_project")
    ctx.notify_group(OFFICE_CHAT, text, key=f"kp-minutes-office:{meeting.id}", kind="key_project")
    return matters


def meeting_of(matter: Matter, session: Session) -> Optional[JointMeeting]:
    if matter.topic_id is None:
        return None
    topic = session.get(MeetingTopic, matter.topic_id)
    return topic.meeting if topic else None


# -- §三(四) transfers ------------------------------------------------------------------------------------
def do_request_transfer(ctx: Context, matter: Matter, target: str, reason: str, approver: Person,
                        discipline: bool = False, efficiency: bool = False) -> DecisionTransfer:
    """The joint office proposes handing a lagging decision to 区委督查室 / 区政府督查室; a district leader
    (by default the convener who signed the minutes) is asked to 批办."""
    s = ctx.session
    if not is_office(s, ctx.roles, ctx.person):
        raise Refused("projects/not_office.txt")
    if matter.kind != KIND_TOPIC:
        raise Refused("projects/not_decision.txt", matter=matter)
    if matter.state == MATTER_CLOSED:
        raise Refused("projects/decision_closed.txt", matter=matter)
    reason = need_reason(reason)
    if s.scalar(select(DecisionTransfer.id).where(DecisionTransfer.matter_id == matter.id,
                                                  DecisionTransfer.state.in_((TRANSFER_REQUESTED,
                                                                              TRANSFER_APPROVED)))):
        raise Refused("projects/transfer_exists.txt", matter=matter)
    tr = DecisionTransfer(matter_id=matter.id, target=target, reason=reason, notify_discipline=discipline,
                          notify_efficiency=efficiency, requested_by_id=ctx.person.id, requested_at=ctx.now,
                          approver_id=approver.id, state=TRANSFER_REQUESTED)
    s.add(tr)
    s.flush()
    audit.record(s, actor=ctx.person, action="request", entity="decision_transfer", entity_id=tr.code,
                 after=audit.snapshot(tr), reason=reason, at=ctx.now)
    if live(approver):
        ctx.notify_person(approver, ctx.render("projects/transfer_to_leader.txt", tr=tr, matter=matter,
                                               target_name=TRANSFER_TARGETS[target], honorific=honorific),
                          key=f"kp-transfer-ask:{tr.id}", kind="key_project")
    return tr


def do_decide_transfer(ctx: Context, tr: DecisionTransfer, approve: bool, note: Optional[str] = None
                       ) -> DecisionTransfer:
    """The leader 批办 (or not): approved, the 督查室 follows the item up, 区纪委监委 / 区效能办 are notified
    as asked, the responsible unit and the joint office are told; the item's escalation level is raised."""
    s = ctx.session
    if tr.approver_id != ctx.person.id:
        raise Refused("projects/not_approver.txt", tr=tr, approver=tr.approver, honorific=honorific)
    if not approve:
        note = need_reason(note)
    before = audit.snapshot(tr)
    _transition(s, DecisionTransfer, tr, TRANSFER_REQUESTED, state=TRANSFER_APPROVED if approve else TRANSFER_REFUSED,
                decided_at=ctx.now, decision_note=note)
    _audit(ctx, "approve" if approve else "refuse", "decision_transfer", tr, before, reason=note)
    matter = s.get(Matter, tr.matter_id)
    target_name = TRANSFER_TARGETS[tr.target]
    kw = dict(tr=tr, matter=matter, target_name=target_name, leader=ctx.person, honorific=honorific)
    if not approve:
        if live(tr.requested_by):
            ctx.notify_person(tr.requested_by, ctx.render("projects/transfer_refused.txt", **kw),
                              key=f"kp-transfer-refused:{tr.id}", kind="key_project")
        return tr
    before_m = audit.snapshot(matter)
    matter.escalation_level = max(matter.escalation_level or 0, 2)
    s.flush()
    b, a = audit.diff(before_m, audit.snapshot(matter))
    audit.record(s, actor=ctx.person, action="transfer", entity="matter", entity_id=matter.code, before=b, after=a,
                 reason=f"转{target_name}跟踪督办：{tr.reason}", at=ctx.now)
    parties = [(TRANSFER_GROUP[tr.target], "projects/transfer_to_supervision.txt")]
    if tr.notify_discipline:
        parties.append(("discipline", "projects/transfer_notice.txt"))
    if tr.notify_efficiency:
        parties.append(("efficiency_office", "projects/transfer_notice.txt"))
    for code, template in parties:
        for p in group_members(s, code):
            if live(p):
                ctx.notify_person(p, ctx.render(template, **kw), key=f"kp-transfer:{tr.id}:{code}:{p.id}",
                                  kind="key_project")
    unit = matter.responsible_unit
    if live(unit.liaison):
        ctx.notify_person(unit.liaison, ctx.render("projects/transfer_to_unit.txt", unit=unit, **kw),
                          key=f"kp-transfer:{tr.id}:unit", kind="key_project")
    ctx.notify_group(OFFICE_CHAT, ctx.render("projects/transfer_to_office.txt", **kw),
                     key=f"kp-transfer:{tr.id}:office", kind="key_project")
    return tr


# -- §四(一) cooperation ----------------------------------------------------------------------------------
@dataclass
class Cooperation:
    unit: str
    forms_due: int = 0
    forms_on_time: int = 0
    forms_late: int = 0
    forms_missing: int = 0
    decisions: int = 0
    decisions_on_time: int = 0
    decisions_overdue: int = 0
    problems: int = 0
    problems_closed: int = 0


def cooperation_table(session: Session, start: date, end: date, today: date) -> list[Cooperation]:
    """Each unit's part in the key projects over [start, end] (weeks whose Monday falls in it), for 区委组织部's
    cadre assessment (§四(一)): its forms (a lead unit's form counts once reviewed; on time by its due day),
    its decisions (T items due in the period: done by the deadline, or still open past it), its problems
    (responsible department in a reviewed form: how many recorded as solved)."""
    rows: dict[int, Cooperation] = {}

    def row(unit: Unit) -> Cooperation:
        return rows.setdefault(unit.id, Cooperation(unit.name))

    weeks = K.weeks_in(start, end, today)
    for project in all_projects(session):
        for week in weeks:
            rep = weekly_report(session, project.id, week)
            reviewed = (rep.reviewed_at.astimezone(TZ).date() if rep is not None and rep.state == WEEKLY_REVIEWED
                        else None)
            units = [rep.filled_unit] if rep is not None and rep.filled_unit is not None else project.lead_units
            for unit in units:
                r = row(unit)
                r.forms_due += 1
                if reviewed is None:
                    r.forms_missing += 1
                elif K.on_time(week, reviewed):
                    r.forms_on_time += 1
                else:
                    r.forms_late += 1
    for m in session.scalars(select(Matter).where(Matter.kind == KIND_TOPIC, Matter.deadline >= start,
                                                  Matter.deadline <= end)):
        r = row(m.responsible_unit)
        r.decisions += 1
        if m.state == MATTER_CLOSED and m.closed_at is not None and m.closed_at.astimezone(TZ).date() <= m.deadline:
            r.decisions_on_time += 1
        elif m.state != MATTER_CLOSED and m.deadline < today:
            r.decisions_overdue += 1
    for p in session.scalars(select(ProjectProblem).join(WeeklyProjectReport).where(
            WeeklyProjectReport.state == WEEKLY_REVIEWED, WeeklyProjectReport.week_start >= start,
            WeeklyProjectReport.week_start <= end, ProjectProblem.responsible_unit_id.is_not(None))):
        r = row(p.responsible_unit)
        r.problems += 1
        if p.closed_at is not None:
            r.problems_closed += 1
    return sorted(rows.values(), key=lambda c: c.unit)


@dataclass
class ProjectProgress:
    """One key project over a month (seed 001): its weekly forms (due / reviewed / on time, as
    `cooperation_table` counts them) and its milestones due in the month (met by the deadline, met after it,
    still not met past it)."""

    project: str
    lead_units: str
    forms_due: int = 0
    forms_reviewed: int = 0
    forms_on_time: int = 0
    milestones_due: int = 0
    milestones_on_time: int = 0
    milestones_late: int = 0
    milestones_overdue: int = 0


def project_table(session: Session, start: date, end: date, today: date) -> list[ProjectProgress]:
    """Each key project over [start, end]: the weeks whose Monday falls in it (up to `today`), and the
    milestones whose 完成时限 falls in it."""
    weeks = K.weeks_in(start, end, today)
    out = []
    for project in all_projects(session):
        r = ProjectProgress(project.name, "、".join(u.name for u in project.lead_units))
        for week in weeks:
            rep = weekly_report(session, project.id, week)
            r.forms_due += 1
            if rep is not None and rep.state == WEEKLY_REVIEWED:
                r.forms_reviewed += 1
                r.forms_on_time += K.on_time(week, rep.reviewed_at.astimezone(TZ).date())
        for ms in project.milestones:
            if not start <= ms.deadline <= end:
                continue
            r.milestones_due += 1
            if ms.done_on is not None:
                if ms.done_on <= ms.deadline:
                    r.milestones_on_time += 1
                else:
                    r.milestones_late += 1
            elif K.milestone_state(ms.deadline, None, today).state == K.OVERDUE:
                r.milestones_overdue += 1
        if r.forms_due or r.milestones_due:
            out.append(r)
    return out


# -- codes --------------------------------------------------------------------------------------------------
RE_CODE = re.compile(r"^\s*(ZH|YT|HY|ZB|LC|WT)\s*(\d{1,9})\s*(.*)$", re.IGNORECASE | re.DOTALL)
CODE_MODELS = {"ZH": WeeklyProjectReport, "YT": MeetingTopic, "HY": JointMeeting, "ZB": DecisionTransfer,
               "LC": Milestone, "WT": ProjectProblem}


def parse_code(session: Session, text: str):
    """(kind, row or None, rest) for a typed project code (ZH3 form, YT2 topic, HY1 meeting, ZB1 transfer,
    LC5 milestone, WT4 problem); None when the text does not start with one."""
    m = RE_CODE.match(text or "")
    if not m:
        return None
    kind = m.group(1).upper()
    return kind, session.get(CODE_MODELS[kind], int(m.group(2))), m.group(3).strip()


def do_return_minutes(ctx: Context, meeting: JointMeeting, reason: Optional[str]) -> JointMeeting:
    """The chair sends the draft minutes back to the joint office with a reason (edited, then drafted again)."""
    if meeting.state != MEETING_DRAFTED:
        raise Refused("projects/already.txt", code=meeting.code, state=meeting.state)
    if meeting.chair_id != ctx.person.id:
        raise Refused("projects/not_chair.txt", meeting=meeting, chair=meeting.chair, honorific=honorific)
    reason = need_reason(reason)
    before = audit.snapshot(meeting)
    _transition(ctx.session, JointMeeting, meeting, MEETING_DRAFTED, state=MEETING_CALLED)
    _audit(ctx, "return", "joint_meeting", meeting, before, reason=reason)
    drafter = ctx.session.get(Person, meeting.drafted_by_id) if meeting.drafted_by_id else None
    if live(drafter):
        ctx.notify_person(drafter, ctx.render("projects/minutes_returned.txt", meeting=meeting, reason=reason,
                                              chair=ctx.person, honorific=honorific),
                          key=f"kp-minutes-returned:{meeting.id}:{(meeting.draft or {}).get('rev', 0)}",
                          kind="key_project")
    return meeting


def may_propose_meeting(ctx: Context) -> bool:
    """可由成员单位提议: members of the leadership group, the joint office, and the projects' lead units."""
    s = ctx.session
    members = {p.id for p in group_members(s, "joint_leadership")}
    return (ctx.person.id in members or is_office(s, ctx.roles, ctx.person)
            or bool(lead_projects(s, ctx.roles.liaison_unit_ids)))


def do_propose_meeting(ctx: Context, project: KeyProject, day: date, purpose: str) -> JointMeeting:
    """An extra joint meeting (如有需要，可由成员单位提议，经总召集人或召集人同意可随时召开): the conveners are \
asked."""
    if not may_propose_meeting(ctx):
        raise Refused("projects/not_member.txt")
    meeting = JointMeeting(project_id=project.id, meeting_date=day, state=MEETING_PROPOSED, extra=True,
                           purpose=purpose, created_by_id=ctx.person.id, created_at=ctx.now, invited_unit_ids=[])
    ctx.session.add(meeting)
    ctx.session.flush()
    audit.record(ctx.session, actor=ctx.person, action="propose", entity="joint_meeting", entity_id=meeting.code,
                 after=audit.snapshot(meeting), at=ctx.now)
    for c in conveners(ctx.session):
        if live(c):
            ctx.notify_person(c, ctx.render("projects/extra_to_convener.txt", meeting=meeting, project=project,
                                            proposer=ctx.person, convener=c),
                              key=f"kp-extra-ask:{meeting.id}:{c.id}", kind="key_project")
    return meeting


def do_decide_extra_meeting(ctx: Context, meeting: JointMeeting, approve: bool, reason: Optional[str] = None
                            ) -> JointMeeting:
    """A convener agrees to the extra meeting (and chairs it) or declines it with a reason."""
    if not is_convener(ctx.roles):
        raise Refused("projects/not_convener.txt")
    if not approve:
        reason = need_reason(reason)
    before = audit.snapshot(meeting)
    if approve:
        _transition(ctx.session, JointMeeting, meeting, MEETING_PROPOSED, state=MEETING_PLANNED, chair_id=ctx.person.id)
    else:
        _transition(ctx.session, JointMeeting, meeting, MEETING_PROPOSED, state=MEETING_DECLINED)
    _audit(ctx, "approve" if approve else "decline", "joint_meeting", meeting, before, reason=reason)
    proposer = ctx.session.get(Person, meeting.created_by_id)
    text = ctx.render("projects/extra_decided.txt", meeting=meeting, approve=approve, reason=reason,
                      convener=ctx.person, honorific=honorific)
    if live(proposer):
        ctx.notify_person(proposer, text, key=f"kp-extra-decided:{meeting.id}", kind="key_project")
    ctx.notify_group(OFFICE_CHAT, text, key=f"kp-extra-office:{meeting.id}", kind="key_project")
    return meeting
