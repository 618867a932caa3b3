"""年度绩效考评 of the units as an .xlsx form (bot.documents.forms): one row per unit, the columns of
bot.domain.assessment, and under the table the rule of each column with its weight
(config/supervision.yaml), so the printed form says how every figure was counted."""
from __future__ import annotations

from datetime import datetime

from bot.documents.forms import Column, Form, write_xlsx
from bot.domain.assessment import UnitRow
from bot.domain.supervision import COLUMNS, AssessmentRules
from bot.infra.text import render


def assessment_form(rows: list[UnitRow], year: int, rules: AssessmentRules, as_of: datetime) -> Form:
    heads = render("supervision/assessment_form.txt", part="columns").split("|")
    widths = [6, 22] + [9] * (len(heads) - 2)
    body = [[i, r.unit, *[r.counts[c] for c in COLUMNS], r.missed_recorded, r.deductions, r.score]
            for i, r in enumerate(rows, 1)]
    return Form(sheet=render("supervision/assessment_form.txt", part="sheet").strip(),
                title=render("supervision/assessment_form.txt", part="title", year=year).strip(),
                columns=[Column(h.strip(), w, center=i != 1)
                         for i, (h, w) in enumerate(zip(heads, widths, strict=True))],
                rows=body,
                header_lines=[render("supervision/assessment_form.txt", part="as_of", as_of=as_of).strip()],
                notes=[n for n in render("supervision/assessment_form.txt", part="notes", rules=rules,
                                         columns=COLUMNS).splitlines() if n.strip()])


def assessment_xlsx(rows: list[UnitRow], year: int, rules: AssessmentRules, as_of: datetime) -> bytes:
    return write_xlsx([assessment_form(rows, year, rules, as_of)])


def assessment_filename(year: int) -> str:
    return render("supervision/assessment_form.txt", part="filename", year=year).strip()
