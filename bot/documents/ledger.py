"""督查台账: every ledger item the viewer may see (bot.domain.scope.matter_filter, the same condition as the
chat queries), with state, light, deadlines, latest progress and history."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Optional

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.documents.forms import Column, Form, write_xlsx
from bot.documents.texts import level_name, lines, part
from bot.domain.ledger import item_view
from bot.domain.scope import matter_filter
from bot.infra.text import cn_date
from models import AuditLog, Matter

WIDTHS = (6, 8, 18, 30, 8, 14, 14, 10, 7, 12, 12, 12, 7, 16, 30, 16, 40)
CENTERED = {0, 1, 4, 7, 8, 9, 10, 11, 12}
HISTORY_LIMIT = 12  # newest entries per item in the 历史记录 cell; the chat's 历史 shows them all
CHUNK = 5000


def ledger_items(session: Session, roles, conds=()) -> list[Matter]:
    return list(session.scalars(select(Matter).where(matter_filter(roles), *conds).order_by(Matter.id).options(
        selectinload(Matter.responsible_unit), selectinload(Matter.lead_unit), selectinload(Matter.leader),
        selectinload(Matter.minutes), selectinload(Matter.slip))))


def _histories(session: Session, matters: list[Matter]) -> dict[int, list[AuditLog]]:
    """Audit rows per item, in a few queries (ledger.sql_audit_of's rule: entity_id is the id or the code)."""
    key_to_id = {}
    for m in matters:
        key_to_id[str(m.id)] = m.id
        key_to_id[m.code] = m.id
    keys = list(key_to_id)
    out: dict[int, list[AuditLog]] = defaultdict(list)
    for start in range(0, len(keys), CHUNK):
        for r in session.scalars(select(AuditLog).where(AuditLog.entity == "matter",
                                                        AuditLog.entity_id.in_(keys[start:start + CHUNK]))
                                 .order_by(AuditLog.at, AuditLog.id)):
            out[key_to_id[r.entity_id]].append(r)
    return out


def ledger_rows(session: Session, roles, now: datetime, conds=()) -> list[list]:
    matters = ledger_items(session, roles, conds)
    history = _histories(session, matters)
    rows = []
    for n, m in enumerate(matters, 1):
        v = item_view(m, now)
        ref = (m.minutes.number or m.minutes.title) if m.minutes else (m.slip.code if m.slip else None)
        hist = "\n".join(part("ledger", "history", at=h.at, actor=h.actor, action=h.action, reason=h.reason)
                         for h in history.get(m.id, [])[-HISTORY_LIMIT:])
        rows.append([n, m.code, part("ledger", "source", kind=m.kind, ref=ref), m.title, v.leader, v.unit,
                     m.lead_unit.name if m.lead_unit else "", part("ledger", "state", state=m.state),
                     part("ledger", "light", light=v.light), cn_date(m.original_deadline), cn_date(m.deadline),
                     cn_date(m.planned_deadline) if m.planned_deadline else "", v.overdue_days or "",
                     level_name(m.escalation_level) if m.escalation_level else "", m.last_progress or "",
                     _minute(m.last_progress_at), hist])
    return rows


def _minute(at: Optional[datetime]) -> str:
    from bot.infra.text import cn_datetime

    return cn_datetime(at) if at else ""


def ledger_form(session: Session, roles, now: datetime, scope: str, conds=()) -> Form:
    rows = ledger_rows(session, roles, now, conds)
    columns = [Column(t, w, i in CENTERED)
               for i, (t, w) in enumerate(zip(lines("ledger", "columns"), WIDTHS, strict=False))]
    return Form(sheet=part("ledger", "sheet"), title=part("ledger", "title"),
                header_lines=[part("ledger", "scope_line", scope=scope, now=now, n=len(rows))],
                columns=columns, rows=rows, notes=lines("ledger", "notes"))


def ledger_xlsx(session: Session, roles, now: datetime, scope: str, conds=()) -> bytes:
    return write_xlsx([ledger_form(session, roles, now, scope, conds)])


def ledger_filename(now: datetime) -> str:
    return part("ledger", "filename", now=now)
