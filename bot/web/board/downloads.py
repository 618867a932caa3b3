"""The forms the board offers for download: a registry of name → exporter(session, roles, **args) →
(filename, bytes).

bot.documents (the official forms' exporters) is being built separately; when it lands, register its
exporters here under their names and drop the stand-in below. The stand-in writes the 督查台账 the viewer
may see as a plain .xlsx, with the same scope as every page (matter_filter).
"""
from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from bot.domain import ledger
from bot.domain.roles import Roles
from bot.domain.scope import matter_filter
from bot.infra.text import render
from models import Matter

Exporter = Callable[..., tuple[str, bytes]]


@dataclass(frozen=True)
class Form:
    name: str  # URL name: /board/download/<name>
    title: str  # shown in the downloads page
    export: Exporter
    mimetype: str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


FORMS: dict[str, Form] = {}


def register(name: str, title: str, mimetype: str = Form.mimetype):
    def deco(fn: Exporter) -> Exporter:
        FORMS[name] = Form(name, title, fn, mimetype)
        return fn
    return deco


@register("ledger", "督查台账（Excel）")
def ledger_xlsx(session: Session, roles: Roles, *, now: datetime, **_) -> tuple[str, bytes]:
    labels = render("board/_export_labels.txt").splitlines()
    header, states = labels[0].split("|"), dict(x.split("=") for x in labels[1].split("|"))
    import xlsxwriter  # as bot.documents: openpyxl would bring numpy and PIL (40 MB) into the web worker

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
                                   "strings_to_urls": False})
    ws = wb.add_worksheet(labels[2])
    day = wb.add_format({"num_format": "yyyy-mm-dd"})
    ws.write_row(0, 0, header)
    rows = session.scalars(select(Matter).where(matter_filter(roles))
                           .options(joinedload(Matter.responsible_unit), joinedload(Matter.leader),
                                    joinedload(Matter.lead_unit)).order_by(Matter.code))
    for n, m in enumerate(rows, 1):
        v = ledger.item_view(m, now)
        ws.write_row(n, 0, [m.code, m.title, v.leader, m.lead_unit.name if m.lead_unit else "", v.unit])
        ws.write_datetime(n, 5, datetime.combine(m.deadline, time()), day)
        ws.write_row(n, 6, [states.get(m.state, m.state), v.icon, v.overdue_days or None, m.last_progress or ""])
    for col, width in enumerate((8, 40, 10, 16, 16, 12, 14, 6, 8, 40)):
        ws.set_column(col, col, width)
    wb.close()
    return f"{labels[2]}_{now:%Y%m%d}.xlsx", buf.getvalue()
