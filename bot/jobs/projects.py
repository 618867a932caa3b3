"""Seed 001's weekly jobs (泉港政办〔2021〕6号, 填表说明 "请各牵头单位每周一填报 … 经项目负责领导审阅后"):

- `run_weekly_reminder`, on the form's due day (Monday, or the next working day when it is a holiday): each
  lead unit's liaison of a project without a submitted form this week gets a reminder with its approaching
  and overdue milestones and the form's contact; the project's leader gets one for a form waiting for
  review; the joint office gets the milestone digest (approaching, overdue, claimed met and unconfirmed).
- `run_weekly_chase`, on the working day after: the joint office gets the projects whose form is missing or
  not yet reviewed.

Each notice's key names the week, so a rerun or a second scheduler sends nothing twice.
"""
from __future__ import annotations

from datetime import datetime

from bot.actions.projects import OFFICE_CHAT, all_projects, live, milestone_view, weekly_report
from bot.delivery.outbox import who_of
from bot.domain import keyprojects as K
from bot.infra.text import render
from bot.jobs.base import JobResult, Notices
from models import WEEKLY_REVIEWED, WEEKLY_SUBMITTED

KIND = "key_project_weekly"


def urgent_milestones(project, today) -> list[dict]:
    """Approaching (within K.SOON_DAYS) and overdue milestones of a project, overdue first."""
    views = [milestone_view(m, today) for m in project.milestones]
    return sorted([v for v in views if v["state"] in (K.OVERDUE, K.SOON)],
                  key=lambda v: (v["state"] != K.OVERDUE, v["ms"].deadline))


def run_weekly_reminder(runtime, as_of: datetime) -> JobResult:
    result = JobResult("key_project_reminder", as_of)
    today = as_of.astimezone(runtime.tz).date()
    week = K.week_start(today)
    if today != K.form_due(week):
        result.skipped = "not the form's due day"
        return result
    out = Notices(runtime, KIND)
    sent_units = waiting = 0
    digest = []
    with runtime.db.session() as s:
        for project in all_projects(s):
            report = weekly_report(s, project.id, week)
            urgent = urgent_milestones(project, today)
            digest += [dict(v, project=project) for v in urgent]
            digest += [dict(milestone_view(m, today), project=project) for m in project.milestones
                       if m.claimed_on is not None and m.done_on is None and
                       milestone_view(m, today)["state"] not in (K.OVERDUE, K.SOON)]
            if report is None:
                for unit in project.lead_units:
                    if live(unit.liaison):
                        text = render("projects/weekly_reminder_dm.txt", project=project, due=today, urgent=urgent)
                        out.to_person(who_of(unit.liaison), text, key=f"kp-remind:{project.id}:{unit.id}:{week}")
                        sent_units += 1
            elif report.state == WEEKLY_SUBMITTED and live(project.leader):
                text = render("projects/weekly_review_dm.txt", project=project, report=report)
                out.to_person(who_of(project.leader), text, key=f"kp-remind-review:{project.id}:{week}")
                waiting += 1
        if digest:
            out.to_group(OFFICE_CHAT, render("projects/milestone_digest.md", rows=digest, today=today),
                         key=f"kp-milestones:{week}")
        result.notices = len(out.flush(s))
    result.details = {"week": week.isoformat(), "units": sent_units, "waiting_review": waiting,
                      "milestones": len(digest)}
    return result


def run_weekly_chase(runtime, as_of: datetime) -> JobResult:
    result = JobResult("key_project_chase", as_of)
    today = as_of.astimezone(runtime.tz).date()
    week = K.week_start(today)
    if today != K.chase_day(week):
        result.skipped = "not the chase day"
        return result
    rows = []
    with runtime.db.session() as s:
        for project in all_projects(s):
            report = weekly_report(s, project.id, week)
            if report is not None and report.state == WEEKLY_REVIEWED:
                continue
            status = ("未填报" if report is None else
                      "已填报，待项目负责领导审阅" if report.state == WEEKLY_SUBMITTED else "已退回，待修改后重新提交")
            rows.append({"project": project, "status": status,
                         "units": "、".join(u.name for u in project.lead_units)})
        out = Notices(runtime, KIND)
        if rows:
            out.to_group(OFFICE_CHAT, render("projects/weekly_chase.md", rows=rows, week=week, today=today),
                         key=f"kp-chase:{week}")
        result.notices = len(out.flush(s))
    result.details = {"week": week.isoformat(), "missing": len(rows)}
    return result
