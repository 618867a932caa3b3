"""Seed 001's 附件 第一批“难硬重新”重点项目突破攻坚问题清单, per week.

Each project spans as many rows as it has milestones: 序, 项目名称, 项目总牵头单位 and the 存在问题 …
下阶段工作对策建议 cells are merged down across them; 攻坚目标 and 完成时限 are one per row. The 存在问题 cell
lists the five categories (models.PROBLEM_CATEGORIES) each on its own line. The 填表说明 is written from
the org chart's key_projects block (report day, mailbox, contact), which the database does not hold."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Optional

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.documents.forms import Column, Form, write_xlsx
from bot.documents.texts import lines, part
from bot.domain.periods import week_start
from bot.infra.text import WEEKDAYS, cn_date, cn_short_date
from models import PROBLEM_CATEGORIES, KeyProject, WeeklyProjectReport

WIDTHS = (5, 18, 12, 26, 13, 34, 14, 24, 24)
CENTERED = {0, 2, 4}
MERGED_COLUMNS = (0, 1, 2, 5, 6, 7, 8)
DAY_NUMBERS = {"monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6}


@dataclass(frozen=True)
class FormInfo:
    """What the 填表说明 names: the report day, the mailbox and the contact."""

    weekday: str = "周一"
    mailbox: Optional[str] = None
    contact: Optional[str] = None
    phone: Optional[str] = None


def form_info_from_seed(path: str | Path) -> FormInfo:
    """The key_projects block of the org chart file (config SEED_FILE)."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError:
        return FormInfo()
    kp = data.get("key_projects") or {}
    contact = kp.get("report_contact") or {}
    day = DAY_NUMBERS.get(str(kp.get("weekly_report_day") or "monday"), 0)
    return FormInfo("周" + WEEKDAYS[day], kp.get("report_mailbox"), contact.get("name"),
                    str(contact["mobile"]) if contact.get("mobile") else None)


def batch_title(batch: Optional[str]) -> str:
    """第一批“难硬重新”重点项目 — the seed's title leaves out the year the batch name carries."""
    return re.sub(r"^\d{4}年", "", batch or "")


def projects_form(session: Session, day: date, info: FormInfo = FormInfo(), unit_name: str = "") -> Form:
    monday = week_start(day)
    projects = list(session.scalars(select(KeyProject).order_by(KeyProject.seq, KeyProject.id).options(
        selectinload(KeyProject.milestones), selectinload(KeyProject.lead_units))))
    reports = {r.project_id: r for r in session.scalars(
        select(WeeklyProjectReport).where(WeeklyProjectReport.week_start == monday)
        .options(selectinload(WeeklyProjectReport.problems)))}
    rows, merges = [], []
    for p in projects:
        rep = reports.get(p.id)
        problems = rep.problems if rep is not None else []
        by_cat = {k: "；".join(x.description for x in problems if x.category == k) for k in PROBLEM_CATEGORIES}
        depts = []
        for x in problems:
            if x.responsible_unit is not None and x.responsible_unit.name not in depts:
                depts.append(x.responsible_unit.name)
        issues = "\n".join(part("projects", "category", label=name, text=by_cat[k])
                           for k, name in PROBLEM_CATEGORIES.items())
        shared = [p.seq, p.name, " ".join(u.name for u in p.lead_units), issues, " ".join(depts),
                  (rep.coordination_progress or "") if rep else "", (rep.next_steps or "") if rep else ""]
        first = len(rows)
        for i, m in enumerate(p.milestones or [None]):
            target = ""
            when = ""
            if m is not None:
                target = m.target + (part("projects", "milestone_done", day=m.done_on) if m.done_on else "")
                when = cn_short_date(m.deadline) if m.deadline.year == monday.year else cn_date(m.deadline)
            if i == 0:
                rows.append(shared[:3] + [target, when] + shared[3:])
            else:
                rows.append([None, None, None, target, when, None, None, None, None])
        if len(rows) - first > 1:
            merges += [(first, c, len(rows) - 1, c) for c in MERGED_COLUMNS]
    columns = [Column(t, w, i in CENTERED)
               for i, (t, w) in enumerate(zip(lines("projects", "columns"), WIDTHS, strict=False))]
    batch = next((p.batch for p in projects if p.batch), "")
    return Form(sheet=part("projects", "sheet"), label=part("projects", "label"),
                title=part("projects", "title", batch_title=batch_title(batch)),
                header_lines=[part("projects", "unit_line", unit=unit_name), part("projects", "date_line", day=monday)],
                columns=columns, rows=rows, merges=merges,
                notes=[part("projects", "notes", weekday=info.weekday, mailbox=info.mailbox, contact=info.contact,
                            phone=info.phone)])


def projects_xlsx(session: Session, day: date, info: FormInfo = FormInfo(), unit_name: str = "") -> bytes:
    return write_xlsx([projects_form(session, day, info, unit_name)])


def projects_filename(day: date) -> str:
    return part("projects", "filename", day=week_start(day))
