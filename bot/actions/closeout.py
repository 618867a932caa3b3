"""Close-out of a ledger item (到期收账): the unit claims completion, the office liaison of the item's row
closes it (销号) or returns it for redo; a later report may withdraw a claim; the office liaison (or an
admin) may reopen a closed item (重新打开) with a reason. Each action locks the item, checks the transition table \
(bot.domain.ledger.TRANSITIONS), changes
it, writes one audit row and queues the notices, in the caller's transaction.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Optional

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.actions.base import Act, Actor, lock, notify_people, person_id, settings_of
from bot.delivery import outbox
from bot.domain import ledger
from bot.domain.scope import followers, office_liaisons_of, unit_liaisons_of
from bot.infra import audit
from models import (
    EXT_PENDING,
    MATTER_CLAIMED,
    MATTER_CLOSED,
    MATTER_OPEN,
    MATTER_RETURNED,
    ROLE_OFFICE_LIAISON,
    AuditLog,
    ExtensionRequest,
    Matter,
    Person,
)

WATCHED = ("state", "deadline", "original_deadline", "escalation_level", "closed_at")  # audited item fields


def matter_entry(matter: Matter, before: dict, actor: Actor, action: str, now: datetime,
                 reason: Optional[str] = None, **extra) -> dict:
    """The audit row (`audit.entry`) of one item change: the watched fields that changed, plus `extra` facts."""
    b, a = audit.diff(before, audit.snapshot(matter, WATCHED))
    a.update({k: v.isoformat() if isinstance(v, date) else v for k, v in extra.items()})
    return audit.entry(actor=actor, action=action, entity="matter", entity_id=matter.id, before=b, after=a,
                       reason=reason, at=now)


def audit_matter(session: Session, matter: Matter, before: dict, actor: Actor, action: str, now: datetime,
                 reason: Optional[str] = None, **extra) -> None:
    """The audit row of one item change: the watched fields that changed, plus `extra` facts."""
    session.add(AuditLog(**matter_entry(matter, before, actor, action, now, reason, **extra)))


def closers(session: Session, matter: Matter) -> list[Person]:
    """Who confirms or returns a claimed completion: the office liaison(s) of the item's row."""
    return office_liaisons_of(session, matter)


