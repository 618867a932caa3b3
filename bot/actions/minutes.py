"""Dispatch meetings and their minutes (seed 000 §三(一)): a meeting is recorded; its lead unit drafts the
minutes within 3 days ("调度会结束后3天内形成初稿进入送签程序"); the draft with its matters goes to the leader
to sign (送签); signed, it is issued (印发): the supervision group gets a copy unless it is 保密, and each
responsible unit is sent its matters (细化分解分发) — the sender is told which units could not be reached.

The matters enter the ledger with the draft (they are what the minutes decide, tracked from the start);
the units are told only when the minutes are issued. Every change locks its row and checks its state.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Optional

from sqlalchemy import func, select

from bot.actions import decisions
from bot.actions.base import Act, lock, notify_people, person_id, settings_of
from bot.actions.matterunits import assign, attach_units, move_host
from bot.delivery.addressing import group_channel
from bot.domain.codes import add_matter
from bot.domain.leadunit import minutes_lead_unit
from bot.domain.ledger import TransitionError
from bot.domain.meetings import copied_to_supervision, draft_due
from bot.domain.responsibility import units_of
from bot.infra import audit
from models import (
    KIND_MINUTES,
    MEETING_MEETING,
    MINUTES_DRAFTED,
    MINUTES_ISSUED,
    MINUTES_RETURNED,
    MINUTES_WITHDRAWN,
    AuditLog,
    DispatchRow,
    Matter,
    Meeting,
    Minutes,
    Person,
    Unit,
)


@dataclass
class MatterInput:
    """One 调度事项 of the minutes."""

    title: str
    responsible_unit_id: int
    deadline: date
    lead_unit_id: Optional[int] = None
    assist_unit_ids: Sequence[int] = ()  # 协办 / 配合 units (the responsible unit is the 主办)


def reachable(unit: Unit) -> Optional[Person]:
    """The unit's liaison if a message can reach them: never a placeholder of the shipped org chart."""
    liaison = unit.liaison
    if liaison is None or liaison.placeholder or not liaison.active:
        return None
    return liaison


def notify_units(act: Act, matters: Sequence[Matter], *, key: str, what,
                 template: str = "minutes/unit_notice.txt") -> list[Unit]:
    """Tell each responsible unit's liaison — 主办 and 协办 alike (bot.domain.responsibility) — what it owes,
    in which role and by when, and to 认领 it (one message per unit); the 认领 clock starts
    (bot.actions.matterunits.assign). Returns the units that could not be told (no named liaison yet), so
    the sender can be told exactly who."""
    assign(act.session, matters, act.now)
    by_unit: dict[int, list[Matter]] = {}
    roles: dict[tuple[int, int], str] = {}
    for m in matters:
        for unit, role in units_of(m):
            by_unit.setdefault(unit.id, []).append(m)
            roles[(unit.id, m.id)] = role
    unreached = []
    for unit_id, items in by_unit.items():
        unit = act.session.get(Unit, unit_id)
        liaison = reachable(unit)
        if liaison is None:
            unreached.append(unit)
            continue
        act.notify_person(liaison, act.render(template, unit=unit, matters=items, source=what,
                                              roles={m.id: roles[(unit_id, m.id)] for m in items}),
                          key=f"{key}:{unit_id}", kind="assignment")
    return unreached


def row_of(session, leader: Person, unit: Optional[Unit]) -> Optional[DispatchRow]:
    """The leader's 附件2 row led by `unit`, else the leader's first row."""
    rows = list(session.scalars(select(DispatchRow).where(DispatchRow.leader_id == leader.id)
                                .order_by(DispatchRow.seq)))
    return next((r for r in rows if unit is not None and unit in r.lead_units), rows[0] if rows else None)


