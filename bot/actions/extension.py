"""延期申请 (ExtensionRequest): a unit asks for a later deadline with a reason; the office supervisor of the
item's row (admins if the row has none) approves or refuses. Both deadlines are kept (Matter.original_deadline
and the request's old_deadline / new_deadline).
"""
from __future__ import annotations

from datetime import date
from typing import Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.actions.base import Act, lock, notify_people, person_id
from bot.actions.closeout import WATCHED, audit_matter
from bot.domain import ledger
from bot.domain.roles import people_with_role
from bot.domain.scope import office_supervisors_of, unit_liaisons_of
from bot.infra import audit
from models import (
    EXT_APPROVED,
    EXT_PENDING,
    EXT_REFUSED,
    MATTER_EXTENSION,
    MATTER_OPEN,
    ROLE_ADMIN,
    ExtensionRequest,
    Matter,
    Person,
)


def admins(session: Session) -> list[Person]:
    return people_with_role(session, ROLE_ADMIN)


def deciders(session: Session, matter: Matter) -> list[Person]:
    """Who decides an extension: the office supervisor(s) of the item's row; admins if there is none."""
    return office_supervisors_of(session, matter) or admins(session)


def pending_extension(session: Session, matter: Matter) -> Optional[ExtensionRequest]:
    return session.scalar(select(ExtensionRequest).where(ExtensionRequest.matter_id == matter.id,
                                                         ExtensionRequest.state == EXT_PENDING))


def do_request_extension(act: Act, matter: Matter, new_deadline: date, reason: Optional[str]) -> ExtensionRequest:
    """延期申请: ask for `new_deadline` (later than the current one) with a reason; the deciders are told."""
    s = act.session
    lock(s, matter)
    ledger.check("request_extension", matter)
    reason = ledger.need_reason(reason)
    if pending_extension(s, matter) is not None:
        raise ledger.TransitionError("extension_pending", item=matter.code)
    if new_deadline <= matter.deadline:
        raise ledger.TransitionError("deadline_not_later", item=matter.code, deadline=matter.deadline)
    before = audit.snapshot(matter, WATCHED)
    req = ExtensionRequest(matter_id=matter.id, requested_by_id=person_id(act.actor), old_deadline=matter.deadline,
                           new_deadline=new_deadline, reason=reason, state=EXT_PENDING, created_at=act.now)
    s.add(req)
    matter.state = MATTER_EXTENSION
    s.flush()
    audit_matter(s, matter, before, act.actor, "extension_requested", act.now, reason,
                 request_id=req.id, new_deadline=new_deadline)
    from bot.actions import decisions

    notify_people(act, deciders(s, matter), act.render("extension/to_supervisor.txt", m=matter, req=req),
                  key=f"extension:{req.id}:asked", card=decisions.card(act, "ext", req))
    return req


def do_decide_extension(act: Act, request: ExtensionRequest, approve: bool,
                        note: Optional[str] = None) -> ExtensionRequest:
    """批准 / 不批准: approval moves the deadline (the original one stays in `original_deadline` and in the
    request's `old_deadline`); a refusal needs a reason. The applicant and the unit liaison are told."""
    s = act.session
    matter = request.matter
    lock(s, matter)  # the item first, then the request: the order every action takes them in
    lock(s, request)
    if request.state != EXT_PENDING:
        raise ledger.TransitionError("already_decided", request_id=request.id, state=request.state)
    ledger.check("decide_extension", matter)
    note = (note or "").strip() or None
    if not approve:
        note = ledger.need_reason(note)
    before = audit.snapshot(matter, WATCHED)
    request.state = EXT_APPROVED if approve else EXT_REFUSED
    request.decided_by_id = person_id(act.actor)
    request.decided_at = act.now
    request.decision_note = note
    if approve:
        matter.deadline = request.new_deadline
    if matter.state == MATTER_EXTENSION:
        matter.state = MATTER_OPEN
    audit_matter(s, matter, before, act.actor, "extension_approved" if approve else "extension_refused", act.now,
                 note, request_id=request.id)
    told = [s.get(Person, request.requested_by_id) if request.requested_by_id else None, *unit_liaisons_of(matter)]
    told = list({p.id: p for p in told if p is not None}.values())
    notify_people(act, told, act.render("extension/to_applicant.txt", m=matter, req=request, approve=approve),
                  key=f"extension:{request.id}:decided")
    return request
