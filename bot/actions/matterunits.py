"""The responsible units of a matter (主办 / 协办, bot.domain.responsibility) and their 认领.

Every new item — the matters of issued minutes and slips, 分解督办 sub-items, a unit added — must be
acknowledged (认领) by each responsible unit's liaison: `assign` stamps when the units were told (the
acknowledge_chase job counts working days from there), `do_acknowledge` records who acknowledged and when
(one audit row per unit and item). Rows are written in the caller's transaction.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.actions.base import Act, lock, person_id
from bot.domain import ledger
from bot.infra import audit
from models import UNIT_ASSIST, UNIT_HOST, Matter, MatterUnit


def attach_units(session: Session, matter: Matter, assist_unit_ids: Iterable[int] = (),
                 now: Optional[datetime] = None, assigned: bool = False) -> list[MatterUnit]:
    """The matter_unit rows of a new matter: its 主办 (responsible_unit_id) and its 协办 units, in order;
    `assigned`: the units are told now (else `assign` stamps it when they are)."""
    rows, seen = [], set()
    for uid, role in [(matter.responsible_unit_id, UNIT_HOST), *((u, UNIT_ASSIST) for u in assist_unit_ids)]:
        if uid in seen:
            continue
        seen.add(uid)
        kw = {"added_at": now} if now is not None else {}
        row = MatterUnit(matter_id=matter.id, unit_id=uid, role=role, assigned_at=now if assigned else None, **kw)
        session.add(row)
        rows.append(row)
    session.flush()
    session.expire(matter, ["unit_links"])
    return rows


def assign(session: Session, matters: Sequence[Matter], now: datetime) -> None:
    """The units of these matters were told they have them: the 认领 clock starts (once per row). A matter
    with no row yet (made before this existed) gets its 主办 row."""
    for m in matters:
        if not m.unit_links:
            attach_units(session, m, (), now)
        for row in m.unit_links:
            if row.assigned_at is None:
                row.assigned_at = now
    session.flush()


def move_host(session: Session, matter: Matter, now: datetime) -> None:
    """The 主办 was corrected (更正 责任单位): its row follows, to be acknowledged afresh; a 协办 row of the
    new 主办 becomes the 主办's."""
    rows = list(session.scalars(select(MatterUnit).where(MatterUnit.matter_id == matter.id)))
    for row in rows:
        if row.role == UNIT_HOST and row.unit_id != matter.responsible_unit_id:
            session.delete(row)
    session.flush()
    mine = next((r for r in rows if r.unit_id == matter.responsible_unit_id), None)
    if mine is None:
        session.add(MatterUnit(matter_id=matter.id, unit_id=matter.responsible_unit_id, role=UNIT_HOST,
                               added_at=now, assigned_at=now))
    else:
        mine.role = UNIT_HOST
    session.flush()
    session.expire(matter, ["unit_links"])


def awaiting(session: Session, unit_ids: Iterable[int], matter: Optional[Matter] = None) -> list[MatterUnit]:
    """The rows these units have still to acknowledge (told, not acknowledged, item still open), by item."""
    q = (select(MatterUnit).join(Matter, Matter.id == MatterUnit.matter_id)
         .where(MatterUnit.unit_id.in_(sorted(set(unit_ids))), MatterUnit.assigned_at.is_not(None),
                MatterUnit.acknowledged_at.is_(None), ledger.sql_active()))
    if matter is not None:
        q = q.where(MatterUnit.matter_id == matter.id)
    return list(session.scalars(q.order_by(Matter.id, MatterUnit.id)))


def not_acknowledged(matter: Matter) -> list[MatterUnit]:
    """The units of one item that were told and have not acknowledged it yet."""
    return [r for r in matter.unit_links if r.assigned_at is not None and r.acknowledged_at is None]


def do_acknowledge(act: Act, matter: Matter, unit_ids: Iterable[int]) -> list[MatterUnit]:
    """认领: the liaison acknowledges the item for their unit(s) responsible for it; returns the rows
    acknowledged now (none when already acknowledged: idempotent). Audited per unit."""
    s = act.session
    lock(s, matter)
    done = []
    for row in awaiting(s, unit_ids, matter):
        row.acknowledged_at, row.acknowledged_by_id = act.now, person_id(act.actor)
        audit.record(s, actor=act.actor, action="acknowledged", entity="matter", entity_id=matter.id,
                     after={"unit_id": row.unit_id, "role": row.role}, at=act.now)
        done.append(row)
    s.flush()
    return done