def do_record_meeting(act: Act, *, leader: Person, meeting_date: date, lead_unit: Optional[Unit],
                      kind: str = MEETING_MEETING, subject: Optional[str] = None) -> Meeting:
    """A dispatch meeting held (会议/调研/一线调度), filed under the leader's row its lead unit leads; the lead
    unit's liaison is told the minutes' first draft is due within 3 days."""
    s = act.session
    row = row_of(s, leader, lead_unit)
    meeting = Meeting(leader_id=leader.id, dispatch_row_id=row.id if row else None, meeting_date=meeting_date,
                      kind=kind, lead_unit_id=lead_unit.id if lead_unit else None, subject=subject,
                      created_by_id=person_id(act.actor), created_at=act.now)
    s.add(meeting)
    s.flush()
    audit.record(s, actor=act.actor, action="create", entity="meeting", entity_id=meeting.id,
                 after=audit.snapshot(meeting), at=act.now)
    s.refresh(meeting)
    liaison = reachable(lead_unit) if lead_unit is not None else None
    notify_people(act, [liaison], act.render("minutes/meeting_to_unit.txt", meeting=meeting,
                                              due=draft_due(meeting_date)), key=f"meeting-unit:{meeting.id}")
    return meeting


def meeting_for(act: Act, leader: Person, meeting_date: date, drafting_unit: Unit) -> Meeting:
    """The recorded meeting these minutes are of (the leader's meeting that day without live minutes),
    else a new one: minutes typed in without the meeting first still count the meeting."""
    s = act.session
    live = select(Minutes.meeting_id).where(Minutes.meeting_id.is_not(None), Minutes.state != MINUTES_WITHDRAWN)
    found = s.scalar(select(Meeting).where(Meeting.leader_id == leader.id, Meeting.meeting_date == meeting_date,
                                           Meeting.id.not_in(live)).order_by(Meeting.id))
    return found or do_record_meeting(act, leader=leader, meeting_date=meeting_date, lead_unit=drafting_unit)


def do_record_minutes(act: Act, *, leader: Person, number: Optional[str], title: str, meeting_date: date,
                      drafting_unit: Unit, matters: Sequence[MatterInput], confidential: bool = False
                      ) -> tuple[Minutes, list[Matter]]:
    """The first draft (初稿) of a meeting's minutes with its matters enters the ledger and goes to the
    leader to sign (送签). Nothing is copied or sent to units before it is issued."""
    s = act.session
    meeting = meeting_for(act, leader, meeting_date, drafting_unit)
    row = s.get(DispatchRow, meeting.dispatch_row_id) if meeting.dispatch_row_id else row_of(s, leader, drafting_unit)
    minutes = Minutes(number=number, title=title, leader_id=leader.id, dispatch_row_id=row.id if row else None,
                      meeting_id=meeting.id, meeting_date=meeting_date, drafting_unit_id=drafting_unit.id,
                      state=MINUTES_DRAFTED, drafted_at=act.now, confidential=confidential,
                      lead_unit_id=minutes_lead_unit(drafting_unit.id, [u.id for u in row.lead_units] if row else []),
                      created_by_id=person_id(act.actor), created_at=act.now)
    s.add(minutes)
    s.flush()
    audit.record(s, actor=act.actor, action="create", entity="minutes", entity_id=minutes.id,
                 after=audit.snapshot(minutes), at=act.now)
    created = []
    for seq, item in enumerate(matters, 1):
        m = add_matter(s, Matter(kind=KIND_MINUTES, minutes_id=minutes.id, seq=seq, title=item.title,
                                 leader_id=leader.id, responsible_unit_id=item.responsible_unit_id,
                                 lead_unit_id=item.lead_unit_id, deadline=item.deadline,
                                 original_deadline=item.deadline, created_by_id=person_id(act.actor),
                                 created_at=act.now))
        attach_units(s, m, item.assist_unit_ids, act.now)
        audit.record(s, actor=act.actor, action="create", entity="matter", entity_id=m.id,
                     after=audit.snapshot(m), at=act.now)
        created.append(m)
    s.refresh(minutes)
    _to_leader(act, minutes)
    return minutes, created


