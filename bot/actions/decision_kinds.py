"""The decisions of bot.actions.decisions, one `register` each: who decides, the card's content, and the
`do_*` action of each button — the same action the typed command runs."""
from __future__ import annotations

from typing import Optional

from sqlalchemy import func, select

from bot.actions.decisions import DEADLINE, REASON, Button, Closed, Deadline, Decision, register, utc
from bot.infra.text import cn_date, truncate_chars
from models import (
    ESC_ACCEPTED,
    ESC_RAISED,
    ESC_RETURNED,
    ESC_SUPERVISION_REQUEST,
    EXT_APPROVED,
    EXT_PENDING,
    EXT_REFUSED,
    MATTER_CLAIMED,
    MINUTES_DRAFTED,
    SLIP_PENDING,
    TOPIC_REVIEWED,
    WEEKLY_SUBMITTED,
    AssignmentSlip,
    AuditLog,
    Escalation,
    ExtensionRequest,
    Matter,
    MeetingTopic,
    Minutes,
    Person,
    WeeklyProjectReport,
)

# -- 交办单: the leader signs (同意) or returns it (退回, with a reason) ------------------------------

def _sign_slip(act, slip: AssignmentSlip, reason: Optional[str]) -> str:
    from bot.actions.slip import do_sign_slip

    rows = do_sign_slip(act, slip)
    return act.render("slip/signed.txt", slip=slip, rows=rows)


def _return_slip(act, slip: AssignmentSlip, reason: Optional[str]) -> str:
    from bot.actions.slip import do_return_slip

    do_return_slip(act, slip, reason)
    return act.render("slip/returned.txt", slip=slip, reason=reason)


def _slip_content(act, slip: AssignmentSlip) -> dict:
    rows = (slip.draft or {}).get("rows", [])
    drafter = slip.drafted_by
    fields = [("编号", slip.code), ("起草人", drafter.name if drafter else "—"),
              ("调度时间", cn_date(slip.dispatched_on)), ("事项", f"共 {len(rows)} 项")]
    fields += [(f"事项{k}", truncate_chars(r.get("title"), 24)) for k, r in enumerate(rows[:2], 1)]
    return {"title": f"交办单 {slip.code} 待您签发", "desc": "事项交办单（附件4）", "fields": fields}


SLIP = register(Decision(
    kind="slip", entity="assignment_slip",
    load=lambda s, i: s.get(AssignmentSlip, i),
    deciders=lambda slip: [slip.leader_id],
    is_open=lambda slip: slip.state == SLIP_PENDING,
    rev=lambda s, slip: int((slip.draft or {}).get("rev", 1)),
    content=_slip_content,
    buttons=(Button("sign", "同意签发", "已签发", "签发", primary=True, run=_sign_slip),
             Button("return", "退回修改", "已退回", "退回", ask=REASON, run=_return_slip)),
    ask="decision/name_slip.txt",
))


# -- 会议纪要: the leader issues (同意) or returns the draft (退回, with a reason) -----------------------

def _issue_minutes(act, minutes: Minutes, reason: Optional[str]) -> str:
    from bot.actions.minutes import do_issue_minutes

    unreached = do_issue_minutes(act, minutes)
    return act.render("minutes/issued.txt", minutes=minutes, matters=minutes.matters, unreached=unreached)


def _return_minutes(act, minutes: Minutes, reason: Optional[str]) -> str:
    from bot.actions.minutes import do_return_minutes

    do_return_minutes(act, minutes, reason)
    return act.render("minutes/returned.txt", minutes=minutes, reason=reason)


def _minutes_rev(session, minutes: Minutes) -> int:
    """1 + the returns so far: a draft resubmitted after a return is sent as a new card."""
    return 1 + int(session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.entity == "minutes", AuditLog.entity_id == str(minutes.id), AuditLog.action == "return")) or 0)


def _minutes_content(act, minutes: Minutes) -> dict:
    fields = [("编号", f"纪要{minutes.id}"), ("拟定单位", minutes.drafting_unit.name),
              ("会议日期", cn_date(minutes.meeting_date)), ("事项", f"共 {len(minutes.matters)} 项")]
    return {"title": f"会议纪要待您签发：{truncate_chars(minutes.title, 20)}", "desc": minutes.number or "会议纪要",
            "fields": fields}


