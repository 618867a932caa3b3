"""附件2 区政府领导定期协调调度事项清单, from the dispatch schedule (DispatchRow)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.documents.forms import Column, Form, write_xlsx
from bot.documents.texts import lines, part
from models import DispatchRow

WIDTHS = (6, 10, 48, 8, 24, 12, 14)
CENTERED = {0, 1, 3, 5, 6}


def annex2_form(session: Session) -> Form:
    rows = []
    for r in session.scalars(select(DispatchRow).order_by(DispatchRow.seq).options(
            selectinload(DispatchRow.lead_units), selectinload(DispatchRow.office_liaisons))):
        units = " ".join(u.name for u in r.lead_units) or (r.lead_units_note or "")
        rows.append([r.seq, r.leader.name, r.content, part("annex2", "cycle", cycle=r.cycle), units,
                     r.office_supervisor.name if r.office_supervisor else "",
                     " ".join(p.name for p in r.office_liaisons)])
    columns = [Column(t, w, i in CENTERED)
               for i, (t, w) in enumerate(zip(lines("annex2", "columns"), WIDTHS, strict=False))]
    return Form(sheet=part("annex2", "sheet"), label=part("annex2", "label"), title=part("annex2", "title"),
                preface=part("annex2", "preface"), columns=columns, rows=rows, landscape=True)


def annex2_xlsx(session: Session) -> bytes:
    return write_xlsx([annex2_form(session)])


def annex2_filename() -> str:
    return part("annex2", "filename")