def closers_by_item(session: Session, ids: Iterable[int]) -> dict[int, list[outbox.Who]]:
    """`closers` of many items in one statement: item id -> its office liaisons (as `outbox.Who`, by id)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    fol = followers(Matter.id.in_(wanted), roles=(ROLE_OFFICE_LIAISON,))
    return outbox.people_by(session, select(fol.c.matter_id.label("key"), fol.c.person_id).distinct().subquery())


CLAIM_COUNTED = ("completion_claimed", "report")  # the audit rows that number an item's claims


def claim_numbers(session: Session, ids: Iterable[int]) -> dict[int, int]:
    """Which claim of each item this is: its audit rows of CLAIM_COUNTED so far (written ones included) —
    the number `announce_claims` keys the notice with, and the revision of its decision card."""
    wanted = sorted(set(ids))
    out = dict.fromkeys(wanted, 0)
    if wanted:
        session.flush()
        for eid, n in session.execute(
                select(AuditLog.entity_id, func.count()).where(
                    AuditLog.entity == "matter", AuditLog.entity_id.in_([str(i) for i in wanted]),
                    AuditLog.action.in_(CLAIM_COUNTED)).group_by(AuditLog.entity_id)):
            out[int(eid)] = int(n)
    return out


def announce_claims(act: Act, claims: Sequence[tuple[Matter, str]], *, batch: Optional[outbox.Notices] = None,
                    liaisons: Optional[dict[int, list[outbox.Who]]] = None) -> int:
    """Ask the office liaisons to confirm completion claims — (item, what the unit said) — once per claim:
    a decision card each (not to the actor). The notices go into `batch` when given (the caller flushes
    it), else are queued here; `liaisons` is `closers_by_item` when the caller has it. Returns how many
    were queued (with a `batch`: added)."""
    if not claims:
        return 0
    from bot.actions import decisions

    s = act.session
    ids = [m.id for m, _note in claims]
    numbers = claim_numbers(s, ids)
    if liaisons is None:
        liaisons = closers_by_item(s, ids)
    own = batch is None
    if own:
        batch = outbox.Notices(settings_of(act))
    me = person_id(act.actor)
    n = 0
    for matter, note in claims:
        people = [w for w in liaisons.get(matter.id, ()) if w.id != me]
        if not people:
            continue
        k = numbers[matter.id]
        text = act.render("closeout/to_office_liaison.txt", m=matter, note=note)
        card = decisions.card(act, "close", matter, rev=k)
        for who in people:
            n += bool(batch.to_person(who, text, f"closeout:{matter.id}:claim{k}:p{who.id}", card=card))
    return len(batch.flush(s)) if own else n


def announce_claim(act: Act, matter: Matter, note: str = "") -> int:
    """Ask the office liaisons to confirm a completion claim (once per claim)."""
    return announce_claims(act, [(matter, note)])


def claim(act: Act, matter: Matter, note: Optional[str], audit_rows: list) -> bool:
    """The claim on a locked item: 待销号 since now, its audit row added to `audit_rows`; False (nothing
    changed) when it is claimed already."""
    if not ledger.check("claim_completion", matter):
        return False
    before = audit.snapshot(matter, WATCHED)
    matter.state = MATTER_CLAIMED
    matter.claimed_at = act.now
    audit_rows.append(matter_entry(matter, before, act.actor, "completion_claimed", act.now,
                                   (note or "").strip() or None))
    return True


def withdraw(act: Act, matter: Matter, note: Optional[str], audit_rows: list) -> bool:
    """The unit's own claim withdrawn on a locked item (open again), its audit row added to `audit_rows`;
    False (nothing changed) when it is not claimed."""
    if not ledger.check("withdraw_claim", matter):
        return False
    before = audit.snapshot(matter, WATCHED)
    matter.state = MATTER_OPEN
    matter.claimed_at = None
    audit_rows.append(matter_entry(matter, before, act.actor, "claim_withdrawn", act.now,
                                   (note or "").strip() or None))
    return True


def do_claim_completion(act: Act, matter: Matter, note: Optional[str] = None, need_note: bool = False) -> bool:
    """已完成 in a report, or 申请销号: the unit claims completion and the office liaisons are asked to
    confirm. 申请销号 must say what was done (`need_note`: TransitionError "note_required" without it).
    Idempotent: claiming an already claimed item changes nothing and returns False."""
    s = act.session
    lock(s, matter)
    if not ledger.check("claim_completion", matter):
        return False
    if need_note and not (note or "").strip():
        raise ledger.TransitionError("note_required", item=matter.code)
    rows: list = []
    claim(act, matter, note, rows)
    audit.insert(s, rows)
    announce_claims(act, [(matter, note or "")])
    return True


def do_withdraw_claim(act: Act, matter: Matter, note: Optional[str] = None) -> bool:
    """A later report of the same period says 未完成 after all: the unit withdraws its own claim.
    Idempotent: an item that is not claimed is left alone (returns False)."""
    s = act.session
    lock(s, matter)
    rows: list = []
    if not withdraw(act, matter, note, rows):
        return False
    audit.insert(s, rows)
    return True


def _tell_unit(act: Act, matter: Matter, confirm: bool, reason: str) -> None:
    key = f"closeout:{matter.id}:{'closed' if confirm else 'returned'}:{act.now.isoformat()}"
    text = act.render("closeout/to_unit.txt", m=matter, confirm=confirm, reason=reason, by=act.actor)
    notify_people(act, unit_liaisons_of(matter), text, key=key)


def check_sub_items(matter: Matter) -> None:
    """分解督办: the parent is closed after its sub-items (TransitionError sub_items_open)."""
    open_subs = [c.code for c in matter.children if ledger.is_open(c)]
    if open_subs:
        raise ledger.TransitionError("sub_items_open", item=matter.code, open=open_subs)


def do_close(act: Act, matter: Matter, note: Optional[str] = None) -> None:
    """销号: the office liaison confirms a claimed completion; pending extension requests lapse and the
    unit liaison is told."""
    s = act.session
    lock(s, matter)
    ledger.check("close", matter)
    check_sub_items(matter)
    before = audit.snapshot(matter, WATCHED)
    matter.state = MATTER_CLOSED
    matter.closed_at = act.now
    for req in s.scalars(select(ExtensionRequest).where(ExtensionRequest.matter_id == matter.id,
                                                        ExtensionRequest.state == EXT_PENDING)):
        req.state = ledger.EXT_WITHDRAWN
        req.decided_at = act.now
    audit_matter(s, matter, before, act.actor, "closed", act.now, (note or "").strip() or None)
    _tell_unit(act, matter, True, note or "")


def do_withdraw_item(act: Act, matter: Matter, reason: Optional[str]) -> bool:
    """The item's issued minutes / slip were withdrawn (撤销印发): the item leaves the ledger's work — state
    withdrawn (terminal), `withdrawn_at` set, a pending extension lapses; audited with the reason. A closed
    item keeps its 销号 (returns False: nothing to withdraw); an item already withdrawn is refused."""
    s = act.session
    lock(s, matter)
    changes = ledger.check("withdraw", matter)
    text = ledger.need_reason(reason)
    if not changes:
        return False
    before = audit.snapshot(matter, WATCHED)
    matter.state = ledger.MATTER_WITHDRAWN
    matter.withdrawn_at = act.now
    for req in s.scalars(select(ExtensionRequest).where(ExtensionRequest.matter_id == matter.id,
                                                        ExtensionRequest.state == EXT_PENDING)):
        req.state = ledger.EXT_WITHDRAWN
        req.decided_at = act.now
    audit_matter(s, matter, before, act.actor, "withdrawn", act.now, text)
    return True


def do_return_for_redo(act: Act, matter: Matter, reason: Optional[str]) -> None:
    """退回重办: the claimed completion is not accepted; the item is open again (flagged returned) and the
    unit liaison is told why."""
    s = act.session
    lock(s, matter)
    ledger.check("return_for_redo", matter)
    text = ledger.need_reason(reason)
    before = audit.snapshot(matter, WATCHED)
    matter.state = MATTER_RETURNED
    matter.claimed_at = None
    audit_matter(s, matter, before, act.actor, "returned", act.now, text)
    _tell_unit(act, matter, False, reason or "")


def do_reopen(act: Act, matter: Matter, reason: Optional[str]) -> None:
    """The only way out of closed: an explicit reopen with a reason (the item comes back as returned)."""
    s = act.session
    lock(s, matter)
    ledger.check("reopen", matter)
    text = ledger.need_reason(reason)
    before = audit.snapshot(matter, WATCHED)
    matter.state = MATTER_RETURNED
    matter.closed_at = None
    matter.claimed_at = None
    audit_matter(s, matter, before, act.actor, "reopened", act.now, text)
    notice = act.render("closeout/reopened_to_unit.txt", m=matter, reason=text, by=act.actor)
    notify_people(act, unit_liaisons_of(matter), notice, key=f"closeout:{matter.id}:reopened:{act.now.isoformat()}")


CLAIMS = ("completion_claimed",)
DECISIONS = ("closed", "returned", "reopened")


def claim_and_decision(session: Session, matter: Matter) -> tuple[Optional[AuditLog], Optional[AuditLog]]:
    """The item's last completion claim (what the unit said was done) and the decision on it since (销号,
    退回重办 or 重新打开, with its reason) — for 查 and for the unit's next report."""
    rows = list(session.scalars(select(AuditLog).where(
        ledger.sql_audit_of(matter), AuditLog.action.in_(CLAIMS + DECISIONS)).order_by(AuditLog.id)))
    claim = next((a for a in reversed(rows) if a.action in CLAIMS), None)
    decision = next((a for a in reversed(rows) if a.action in DECISIONS), None)
    if claim is not None and decision is not None and decision.id < claim.id:
        decision = None
    return claim, decision