MINUTES = register(Decision(
    kind="minutes", entity="minutes",
    load=lambda s, i: s.get(Minutes, i),
    deciders=lambda m: [m.leader_id],
    is_open=lambda m: m.state == MINUTES_DRAFTED,
    rev=_minutes_rev,
    content=_minutes_content,
    buttons=(Button("sign", "同意印发", "已签发", "签发", primary=True, run=_issue_minutes),
             Button("return", "退回修改", "已退回", "退回", ask=REASON, run=_return_minutes)),
    ask="decision/name_minutes.txt",
))


# -- 延期申请: the office supervisor of the item's row (admins if none) approves or refuses -------------

def _ext_deciders(req: ExtensionRequest) -> list:
    from sqlalchemy.orm import object_session

    from bot.actions.extension import deciders

    return [p.id for p in deciders(object_session(req), req.matter)]


def _decide_ext(approve: bool):
    def run(act, req: ExtensionRequest, reason: Optional[str]) -> str:
        from bot.actions.extension import do_decide_extension

        do_decide_extension(act, req, approve, reason)
        return act.render("extension/decided.txt", m=req.matter, req=req, approve=approve)
    return run


def _ext_content(act, req: ExtensionRequest) -> dict:
    m = req.matter
    return {"title": f"延期申请 {req.id} 待您审批", "desc": f"{m.code} {truncate_chars(m.title, 24)}",
            "fields": [("事项", m.code), ("责任单位", m.responsible_unit.name), ("原时限", cn_date(req.old_deadline)),
                       ("申请时限", cn_date(req.new_deadline)), ("理由", truncate_chars(req.reason, 24))]}


def _ext_decided(req: ExtensionRequest) -> Closed:
    from sqlalchemy.orm import object_session

    who = object_session(req).get(Person, req.decided_by_id) if req.decided_by_id else None
    verb = {EXT_APPROVED: "批准", EXT_REFUSED: "不批准"}.get(req.state, "撤回")
    return Closed(verb, who.name if who else "", utc(req.decided_at))


EXTENSION = register(Decision(
    kind="ext", entity="extension_request",
    load=lambda s, i: s.get(ExtensionRequest, i),
    deciders=_ext_deciders,
    is_open=lambda req: req.state == EXT_PENDING,
    rev=lambda s, req: 1,
    content=_ext_content,
    buttons=(Button("approve", "批准延期", "已批准", "批准", primary=True, run=_decide_ext(True)),
             Button("refuse", "不批准", "未批准", "不批准", ask=REASON, run=_decide_ext(False))),
    ask="decision/name_ext.txt",
    decided=_ext_decided,
))


# -- 申请销号: the office liaison of the item's row confirms (销号) or returns it (退回重办, with a reason) ----

def _closers(matter: Matter) -> list:
    from sqlalchemy.orm import object_session

    from bot.actions.closeout import closers

    return [p.id for p in closers(object_session(matter), matter)]


def _may_close(matter: Matter, person: Person) -> bool:
    from sqlalchemy.orm import object_session

    from bot.domain.roles import roles_of
    from models import ROLE_ADMIN

    return person.id in _closers(matter) or roles_of(object_session(matter), person).has(ROLE_ADMIN)


def _close(confirm: bool):
    def run(act, matter: Matter, reason: Optional[str]) -> str:
        from bot.actions.closeout import do_close, do_return_for_redo

        if confirm:
            do_close(act, matter, reason)
        else:
            do_return_for_redo(act, matter, reason)
        return act.render("closeout/decided.txt", m=matter, confirm=confirm, reason=reason or "")
    return run


def _claims(session, matter: Matter) -> int:
    """Which claim of the item this is (the same number `announce_claims` keys its notice with)."""
    from bot.actions.closeout import claim_numbers

    return claim_numbers(session, [matter.id])[matter.id]


def _close_content(act, matter: Matter) -> dict:
    return {"title": f"{matter.code} 申请销号，请确认", "desc": truncate_chars(matter.title, 30),
            "fields": [("事项", matter.code), ("责任单位", matter.responsible_unit.name),
                       ("完成时限", cn_date(matter.deadline)),
                       ("报告时间", cn_date(matter.claimed_at) if matter.claimed_at else "—")]}


CLOSEOUT = register(Decision(
    kind="close", entity="matter",
    load=lambda s, i: s.get(Matter, i),
    deciders=_closers,
    is_open=lambda m: m.state == MATTER_CLAIMED,
    rev=_claims,
    content=_close_content,
    buttons=(Button("close", "确认销号", "已销号", "销号", primary=True, run=_close(True)),
             Button("redo", "退回重办", "已退回重办", "退回重办", ask=REASON, run=_close(False))),
    ask="decision/name_close.txt",
    may=_may_close,
))


