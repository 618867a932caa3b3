"""Supervision follow-up (督导考核组的跟踪问效, seed 000 §三(三)): the rectifications of spot checks and the
dates promised in interviews (`SupervisionTask`), and the interviews themselves, on working days.

- **coming due**: a task still open gets one reminder from its reminder day (`days_before` working days
  before its deadline; `remind_day`) to the deadline, to the unit's liaison and head (第一责任人); key
  ``supervision_due:t<task>:<deadline>:p<person>`` — once per task and deadline;
- **overdue** (`bot.domain.supervision.task_overdue`, the one rule): a task still open is chased to the
  unit's liaison and head on its first overdue working day and again every `chase_every` working days
  (key ``supervision_overdue:t<task>:<deadline>:s<stage>:p<person>``, stage = which chase it is, so a
  missed day is caught up by the next run and nothing is sent twice); a task the unit has claimed done
  is the supervision group's to confirm, so the unit is not chased for it;
- **the supervision group** gets one digest on a working day when a chase stage starts for any overdue
  task (claimed ones included, marked 待确认), key ``supervision_overdue:group:<day>``, naming the units
  that are now 效能问责 candidates because of them — `bot.actions.supervision.case_candidates`, the rule
  the `问责候选` command uses (thresholds from config/supervision.yaml);
- **interviews** (督查约谈) still scheduled: the unit's head and liaison are reminded from the reminder day
  (`interview_days_before` working days before the day) until the interview, key
  ``interview_reminder:iv<id>:<scheduled time>:p<person>`` — a rescheduled interview (`约谈改期`) has a
  new time, hence a new reminder; the old time's reminder is never sent after the change.

Nothing is sent on non-working days. Keys are rules of the data and the date, so a rerun, a second
scheduler or a catch-up adds nothing.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Optional

from sqlalchemy import select

from bot.actions.supervision import case_candidates
from bot.domain import supervision as rules_of
from bot.domain.workdays import add_workdays, is_workday, previous_workday
from bot.infra.text import render
from bot.jobs.base import JobResult, Notices, people
from models import (
    INTERVIEW_SCHEDULED,
    TASK_CLAIMED,
    TASK_CLOSED,
    TASK_OPEN,
    Interview,
    SupervisionTask,
    Unit,
)

KIND = "supervision_followup"
MAX_COUNTED_DAYS = 400  # overdue working days counted one by one up to this (a chase stage beyond is fine)


@lru_cache(maxsize=4096)
def remind_day(day: date, days_before: int) -> date:
    """The working day `days_before` working days before `day` (0: `day`, or the working day before it)."""
    return add_workdays(day, -days_before) if days_before > 0 else previous_workday(day)


@lru_cache(maxsize=4096)
def overdue_workdays(deadline: date, today: date) -> int:
    """Working days after `deadline` up to and including `today` (0 while not overdue)."""
    n, d = 0, deadline
    while d < today and n < MAX_COUNTED_DAYS:
        d += timedelta(days=1)
        if is_workday(d):
            n += 1
    return n


def chase_stage(deadline: date, today: date, every: int) -> tuple[int, bool]:
    """(stage, starts today) of an overdue task's chase: stage 0 from the first overdue working day, a new
    one every `every` working days; (-1, False) while not overdue or on a day off."""
    n = overdue_workdays(deadline, today)
    if n == 0:
        return -1, False
    every = max(1, int(every))
    return (n - 1) // every, (n - 1) % every == 0 and is_workday(today)


def run(runtime, as_of: datetime, days_before: Optional[int] = None, chase_every: int = 5,
        interview_days_before: int = 1) -> JobResult:
    """`days_before` None: Settings.SUPERVISION_REMIND_WORKDAYS (default 2)."""
    if days_before is None:
        days_before = runtime.settings.SUPERVISION_REMIND_WORKDAYS
    result = JobResult(KIND, as_of)
    today = as_of.astimezone(runtime.tz).date()
    if not is_workday(today):
        result.skipped = "not a working day"
        return result
    day = today.isoformat()
    with runtime.db.session() as s:
        tasks = list(s.scalars(select(SupervisionTask).where(SupervisionTask.state != TASK_CLOSED)
                               .order_by(SupervisionTask.deadline, SupervisionTask.id)))
        interviews = list(s.scalars(select(Interview).where(Interview.state == INTERVIEW_SCHEDULED,
                                                            Interview.scheduled_at > as_of)
                                    .order_by(Interview.scheduled_at, Interview.id)))
        unit_ids = {t.unit_id for t in tasks} | {iv.unit_id for iv in interviews}
        units = {u.id: u for u in s.scalars(select(Unit).where(Unit.id.in_(sorted(unit_ids))))} if unit_ids else {}
        who = people(s, [p for u in units.values() for p in (u.head_id, u.liaison_id)])
        out = Notices(runtime, KIND)
        due = chased = 0
        for_group = []

        def tell(unit: Unit, key: str, template: str, **kw) -> None:
            text = render(template, unit=unit, **kw)
            for pid in dict.fromkeys((unit.liaison_id, unit.head_id)):
                if pid in who:
                    out.to_person(who[pid], text, key=f"{key}:p{pid}")

        for t in tasks:
            unit = units[t.unit_id]
            if not rules_of.task_overdue(t, today):
                if t.state == TASK_OPEN and remind_day(t.deadline, days_before) <= today:
                    due += 1
                    tell(unit, f"supervision_due:t{t.id}:{t.deadline.isoformat()}", "jobs/supervision_due_dm.txt",
                         t=t, days_left=(t.deadline - today).days)
                continue
            stage, starts = chase_stage(t.deadline, today, chase_every)
            if t.state == TASK_OPEN:
                chased += 1
                tell(unit, f"supervision_overdue:t{t.id}:{t.deadline.isoformat()}:s{stage}",
                     "jobs/supervision_overdue_dm.txt", t=t, days=(today - t.deadline).days)
            if starts:
                for_group.append(t)
        if for_group:
            th = rules_of.rules(runtime.settings.SUPERVISION_FILE).candidates
            listed = {t.unit_id for t in for_group}
            candidates = [c.unit.name for c in case_candidates(s, as_of, th)
                          if "overdue_tasks" in c.reasons and c.unit.id in listed]
            out.to_group("supervision", render("jobs/supervision_overdue_group.txt", today=today, tasks=[
                dict(t=t, unit=units[t.unit_id].name, days=(today - t.deadline).days,
                     claimed=t.state == TASK_CLAIMED) for t in for_group], candidates=candidates),
                key=f"supervision_overdue:group:{day}", markdown=False)
        reminded = 0
        for iv in interviews:
            when = iv.scheduled_at.astimezone(runtime.tz)
            if remind_day(when.date(), interview_days_before) <= today <= when.date():
                reminded += 1
                tell(units[iv.unit_id], f"interview_reminder:iv{iv.id}:{when.isoformat(timespec='minutes')}",
                     "jobs/interview_reminder_dm.txt", iv=iv, when=when, today=today)
        result.notices = len(out.flush(s))
    result.details = {"due_soon": due, "overdue_chased": chased, "group_listed": len(for_group),
                      "interviews": reminded}
    return result
