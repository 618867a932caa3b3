"""填报 (ReportSubmission): a unit's progress report for one period — a new version (an earlier one is kept
with current=False), one ReportItem per matter, each matter's last progress updated, and the state changes
that go with it: 已完成 claims completion (the office liaisons are asked to confirm), 未完成 after an earlier
已完成 of the same period withdraws that claim.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Optional

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import flag_modified

from bot.actions.base import Act, lock, lock_all, person_id, settings_of
from bot.actions.closeout import announce_claims, claim, closers_by_item, withdraw
from bot.delivery import outbox
from bot.documents.problems import annex3_filename, annex3_xlsx
from bot.domain import ledger, reporting
from bot.domain.periods import Period
from bot.domain.responsibility import unit_ids_of
from bot.infra import audit
from models import (
    ITEM_DONE,
    ITEM_OPEN,
    MATTER_CLAIMED,
    MATTER_EXTENSION,
    MATTER_OPEN,
    MATTER_RETURNED,
    Matter,
    Person,
    ReportItem,
    ReportSubmission,
    Unit,
)

REPORTABLE = (MATTER_OPEN, MATTER_EXTENSION, MATTER_RETURNED)  # items a unit reports on
PROGRESS_FIELDS = ("last_progress_at", "last_progress", "planned_deadline")
ITEM_COLUMNS = PROGRESS_FIELDS + ("state", "claimed_at")  # what a report may change on an item


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
    (TransitionError "changed" with the item's code).

    Set-based: the items are locked and reloaded in one statement, their report rows and audit rows
    written with one statement each, and every notice of the report (the claims' decision cards, the
    lead unit's problem list) queued with one."""
    s = act.session
    lock(s, unit)  # one version at a time per unit: the version number and the current flag
    locked = lock_all(s, Matter, [answer.matter_id for answer in items], selectinload(Matter.unit_links))
    matters = [locked.get(answer.matter_id) for answer in items]
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
    log: list[dict] = []  # the audit rows, in order
    replaced = None
    for old in prev_versions:
        if old.current:
            replaced = old
            old.current = False
            log.append(audit.entry(actor=act.actor, action="supersede", entity="report_submission",
                                   entity_id=old.id, before={"current": True}, after={"current": False},
                                   at=act.now))
    version = max((old.version for old in prev_versions), default=0) + 1
    sub = ReportSubmission(unit_id=unit.id, period_key=period.key, source=source, version=version, current=True,
                           submitted_by_id=person_id(act.actor), submitted_at=act.now,
                           is_late=reporting.late_if_submitted(s, unit.id, period, act.now, source))
    s.add(sub)
    s.flush()
    rows, claimed = [], []
    for answer, matter in zip(items, matters, strict=False):
        planned = answer.planned_deadline if answer.status == ITEM_OPEN else None
        rows.append(dict(submission_id=sub.id, matter_id=matter.id, status=answer.status, progress=answer.progress,
                         planned_deadline=planned, obstacle=answer.obstacle if answer.status == ITEM_OPEN else None))
        before = audit.snapshot(matter, PROGRESS_FIELDS)
        matter.last_progress_at = act.now
        matter.last_progress = answer.progress
        if answer.status == ITEM_OPEN:
            matter.planned_deadline = planned
        b, a = audit.diff(before, audit.snapshot(matter, PROGRESS_FIELDS))
        log.append(audit.entry(actor=act.actor, action="report", entity="matter", entity_id=matter.id, before=b,
                               after=a, at=act.now))
        if unit.id not in (matter.responsible_unit_id, reporting.reporting_unit_id(matter)):
            pass  # a 协办 unit reports its part; only the 主办 or the lead unit reports the item done
        elif answer.status == ITEM_DONE:
            if claim(act, matter, answer.progress, log):
                claimed.append((matter, answer.progress))
        else:  # a later report of the same period may revise an earlier 已完成
            withdraw(act, matter, answer.progress, log)
    for matter in matters:  # the same columns for every item: their UPDATEs go as one executemany
        for key in ITEM_COLUMNS:
            flag_modified(matter, key)
    s.flush()
    s.connection().execute(ReportItem.__table__.insert(), rows)
    log.append(audit.entry(actor=act.actor, action="create", entity="report_submission", entity_id=sub.id,
                           after=audit.snapshot(sub), at=act.now))
    audit.insert(s, log)
    led = [(a, m) for a, m in zip(items, matters, strict=True) if leads(unit.id, m)]
    liaisons = closers_by_item(s, [m.id for m, _note in claimed] + [m.id for _a, m in led])
    batch = outbox.Notices(settings_of(act))
    announce_claims(act, claimed, batch=batch, liaisons=liaisons)
    send_problem_list(act, unit, period, sub, led, batch=batch, liaisons=liaisons)
    batch.flush(s, count_only=True)
    done = sum(1 for a in items if a.status == ITEM_DONE)
    beyond = [(m, a.planned_deadline) for a, m in zip(items, matters, strict=True)
              if a.status == ITEM_OPEN and m.state != MATTER_EXTENSION and needs_extension(a.planned_deadline, m)]
    return Submitted(sub, replaced, done, len(items) - done, beyond)