def _to_leader(act: Act, minutes: Minutes) -> None:
    n = act.session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.entity == "minutes", AuditLog.entity_id == str(minutes.id)))
    act.notify_person(minutes.leader, act.render("minutes/to_leader.txt", minutes=minutes, matters=minutes.matters),
                      key=f"minutes-sign:{minutes.id}:{n}", kind="minutes",
                      card=decisions.card(act, "minutes", minutes))


def _need(act: Act, minutes: Minutes, *states: str) -> None:
    lock(act.session, minutes)
    if minutes.state not in states:
        raise TransitionError("not_pending", minutes=minutes.id, state=minutes.state)


def _audit(act: Act, minutes: Minutes, before: dict, action: str, reason: Optional[str] = None) -> None:
    b, a = audit.diff(before, audit.snapshot(minutes))
    audit.record(act.session, actor=act.actor, action=action, entity="minutes", entity_id=minutes.id,
                 before=b, after=a, reason=reason, at=act.now)


def do_issue_minutes(act: Act, minutes: Minutes) -> list[Unit]:
    """The leader signs the draft: the minutes are issued (印发); the supervision group gets the copy unless
    they are 保密; each responsible unit is sent its matters; the drafter is told, with the units that could
    not be reached. Returns those units."""
    _need(act, minutes, MINUTES_DRAFTED)
    before = audit.snapshot(minutes)
    minutes.state = MINUTES_ISSUED
    minutes.issued_at = act.now
    minutes.return_reason = None
    act.session.flush()
    _audit(act, minutes, before, "issue")
    matters = list(minutes.matters)
    if copied_to_supervision(minutes.state, minutes.confidential):
        act.notify_group("supervision", act.render("minutes/copy.md", minutes=minutes, matters=matters,
                                                     md_channel=supervision_channel(act)),
                         key=f"minutes-copy:{minutes.id}", kind="minutes")
        _mail_copy(act, minutes, matters)
    unreached = notify_units(act, matters, key=f"minutes-unit:{minutes.id}", what=minutes)
    notify_people(act, [minutes.created_by], act.render("minutes/issued_to_drafter.txt", minutes=minutes,
                                                        matters=matters, unreached=unreached),
                  key=f"minutes-issued:{minutes.id}")
    return unreached


def do_return_minutes(act: Act, minutes: Minutes, reason: str) -> None:
    """The leader sends the draft back to its drafter with a reason."""
    _need(act, minutes, MINUTES_DRAFTED)
    before = audit.snapshot(minutes)
    minutes.state = MINUTES_RETURNED
    minutes.return_reason = reason
    act.session.flush()
    _audit(act, minutes, before, "return", reason)
    notify_people(act, [minutes.created_by], act.render("minutes/returned_to_drafter.txt", minutes=minutes,
                                                        reason=reason),
                  key=f"minutes-returned:{minutes.id}:{act.now.isoformat()}")


def do_resubmit_minutes(act: Act, minutes: Minutes) -> None:
    """The drafter sends returned minutes to the leader again (送签)."""
    _need(act, minutes, MINUTES_RETURNED)
    before = audit.snapshot(minutes)
    minutes.state = MINUTES_DRAFTED
    act.session.flush()
    _audit(act, minutes, before, "resubmit")
    _to_leader(act, minutes)


def do_set_confidential(act: Act, record, confidential: bool, reason: Optional[str] = None) -> None:
    """Mark minutes or a slip 保密 (or not) before it is issued: an issued one was already copied."""
    from models import SLIP_ISSUED

    lock(act.session, record)
    if record.state in (MINUTES_ISSUED, SLIP_ISSUED, MINUTES_WITHDRAWN):
        raise TransitionError("already_issued", state=record.state)
    before = audit.snapshot(record)
    record.confidential = confidential
    act.session.flush()
    b, a = audit.diff(before, audit.snapshot(record))
    audit.record(act.session, actor=act.actor, action="confidential", entity=record.__tablename__,
                 entity_id=record.id, before=b, after=a, reason=reason, at=act.now)


