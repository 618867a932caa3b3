"""事项交办单 (AssignmentSlip, seed 000 附件4): drafted and submitted (or resubmitted after a return) to
the dispatching leader, who signs it — its rows become ledger items J<id>, the units, the supervision
group and the drafter are told — or returns it to the drafter with a reason.

Each action locks the slip and checks its state, so two answers at once (the leader on WeCom and on
DingTalk, say) cannot both sign, or sign and return, the same slip.
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from bot.actions import decisions
from bot.actions.base import Act, lock, person_id
from bot.actions.forms import SUPERVISION, group_mailbox, is_confidential, send_forms
from bot.actions.matterunits import attach_units
from bot.actions.minutes import notify_units, supervision_channel
from bot.documents.slip import annex4_docx, annex4_filename
from bot.domain.codes import add_matter, add_slip
from bot.domain.leadunit import slip_lead_unit
from bot.domain.ledger import TransitionError
from bot.domain.meetings import copied_to_supervision
from bot.infra import audit
from models import KIND_SLIP, SLIP_ISSUED, SLIP_PENDING, SLIP_RETURNED, AssignmentSlip, DispatchRow, Matter, Person


def do_submit_slip(act: Act, *, leader: Person, dispatched_on: date, draft: dict,
                   slip: AssignmentSlip | None = None) -> tuple[AssignmentSlip, int]:
    """A new slip, or a returned one resubmitted by its drafter (TransitionError "not_editable" otherwise),
    pending the leader's signature with its rows in `draft`; the leader is asked to sign. Returns the slip
    and its revision."""
    s = act.session
    if slip is not None:
        lock(s, slip)
        if slip.state != SLIP_RETURNED or slip.drafted_by_id != person_id(act.actor):
            raise TransitionError("not_editable", slip=slip.code)
        before = audit.snapshot(slip)
        rev = int((slip.draft or {}).get("rev", 1)) + 1
        slip.leader_id = leader.id
        slip.dispatched_on = dispatched_on
        slip.draft = {**draft, "rev": rev}
        slip.state = SLIP_PENDING
        s.flush()
        b, a = audit.diff(before, audit.snapshot(slip))
        audit.record(s, actor=act.actor, action="resubmit", entity="assignment_slip", entity_id=slip.id,
                     before=b, after=a, at=act.now)
    else:
        rev = 1
        drafter = act.actor if isinstance(act.actor, Person) else None
        slip = add_slip(s, AssignmentSlip(leader_id=leader.id, dispatched_on=dispatched_on,
                                          drafted_by_id=person_id(act.actor),
                                          drafting_unit_id=drafter.unit_id if drafter else None,
                                          state=SLIP_PENDING, draft={**draft, "rev": rev}, created_at=act.now))
        audit.record(s, actor=act.actor, action="create", entity="assignment_slip", entity_id=slip.id,
                     after=audit.snapshot(slip), at=act.now)
    act.notify_person(leader, act.render("slip/to_leader.txt", slip=slip, draft=draft, drafter=act.actor, rev=rev),
                      key=f"slip-sign:{slip.id}:{rev}", kind="slip", card=decisions.card(act, "slip", slip))
    return slip, rev


def _need_pending(act: Act, slip: AssignmentSlip) -> None:
    lock(act.session, slip)
    if slip.state != SLIP_PENDING:
        raise TransitionError("not_pending", slip=slip.code, state=slip.state)


def do_sign_slip(act: Act, slip: AssignmentSlip) -> list[Matter]:
    """The leader signs: the slip is issued, its rows enter the ledger, and the supervision group (a copy, and
    the 附件4 .docx in its chat and mailbox, unless the slip is 保密), the responsible units and the drafter are
    told — the drafter with the units that could not be reached (`slip.unreached`). Returns the new items."""
    s = act.session
    _need_pending(act, slip)
    before = audit.snapshot(slip)
    rows = []
    for seq, row in enumerate((slip.draft or {}).get("rows", []), 1):
        due = date.fromisoformat(row["deadline"])
        m = add_matter(s, Matter(kind=KIND_SLIP, slip_id=slip.id, seq=seq, title=row["title"],
                                 obstacles=row["obstacles"], measures=row["measures"], leader_id=slip.leader_id,
                                 responsible_unit_id=row["responsible_unit"]["id"], deadline=due,
                                 original_deadline=due, created_by_id=slip.drafted_by_id, created_at=act.now))
        attach_units(s, m, [u["id"] for u in row["responsible_unit"].get("assist", [])], act.now)
        audit.record(s, actor=act.actor, action="create", entity="matter", entity_id=m.id,
                     after=audit.snapshot(m), at=act.now)
        rows.append(m)
    if slip.lead_unit_id is None:
        leader_rows = s.scalars(select(DispatchRow).where(DispatchRow.leader_id == slip.leader_id))
        slip.lead_unit_id = slip_lead_unit([m.responsible_unit_id for m in rows],
                                           [[u.id for u in r.lead_units] for r in leader_rows])
    slip.state = SLIP_ISSUED
    slip.signed_at = act.now
    slip.return_reason = None
    s.flush()
    b, a = audit.diff(before, audit.snapshot(slip))
    audit.record(s, actor=act.actor, action="sign", entity="assignment_slip", entity_id=slip.id, before=b,
                 after=a, at=act.now)
    if copied_to_supervision(slip.state, slip.confidential):
        act.notify_group("supervision", act.render("slip/copy.md", slip=slip, rows=rows,
                                                   md_channel=supervision_channel(act)),
                         key=f"slip-copy:{slip.id}", kind="slip")
    if not is_confidential(slip):  # the signed 附件4 to the group's chat and mailbox
        s.expire(slip, ["rows"])
        send_forms(act, [(annex4_filename(slip, "docx"), annex4_docx(s, slip))], key=f"slip:{slip.id}", kind="slip",
                   group=SUPERVISION, mailboxes=[group_mailbox(s, SUPERVISION)], mail="slip", slip=slip, rows=rows)
    slip.unreached = notify_units(act, rows, key=f"slip-unit:{slip.id}", what=slip, template="slip/unit_notice.txt")
    act.notify_person(slip.drafted_by, act.render("slip/signed_to_drafter.txt", slip=slip, rows=rows,
                                                  unreached=slip.unreached),
                      key=f"slip-signed:{slip.id}", kind="slip")
    return rows


def do_return_slip(act: Act, slip: AssignmentSlip, reason: str) -> None:
    """The leader returns the slip to its drafter with a reason (the drafter is told)."""
    s = act.session
    _need_pending(act, slip)
    before = audit.snapshot(slip)
    slip.state = SLIP_RETURNED
    slip.return_reason = reason
    s.flush()
    b, a = audit.diff(before, audit.snapshot(slip))
    audit.record(s, actor=act.actor, action="return", entity="assignment_slip", entity_id=slip.id,
                 before=b, after=a, reason=reason, at=act.now)
    rev = int((slip.draft or {}).get("rev", 1))
    act.notify_person(slip.drafted_by, act.render("slip/returned_to_drafter.txt", slip=slip, reason=reason),
                      key=f"slip-returned:{slip.id}:{rev}", kind="slip")


def do_withdraw_slip(act: Act, slip: AssignmentSlip, reason: str) -> None:
    """The drafter withdraws a slip not yet signed, with a reason (no item was created); the leader is told.
    A signed slip: 撤销印发 (`minutes.withdraw_issued`: its open items withdrawn, everyone told)."""
    from bot.actions.base import notify_people
    from bot.actions.minutes import withdraw_issued
    from bot.domain.ledger import need_reason
    from models import SLIP_WITHDRAWN

    s = act.session
    text = need_reason(reason)
    lock(s, slip)
    if slip.state == SLIP_ISSUED:
        withdraw_issued(act, slip, list(slip.rows), text)
        return
    if slip.state not in (SLIP_PENDING, SLIP_RETURNED):
        raise TransitionError("not_pending", slip=slip.code, state=slip.state)
    before = audit.snapshot(slip)
    slip.state = SLIP_WITHDRAWN
    s.flush()
    b, a = audit.diff(before, audit.snapshot(slip))
    audit.record(s, actor=act.actor, action="withdraw", entity="assignment_slip", entity_id=slip.id,
                 before=b, after=a, reason=text, at=act.now)
    notify_people(act, [slip.leader], act.render("slip/withdrawn_notice.txt", slip=slip, reason=text, by=act.actor),
                  key=f"slip-withdrawn:{slip.id}")
