"""附件4 泉港区“大调度、大督查”事项交办单, per slip, as .xlsx and .docx.

The slip is signed by hand on paper: the 调度领导（签字） line stays empty, and once the leader signed in chat
the signing record (who, when) is printed under it. An unsigned slip shows its draft rows."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Optional

from bot.documents.forms import Column, Form, write_xlsx
from bot.documents.texts import lines, part
from bot.domain.ledger import is_open
from bot.domain.responsibility import format_unit_roles, units_label
from bot.infra.text import cn_date
from models import SLIP_ISSUED, AssignmentSlip, Unit

WIDTHS = (6, 24, 28, 28, 16, 22, 14)
CENTERED = {0, 4, 6}
DOCX_CM = (1.2, 4.0, 4.6, 4.6, 2.8, 4.2, 2.8)


@dataclass
class SlipSheet:
    code: str
    leader: str
    dispatched_on: date
    signed: Optional[str]  # the signing record line, None while unsigned
    rows: list[list]
    liaison: Optional[str]
    phone: Optional[str]


def slip_sheet(session, slip: AssignmentSlip) -> SlipSheet:
    rows = []
    if slip.state == SLIP_ISSUED:
        for m in slip.rows:
            status = m.last_progress or part("ledger", "state", state=m.state)
            if not is_open(m):
                status = part("ledger", "state", state=m.state) + (f"：{m.last_progress}" if m.last_progress else "")
            rows.append([m.seq, m.title, m.obstacles or "", m.measures or "",
                         units_label(m), status, cn_date(m.deadline)])
    else:
        for seq, r in enumerate((slip.draft or {}).get("rows", []), 1):
            unit = r.get("responsible_unit") or {}
            name = unit.get("name") or (session.get(Unit, unit["id"]).name if unit.get("id") else "")
            name = format_unit_roles(name, [u["name"] for u in unit.get("assist", [])]) if name else name
            rows.append([seq, r.get("title", ""), r.get("obstacles") or "", r.get("measures") or "", name, "",
                         cn_date(date.fromisoformat(r["deadline"])) if r.get("deadline") else ""])
    signed = (part("annex4", "signed", leader=slip.leader.name, at=slip.signed_at)
              if slip.state == SLIP_ISSUED and slip.signed_at else None)
    drafter = slip.drafted_by
    return SlipSheet(slip.code, slip.leader.name, slip.dispatched_on, signed, rows,
                     drafter.name if drafter and not drafter.placeholder else None,
                     drafter.mobile if drafter and not drafter.placeholder else None)


def annex4_form(sheet: SlipSheet) -> Form:
    signature = part("annex4", "signature") + ("　" * 12 + sheet.signed if sheet.signed else "")
    columns = [Column(t, w, i in CENTERED)
               for i, (t, w) in enumerate(zip(lines("annex4", "columns"), WIDTHS, strict=False))]
    return Form(sheet=part("annex4", "sheet"), label=part("annex4", "label"), title=part("annex4", "title"),
                header_lines=[signature, part("annex4", "time", day=sheet.dispatched_on),
                              part("annex4", "code", code=sheet.code)],
                columns=columns, rows=sheet.rows, notes=lines("annex4", "notes"),
                footer=lines("annex4", "footer", liaison=sheet.liaison, phone=sheet.phone))


def annex4_xlsx(session, slip: AssignmentSlip) -> bytes:
    return write_xlsx([annex4_form(slip_sheet(session, slip))])


def annex4_docx(session, slip: AssignmentSlip) -> bytes:
    from docx.shared import Pt  # python-docx and lxml: loaded with the first .docx, not when a web worker starts

    from bot.documents import docx as D

    sheet = slip_sheet(session, slip)
    doc = D.new_document(landscape=True)
    D.para(doc, part("annex4", "label"), name=D.HEADING_FONT, size=14)
    D.para(doc, part("annex4", "title"), name=D.TITLE_FONT, size=D.TITLE_PT, align=D.CENTER, space_after=12)
    D.para(doc, part("annex4", "signature"), name=D.TABLE_FONT, size=14)
    D.para(doc, "", size=14)  # the empty line the leader signs on
    if sheet.signed:
        D.para(doc, sheet.signed, name=D.TABLE_FONT, size=10.5)
    D.para(doc, part("annex4", "time", day=sheet.dispatched_on), name=D.TABLE_FONT, size=14)
    D.para(doc, part("annex4", "code", code=sheet.code), name=D.TABLE_FONT, size=10.5, space_after=6)
    D.table(doc, lines("annex4", "columns"), [[str(c) for c in r] for r in sheet.rows], list(DOCX_CM))
    for note in lines("annex4", "notes"):
        p = D.para(doc, note, name=D.TABLE_FONT, size=10.5)
        p.paragraph_format.space_before = Pt(2)
    for line in lines("annex4", "footer", liaison=sheet.liaison, phone=sheet.phone):
        D.para(doc, line, name=D.TABLE_FONT, size=12)
    return D.to_bytes(doc)


def annex4_filename(slip: AssignmentSlip, ext: str) -> str:
    return part("annex4", "filename", code=slip.code, ext=ext)