# -- corrections and withdrawals ----------------------------------------------------------------
CORRECTABLE = ("title", "deadline", "responsible_unit_id")


def _told_of_item(act: Act, matter: Matter, extra: Sequence[Optional[Person]] = ()) -> list[Person]:
    from bot.domain.scope import office_liaisons_of

    unit = matter.responsible_unit
    return [reachable(unit) if unit is not None else None, *office_liaisons_of(act.session, matter), *extra]


def do_correct_matter(act: Act, matter: Matter, field: str, value, reason: Optional[str]) -> None:
    """A typed-in matter corrected (事项名称, 完成时限 or 责任单位) with a reason, audited; the unit(s) and the
    office liaisons are told. A deadline is corrected only while no extension moved it (then it is a 延期,
    not a correction): TransitionError "extended". Closed items are not corrected."""
    from bot.domain import ledger

    s = act.session
    lock(s, matter)
    if field not in CORRECTABLE:
        raise ValueError(field)
    text = ledger.need_reason(reason)
    if not ledger.is_open(matter):
        raise TransitionError("closed", item=matter.code)
    if field == "deadline" and matter.deadline != matter.original_deadline:
        raise TransitionError("extended", item=matter.code)
    old_unit = matter.responsible_unit
    before = audit.snapshot(matter, ("title", "deadline", "original_deadline", "responsible_unit_id"))
    if field == "deadline":
        matter.deadline = matter.original_deadline = value
    else:
        setattr(matter, field, value)
    s.flush()
    if field == "responsible_unit_id" and old_unit is not None and old_unit.id != value:
        move_host(s, matter, act.now)
    s.refresh(matter)
    b, a = audit.diff(before, audit.snapshot(matter, ("title", "deadline", "original_deadline",
                                                       "responsible_unit_id")))
    audit.record(s, actor=act.actor, action="corrected", entity="matter", entity_id=matter.id, before=b, after=a,
                 reason=text, at=act.now)
    moved_from = old_unit if old_unit is not None and old_unit.id != matter.responsible_unit_id else None
    told = _told_of_item(act, matter, [reachable(moved_from) if moved_from is not None else None])
    notify_people(act, told, act.render("minutes/corrected_notice.txt", m=matter, field=field, reason=text,
                                        old_unit=moved_from, before=b, by=act.actor),
                  key=f"corrected:{matter.id}:{act.now.isoformat()}")


def _deletable(session, matter: Matter) -> bool:
    """A draft's item no one has acted on yet (no report, extension or escalation refers to it)."""
    from models import Escalation, ExtensionRequest, ReportItem

    return not any(session.scalar(select(func.count()).select_from(t).where(t.matter_id == matter.id))
                   for t in (ReportItem, ExtensionRequest, Escalation))


def do_withdraw_minutes(act: Act, minutes: Minutes, reason: Optional[str]) -> None:
    """Minutes withdrawn by their drafter with a reason. Not yet issued: the draft's items leave the ledger
    (each audited with what it was; items already reported on: "in_use"); the leader is told. Issued
    (撤销印发): `withdraw_issued`."""
    from bot.domain import ledger

    s = act.session
    text = ledger.need_reason(reason)
    lock(s, minutes)
    if minutes.state == MINUTES_ISSUED:
        withdraw_issued(act, minutes, list(minutes.matters), text)
        return
    if minutes.state == MINUTES_WITHDRAWN:
        raise TransitionError("not_pending", minutes=minutes.id, state=minutes.state)
    matters = list(minutes.matters)
    if not all(_deletable(s, m) for m in matters):
        raise TransitionError("in_use", minutes=minutes.id)
    for m in matters:
        audit.record(s, actor=act.actor, action="withdrawn", entity="matter", entity_id=m.id,
                     before=audit.snapshot(m), reason=text, at=act.now)
        s.delete(m)
    before = audit.snapshot(minutes)
    minutes.state = MINUTES_WITHDRAWN
    s.flush()
    _audit(act, minutes, before, "withdraw", text)
    notify_people(act, [minutes.leader], act.render("minutes/withdrawn_notice.txt", minutes=minutes, reason=text,
                                                    by=act.actor), key=f"minutes-withdrawn:{minutes.id}")


