"""The supervision group's end of the loop (seed 000 §三(二)(三)): 现场抽查 and the rectifications they
ask, 督查约谈 and the dates promised there (both tracked as `SupervisionTask`s to 销号), 效能问责 cases
opened from the candidates the data shows (evidence kept, decision and deduction recorded, the unit told,
level 4 raised on the items of the evidence), 转报区纪委监委 (level 5; the supervision group only), and
信息简报 / 专项通报 drafted from the ledger, edited and published once, with the units' 亮点.

Every change locks the row it starts from (`lock`), checks, writes the rows and one audit row and queues
its notices in the caller's transaction; a refusal raises `Refused(code)` and changes nothing.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Optional

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.actions.base import Act, lock, notify_people, person_id
from bot.actions.escalation import accountability_candidates, do_raise_escalation
from bot.domain import ledger, reporting, supervision
from bot.domain.clock import tz
from bot.domain.codes import record_code
from bot.domain.periods import month_bounds, periods_in_month
from bot.infra import audit
from models import (
    BRIEF_BRIEFING,
    BRIEF_DRAFT,
    BRIEF_KINDS,
    BRIEF_PUBLISHED,
    CASE_DECIDED,
    CASE_OPEN,
    ESC_ACCOUNTABILITY,
    ESC_DISCIPLINE,
    ESC_INTERVIEW,
    INTERVIEW_HELD,
    INTERVIEW_SCHEDULED,
    SPOT_RECORDED,
    TASK_CLAIMED,
    TASK_CLOSED,
    TASK_OPEN,
    TASK_PROMISE,
    TASK_RECTIFICATION,
    AccountabilityCase,
    Briefing,
    ChatGroup,
    Escalation,
    Highlight,
    Interview,
    Matter,
    SpotCheck,
    SupervisionTask,
    Unit,
)


class Refused(Exception):
    """A change the rules do not allow; `code` names the reason (templates/supervision/refused.txt)."""

    def __init__(self, code: str, **info):
        super().__init__(code)
        self.code, self.info = code, info


def _audit(act: Act, entity: str, obj, action: str, before: Optional[dict] = None, after: Optional[dict] = None,
           reason: Optional[str] = None) -> None:
    audit.record(act.session, actor=act.actor, action=action, entity=entity, entity_id=obj.id,
                 before=before or {}, after=after or {}, reason=reason, at=act.now)


def _coded(session: Session, obj, prefix: str):
    """Give a new record its code (needs the id: placeholder, flush, code)."""
    obj.code = f"tmp-{prefix}-{id(obj)}"
    session.add(obj)
    session.flush()
    obj.code = record_code(prefix, obj.id)
    session.flush()
    return obj


def _unit_people(unit: Unit):
    return [unit.head, unit.liaison]


def _text(value: Optional[str], code: str = "text_required") -> str:
    value = (value or "").strip()
    if not value:
        raise Refused(code)
    return value


# -- 现场抽查 / 现场督查 ----------------------------------------------------------------------------
def do_plan_spot_check(act: Act, planned_on: date, team: str, units: Iterable[Unit] = (),
                       matters: Iterable[Matter] = ()) -> SpotCheck:
    units, matters = list(units), list(matters)
    if not units and not matters:
        raise Refused("no_target")
    check = _coded(act.session, SpotCheck(planned_on=planned_on, team=_text(team, "team_required"),
                                          unit_ids=sorted({u.id for u in units}
                                                          | {m.responsible_unit_id for m in matters}),
                                          matter_ids=sorted(m.id for m in matters), created_by_id=person_id(act.actor),
                                          created_at=act.now), "CC")
    _audit(act, "spot_check", check, "planned", after={"planned_on": planned_on.isoformat(), "team": check.team,
                                                        "unit_ids": check.unit_ids, "matter_ids": check.matter_ids})
    return check


def do_record_findings(act: Act, check: SpotCheck, findings: str) -> SpotCheck:
    lock(act.session, check)
    findings = _text(findings)
    before = {"state": check.state, "findings": check.findings}
    check.findings = findings if not check.findings else f"{check.findings}\n{findings}"
    check.state, check.recorded_at = SPOT_RECORDED, act.now
    _audit(act, "spot_check", check, "findings_recorded", before, {"state": check.state, "findings": check.findings})
    return check


def do_ask_rectification(act: Act, check: SpotCheck, unit: Unit, deadline: date, requirement: str) -> SupervisionTask:
    """整改要求 of a spot check for one unit: a tracked task; the unit head and liaison are told."""
    lock(act.session, check)
    if deadline < act.now.astimezone(tz()).date():
        raise Refused("date_past")
    task = _coded(act.session, SupervisionTask(kind=TASK_RECTIFICATION, spot_check_id=check.id, unit_id=unit.id,
                                               requirement=_text(requirement), deadline=deadline,
                                               created_by_id=person_id(act.actor), created_at=act.now), "ZG")
    _audit(act, "supervision_task", task, "created", after={"kind": task.kind, "spot_check": check.code,
                                                             "unit_id": unit.id, "deadline": deadline.isoformat()})
    notify_people(act, _unit_people(unit), act.render("supervision/task_notice.txt", t=task, unit=unit, check=check),
                  key=f"supervision-task:{task.id}:new")
    return task


# -- 督查约谈 --------------------------------------------------------------------------------------
def do_schedule_interview(act: Act, unit: Unit, when: datetime, place: str, interviewers: str = "",
                          matter: Optional[Matter] = None) -> Interview:
    """Schedule an interview of `unit` (from a 久拖不办 item when `matter` is given, linked to its level-3
    escalation); the unit head (第一责任人) and liaison are told when and where."""
    s = act.session
    esc = None
    if matter is not None:
        lock(s, matter)
        unit = matter.responsible_unit
        esc = s.scalar(select(Escalation).where(Escalation.matter_id == matter.id, Escalation.level == ESC_INTERVIEW))
    if when < act.now:
        raise Refused("date_past")
    iv = _coded(s, Interview(unit_id=unit.id, matter_id=matter.id if matter else None,
                             escalation_id=esc.id if esc else None, scheduled_at=when,
                             place=_text(place, "place_required"),
                             interviewers=(interviewers or "").strip() or None, created_by_id=person_id(act.actor),
                             created_at=act.now), "YT")
    _audit(act, "interview", iv, "scheduled", after={"unit_id": unit.id, "matter": matter.code if matter else None,
                                                      "scheduled_at": when.isoformat(), "place": iv.place})
    notify_people(act, _unit_people(unit), act.render("supervision/interview_notice.txt", iv=iv, unit=unit, m=matter),
                  key=f"interview:{iv.id}:scheduled")
    return iv


def do_reschedule_interview(act: Act, iv: Interview, when: datetime, reason: str,
                            place: Optional[str] = None) -> Interview:
    """约谈改期: a new time (and place, when given) with a reason, audited; the unit head and liaison are
    told. The reminder job keys its reminder by the time, so it follows the new one."""
    lock(act.session, iv)
    if iv.state != INTERVIEW_SCHEDULED:
        raise Refused("interview_held")
    reason = _text(reason, "reschedule_reason")
    if when < act.now:
        raise Refused("date_past")
    place = (place or "").strip() or iv.place
    if when == iv.scheduled_at and place == iv.place:
        raise Refused("same_time")
    old_at, old_place = iv.scheduled_at, iv.place
    before = {"scheduled_at": old_at.isoformat(), "place": old_place}
    iv.scheduled_at, iv.place = when, place[:200]
    _audit(act, "interview", iv, "rescheduled", before, {"scheduled_at": when.isoformat(), "place": iv.place},
           reason)
    notify_people(act, _unit_people(iv.unit), act.render("supervision/interview_moved.txt", iv=iv, unit=iv.unit,
                                                         old_at=old_at, old_place=old_place, reason=reason),
                  key=f"interview:{iv.id}:moved:{when.isoformat()}:{act.now.isoformat()}")
    return iv


def do_record_interview(act: Act, iv: Interview, record: str) -> Interview:
    lock(act.session, iv)
    record = _text(record)
    before = {"state": iv.state}
    iv.record = record if not iv.record else f"{iv.record}\n{record}"
    iv.state, iv.held_at = INTERVIEW_HELD, iv.held_at or act.now
    _audit(act, "interview", iv, "recorded", before, {"state": iv.state, "record": iv.record})
    return iv


def do_add_promise(act: Act, iv: Interview, deadline: date, promise: str) -> SupervisionTask:
    """A date the unit promised in the interview: tracked like a rectification."""
    lock(act.session, iv)
    if iv.state != INTERVIEW_HELD:
        raise Refused("interview_not_held")
    task = _coded(act.session, SupervisionTask(kind=TASK_PROMISE, interview_id=iv.id, unit_id=iv.unit_id,
                                               requirement=_text(promise), deadline=deadline,
                                               created_by_id=person_id(act.actor), created_at=act.now), "ZG")
    _audit(act, "supervision_task", task, "created", after={"kind": task.kind, "interview": iv.code,
                                                             "unit_id": iv.unit_id, "deadline": deadline.isoformat()})
    notify_people(act, _unit_people(iv.unit), act.render("supervision/task_notice.txt", t=task, unit=iv.unit, iv=iv),
                  key=f"supervision-task:{task.id}:new")
    return task


# -- following a task to 销号 ---------------------------------------------------------------------
def do_claim_task(act: Act, task: SupervisionTask, note: str = "") -> SupervisionTask:
    """The unit reports it done; the supervision group is asked to confirm (idempotent while claimed)."""
    lock(act.session, task)
    if task.state == TASK_CLOSED:
        raise Refused("task_closed")
    if task.state == TASK_CLAIMED:
        return task
    task.state, task.claimed_at, task.claim_note = TASK_CLAIMED, act.now, (note or "").strip() or None
    _audit(act, "supervision_task", task, "claimed", {"state": TASK_OPEN}, {"state": task.state}, task.claim_note)
    act.notify_group("supervision", act.render("supervision/task_claimed.txt", t=task),
                     key=f"supervision-task:{task.id}:claimed:{act.now.isoformat()}")
    return task


def do_close_task(act: Act, task: SupervisionTask, confirm: bool = True, reason: str = "") -> SupervisionTask:
    """销号 (confirm) or 退回 (with a reason) of a task; the unit liaison and head are told."""
    lock(act.session, task)
    if task.state == TASK_CLOSED:
        raise Refused("task_closed")
    before = {"state": task.state}
    if confirm:
        task.state, task.closed_at, task.closed_by_id = TASK_CLOSED, act.now, person_id(act.actor)
    else:
        reason = _text(reason, "reason_required")
        task.state, task.claimed_at, task.claim_note = TASK_OPEN, None, None
    _audit(act, "supervision_task", task, "closed" if confirm else "returned", before, {"state": task.state},
           reason or None)
    notify_people(act, _unit_people(task.unit), act.render("supervision/task_decided.txt", t=task, confirm=confirm,
                                                           reason=reason),
                  key=f"supervision-task:{task.id}:{'closed' if confirm else 'returned'}:{act.now.isoformat()}")
    return task


def overdue_tasks(session: Session, today: date, unit_ids: Optional[Iterable[int]] = None) -> list[SupervisionTask]:
    q = select(SupervisionTask).where(supervision.sql_task_overdue(today)).order_by(SupervisionTask.deadline,
                                                                                    SupervisionTask.id)
    if unit_ids is not None:
        q = q.where(SupervisionTask.unit_id.in_(sorted(set(unit_ids))))
    return list(session.scalars(q))


# -- 效能问责 ----------------------------------------------------------------------------------------
@dataclass
class CaseCandidate:
    unit: Unit
    reasons: list[str] = field(default_factory=list)  # late_reports, overdue_items, overdue_tasks
    evidence: dict = field(default_factory=dict)


def case_candidates(session: Session, as_of: datetime, th: supervision.Thresholds) -> list[CaseCandidate]:
    """Units the data shows for 效能问责 as of `as_of` (config/supervision.yaml's thresholds): late or
    missing reports and overdue ledger items (`escalation.accountability_candidates`, the one rule), or
    rectifications / interview promises past their date and not done."""
    local = as_of.astimezone(tz())
    found: dict[int, CaseCandidate] = {}
    for c in accountability_candidates(session, (local.year, local.month), as_of=as_of,
                                       min_late_periods=th.min_late_periods, min_overdue_items=th.min_overdue_items,
                                       lookback_periods=th.lookback_periods):
        found[c.unit.id] = CaseCandidate(c.unit, list(c.reasons), {
            "late_periods": c.late_periods, "missing_periods": c.missing_periods,
            "overdue_items": [{"id": m.id, "code": m.code, "title": m.title, "deadline": m.deadline.isoformat()}
                              for m in c.overdue_items]})
    late_tasks: dict[int, list[SupervisionTask]] = {}
    for t in overdue_tasks(session, local.date()):
        late_tasks.setdefault(t.unit_id, []).append(t)
    for uid, tasks in late_tasks.items():
        if len(tasks) < th.min_overdue_tasks:
            continue
        if uid not in found:
            found[uid] = CaseCandidate(session.get(Unit, uid), [], {"late_periods": [], "missing_periods": [],
                                                                    "overdue_items": []})
        found[uid].reasons.append("overdue_tasks")
        found[uid].evidence["overdue_tasks"] = [{"code": t.code, "kind": t.kind, "requirement": t.requirement,
                                                  "deadline": t.deadline.isoformat()} for t in tasks]
    for c in found.values():
        c.evidence.setdefault("overdue_tasks", [])
        c.evidence["reasons"] = c.reasons
    return sorted(found.values(), key=lambda c: (-len(c.reasons), c.unit.name))


def do_open_case(act: Act, unit: Unit, th: supervision.Thresholds, reason: str = "") -> AccountabilityCase:
    """Open a case against a unit the data shows as a candidate (refused otherwise); the evidence is kept
    as it stood. One open case per unit at a time."""
    s = act.session
    lock(s, unit)
    if s.scalar(select(AccountabilityCase.id).where(AccountabilityCase.unit_id == unit.id,
                                                    AccountabilityCase.state == CASE_OPEN)):
        raise Refused("case_open")
    cand = next((c for c in case_candidates(s, act.now, th) if c.unit.id == unit.id), None)
    if cand is None:
        raise Refused("not_candidate", unit=unit.name)
    case = _coded(s, AccountabilityCase(unit_id=unit.id, year=act.now.astimezone(tz()).year,
                                        reason=(reason or "").strip() or None, evidence=cand.evidence,
                                        opened_by_id=person_id(act.actor), opened_at=act.now), "WZ")
    _audit(act, "accountability_case", case, "opened", after={"unit_id": unit.id, "evidence": cand.evidence},
           reason=case.reason)
    return case


def _evidence_matters(s: Session, case: AccountabilityCase) -> list[Matter]:
    ids = [i["id"] for i in case.evidence.get("overdue_items", [])]
    return list(s.scalars(select(Matter).where(Matter.id.in_(ids)).order_by(Matter.id))) if ids else []


def _raise(act: Act, case: AccountabilityCase, level: int, reason: str) -> list[str]:
    """The ladder's rung on each item of the evidence still open (a closed one is left as it is)."""
    raised = []
    for m in _evidence_matters(act.session, case):
        try:
            if do_raise_escalation(act, m, level, reason) is not None:
                raised.append(m.code)
        except ledger.TransitionError:
            continue
    return raised


def do_decide_case(act: Act, case: AccountabilityCase, deduction: float, decision: str) -> AccountabilityCase:
    """Record the decision and the deduction for the year's assessment; the unit head and liaison are
    told; the items of the evidence reach level 4 (效能问责)."""
    lock(act.session, case)
    if case.state != CASE_OPEN:
        raise Refused("case_decided")
    if deduction < 0:
        raise Refused("bad_deduction")
    decision = _text(decision)
    case.state, case.decision, case.deduction = CASE_DECIDED, decision, float(deduction)
    case.decided_at, case.decided_by_id = act.now, person_id(act.actor)
    raised = _raise(act, case, ESC_ACCOUNTABILITY, f"{case.code} {decision}")
    _audit(act, "accountability_case", case, "decided", {"state": CASE_OPEN},
           {"state": case.state, "deduction": case.deduction, "decision": decision, "escalated": raised})
    notify_people(act, _unit_people(case.unit), act.render("supervision/case_notice.txt", c=case),
                  key=f"accountability:{case.id}:decided")
    return case


def do_refer_case(act: Act, case: AccountabilityCase, sent: str) -> AccountabilityCase:
    """转报区纪委监委: marked referred with what was sent; level 5 on the evidence's items. Nobody outside
    the supervision group is told."""
    lock(act.session, case)
    if case.referred_at is not None:
        raise Refused("case_referred")
    case.referral_note = _text(sent)
    case.referred_at, case.referred_by_id = act.now, person_id(act.actor)
    raised = _raise(act, case, ESC_DISCIPLINE, f"{case.code} 转报区纪委监委")
    _audit(act, "accountability_case", case, "referred", {}, {"referral_note": case.referral_note,
                                                              "escalated": raised})
    return case


# -- 信息简报 / 专项通报 / 亮点 -----------------------------------------------------------------------
def do_mark_highlight(act: Act, unit: Unit, text: str) -> Highlight:
    h = Highlight(unit_id=unit.id, text=_text(text), marked_by_id=person_id(act.actor), marked_at=act.now)
    act.session.add(h)
    act.session.flush()
    _audit(act, "highlight", h, "marked", after={"unit_id": unit.id, "text": h.text})
    return h


def pending_highlights(session: Session) -> list[Highlight]:
    """亮点 not yet carried by a published briefing (the next one carries them)."""
    return list(session.scalars(select(Highlight).where(Highlight.briefing_id.is_(None)).order_by(Highlight.id)))


def briefing_figures(session: Session, as_of: datetime, limit: int = 5) -> dict:
    """What a briefing is drafted from: the month's figures, the hardest common problems (the longest
    overdue, escalated first), the units named (overdue items; late or missing reports), the 亮点."""
    local = as_of.astimezone(tz())
    year, month = local.year, local.month
    start, _end = month_bounds(year, month)
    today = local.date()
    total = session.scalar(select(func.count(Matter.id))) or 0
    closed = session.scalar(select(func.count(Matter.id))
                            .where(Matter.closed_at >= start, Matter.closed_at <= as_of)) or 0
    overdue_q = select(Matter).where(ledger.sql_active(), Matter.deadline < today)
    overdue = list(session.scalars(overdue_q.order_by(Matter.escalation_level.desc(), Matter.deadline, Matter.id)
                                   .limit(limit)))
    overdue_n = session.scalar(select(func.count()).select_from(overdue_q.subquery())) or 0
    overdue_units = [n for n, in session.execute(
        select(Unit.name).join(Matter, Matter.responsible_unit_id == Unit.id)
        .where(ledger.sql_active(), Matter.deadline < today).group_by(Unit.name).order_by(func.count(Matter.id).desc(),
                                                                                           Unit.name))]
    due = [p for p in periods_in_month(year, month) if p.deadline <= as_of]
    status = reporting.report_status(session, due, as_of)
    lagging_ids = sorted({uid for (uid, _src, _k), st in status.items() if st != reporting.ON_TIME})
    names = dict(session.execute(select(Unit.id, Unit.name)).all())
    return dict(year=year, month=month, as_of=as_of, total=total, closed=closed, overdue_total=overdue_n,
                hardest=overdue, overdue_units=overdue_units, lagging=[names[i] for i in lagging_ids],
                highlights=pending_highlights(session), today=today)


def do_draft_briefing(act: Act, kind: str = BRIEF_BRIEFING, title: str = "") -> Briefing:
    if kind not in BRIEF_KINDS:
        raise Refused("bad_kind")
    fig = briefing_figures(act.session, act.now)
    title = (title or "").strip() or act.render("supervision/briefing_title.txt", kind=kind, **fig).strip()
    body = act.render("supervision/briefing.md", kind=kind, title=title, **fig).strip()
    b = _coded(act.session, Briefing(kind=kind, title=title[:200], body=body,
                                     month=f"{fig['year']:04d}-{fig['month']:02d}",
                                     created_by_id=person_id(act.actor), created_at=act.now), "XB")
    _audit(act, "briefing", b, "drafted", after={"kind": kind, "title": b.title, "month": b.month})
    return b


def do_edit_briefing(act: Act, b: Briefing, body: str) -> Briefing:
    lock(act.session, b)
    if b.state != BRIEF_DRAFT:
        raise Refused("briefing_published")
    before = {"body": b.body}
    b.body = _text(body)
    _audit(act, "briefing", b, "edited", before, {"body": b.body})
    return b


def do_publish_briefing(act: Act, b: Briefing, group: Optional[ChatGroup],
                        mailboxes: Iterable[str] = ()) -> Briefing:
    """Publish once: to the chosen group (outbox key ``briefing:<id>``) and/or by mail to the chosen
    mailboxes of the org chart (`bot.actions.forms.mail_targets`), the briefing attached as .docx
    (bot/documents/briefing.py; keys ``mail:briefing:<id>:<address>``; queued only where a mail server is
    configured). The pending 亮点 it carries are marked as carried."""
    from bot.actions.forms import send_forms
    from bot.documents.briefing import briefing_docx, briefing_filename

    lock(act.session, b)
    if b.state == BRIEF_PUBLISHED:
        raise Refused("briefing_published", at=b.published_at, group=b.group_code)
    mailboxes = list(dict.fromkeys(a.strip() for a in mailboxes if a and a.strip()))
    if group is None and not mailboxes:
        raise Refused("no_audience")
    b.state, b.group_code, b.published_at, b.published_by_id = (BRIEF_PUBLISHED, group.code if group else None,
                                                                act.now, person_id(act.actor))
    carried = [h for h in pending_highlights(act.session) if h.marked_at <= b.published_at]
    for h in carried:
        h.briefing_id = b.id
    if group is not None:
        act.notify_group(group.code, b.body, key=f"briefing:{b.id}")
    saved = send_forms(act, [(briefing_filename(b), briefing_docx(b))], key=f"briefing:{b.id}", kind="briefing",
                       mailboxes=mailboxes, mail="briefing", b=b) if mailboxes else []
    _audit(act, "briefing", b, "published", {"state": BRIEF_DRAFT},
           {"state": b.state, "group": b.group_code, "mailboxes": mailboxes, "files": [p.name for p in saved],
            "highlights": [h.id for h in carried]})
    return b


__all__ = ["Refused", "do_plan_spot_check", "do_record_findings", "do_ask_rectification", "do_schedule_interview",
           "do_reschedule_interview", "do_record_interview", "do_add_promise", "do_claim_task", "do_close_task",
           "overdue_tasks",
           "CaseCandidate", "case_candidates", "do_open_case", "do_decide_case", "do_refer_case",
           "do_mark_highlight", "pending_highlights", "briefing_figures", "do_draft_briefing", "do_edit_briefing",
           "do_publish_briefing"]
