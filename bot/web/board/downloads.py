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
from datetime import datetime

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
    from openpyxl import Workbook  # here, not at import: it costs each web worker 40 MB (numpy, PIL)

    wb = Workbook()
    ws = wb.active
    ws.title = labels[2]
    ws.append(header)
    for m in session.scalars(select(Matter).where(matter_filter(roles))
                             .options(joinedload(Matter.responsible_unit), joinedload(Matter.leader),
                                      joinedload(Matter.lead_unit)).order_by(Matter.code)):
        v = ledger.item_view(m, now)
        ws.append([m.code, m.title, v.leader, m.lead_unit.name if m.lead_unit else "", v.unit, m.deadline,
                   states.get(m.state, m.state), v.icon, v.overdue_days or None, m.last_progress or ""])
    for col, width in zip("ABCDEFGHIJ", (8, 40, 10, 16, 16, 12, 14, 6, 8, 40), strict=False):
        ws.column_dimensions[col].width = width
    buf = io.BytesIO()
    wb.save(buf)
    return f"{labels[2]}_{now:%Y%m%d}.xlsx", buf.getvalue()
