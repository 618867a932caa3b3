"""导出 …, 月报: the official forms and the monthly report as files in chat (bot.documents), scoped by role
exactly as the ledger queries are (bot.domain.scope). The file is saved under INSTANCE_DIR/exports/ and an
outbox notice of msgtype "file" (payload: filename, path) carries it to the person; the platforms take at
most 20 MB, so a larger file is refused with a message instead."""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Optional

from sqlalchemy import select

from bot.actions.forms import CHAT_FILE_MAX_BYTES, save_export
from bot.core.messages import Context
from bot.core.routing import Commands
from bot.delivery import outbox
from bot.documents.dispatch import annex2_filename, annex2_xlsx
from bot.documents.ledger import ledger_filename, ledger_xlsx
from bot.documents.problems import annex3_filename, annex3_xlsx
from bot.documents.projects import form_info_from_seed, projects_filename, projects_xlsx
from bot.documents.slip import annex4_docx, annex4_filename, annex4_xlsx
from bot.domain.periods import period_at, period_by_key
from bot.domain.scope import matter_filter, sees_all
from bot.domain.unitmatch import UnitRef, match_unit
from models import AssignmentSlip, Matter, MonthlyReport, Unit

commands = Commands()

MAX_FILE_BYTES = CHAT_FILE_MAX_BYTES
DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MONTH_RE = re.compile(r"^(\d{4})-(\d{1,2})$")


def send_file(ctx: Context, filename: str, data: bytes) -> Optional[str]:
    """Save the file and queue it for the person; a message instead when it is over the limit."""
    if len(data) > MAX_FILE_BYTES:
        return ctx.render("export/too_big.txt", filename=filename, mb=round(len(data) / 1024 / 1024, 1))
    return queue_file(ctx, filename, save_export(ctx.runtime.settings, ctx.now, filename, data))


def queue_file(ctx: Context, filename: str, path: Path) -> Optional[str]:
    if path.stat().st_size > MAX_FILE_BYTES:
        return ctx.render("export/too_big.txt", filename=filename, mb=round(path.stat().st_size / 1024 / 1024, 1))
    batch = outbox.Notices(ctx.runtime.settings, "export")
    batch.file_to_person(ctx.person, str(path), filename)
    batch.flush(ctx.session)
    return None


def _answer(ctx: Context, files: list[tuple[str, bytes]]) -> str:
    for name, data in files:
        refused = send_file(ctx, name, data)
        if refused:
            return refused
    return ctx.render("export/queued.txt", files=[n for n, _ in files])


def _unit(ctx: Context, text: str) -> tuple[Optional[Unit], Optional[str]]:
    units = list(ctx.session.scalars(select(Unit).where(Unit.active.is_(True)).order_by(Unit.id)))
    hit = match_unit(text, [UnitRef(str(u.id), u.name, tuple(u.aliases or ())) for u in units])
    if hit.exact is None:
        return None, ctx.render("export/unit_unknown.txt", text=text)
    return ctx.session.get(Unit, int(hit.exact.id)), None


def _own_unit(ctx: Context) -> Optional[Unit]:
    ids = ctx.roles.liaison_unit_ids | ctx.roles.head_unit_ids
    return ctx.session.get(Unit, next(iter(ids))) if len(ids) == 1 else None


@commands.command("导出", summary="导出正式表格：导出 附件2 / 附件3 / 交办单 JB1 / 台账 / 项目周报", order=45)
def export(ctx: Context, args: str):
    words = args.split()
    what = words[0] if words else ""
    rest = words[1:]
    if what in ("附件2", "调度事项清单"):
        return _answer(ctx, [(annex2_filename(), annex2_xlsx(ctx.session))])
    if what in ("附件3", "问题清单"):
        period, unit = period_at(ctx.now), None
        for w in rest:
            if DAY_RE.match(w):
                try:
                    period = period_by_key(w)
                except ValueError:
                    return ctx.render("export/bad_date.txt", text=w)
            else:
                unit, error = _unit(ctx, w)
                if error:
                    return error
        if unit is None and not sees_all(ctx.roles):
            unit = _own_unit(ctx)
        who = unit.name if unit else ctx.render("export/sheet_name.txt", which="all" if sees_all(ctx.roles) else "unit")
        return _answer(ctx, [(annex3_filename(period, who), annex3_xlsx(ctx.session, ctx.roles, period, unit))])
    if what in ("交办单", "附件4"):
        code = (rest[0] if rest else "").upper()
        slip = ctx.session.scalar(select(AssignmentSlip).where(AssignmentSlip.code == code)) if code else None
        if slip is None or not _may_see_slip(ctx, slip):
            return ctx.render("export/slip_not_found.txt", code=code or "—")
        return _answer(ctx, [(annex4_filename(slip, "xlsx"), annex4_xlsx(ctx.session, slip)),
                             (annex4_filename(slip, "docx"), annex4_docx(ctx.session, slip))])
    if what in ("台账", "督查台账"):
        from handlers.status import scope_label

        scope = ctx.render("export/sheet_name.txt", which=scope_label(ctx))
        return _answer(ctx, [(ledger_filename(ctx.now), ledger_xlsx(ctx.session, ctx.roles, ctx.now, scope))])
    if what in ("项目周报", "周报", "项目问题清单"):
        day = ctx.now.date()
        if rest:
            try:
                day = date.fromisoformat(rest[0])
            except ValueError:
                return ctx.render("export/bad_date.txt", text=rest[0])
        info = form_info_from_seed(ctx.runtime.settings.SEED_FILE)
        return _answer(ctx, [(projects_filename(day), projects_xlsx(ctx.session, day, info))])
    return ctx.render("export/usage.txt")


def _may_see_slip(ctx: Context, slip: AssignmentSlip) -> bool:
    """The slip's leader, its drafter, and whoever may see one of its rows (scope.matter_filter)."""
    if sees_all(ctx.roles) or ctx.person.id in (slip.leader_id, slip.drafted_by_id):
        return True
    return ctx.session.scalar(select(Matter.id).where(Matter.slip_id == slip.id, matter_filter(ctx.roles))
                              .limit(1)) is not None


@commands.command("月报", summary="调度工作分析报告：月报 [2026-11]", order=46, roles=("supervision_member", "admin",
                                                                               "coordination_member"))
def monthly(ctx: Context, args: str):
    if not sees_all(ctx.roles):
        return ctx.render("export/no_permission.txt")
    from bot.jobs.monthly import docx_path, previous_month

    text = args.strip()
    if text:
        m = MONTH_RE.match(text)
        if not m or not 1 <= int(m.group(2)) <= 12:
            return ctx.render("export/bad_date.txt", text=text)
        key = f"{int(m.group(1)):04d}-{int(m.group(2)):02d}"
    else:
        y, mo = previous_month(ctx.now, ctx.runtime.tz)
        key = f"{y:04d}-{mo:02d}"
    row = ctx.session.scalar(select(MonthlyReport).where(MonthlyReport.month == key))
    if row is None or not row.xlsx_path:
        return ctx.render("export/no_report.txt", month=key)
    names = []
    for path in (docx_path(row.xlsx_path), Path(row.xlsx_path)):
        if path.exists():
            refused = queue_file(ctx, path.name, path)
            if refused:
                return refused
            names.append(path.name)
    if not names:
        return ctx.render("export/no_report.txt", month=key)
    return ctx.render("export/queued.txt", files=names)
