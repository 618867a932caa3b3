"""填报 (ReportSubmission): a unit's progress report for one period — a new version (an earlier one is kept
with current=False), one ReportItem per matter, each matter's last progress updated, and the state changes
that go with it: 已完成 claims completion (the office liaisons are asked to confirm), 未完成 after an earlier
已完成 of the same period withdraws that claim.
"""
from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Optional

from sqlalchemy import func, select

from bot.actions.base import Act, lock, notify_people, person_id
from bot.actions.closeout import do_claim_completion, do_withdraw_claim
from bot.delivery import outbox
from bot.domain import ledger, reporting
from bot.domain.periods import Period
from bot.domain.responsibility import unit_ids_of
from bot.domain.scope import followers
from bot.infra import audit
from models import (
    ITEM_DONE,
    ITEM_OPEN,
    MATTER_CLAIMED,
    MATTER_EXTENSION,
    MATTER_OPEN,
    MATTER_RETURNED,
    ROLE_OFFICE_LIAISON,
    Matter,
    Person,
    ReportItem,
    ReportSubmission,
    Unit,
)

REPORTABLE = (MATTER_OPEN, MATTER_EXTENSION, MATTER_RETURNED)  # items a unit reports on
PROGRESS_FIELDS = ("last_progress_at", "last_progress", "planned_deadline")


def needs_extension(planned: Optional[date], matter: Matter) -> bool:
    """A planned deadline after the item's 完成时限 does not move the deadline: only an approved 延期申请
    does, so the unit is asked to file one (the report is kept as written — an overdue item has no
    planned date that is not after its deadline)."""
    return planned is not None and planned > matter.deadline


@dataclass
class ItemReport:
    """What the unit says about one matter."""

    matter_id: int
    code: str
    status: str  # ITEM_DONE | ITEM_OPEN
    progress: str
    planned_deadline: Optional[date] = None  # open items only
    obstacle: Optional[str] = None  # open items only


@dataclass
class Submitted:
    submission: ReportSubmission
    replaced: Optional[ReportSubmission]
    done: int
    open: int
    # (matter, planned) for open items planned after their deadline, with no 延期申请 pending: to be asked for
    beyond_deadline: list = field(default_factory=list)


def report_source(matters: Sequence[Matter]) -> str:
    """The source of a report on these items: the one minutes / slip they all come from, else (several)
    ALL_SOURCES — a report covering several problem lists counts for each."""
    sources = {reporting.source_of(m) for m in matters}
    return sources.pop() if len(sources) == 1 else reporting.ALL_SOURCES


def do_submit_report(act: Act, unit: Unit, period: Period, items: Sequence[ItemReport],
                     source: Optional[str] = None) -> Submitted:
    """Save the unit's report of `period` for one problem list — `source`, by default the one of its items
    (`report_source`): a new version of (unit, period, source). An item no longer the unit's, or no longer
    reportable, or of another source refuses the whole report before anything is written
    (TransitionError "changed" with the item's code)."""
    s = act.session
    lock(s, unit)  # one version at a time per unit: the version number and the current flag
    matters = [s.get(Matter, answer.matter_id) for answer in items]
    for answer, matter in zip(items, matters, strict=False):
        if matter is None or unit.id not in (*unit_ids_of(matter), reporting.reporting_unit_id(matter)) or \
                matter.state not in REPORTABLE + (MATTER_CLAIMED,) or \
                source not in (None, reporting.ALL_SOURCES, reporting.source_of(matter)):
            raise ledger.TransitionError("changed", item=answer.code)
    if source is None:
        source = report_source([m for m in matters if m is not None])
    prev_versions = list(s.scalars(select(ReportSubmission).where(
        ReportSubmission.unit_id == unit.id, ReportSubmission.period_key == period.key,
        ReportSubmission.source == source)))
    replaced = None
    for old in prev_versions:
        if old.current:
            replaced = old
            old.current = False
            audit.record(s, actor=act.actor, action="supersede", entity="report_submission", entity_id=old.id,
                         before={"current": True}, after={"current": False}, at=act.now)
    version = (s.scalar(select(func.max(ReportSubmission.version)).where(
        ReportSubmission.unit_id == unit.id, ReportSubmission.period_key == period.key,
        ReportSubmission.source == source)) or 0) + 1
    s.flush()
    sub = ReportSubmission(unit_id=unit.id, period_key=period.key, source=source, version=version, current=True,
                           submitted_by_id=person_id(act.actor), submitted_at=act.now,
                           is_late=reporting.late_if_submitted(s, unit.id, period, act.now, source))
    s.add(sub)
    s.flush()
    for answer, matter in zip(items, matters, strict=False):
        planned = answer.planned_deadline if answer.status == ITEM_OPEN else None
        s.add(ReportItem(submission_id=sub.id, matter_id=matter.id, status=answer.status, progress=answer.progress,
                         planned_deadline=planned,
                         obstacle=answer.obstacle if answer.status == ITEM_OPEN else None))
        before = audit.snapshot(matter, PROGRESS_FIELDS)
        matter.last_progress_at = act.now
        matter.last_progress = answer.progress
        if answer.status == ITEM_OPEN:
            matter.planned_deadline = planned
        b, a = audit.diff(before, audit.snapshot(matter, PROGRESS_FIELDS))
        audit.record(s, actor=act.actor, action="report", entity="matter", entity_id=matter.id, before=b,
                     after=a, at=act.now)
        if unit.id not in (matter.responsible_unit_id, reporting.reporting_unit_id(matter)):
            pass  # a 协办 unit reports its part; only the 主办 or the lead unit reports the item done
        elif answer.status == ITEM_DONE:
            do_claim_completion(act, matter, answer.progress)
        else:  # a later report of the same period may revise an earlier 已完成
            do_withdraw_claim(act, matter, answer.progress)
    s.flush()
    audit.record(s, actor=act.actor, action="create", entity="report_submission", entity_id=sub.id,
                 after=audit.snapshot(sub), at=act.now)
    led = [(a, m) for a, m in zip(items, matters, strict=True) if leads(unit.id, m)]
    send_problem_list(act, unit, period, sub, led)
    done = sum(1 for a in items if a.status == ITEM_DONE)
    beyond = [(m, a.planned_deadline) for a, m in zip(items, matters, strict=True)
              if a.status == ITEM_OPEN and m.state != MATTER_EXTENSION and needs_extension(a.planned_deadline, m)]
    return Submitted(sub, replaced, done, len(items) - done, beyond)


