"""分解督办 (seed 000 §三(二): "提请由督导考核组进行分解督办"; "对牵头部门提级交办事项进行立项督办"): the
supervision group, having taken an item on (立项督办, an accepted level-1 escalation), splits it into
sub-items, each with its content, 主办 unit, 协办 units and deadline. A sub-item is a ledger item of its
own — same minutes / slip / topic, leader and lead unit as its parent, code M3-1 (bot.domain.codes) —
tracked, reported, escalated and closed like any item; its units are told and must 认领 it. The parent is
not 销号ed while a sub-item is open (bot.actions.closeout.do_close).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select

from bot.actions.base import Act, lock, notify_people, person_id
from bot.actions.matterunits import attach_units
from bot.actions.minutes import notify_units
from bot.domain import ledger
from bot.domain.codes import add_sub_matter
from bot.domain.scope import ROLE_LEAD_UNIT_LIAISON, followers_of, office_liaisons_of
from bot.infra import audit
from models import ESC_ACCEPTED, ESC_SUPERVISION_REQUEST, Escalation, Matter


@dataclass
class SubItem:
    title: str
    host_unit_id: int
    deadline: date
    assist_unit_ids: Sequence[int] = field(default_factory=tuple)


def may_split(session, matter: Matter) -> str | None:
    """Why the item may not be split (a TransitionError code), None when it may: it must be open, not a
    sub-item itself, and taken on by the supervision group (立项督办)."""
    if not ledger.is_open(matter):
        return "closed"
    if matter.parent_id is not None:
        return "is_sub_item"
    esc = session.scalar(select(Escalation).where(Escalation.matter_id == matter.id,
                                                  Escalation.level == ESC_SUPERVISION_REQUEST))
    if esc is None or esc.state != ESC_ACCEPTED:
        return "not_accepted"
    return None


def do_split_matter(act: Act, parent: Matter, subs: Sequence[SubItem]) -> list[Matter]:
    """Split `parent` into sub-items (numbered after any it has); their units are told (and must 认领), the
    office liaisons and the lead unit's liaison of the parent are told of the split. Audited on the parent
    ("split") and on each sub-item ("create")."""
    s = act.session
    lock(s, parent)
    why = may_split(s, parent)
    if why is not None:
        raise ledger.TransitionError(why, item=parent.code)
    if not subs:
        raise ledger.TransitionError("no_sub_items", item=parent.code)
    n = len(parent.children)
    created = []
    for k, sub in enumerate(subs, n + 1):
        m = add_sub_matter(s, parent, Matter(
            kind=parent.kind, minutes_id=parent.minutes_id, slip_id=parent.slip_id, topic_id=parent.topic_id,
            seq=parent.seq, title=sub.title, leader_id=parent.leader_id, responsible_unit_id=sub.host_unit_id,
            lead_unit_id=parent.lead_unit_id, deadline=sub.deadline, original_deadline=sub.deadline,
            created_by_id=person_id(act.actor), created_at=act.now), k)
        attach_units(s, m, sub.assist_unit_ids, act.now)
        audit.record(s, actor=act.actor, action="create", entity="matter", entity_id=m.id,
                     after={**audit.snapshot(m), "assist_unit_ids": list(sub.assist_unit_ids)}, at=act.now)
        created.append(m)
    audit.record(s, actor=act.actor, action="split", entity="matter", entity_id=parent.id,
                 after={"sub_items": [m.code for m in created]}, at=act.now)
    s.expire(parent, ["children"])
    unreached = notify_units(act, created, key=f"split-unit:{parent.id}:{n}", what=parent,
                             template="escalate/split_unit_notice.txt")
    told = [*office_liaisons_of(s, parent), *followers_of(s, parent, ROLE_LEAD_UNIT_LIAISON)]
    notify_people(act, list({p.id: p for p in told}.values()),
                  act.render("escalate/split_notice.txt", m=parent, subs=created, by=act.actor, unreached=unreached),
                  key=f"split:{parent.id}:{n}")
    return created
