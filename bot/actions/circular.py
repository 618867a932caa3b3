"""通报 (circular): late and missing reports per unit and overdue items, for the supervision group's
`通报` command and the monthly job. The wording is the template templates/circular/circular.md, which
the office may edit (see docs/ledger.md for the variables it receives).
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Optional

from sqlalchemy import func, select, true
from sqlalchemy.orm import Session

from bot.delivery import outbox
from bot.delivery.textsplit import split_utf8
from bot.domain import ledger, reporting
from bot.domain.periods import Period, period_at, periods_in_month, previous_period
from bot.domain.scope import sql_confidential
from bot.infra.text import render
from models import Matter, Unit

TEMPLATE = "circular/circular.md"
GROUP_MARKDOWN_BYTES = 4096  # WeCom group-robot markdown limit


def circular_periods(as_of: datetime, month: Optional[tuple[int, int]] = None) -> list[Period]:
    """The periods a circular covers: those of `month` already due at `as_of`; by default the month of
    the latest period due at `as_of`."""
    if month is None:
        last_due = previous_period(period_at(as_of))
        month = (last_due.year, last_due.month)
    return [p for p in periods_in_month(*month) if p.deadline <= as_of]


def circular_data(session: Session, as_of: datetime, scope=None, *,
                  month: Optional[tuple[int, int]] = None) -> dict:
    """Everything the template shows. `scope`: a SQL condition on Matter (bot.domain.scope.matter_filter) or None."""
    cond = true() if scope is None else scope
    periods = circular_periods(as_of, month)
    unit_ids = set(session.scalars(select(reporting.sql_reporting_unit()).where(cond).distinct()))
    status = reporting.report_status(session, periods, as_of, unit_ids=unit_ids)  # one per problem list
    names = {u.id: u.name for u in session.scalars(select(Unit).where(Unit.id.in_(unit_ids or {-1})))}
    labels = reporting.source_labels(session, {src for _u, src, _k in status}, public=True)  # a group post
    per_period = []
    for p in periods:
        row = {"period": p, "expected": 0, "on_time": 0, "late": [], "missing": []}
        lists = defaultdict(int)
        for (uid, _src, key) in status:
            lists[(uid, key)] += 1
        for (uid, src, key), st in status.items():
            if key != p.key:
                continue
            row["expected"] += 1
            if st == reporting.ON_TIME:
                row["on_time"] += 1
            else:  # the unit, and which list when it owes several
                row[st].append(names[uid] + (labels[src] if lists[(uid, key)] > 1 else ""))
        row["late"].sort()
        row["missing"].sort()
        per_period.append(row)
    by_unit: dict[int, dict] = {}
    for (uid, key), st in sorted(reporting.by_unit(status).items(), key=lambda kv: kv[0][1]):
        if st == reporting.ON_TIME:
            continue
        u = by_unit.setdefault(uid, {"unit": names[uid], "late": [], "missing": []})
        u[st].append(next(p for p in periods if p.key == key))
    year = month[0] if month else (periods[0].year if periods else as_of.year)
    missed = reporting.missed_counts(session, year, by_unit)
    for uid, u in by_unit.items():
        u["missed_year"] = missed.get(uid, 0)
    lagging = sorted(by_unit.values(), key=lambda u: (-(len(u["late"]) + len(u["missing"])), u["unit"]))
    overdue = defaultdict(list)
    # a circular goes to a group chat: items of 保密 minutes / slips are counted, never listed
    secret = session.scalar(select(func.count(Matter.id)).where(cond, ledger.sql_overdue(as_of.date()),
                                                                sql_confidential())) or 0
    for m in session.scalars(select(Matter).where(cond, ledger.sql_overdue(as_of.date()), ~sql_confidential())
                             .order_by(Matter.deadline, Matter.code)):
        overdue[m.responsible_unit.name].append(ledger.item_view(m, as_of))
    overdue_units = sorted(({"unit": k, "matters": v} for k, v in overdue.items()),
                           key=lambda u: (-len(u["matters"]), u["unit"]))
    return {"as_of": as_of, "month": month or ((periods[0].year, periods[0].month) if periods else None),
            "periods": per_period, "lagging": lagging, "overdue_units": overdue_units,
            "overdue_total": sum(len(u["matters"]) for u in overdue_units) + secret, "secret": secret,
            "expected": len(status), "on_time": sum(1 for s in status.values() if s == reporting.ON_TIME)}


def build_circular(session: Session, as_of: datetime, scope=None, *,
                   month: Optional[tuple[int, int]] = None) -> str:
    """The circular's text (Markdown that also reads as plain text)."""
    return render(TEMPLATE, **circular_data(session, as_of, scope, month=month))


def publish_circular(session: Session, runtime, as_of: datetime, *, key: str, group: str = "liaisons",
                     month: Optional[tuple[int, int]] = None) -> list[outbox.Queued]:
    """Send the circular to a group chat once per `key` (split to fit the robot's Markdown limit)."""
    text = build_circular(session, as_of, month=month)
    chunks = split_utf8(text, GROUP_MARKDOWN_BYTES - 96)
    out = []
    for i, chunk in enumerate(chunks, 1):
        n = outbox.to_group(session, group, chunk, settings=runtime.settings,
                            key=key if i == 1 else f"{key}:{i}", kind="circular")
        if n is not None:
            out.append(n)
    return out