def leads(unit_id: int, matter: Matter) -> bool:
    """Is the unit the lead unit named on the item's minutes or slip?"""
    source = matter.minutes if matter.minutes_id is not None else matter.slip
    return source is not None and source.lead_unit_id == unit_id


def send_problem_list(act: Act, unit: Unit, period: Period, sub: ReportSubmission,
                      led: Sequence[tuple[ItemReport, Matter]]) -> int:
    """The lead unit's problem list (附件3 / 附件4 落实情况) goes to the office liaisons of the rows its items
    belong to ("报送对应办公室调度联络员", seed 000 §三(一)): each gets the items they follow."""
    if not led:
        return 0
    s = act.session
    by_id = {m.id: (a, m) for a, m in led}
    fol = followers(Matter.id.in_(sorted(by_id)), roles=(ROLE_OFFICE_LIAISON,))
    mine: dict[int, list[int]] = {}
    for matter_id, pid in s.execute(select(fol.c.matter_id, fol.c.person_id).order_by(fol.c.person_id)):
        mine.setdefault(pid, []).append(matter_id)
    n = 0
    for pid, ids in mine.items():
        rows = [dict(answer=by_id[i][0], m=by_id[i][1]) for i in sorted(ids, key=lambda i: by_id[i][1].code)]
        text = act.render("report/to_office_liaison.txt", unit=unit, period=period, sub=sub, rows=rows)
        liaison = s.get(Person, pid)
        if notify_people(act, [liaison], text, key=f"problem_list:{sub.id}"):
            n += 1
            _send_workbook(act, liaison, unit, period, sub)
    return n


def _send_workbook(act: Act, liaison: Person, unit: Unit, period: Period, sub: ReportSubmission) -> None:
    """The 附件3 workbook of the lead unit for the period, as the office liaison may see it, saved under
    INSTANCE_DIR/exports/ and queued as a file (only where there is a deployment: `act.runtime`)."""
    runtime = getattr(act, "runtime", None)
    settings = getattr(runtime, "settings", None)
    if settings is None:
        return
    from bot.documents.problems import annex3_filename, annex3_xlsx
    from bot.domain.roles import roles_of

    data = annex3_xlsx(act.session, roles_of(act.session, liaison), period, lead_unit=unit)
    filename = annex3_filename(period, unit.name)
    folder = Path(settings.INSTANCE_DIR) / "exports" / act.now.strftime("%Y%m%d") / secrets.token_hex(8)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / filename).write_bytes(data)
    batch = outbox.Notices(settings, "problem_list")
    batch.file_to_person(liaison, str(folder / filename), filename, key=f"problem_list:{sub.id}:p{liaison.id}:xlsx")
    batch.flush(act.session)