# -- seed 001: the project leader reviews a weekly form (同意 / 退回, with a reason) ---------------------

def _projects_refused(exc) -> Exception:
    """A `bot.actions.projects.Refused` from the action as a TransitionError: `decide` turns it into Closed
    when the record was decided meanwhile (the action lost the race); else the caller words it."""
    from bot.domain.ledger import TransitionError

    return TransitionError(exc.template.rsplit("/", 1)[-1].removesuffix(".txt"), **exc.kw)


def _kp_decided(entity: str):
    """Who decided a seed-001 record and when: its audit trail is keyed by code (ZH1, YT1), not id."""
    def decided(record) -> Closed:
        from sqlalchemy.orm import object_session

        row = object_session(record).scalars(select(AuditLog).where(
            AuditLog.entity == entity, AuditLog.entity_id == record.code).order_by(AuditLog.id.desc())).first()
        if row is None:
            return Closed("处理", "", None)
        verb = {"review": "同意", "approve": "同意", "return": "退回"}.get(row.action, "处理")
        return Closed(verb, row.actor, utc(row.at))
    return decided


def _review_weekly(approve: bool):
    def run(act, report, reason: Optional[str]) -> str:
        from bot.actions import projects as P

        try:
            P.do_review_weekly(act, report, approve, reason)
        except P.Refused as exc:
            raise _projects_refused(exc) from None
        return act.render("projects/weekly_decided.txt", report=report, project=report.project, approve=approve)
    return run


def _weekly_content(act, report) -> dict:
    unit = report.filled_unit
    met = sum(1 for line in report.milestone_lines if line.met)
    return {"title": f"问题清单 {report.code} 待您审阅", "desc": truncate_chars(report.project.name, 30),
            "fields": [("编号", report.code), ("填报单位", unit.name if unit else "—"),
                       ("周次", cn_date(report.week_start)),
                       ("攻坚目标", f"达成 {met} / {len(report.milestone_lines)} 项"),
                       ("存在问题", f"共 {len(report.problems)} 项")]}


def _weekly_leader(report) -> list:
    return [report.project.leader_id] if report.project.leader_id else []


WEEKLY = register(Decision(
    kind="weekly", entity="weekly_project_report",
    load=lambda s, i: s.get(WeeklyProjectReport, i),
    deciders=_weekly_leader,
    is_open=lambda r: r.state == WEEKLY_SUBMITTED,
    rev=lambda s, r: int(r.revision or 1),
    content=_weekly_content,
    buttons=(Button("approve", "同意报送", "已同意", "同意", primary=True, run=_review_weekly(True)),
             Button("return", "退回修改", "已退回", "退回", ask=REASON, run=_review_weekly(False))),
    ask="decision/name_weekly.txt",
    decided=_kp_decided("weekly_project_report"),
))


# -- seed 001: a convener approves a topic the joint office reviewed (通过 / 退回, with a reason) ---------

def _conveners(topic) -> list:
    from sqlalchemy.orm import object_session

    from bot.actions.projects import conveners

    return list(dict.fromkeys(p.id for p in conveners(object_session(topic)) if p is not None))


def _may_approve_topic(topic, person: Person) -> bool:
    """The same test do_approve_topic makes: the convener role (总召集人 / 召集人)."""
    from sqlalchemy.orm import object_session

    from bot.domain.roles import roles_of
    from models import ROLE_CONVENER

    return roles_of(object_session(topic), person).has(ROLE_CONVENER)


def _approve_topic(approve: bool):
    def run(act, topic, reason: Optional[str]) -> str:
        from bot.actions import projects as P

        try:
            P.do_approve_topic(act, topic, approve, reason)
        except P.Refused as exc:
            raise _projects_refused(exc) from None
        return act.render("projects/topic_decided.txt", topic=topic, approve=approve, honorific=P.honorific)
    return run


def _topic_content(act, topic) -> dict:
    return {"title": f"议题 {topic.code} 待您审定", "desc": truncate_chars(topic.title, 30),
            "fields": [("编号", topic.code), ("项目", truncate_chars(topic.project.name, 16)),
                       ("责任单位", truncate_chars(topic.responsible_units_text or "—", 16)),
                       ("办理时限", cn_date(topic.time_limit) if topic.time_limit else "—"),
                       ("提交人", topic.raised_by.name)]}