def withdraw_issued(act: Act, record, matters: Sequence[Matter], reason: str) -> list[Matter]:
    """撤销印发 of issued minutes or a slip (the caller has locked it and checked who may): the record becomes
    withdrawn, each of its items not yet closed is withdrawn (`closeout.do_withdraw_item`: no longer owed,
    reminded or escalated), audited with the reason; everyone who was told at issue is told it was withdrawn
    and why — each responsible unit's liaison (its items), the lead unit's liaison, the leader, the drafter,
    and the supervision group when it got the copy (never for 保密). Returns the items withdrawn."""
    from bot.actions.closeout import do_withdraw_item
    from models import SLIP_WITHDRAWN

    s = act.session
    is_minutes = isinstance(record, Minutes)
    copied = copied_to_supervision(record.state, record.confidential)
    withdrawn = [m for m in matters if do_withdraw_item(act, m, reason)]
    before = audit.snapshot(record)
    record.state = MINUTES_WITHDRAWN if is_minutes else SLIP_WITHDRAWN
    s.flush()
    b, a = audit.diff(before, audit.snapshot(record))
    audit.record(s, actor=act.actor, action="withdraw_issued", entity=record.__tablename__, entity_id=record.id,
                 before=b, after=a, reason=reason, at=act.now,)
    kind = "minutes" if is_minutes else "slip"
    key = f"{kind}-revoked:{record.id}"
    told: set[int] = set()
    by_unit: dict[int, list[Matter]] = {}
    for m in matters:
        by_unit.setdefault(m.responsible_unit_id, []).append(m)
    for unit_id, items in by_unit.items():
        unit = s.get(Unit, unit_id)
        liaison = reachable(unit)
        if liaison is not None and liaison.id not in told:
            told.add(liaison.id)
            notify_people(act, [liaison], act.render("minutes/revoked_unit_notice.txt", record=record,
                                                     minutes=is_minutes, unit=unit, matters=items, reason=reason,
                                                     by=act.actor), key=f"{key}:u{unit_id}")
    lead = s.get(Unit, record.lead_unit_id) if record.lead_unit_id is not None else None
    others = [reachable(lead) if lead is not None else None, record.leader,
              record.created_by if is_minutes else record.drafted_by]
    text = act.render("minutes/revoked_notice.txt", record=record, minutes=is_minutes, matters=matters,
                      reason=reason, by=act.actor)
    notify_people(act, [p for p in others if p is not None and p.id not in told], text, key=key)
    if copied:
        act.notify_group("supervision", text, key=f"{key}:supervision", kind=kind)
    return withdrawn


def _mail_copy(act: Act, minutes: Minutes, matters: list[Matter]) -> None:
    """The issued minutes to 督导考核组's mailbox too ("所有印发纪要…均要抄送督导考核组（qgzwdc@126.com）");
    the caller has already left out 保密 ones. Nothing without a deployment or a mail server."""
    from bot.actions.forms import SUPERVISION, group_mailbox, queue_forms
    from bot.delivery import outbox

    settings = settings_of(act)
    if settings is None:
        return
    batch = outbox.Notices(settings, "minutes")
    queue_forms(batch, settings, act.render, [], key=f"minutes:{minutes.id}",
                mailboxes=[group_mailbox(act.session, SUPERVISION)], mail="minutes", minutes=minutes, matters=matters)
    batch.flush(act.session)


def supervision_channel(act: Act) -> str:
    """The channel of the supervision group's chat: its copies escape user text for that markdown."""
    return group_channel(act.session, "supervision", getattr(act.runtime, "settings", None))
