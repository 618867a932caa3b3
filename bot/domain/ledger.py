"""Ledger rules, in one place for chat, jobs and reports: states and their transitions, lights,
overdue, stalled items and report compliance.

Each rule exists as a Python function (for one item) and, where jobs need it, as a SQL expression
(for set-based queries) — kept side by side so they cannot drift apart.

State machine of a ledger item (Matter)::

    open ──request_extension──▶ extension_requested ──decide_extension──▶ open
    open / returned / extension_requested ──claim_completion──▶ completion_claimed
    completion_claimed ──close──▶ closed (销号)      completion_claimed ──return_for_redo──▶ returned
    closed ──reopen──▶ returned (explicit, with a reason)

Escalation is a flag beside the state (`Matter.escalation_level`, one `Escalation` row per level).
Every transition validates, changes the Matter and writes one audit row in the caller's transaction;
an invalid one raises `TransitionError` (with a `code` the chat templates turn into Chinese).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from datetime import date, datetime, timedelta
from typing import Iterable, Optional, Union

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from bot.infra import audit
from bot.domain.periods import Period, period_at, previous_period
from models import (ESC_ACCEPTED, ESC_RAISED, ESC_RETURNED, ESC_SUPERVISION_REQUEST, EXT_APPROVED, EXT_PENDING,
                    EXT_REFUSED, EXT_WITHDRAWN, MATTER_CLAIMED, MATTER_CLOSED, MATTER_EXTENSION, MATTER_OPEN,
                    MATTER_RETURNED, AuditLog, Escalation, ExtensionRequest, Matter, Person, ReportSubmission)

OPEN_STATES = (MATTER_OPEN, MATTER_EXTENSION, MATTER_CLAIMED, MATTER_RETURNED)  # not yet 销号
ACTIVE_STATES = (MATTER_OPEN, MATTER_EXTENSION, MATTER_RETURNED)  # work still to do (not claimed done)
DUE_SOON_DAYS = 3

GREEN = "green"  # on track
YELLOW = "yellow"  # due within 3 days, or no progress reported in the last period
RED = "red"  # overdue
CLOSED = "closed"
LIGHT_ICONS = {GREEN: "🟢", YELLOW: "🟡", RED: "🔴", CLOSED: "✅"}

Actor = Union[Person, str]


class TransitionError(Exception):
    """A ledger change that the rules do not allow; `code` names the reason (templates word it)."""

    def __init__(self, code: str, **info):
        super().__init__(code)
        self.code = code
        self.info = info


# -- rules for one item ---------------------------------------------------------------------------
def is_open(matter: Matter) -> bool:
    return matter.state in OPEN_STATES


def overdue_days(matter: Matter, today: date) -> int:
    """Days past the deadline (0 if not overdue or closed)."""
    if not is_open(matter) or matter.deadline >= today:
        return 0
    return (today - matter.deadline).days


@lru_cache(maxsize=256)
def progress_cutoff(as_of: datetime, periods: int = 1) -> datetime:
    """The moment since which progress must have been reported to count as reported in the last
    `periods` completed report periods (the opening of the earliest of them)."""
    p: Period = period_at(as_of)
    for _ in range(periods):
        p = previous_period(p)
    return p.opens


def last_activity(matter: Matter) -> Optional[datetime]:
    """The last reported progress, or the creation of the item if none was reported yet."""
    return matter.last_progress_at or matter.created_at


def progress_reported(matter: Matter, as_of: datetime, periods: int = 1) -> bool:
    """Was progress reported within the last `periods` completed periods (or is the item newer)?"""
    seen = last_activity(matter)
    return seen is None or seen > progress_cutoff(as_of, periods)


def light(matter: Matter, today: date, *, progress_reported: bool = True) -> str:
    """The light of one item. `progress_reported`: was progress reported in the last period?"""
    if not is_open(matter):
        return CLOSED
    if matter.deadline < today:
        return RED
    if (matter.deadline - today).days <= DUE_SOON_DAYS or not progress_reported:
        return YELLOW
    return GREEN


def light_at(matter: Matter, as_of: datetime) -> str:
    """The light of one item at a moment (today and the last-period progress rule together)."""
    return light(matter, as_of.date(), progress_reported=progress_reported(matter, as_of))


def is_stalled(matter: Matter, as_of: datetime, reported_in_last_two: bool = False) -> bool:
    """久推不动: work still to do and no progress in the two last completed periods."""
    return (matter.state in ACTIVE_STATES and not reported_in_last_two
            and not progress_reported(matter, as_of, periods=2))


# -- the same rules as SQL, for set-based jobs and queries ------------------------------------------
def sql_open():
    return Matter.state.in_(OPEN_STATES)


def sql_active():
    return Matter.state.in_(ACTIVE_STATES)


def sql_overdue(today: date, min_days: int = 1):
    """Open and at least `min_days` past the deadline."""
    return and_(sql_open(), Matter.deadline <= today - timedelta(days=min_days))


def sql_due_within(today: date, days: int = DUE_SOON_DAYS):
    return and_(sql_open(), Matter.deadline >= today, Matter.deadline <= today + timedelta(days=days))


def sql_light_red(today: date):
    return sql_overdue(today)


def sql_no_progress_since(moment: datetime):
    """No progress reported since `moment` (items created later do not count as silent)."""
    return func.coalesce(Matter.last_progress_at, Matter.created_at) <= moment


def sql_light_yellow(today: date, no_progress_since=None):
    """Due soon, or (when `no_progress_since` is given) no progress since that moment."""
    cond = sql_due_within(today)
    if no_progress_since is not None:
        cond = or_(cond, and_(sql_open(), Matter.deadline >= today, sql_no_progress_since(no_progress_since)))
    return cond


def sql_light_green(today: date, no_progress_since=None):
    cond = and_(sql_open(), Matter.deadline > today + timedelta(days=DUE_SOON_DAYS))
    if no_progress_since is not None:
        cond = and_(cond, ~sql_no_progress_since(no_progress_since))
    return cond


# -- report compliance (late and missing reports) -------------------------------------------------
ON_TIME = "on_time"
LATE = "late"
MISSING = "missing"


def sql_expected_in(period: Period):
    """Matters whose responsible unit owes a report for `period`: created by its deadline and not
    closed before it opened."""
    return and_(Matter.created_at <= period.deadline,
                or_(Matter.closed_at.is_(None), Matter.closed_at > period.opens))


def report_status(session: Session, periods: Iterable[Period], as_of: datetime,
                  unit_ids: Optional[Iterable[int]] = None) -> dict[tuple[int, str], str]:
    """(unit id, period key) -> on_time / late / missing, for every unit that owed a report.

    A report is late when its first version came after the deadline; missing when none came by
    `as_of` (only for periods whose deadline has passed — a current period's absentee is "missing"
    only in the sense of 未报 so far)."""
    out: dict[tuple[int, str], str] = {}
    wanted = None if unit_ids is None else set(unit_ids)
    for p in periods:
        owing = set(session.scalars(select(Matter.responsible_unit_id).where(sql_expected_in(p)).distinct()))
        if wanted is not None:
            owing &= wanted
        if not owing:
            continue
        first = dict(session.execute(
            select(ReportSubmission.unit_id, func.min(ReportSubmission.submitted_at))
            .where(ReportSubmission.period_key == p.key)  # no IN (owing…): thousands of bound ids cost more
            .group_by(ReportSubmission.unit_id)).all())
        for uid in owing:
            at = first.get(uid)
            if at is None or at > as_of:
                out[(uid, p.key)] = MISSING
            else:
                out[(uid, p.key)] = LATE if at > p.deadline else ON_TIME
    return out


# -- transitions ----------------------------------------------------------------------------------
WATCHED = ("state", "deadline", "original_deadline", "escalation_level", "closed_at")


def _audit(session: Session, matter: Matter, before: dict, actor: Actor, action: str, now: datetime,
           reason: Optional[str] = None, **extra) -> None:
    b, a = audit.diff(before, audit.snapshot(matter, WATCHED))
    a.update({k: v.isoformat() if isinstance(v, date) else v for k, v in extra.items()})
    audit.record(session, actor=actor, action=action, entity="matter", entity_id=matter.id,
                 before=b, after=a, reason=reason, at=now)


def _need_open(matter: Matter) -> None:
    if matter.state == MATTER_CLOSED:
        raise TransitionError("closed", item=matter.code)


def _need_reason(reason: Optional[str]) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise TransitionError("reason_required")
    return reason


def pending_extension(session: Session, matter: Matter) -> Optional[ExtensionRequest]:
    return session.scalar(select(ExtensionRequest).where(ExtensionRequest.matter_id == matter.id,
                                                         ExtensionRequest.state == EXT_PENDING))


def request_extension(session: Session, matter: Matter, actor: Actor, new_deadline: date, reason: str,
                      *, now: datetime) -> ExtensionRequest:
    """延期申请: ask for `new_deadline` (later than the current one) with a reason."""
    _need_open(matter)
    reason = _need_reason(reason)
    if matter.state == MATTER_CLAIMED:
        raise TransitionError("already_claimed", item=matter.code)
    if pending_extension(session, matter) is not None:
        raise TransitionError("extension_pending", item=matter.code)
    if new_deadline <= matter.deadline:
        raise TransitionError("deadline_not_later", item=matter.code, deadline=matter.deadline)
    before = audit.snapshot(matter, WATCHED)
    req = ExtensionRequest(matter_id=matter.id, requested_by_id=actor.id if isinstance(actor, Person) else None,
                           old_deadline=matter.deadline, new_deadline=new_deadline, reason=reason,
                           state=EXT_PENDING, created_at=now)
    session.add(req)
    matter.state = MATTER_EXTENSION
    session.flush()
    _audit(session, matter, before, actor, "extension_requested", now, reason,
           request_id=req.id, new_deadline=new_deadline)
    return req


def decide_extension(session: Session, request: ExtensionRequest, actor: Actor, approve: bool,
                     note: Optional[str] = None, *, now: datetime) -> ExtensionRequest:
    """批准 / 不批准: approval moves the deadline (the original one stays in `original_deadline` and
    in the request's `old_deadline`); a refusal needs a reason."""
    if request.state != EXT_PENDING:
        raise TransitionError("already_decided", request_id=request.id, state=request.state)
    matter = request.matter
    _need_open(matter)
    note = (note or "").strip() or None
    if not approve:
        note = _need_reason(note)
    before = audit.snapshot(matter, WATCHED)
    request.state = EXT_APPROVED if approve else EXT_REFUSED
    request.decided_by_id = actor.id if isinstance(actor, Person) else None
    request.decided_at = now
    request.decision_note = note
    if approve:
        matter.deadline = request.new_deadline
    if matter.state == MATTER_EXTENSION:
        matter.state = MATTER_OPEN
    _audit(session, matter, before, actor, "extension_approved" if approve else "extension_refused", now, note,
           request_id=request.id)
    return request


def claim_completion(session: Session, matter: Matter, actor: Actor, note: Optional[str] = None,
                     *, now: datetime) -> bool:
    """已完成 in a report: the unit claims completion; the office liaison then closes or returns it.

    Idempotent: claiming an already claimed item changes nothing and returns False."""
    _need_open(matter)
    if matter.state == MATTER_CLAIMED:
        return False
    before = audit.snapshot(matter, WATCHED)
    matter.state = MATTER_CLAIMED
    _audit(session, matter, before, actor, "completion_claimed", now, (note or "").strip() or None)
    return True


def close(session: Session, matter: Matter, actor: Actor, note: Optional[str] = None, *, now: datetime) -> None:
    """销号: the office liaison confirms a claimed completion. Pending extension requests lapse."""
    if matter.state != MATTER_CLAIMED:
        _need_open(matter)
        raise TransitionError("not_claimed", item=matter.code, state=matter.state)
    before = audit.snapshot(matter, WATCHED)
    matter.state = MATTER_CLOSED
    matter.closed_at = now
    for req in session.scalars(select(ExtensionRequest).where(ExtensionRequest.matter_id == matter.id,
                                                              ExtensionRequest.state == EXT_PENDING)):
        req.state = EXT_WITHDRAWN
        req.decided_at = now
    _audit(session, matter, before, actor, "closed", now, (note or "").strip() or None)


def withdraw_claim(session: Session, matter: Matter, actor: Actor, note: Optional[str] = None,
                   *, now: datetime) -> bool:
    """A later report of the same period says 未完成 after all: the unit withdraws its own claim.

    Idempotent: an item that is not claimed is left alone (returns False)."""
    if matter.state != MATTER_CLAIMED:
        return False
    before = audit.snapshot(matter, WATCHED)
    matter.state = MATTER_OPEN
    _audit(session, matter, before, actor, "claim_withdrawn", now, (note or "").strip() or None)
    return True


def return_for_redo(session: Session, matter: Matter, actor: Actor, reason: str, *, now: datetime) -> None:
    """退回重办: the claimed completion is not accepted; the item is open again (flagged returned)."""
    reason = _need_reason(reason)
    if matter.state != MATTER_CLAIMED:
        _need_open(matter)
        raise TransitionError("not_claimed", item=matter.code, state=matter.state)
    before = audit.snapshot(matter, WATCHED)
    matter.state = MATTER_RETURNED
    _audit(session, matter, before, actor, "returned", now, reason)


def reopen(session: Session, matter: Matter, actor: Actor, reason: str, *, now: datetime) -> None:
    """The only way out of closed: an explicit reopen with a reason (the item comes back as returned)."""
    reason = _need_reason(reason)
    if matter.state != MATTER_CLOSED:
        raise TransitionError("not_closed", item=matter.code, state=matter.state)
    before = audit.snapshot(matter, WATCHED)
    matter.state = MATTER_RETURNED
    matter.closed_at = None
    _audit(session, matter, before, actor, "reopened", now, reason)


def escalation_of(session: Session, matter: Matter, level: int) -> Optional[Escalation]:
    return session.scalar(select(Escalation).where(Escalation.matter_id == matter.id, Escalation.level == level))


def escalate(session: Session, matter: Matter, level: int, actor: Actor, reason: Optional[str] = None,
             *, now: datetime) -> Optional[Escalation]:
    """Raise one step of the escalation ladder: once per item and level (None if already raised)."""
    _need_open(matter)
    if level == ESC_SUPERVISION_REQUEST:
        reason = _need_reason(reason)
    if escalation_of(session, matter, level) is not None:
        return None
    before = audit.snapshot(matter, WATCHED)
    esc = Escalation(matter_id=matter.id, level=level, state=ESC_RAISED, reason=reason, raised_at=now,
                     raised_by_id=actor.id if isinstance(actor, Person) else None)
    session.add(esc)
    matter.escalation_level = max(matter.escalation_level or 0, level)
    session.flush()
    _audit(session, matter, before, actor, "escalated", now, reason, level=level)
    return esc


def decide_escalation(session: Session, escalation: Escalation, actor: Actor, accept: bool, *,
                      now: datetime, deadline: Optional[date] = None, note: Optional[str] = None) -> Escalation:
    """立项督办 (accept, with a supervision deadline) or 退回督办 (with a reason) of a raised request."""
    if escalation.state != ESC_RAISED:
        raise TransitionError("already_decided", state=escalation.state)
    matter = escalation.matter
    _need_open(matter)
    note = (note or "").strip() or None
    if accept and deadline is None:
        raise TransitionError("deadline_required")
    if not accept:
        note = _need_reason(note)
    before = audit.snapshot(matter, WATCHED)
    escalation.state = ESC_ACCEPTED if accept else ESC_RETURNED
    escalation.decided_by_id = actor.id if isinstance(actor, Person) else None
    escalation.decided_at = now
    escalation.decision_note = note
    escalation.supervision_deadline = deadline if accept else None
    if not accept:
        session.flush()
        levels = session.scalars(select(Escalation.level).where(Escalation.matter_id == matter.id,
                                                                Escalation.state != ESC_RETURNED))
        matter.escalation_level = max(levels, default=0)
    _audit(session, matter, before, actor, "escalation_accepted" if accept else "escalation_returned", now,
           note, level=escalation.level, supervision_deadline=deadline)
    return escalation


# -- views for chat, jobs and reports ------------------------------------------------------------
@dataclass
class ItemView:
    """One ledger item as the templates show it."""

    code: str
    title: str
    unit: str
    leader: str
    state: str
    light: str
    icon: str
    deadline: date
    original_deadline: date
    overdue_days: int
    escalation_level: int
    last_progress: Optional[str]
    last_progress_at: Optional[datetime]


def item_view(m: Matter, as_of: datetime) -> ItemView:
    """The item at a moment: light, overdue days and the fields every list shows."""
    lt = light_at(m, as_of)
    return ItemView(m.code, m.title, m.responsible_unit.name if m.responsible_unit else "",
                    m.leader.name if m.leader else "", m.state, lt, LIGHT_ICONS[lt], m.deadline,
                    m.original_deadline, overdue_days(m, as_of.date()), m.escalation_level or 0,
                    m.last_progress, m.last_progress_at)


def _as_date(value) -> Optional[date]:
    return date.fromisoformat(value) if isinstance(value, str) else value


def sql_audit_of(m: Matter):
    """The audit rows of one item (entity_id is the item's id, as for every entity: see AuditLog)."""
    return and_(AuditLog.entity == "matter", AuditLog.entity_id == str(m.id))


def history_rows(session, m: Matter) -> list[dict]:
    """The audit trail of one item, oldest first, with the dates it carries as dates."""
    out = []
    for r in session.scalars(select(AuditLog).where(sql_audit_of(m)).order_by(AuditLog.at, AuditLog.id)):
        before, after = r.before or {}, r.after or {}
        out.append({"at": r.at, "actor": r.actor, "system": r.actor_id is None, "action": r.action,
                    "reason": r.reason, "level": after.get("level"),
                    "old_deadline": _as_date(before.get("deadline")), "deadline": _as_date(after.get("deadline")),
                    "new_deadline": _as_date(after.get("new_deadline")),
                    "supervision_deadline": _as_date(after.get("supervision_deadline"))})
    return out



# -- the state machine -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Transition:
    """One edge of an item's state machine: the states it may start from and the one it ends in. The
    transition functions above enforce it; the property test of tests/test_ledger_rules.py checks them
    against this table (refused exactly from a state that is not a source)."""

    name: str
    sources: tuple[str, ...]
    target: Optional[str]  # None: back to open (or unchanged when claimed meanwhile)


TRANSITIONS = (
    Transition("request_extension", (MATTER_OPEN, MATTER_RETURNED), MATTER_EXTENSION),
    Transition("decide_extension", (MATTER_EXTENSION, MATTER_CLAIMED, MATTER_OPEN, MATTER_RETURNED), None),
    Transition("claim_completion", (MATTER_OPEN, MATTER_RETURNED, MATTER_EXTENSION, MATTER_CLAIMED),
               MATTER_CLAIMED),
    Transition("close", (MATTER_CLAIMED,), MATTER_CLOSED),
    Transition("return_for_redo", (MATTER_CLAIMED,), MATTER_RETURNED),
    Transition("reopen", (MATTER_CLOSED,), MATTER_RETURNED),
)


# -- looking items up -----------------------------------------------------------------------------
def normalize_code(text: str) -> str:
    """An item code as typed ("m12 ") as stored ("M12"): trimmed and upper-cased. Full-width letters and
    digits ("Ｍ１２") are already half-width: the router normalises every message first."""
    return (text or "").strip().upper()


def find_matter(session: Session, code: str) -> Optional[Matter]:
    code = normalize_code(code)
    if not code:
        return None
    return session.scalar(select(Matter).where(func.upper(Matter.code) == code))