def leads(unit_id: int, matter: Matter) -> bool:
    """Is the unit the lead unit named on the item's minutes or slip?"""
    source = matter.minutes if matter.minutes_id is not None else matter.slip
    return source is not None and source.lead_unit_id == unit_id


PROBLEM_LIST_FILE = "problem_list"  # the outbox renderer of the 附件3 workbook (bot.delivery.outbox.RENDERERS)


def send_problem_list(act: Act, unit: Unit, period: Period, sub: ReportSubmission,
                      led: Sequence[tuple[ItemReport, Matter]], *, batch: Optional[outbox.Notices] = None,
                      liaisons: Optional[dict] = None) -> int:
    """The lead unit's problem list (附件3 / 附件4 落实情况) goes to the office liaisons of the rows its items
    belong to ("报送对应办公室调度联络员", seed 000 §三(一)): each gets the items they follow, as a text and
    — where there is a deployment (`act.runtime`) — as the 附件3 workbook of the lead unit for the period,
    as they may see it. The workbook is made by the outbox sender when it sends the notice
    (`problem_list_workbook`), from the submission as it was made, not while the 确认 waits for its reply.
    Into `batch` when given (the caller flushes it); `liaisons` is `closers_by_item` of the items when the
    caller has it."""
    if not led:
        return 0
    s = act.session
    by_id = {m.id: (a, m) for a, m in led}
    if liaisons is None:
        liaisons = closers_by_item(s, by_id)
    mine: dict[int, tuple[outbox.Who, list[int]]] = {}
    for matter_id in by_id:
        for who in liaisons.get(matter_id, ()):
            mine.setdefault(who.id, (who, []))[1].append(matter_id)
    own = batch is None
    if own:
        batch = outbox.Notices(settings_of(act))
    me = person_id(act.actor)
    settings = settings_of(act)
    filename = annex3_filename(period, unit.name) if settings is not None else None
    n = 0
    for pid in sorted(mine):
        who, ids = mine[pid]
        if pid == me:
            continue
        rows = [dict(answer=by_id[i][0], m=by_id[i][1]) for i in sorted(ids, key=lambda i: by_id[i][1].code)]
        text = act.render("report/to_office_liaison.txt", unit=unit, period=period, sub=sub, rows=rows)
        if batch.to_person(who, text, key=f"problem_list:{sub.id}:p{pid}"):
            n += 1
            if filename is not None:
                batch.rendered_file_to_person(who, PROBLEM_LIST_FILE, {"submission_id": sub.id, "person_id": pid},
                                              filename, key=f"problem_list:{sub.id}:p{pid}:xlsx",
                                              kind="problem_list")
    if own:
        batch.flush(s)
    return n


def problem_list_workbook(session: Session, submission_id: int, person_id: int) -> bytes:
    """The 附件3 workbook of a lead unit's problem list (`send_problem_list`): the lead unit's lists of the
    period as they stood when submission `submission_id` was made, as person `person_id` may see them (their
    roles now: 保密 items only to those with a role on them)."""
    from bot.domain.periods import period_by_key
    from bot.domain.roles import roles_of

    sub = session.get(ReportSubmission, submission_id)
    person = session.get(Person, person_id)
    if sub is None or person is None:
        raise LookupError(f"submission {submission_id} or person {person_id} not found")
    return annex3_xlsx(session, roles_of(session, person), period_by_key(sub.period_key),
                       lead_unit=session.get(Unit, sub.unit_id), as_of=sub.id)