TOPIC = register(Decision(
    kind="topic", entity="meeting_topic",
    load=lambda s, i: s.get(MeetingTopic, i),
    deciders=_conveners,
    is_open=lambda t: t.state == TOPIC_REVIEWED,
    rev=lambda s, t: int(t.revision or 1),
    content=_topic_content,
    buttons=(Button("approve", "通过列入议题", "已通过", "同意", primary=True, run=_approve_topic(True)),
             Button("return", "退回", "已退回", "退回", ask=REASON, run=_approve_topic(False))),
    ask="decision/name_topic.txt",
    decided=_kp_decided("meeting_topic"),
    may=_may_approve_topic,
))



# -- 提请督办: the supervision group takes the item on (立项督办, with a supervision deadline) or returns the
# request (退回督办, with a reason) — seed 000 §三(二), "对牵头部门提级交办事项进行立项督办" ----------------------

def _esc_deciders(esc: Escalation) -> list:
    from sqlalchemy.orm import object_session

    from bot.actions.escalation import deciders

    return [p.id for p in deciders(object_session(esc), esc.matter)]


def _may_decide_esc(esc: Escalation, person: Person) -> bool:
    """The test of the typed 立项督办 / 退回督办: a supervision member or an admin who may see the item."""
    from sqlalchemy.orm import object_session

    from bot.actions.escalation import may_decide

    return may_decide(object_session(esc), esc.matter, person)


def _decide_esc(accept: bool):
    def run(act, esc: Escalation, answer) -> str:
        from bot.actions.escalation import do_decide_escalation
        from bot.actions.split import may_split

        if accept:  # a Deadline (tapped, or typed with a note); anything else: the action asks for one
            deadline, note = answer if isinstance(answer, Deadline) else (None, None)
            do_decide_escalation(act, esc, True, deadline=deadline, note=note)
        else:
            do_decide_escalation(act, esc, False, note=answer)
        return act.render("escalate/decided.txt", m=esc.matter, esc=esc, accept=accept,
                          splittable=accept and may_split(act.session, esc.matter) is None)
    return run


def _esc_content(act, esc: Escalation) -> dict:
    from sqlalchemy.orm import object_session

    from bot.actions.escalation import lead_unit_of

    m = esc.matter
    raiser = object_session(esc).get(Person, esc.raised_by_id) if esc.raised_by_id else None
    lead = lead_unit_of(m)
    fields = [("事项", m.code), ("责任单位", m.responsible_unit.name)]
    fields += [("牵头单位", lead.name)] if lead is not None else []
    fields += [("完成时限", cn_date(m.deadline)), ("提请人", raiser.name if raiser else "—"),
               ("理由", truncate_chars(esc.reason, 24))]
    return {"title": f"{m.code} 提请督办，请审定", "desc": truncate_chars(m.title, 30), "fields": fields}


def _esc_decided(esc: Escalation) -> Closed:
    from sqlalchemy.orm import object_session

    who = object_session(esc).get(Person, esc.decided_by_id) if esc.decided_by_id else None
    verb = {ESC_ACCEPTED: "立项督办", ESC_RETURNED: "退回督办"}.get(esc.state, "处理")
    return Closed(verb, who.name if who else "", utc(esc.decided_at))


def _load_request(session, esc_id: int) -> Optional[Escalation]:
    """A 提请督办 (level 1) by id; the automatic levels are not decided this way."""
    esc = session.get(Escalation, esc_id)
    return esc if esc is not None and esc.level == ESC_SUPERVISION_REQUEST else None


ESCALATION = register(Decision(
    kind="esc", entity="escalation",
    load=_load_request,
    deciders=_esc_deciders,
    is_open=lambda esc: esc.state == ESC_RAISED,
    rev=lambda s, esc: 1,  # raised once per item (a returned request is not raised again)
    content=_esc_content,
    buttons=(Button("accept", "立项督办", "已立项督办", "立项督办", ask=DEADLINE, asked="督办时限", primary=True,
                    run=_decide_esc(True)),
             Button("return", "退回督办", "已退回", "退回督办", ask=REASON, run=_decide_esc(False))),
    ask="decision/name_esc.txt",
    decided=_esc_decided,
    may=_may_decide_esc,
    refused="decision/not_yours_esc.txt",
))
