"""The automatic steps of the escalation ladder (seed 000 §三(二)(三)), run by a scheduled job:

- level 2, 久推不动: work still to do and no progress in the two last completed report periods (no
  Matter.last_progress_at since the earlier one opened and no item in a report of either) → the office
  supervisor(s) of the item's row and the dispatching leader are asked to consult; the supervision group
  gets the alert too (notice key ``escalation:2:<matter id>``);
- level 3, 久拖不办: more than Settings.OVERDUE_INTERVIEW_DAYS past the deadline → flagged for 督查约谈 in
  the supervision group (notice key ``escalation:3:<matter id>``, shared with the jobs issue);
- 效能问责 candidates for the monthly report: `accountability_candidates`.

Each alert is sent once per item and level: the Escalation row is unique per (matter, level) and every
notice carries a key, so running the job again (or twice at once) adds nothing.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Optional

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from bot import ledger, outbox
from bot.periods import month_bounds, period_at, periods_in_month, previous_period
from bot.scope import office_supervisors_of
from bot.text import render
from models import ESC_INTERVIEW, ESC_STALLED, Escalation, Matter, Unit

ACTOR = "system:escalation"


def _recent_history(session: Session, matter: Matter, n: int = 6) -> list[dict]:
    return ledger.history_rows(session, matter)[-n:]


def stalled_matters(session: Session, as_of: datetime) -> list[Matter]:
    """久推不动 items: still to do, silent since the earlier of the two last completed periods opened."""
    last = previous_period(period_at(as_of))
    before_last = previous_period(last)
    reported = ledger.reported_matter_ids(session, [last.key, before_last.key])
    cutoff = ledger.progress_cutoff(as_of, periods=2)
    rows = session.scalars(select(Matter).where(ledger.sql_active(), ledger.sql_no_progress_since(cutoff))
                           .order_by(Matter.id))
    return [m for m in rows if m.id not in reported and ledger.is_stalled(m, as_of)]


def long_overdue_matters(session: Session, as_of: datetime, days: int) -> list[Matter]:
    """久拖不办 items: still to do and more than `days` past the deadline."""
    limit = as_of.date() - timedelta(days=days)
    return list(session.scalars(select(Matter).where(ledger.sql_active(), Matter.deadline < limit)
                                .order_by(Matter.id)))


def _already(session: Session, level: int) -> set[int]:
    return set(session.scalars(select(Escalation.matter_id).where(Escalation.level == level)))


def auto_escalate(session: Session, runtime, as_of: datetime) -> list[Escalation]:
    """Raise levels 2 and 3 where due and send their alerts; returns the escalations raised now."""
    raised: list[Escalation] = []
    group_channel = runtime.group_channel
    days = runtime.settings.OVERDUE_INTERVIEW_DAYS
    done = _already(session, ESC_STALLED)
    supervisors: dict = {}
    for m in stalled_matters(session, as_of):
        if m.id in done:  # raised (and alerted, in the same transaction) by an earlier run
            continue
        esc = ledger.escalate(session, m, ESC_STALLED, ACTOR, now=as_of)
        if esc is not None:
            raised.append(esc)
        row_key = (m.minutes_id, m.leader_id)
        if row_key not in supervisors:
            supervisors[row_key] = office_supervisors_of(session, m)
        people = supervisors[row_key] + ([m.leader] if m.leader is not None else [])
        people = list({p.id: p for p in people}.values())
        kw = dict(m=m, v=_view(m, as_of), people=people, history=_recent_history(session, m), now=as_of)
        outbox.to_group(session, "supervision", render("escalate/auto_stalled_group.txt", **kw),
                        channel=group_channel, mention=people, key=f"escalation:{ESC_STALLED}:{m.id}",
                        kind="escalation")
        for p in people:
            outbox.to_person(session, p, render("escalate/auto_stalled_person.txt", person=p, **kw),
                             channel=runtime.channel_for(p), key=f"escalation:{ESC_STALLED}:{m.id}:p{p.id}",
                             kind="escalation")
    done = _already(session, ESC_INTERVIEW)
    for m in long_overdue_matters(session, as_of, days):
        if m.id in done:
            continue
        esc = ledger.escalate(session, m, ESC_INTERVIEW, ACTOR, now=as_of)
        if esc is not None:
            raised.append(esc)
        outbox.to_group(session, "supervision",
                        render("escalate/auto_interview.txt", m=m, v=_view(m, as_of), days=days,
                               history=_recent_history(session, m), now=as_of),
                        channel=group_channel, key=f"escalation:{ESC_INTERVIEW}:{m.id}", kind="escalation")
    return raised


def _view(m: Matter, as_of: datetime) -> ledger.ItemView:
    return ledger.item_view(m, as_of)


# -- 效能问责 candidates ----------------------------------------------------------------------------
@dataclass
class Candidate:
    """A unit that keeps lagging: late or missing reports, and/or overdue items."""

    unit: Unit
    late_periods: list[str] = field(default_factory=list)  # period keys reported after the deadline
    missing_periods: list[str] = field(default_factory=list)  # period keys never reported
    overdue_items: list[Matter] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)  # "late_reports", "overdue_items"

    @property
    def lagging_periods(self) -> int:
        return len(self.late_periods) + len(self.missing_periods)


def _parse_month(month) -> tuple[int, int]:
    if isinstance(month, str):
        y, m = month.split("-")
        return int(y), int(m)
    if isinstance(month, (date, datetime)):
        return month.year, month.month
    return tuple(month)  # (year, month)


def accountability_candidates(session: Session, month, *, as_of: Optional[datetime] = None,
                              min_late_periods: int = 2, min_overdue_items: int = 3,
                              lookback_periods: int = 2) -> list[Candidate]:
    """Units for the 效能问责 section of the monthly report of `month` ("2026-11", a date or (y, m)).

    A unit qualifies with late or missing reports in at least `min_late_periods` of the last
    `lookback_periods` periods up to the month's end, or with at least `min_overdue_items` items still
    to do and overdue at `as_of` (default: the month's end)."""
    year, mon = _parse_month(month)
    end = month_bounds(year, mon)[1]
    as_of = as_of or end
    periods = list(periods_in_month(year, mon))
    while len(periods) < lookback_periods:
        periods.insert(0, previous_period(periods[0]))
    periods = periods[-lookback_periods:] if lookback_periods else []
    status = ledger.report_status(session, periods, as_of)
    found: dict[int, Candidate] = {}
    units = {}

    def cand(uid: int) -> Candidate:
        if uid not in found:
            units.setdefault(uid, session.get(Unit, uid))
            found[uid] = Candidate(units[uid])
        return found[uid]

    lag = defaultdict(list)
    for (uid, key), st in sorted(status.items(), key=lambda kv: kv[0][1]):
        if st != ledger.ON_TIME:
            lag[uid].append((key, st))
    overdue = defaultdict(list)
    for m in session.scalars(select(Matter).where(and_(ledger.sql_active(), Matter.deadline < as_of.date()))
                             .order_by(Matter.deadline, Matter.id)):
        overdue[m.responsible_unit_id].append(m)
    for uid, items in lag.items():
        if len(items) >= min_late_periods:
            c = cand(uid)
            c.reasons.append("late_reports")
    for uid, items in overdue.items():
        if len(items) >= min_overdue_items:
            cand(uid).reasons.append("overdue_items")
    for uid, c in found.items():
        c.late_periods = [k for k, st in lag.get(uid, []) if st == ledger.LATE]
        c.missing_periods = [k for k, st in lag.get(uid, []) if st == ledger.MISSING]
        c.overdue_items = overdue.get(uid, [])
    return sorted(found.values(), key=lambda c: (-(c.lagging_periods + len(c.overdue_items)), c.unit.name))


__all__ = ["auto_escalate", "accountability_candidates", "Candidate", "stalled_matters", "long_overdue_matters"]
