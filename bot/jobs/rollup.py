"""Office-liaison roll-up (归口汇总) jobs: compiled on the 6th/21st, reminded on the 7th/22nd, late after 18:00.

`rollup_compile` has bot.actions.rollup compile the roll-up of each dispatch row (附件2) with office
liaisons for the period that just closed (once per row and period) and sends each to its office liaisons;
they answer 提交 (optionally after 修改汇总) in chat (handlers/rollup.py) and the summary goes to the
supervision group.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from bot.actions.rollup import do_compile_rollups, rollups_of, row_liaisons
from bot.domain.address import address
from bot.domain.periods import Period
from bot.domain.workdays import shift_to_workday_before
from bot.infra.text import render
from bot.jobs.base import JobResult, Notices, bulk_audit, people
from bot.jobs.overdue import last_deadline
from models import DispatchRow, RollUp


def run_compile(runtime, as_of: datetime) -> JobResult:
    """rollup_compile: create the period's roll-ups and send each to its office liaisons."""
    result = JobResult("rollup_compile", as_of)
    period = last_deadline(as_of)
    if as_of > period.rollup_due:
        result.skipped = f"roll-up of {period.key} was due {period.rollup_due.isoformat()}"
        return result
    with runtime.db.session() as s:
        new_ids = do_compile_rollups(s, period)
        pending = rollups_of(s, period, unsubmitted_only=True)
        liaisons = row_liaisons(s, [r.dispatch_row_id for r in pending])
        who = people(s, [p for lst in liaisons.values() for p in lst])
        out = Notices(runtime, "rollup_compile")
        for r in pending:
            for pid in liaisons.get(r.dispatch_row_id, []):
                if pid in who:
                    text = render("jobs/rollup_dm.txt", content=r.content, hardest=r.hardest, seq=r.seq,
                                  period=period, multiple=len(pending) > 1)
                    out.to_person(who[pid], text, key=f"rollup:r{r.dispatch_row_id}:{period.key}:p{pid}")
        result.notices = len(out.flush(s))
    result.details = {"period": period.key, "compiled": len(new_ids), "pending": len(pending)}
    return result


def reminder_day(period: Period):
    """The roll-up reminder day: the due day (7th/22nd) moved to the previous working day, but not
    before the day after the report deadline (when the roll-up is compiled)."""
    return max(shift_to_workday_before(period.rollup_due.date()), period.deadline_date + timedelta(days=1))


def run_reminder(runtime, as_of: datetime) -> JobResult:
    """rollup_reminder: on the reminder day, office liaisons whose roll-up is not submitted yet."""
    result = JobResult("rollup_reminder", as_of)
    period = last_deadline(as_of)
    today = as_of.astimezone(runtime.tz).date()
    if as_of >= period.rollup_due or today < reminder_day(period):
        result.skipped = "no roll-up reminder due"
        return result
    with runtime.db.session() as s:
        pending = rollups_of(s, period, unsubmitted_only=True)
        liaisons = row_liaisons(s, [r.dispatch_row_id for r in pending])
        who = people(s, [p for lst in liaisons.values() for p in lst] + [r.leader_id for r in pending])
        out = Notices(runtime, "rollup_reminder")
        for r in pending:
            leader = address(who.get(r.leader_id))
            for pid in liaisons.get(r.dispatch_row_id, []):
                if pid in who:
                    text = render("jobs/rollup_reminder_dm.txt", seq=r.seq, leader=leader, period=period)
                    out.to_person(who[pid], text, key=f"rollup_reminder:r{r.dispatch_row_id}:{period.key}:p{pid}")
        result.notices = len(out.flush(s))
    result.details = {"period": period.key, "pending": len(pending)}
    return result


def run_overdue(runtime, as_of: datetime, window_hours: int = 48) -> JobResult:
    """rollup_overdue: after 18:00 on the 7th/22nd, mark unsubmitted roll-ups late and list them."""
    result = JobResult("rollup_overdue", as_of)
    period = last_deadline(as_of)
    if as_of < period.rollup_due:
        period = last_deadline(period.opens)  # the previous period's roll-up may still be in its window
    if as_of < period.rollup_due or as_of - period.rollup_due > timedelta(hours=window_hours):
        result.skipped = "no roll-up deadline just passed"
        return result
    with runtime.db.session() as s:
        late_rows = s.execute(select(RollUp.id, RollUp.dispatch_row_id, RollUp.is_late).where(
            RollUp.period_key == period.key,
            (RollUp.submitted_at.is_(None)) | (RollUp.submitted_at > period.rollup_due))).all()
        flagged = [r.id for r in late_rows if not r.is_late]
        if flagged:
            s.execute(update(RollUp).where(RollUp.id.in_(flagged)).values(is_late=True))
            bulk_audit(s, "system:rollup_overdue", "rollup_late", "rollup",
                       [(rid, {"is_late": False}, {"is_late": True}, period.key) for rid in flagged])
        liaisons = row_liaisons(s, [r.dispatch_row_id for r in late_rows])
        seqs = dict(s.execute(select(DispatchRow.id, DispatchRow.seq)
                              .where(DispatchRow.id.in_([r.dispatch_row_id for r in late_rows]))).all())
        leaders = dict(s.execute(select(DispatchRow.id, DispatchRow.leader_id)
                                 .where(DispatchRow.id.in_([r.dispatch_row_id for r in late_rows]))).all())
        who = people(s, [p for lst in liaisons.values() for p in lst] + list(leaders.values()))
        listed = sorted(({"seq": seqs.get(r.dispatch_row_id),
                          "leader": address(who.get(leaders.get(r.dispatch_row_id))),
                          "liaisons": [address(who[p]) for p in liaisons.get(r.dispatch_row_id, [])
                                       if p in who and not who[p].placeholder]}
                         for r in late_rows), key=lambda x: x["seq"] or 0)
        out = Notices(runtime, "rollup_overdue")
        if listed:
            out.to_group("supervision", render("jobs/rollup_overdue_group.txt", rows=listed, period=period),
                         key=f"rollup_overdue:group:supervision:{period.key}")
        result.notices = len(out.flush(s))
    result.details = {"period": period.key, "late": len(late_rows)}
    return result
