"""The automatic steps of the escalation ladder (seed 000 §三(二)(三)), run by the `escalation` job:

- level 2, 久推不动: work still to do and no progress in the two last completed report periods (no
  Matter.last_progress_at since the earlier one opened and no item in a report of either) → the office
  supervisor(s) of the item's row and the dispatching leader are asked to consult;
- level 3, 久拖不办: more than Settings.OVERDUE_INTERVIEW_DAYS past the deadline → flagged for 督查约谈 in
  the supervision group. This module is the only place that sends the 久拖不办 alert;
- 效能问责 candidates for the monthly report: `accountability_candidates`.

Set-based: for each level the newly qualifying items are selected in one query and their Escalation rows
inserted in one statement with ON CONFLICT (matter_id, level) DO NOTHING RETURNING — the Escalation table
is the record, so each item is raised once per level, whoever runs the job and however often. Only the
rows this run inserted get the audit rows (one INSERT … SELECT per level), the level flag (one UPDATE per
level over disjoint sets: level 3 is raised first, so an item reaching both at once is updated once) and
the alerts: ONE supervision-group message per level and run listing the newly escalated items (key
``escalation:<level>:batch:<smallest new escalation id>``), and for level 2 one direct digest per office
supervisor / leader (``…:batch:<id>:p<person>``; who and which items in one windowed query). Two runs at
once insert disjoint sets, so every item appears in exactly one batch alert; a run that raises nothing
sends nothing. First run over the benchmark's 45,000-item backlog: docs/jobs.md.
Level 1 (提请督办) stays per item: `do_raise_escalation` (``escalation:1:<matter id>``) and its decision,
`do_decide_escalation` (立项督办 / 退回督办), below.
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from typing import NamedTuple, Optional

from sqlalchemy import (
    Integer,
    String,
    and_,
    any_,
    bindparam,
    case,
    cast,
    exists,
    func,
    literal,
    literal_column,
    select,
    update,
)
from sqlalchemy.orm import Session, aliased

from bot.actions.base import Act, lock, notify_people, person_id
from bot.actions.closeout import WATCHED, audit_matter
from bot.delivery.outbox import Notices, people
from bot.domain import ledger, reporting
from bot.domain.address import address
from bot.domain.periods import month_bounds, period_at, periods_in_month, previous_period
from bot.domain.roles import people_with_role, roles_of
from bot.domain.scope import can_see, confidential_ids, followers, office_liaisons_of, unit_liaisons_of
from bot.infra.audit import snapshot
from bot.infra.db import dialect_insert
from bot.infra.text import render
from models import (
    ESC_ACCEPTED,
    ESC_INTERVIEW,
    ESC_RAISED,
    ESC_RETURNED,
    ESC_STALLED,
    ESC_SUPERVISION_REQUEST,
    ROLE_ADMIN,
    ROLE_LEADER,
    ROLE_OFFICE_SUPERVISOR,
    ROLE_SUPERVISION,
    AuditLog,
    Escalation,
    Matter,
    Person,
    ReportItem,
    ReportSubmission,
    Unit,
)

ACTOR = "system:escalation"
LIST_LIMIT = 30  # items listed in one alert; the rest are counted ("等共 N 项")


def _reported_in(keys: list[str]):
    """The item has a progress line in a current report of one of these periods."""
    return exists(select(ReportItem.id).join(ReportSubmission, ReportSubmission.id == ReportItem.submission_id)
                  .where(ReportItem.matter_id == Matter.id, ReportSubmission.period_key.in_(keys),
                         ReportSubmission.current.is_(True)))


def _not_raised(level: int):
    # NOT IN (not NOT EXISTS): PostgreSQL hashes the subquery whatever its statistics say; after a first run
    # inserted tens of thousands of rows, stale statistics made the anti-join a 30-second nested loop.
    return Matter.id.not_in(select(Escalation.matter_id).where(Escalation.level == level))


def _stalled_where(as_of: datetime):
    last = previous_period(period_at(as_of))
    keys = [last.key, previous_period(last).key]
    return (ledger.sql_active(), ledger.sql_no_progress_since(ledger.progress_cutoff(as_of, periods=2)),
            ~_reported_in(keys))


def _long_overdue_where(as_of: datetime, days: int):
    return ledger.sql_active(), Matter.deadline < as_of.date() - timedelta(days=days)


def stalled_matters(session: Session, as_of: datetime) -> list[Matter]:
    """久推不动 items: still to do, silent since the earlier of the two last completed periods opened."""
    rows = session.scalars(select(Matter).where(*_stalled_where(as_of)).order_by(Matter.id))
    return [m for m in rows if ledger.is_stalled(m, as_of)]


def long_overdue_matters(session: Session, as_of: datetime, days: int) -> list[Matter]:
    """久拖不办 items: still to do and more than `days` past the deadline."""
    return list(session.scalars(select(Matter).where(*_long_overdue_where(as_of, days)).order_by(Matter.id)))


Leader = aliased(Person)


class Raised(NamedTuple):
    """One escalation raised by `auto_escalate` (plain values: a run may raise tens of thousands)."""

    id: int
    matter_id: int
    level: int


def _ids_in(session: Session, column, ids):
    """`column IN ids` with ONE bound parameter: an integer array on PostgreSQL (bound as its text form
    '{1,2,…}' — psycopg's array adapter costs ~20 ms per 20,000 ids, the string ~1 ms), a JSON list read by
    json_each on SQLite. A run may raise tens of thousands of items, and expanding that many parameters
    costs more than the statement."""
    ids = sorted({int(i) for i in ids})
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        text = "{" + ",".join(map(str, ids)) + "}"
        return column == any_(cast(bindparam(None, text, type_=String), ARRAY(Integer)))
    return column.in_(select(literal_column("value")).select_from(func.json_each(bindparam(None, json.dumps(ids)))))


def _insert(session: Session, level: int, where, as_of: datetime) -> dict[int, int]:
    """INSERT INTO escalation … SELECT the qualifying items … ON CONFLICT (matter_id, level) DO NOTHING
    RETURNING — one statement. Returns {matter id: escalation id} of the rows inserted now (a concurrent
    run's rows are not among them)."""
    insert = dialect_insert(session)
    table = Escalation.__table__
    raised_at = bindparam("raised_at", as_of, type_=table.c.raised_at.type)
    pick = select(Matter.id, literal(level), literal(ESC_RAISED), raised_at).where(*where, _not_raised(level))
    stmt = (insert(table).from_select(["matter_id", "level", "state", "raised_at"], pick)
            .on_conflict_do_nothing(index_elements=["matter_id", "level"])
            .returning(table.c.id, table.c.matter_id))
    return {mid: eid for eid, mid in session.connection().execute(stmt).all()}


def _audit(session: Session, level: int, ids, as_of: datetime, *, reached: bool = False) -> None:
    """The audit rows of the items raised now to `level` — one INSERT … SELECT; the before/after JSON of
    `do_raise_escalation` is picked by a CASE on the item's level before (each JSON bound once). `reached`:
    the items were raised higher in this run already, so the level is recorded as reached ({} → {level})."""
    if not ids:
        return
    audit = AuditLog.__table__
    current = func.coalesce(Matter.escalation_level, 0)
    json_of = lambda name, value: bindparam(name, value, type_=audit.c.before.type)  # noqa: E731
    if reached:
        before, after = json_of("b_at", {}), json_of("a_at", {"level": level})
    else:
        before = case(*[(current == old, json_of(f"b{old}", {"escalation_level": old})) for old in range(level)],
                      else_=json_of("b_at", {}))
        after = case((current < level, json_of("a_up", {"escalation_level": level, "level": level})),
                     else_=json_of("a_at", {"level": level}))
    session.connection().execute(audit.insert().from_select(
        ["at", "actor", "action", "entity", "entity_id", "before", "after"],
        select(bindparam("at", as_of, type_=audit.c.at.type), literal(ACTOR), literal("escalated"),
               literal("matter"), cast(Matter.id, String), before, after).where(_ids_in(session, Matter.id, ids))))


def _set_level(session: Session, level: int, ids) -> None:
    """The level flag of items raised now, in one UPDATE. The caller passes disjoint sets per level: a
    row updated twice in a transaction is no longer a HOT update (PostgreSQL) and re-runs its foreign-key
    checks."""
    if ids:
        session.connection().execute(update(Matter.__table__).where(
            _ids_in(session, Matter.id, ids), func.coalesce(Matter.escalation_level, 0) < level)
            .values(escalation_level=level))


def _first(session: Session, ids, limit: int = LIST_LIMIT) -> list[int]:
    """The `limit` longest overdue of these items (deadline, then id). The items are picked first (a
    materialized CTE): left to itself PostgreSQL walks the deadline index testing each row against the
    whole id array — 0.5 s for 20,000 ids."""
    picked = (select(Matter.id, Matter.deadline).where(_ids_in(session, Matter.id, ids))
              .cte("picked").prefix_with("MATERIALIZED", dialect="postgresql"))
    return list(session.connection().execute(select(picked.c.id).order_by(picked.c.deadline, picked.c.id)
                                             .limit(limit)).scalars())


def _details(session: Session, ids, today: date) -> dict[int, dict]:
    out = {}
    for m in session.execute(
            select(Matter.id, Matter.code, Matter.title, Matter.deadline, Matter.last_progress,
                   Matter.last_progress_at, Unit.name.label("unit"), Leader.name.label("leader"),
                   Leader.title.label("leader_title"), Leader.short_title.label("leader_short"))
            .join(Unit, Unit.id == Matter.responsible_unit_id).outerjoin(Leader, Leader.id == Matter.leader_id)
            .where(_ids_in(session, Matter.id, set(ids)))):
        out[m.id] = dict(code=m.code, title=m.title, unit=m.unit, deadline=m.deadline,
                         leader=address(SimpleNamespace(name=m.leader, title=m.leader_title,
                                                        short_title=m.leader_short)) if m.leader else "",
                         overdue_days=max((today - m.deadline).days, 0), last_progress=m.last_progress,
                         last_progress_at=m.last_progress_at)
    return out


def _consulted(session: Session, ids) -> dict[int, tuple[int, list[int]]]:
    """The people to consult on these 久推不动 items — their office supervisor(s) and leader
    (`bot.domain.scope.followers`) — as {person id: (number of items, the LIST_LIMIT longest overdue)}, in
    ONE query (a window per person); people in the order of their most overdue item."""
    fol = followers(_ids_in(session, Matter.id, ids), roles=(ROLE_OFFICE_SUPERVISOR, ROLE_LEADER))
    pairs = (select(fol.c.matter_id.label("id"), Matter.deadline, fol.c.person_id.label("pid"))
             .join(Matter, Matter.id == fol.c.matter_id).distinct().subquery())
    ranked = select(pairs.c.pid, pairs.c.id, pairs.c.deadline, func.count().over(partition_by=pairs.c.pid).label("n"),
                    func.row_number().over(partition_by=pairs.c.pid, order_by=(pairs.c.deadline, pairs.c.id))
                    .label("rn")).where(pairs.c.pid.is_not(None)).subquery()
    rows = session.connection().execute(select(ranked.c.pid, ranked.c.id, ranked.c.deadline, ranked.c.n)
                                        .where(ranked.c.rn <= LIST_LIMIT).order_by(ranked.c.pid, ranked.c.rn))
    found: dict[int, tuple[int, list[int]]] = {}
    first = {}
    for pid, mid, deadline, n in rows:
        if pid not in found:
            found[pid], first[pid] = (n, []), (deadline, mid, pid)
        found[pid][1].append(mid)
    return {pid: found[pid] for pid in sorted(found, key=first.get)}


def auto_escalate(session: Session, runtime, as_of: datetime) -> list[Raised]:
    """Raise levels 2 and 3 where due and send their batch alerts; returns the escalations raised now."""
    session.flush()  # the statements below go through the session's connection (Core: no ORM overhead)
    today = as_of.date()
    out = Notices(runtime, "escalation")
    days = runtime.settings.OVERDUE_INTERVIEW_DAYS
    # Level 3 first: an item reaching both in one run is audited 0 → 3, then level 2 as already reached.
    new3 = _insert(session, ESC_INTERVIEW, _long_overdue_where(as_of, days), as_of)
    new2 = _insert(session, ESC_STALLED, _stalled_where(as_of), as_of)
    both = new3.keys() & new2.keys()
    _audit(session, ESC_INTERVIEW, new3.keys(), as_of)
    _audit(session, ESC_STALLED, new2.keys() - both, as_of)
    _audit(session, ESC_STALLED, both, as_of, reached=True)
    _set_level(session, ESC_INTERVIEW, new3.keys())
    _set_level(session, ESC_STALLED, new2.keys() - both)  # each row updated once

    # level 2 — 久推不动: group alert (@ everyone to consult) and one digest per person
    if new2:
        batch = min(new2.values())
        mine = _consulted(session, new2.keys())
        who = people(session, mine)
        everyone = [who[p] for p in mine if p in who]
        secret = confidential_ids(session, new2.keys())  # counted in the group, listed to who follows them
        shown = _first(session, new2.keys() - secret)
        detail = _details(session, shown + [i for _, ids in mine.values() for i in ids], today)
        out.to_group("supervision", render("escalate/auto_stalled_group.txt", items=[detail[i] for i in shown],
                                           total=len(new2), people=everyone, now=as_of, secret=len(secret)),
                     mention=everyone, key=f"escalation:{ESC_STALLED}:batch:{batch}")
        for pid, (total, ids) in mine.items():
            if pid in who:
                out.to_person(who[pid], render("escalate/auto_stalled_person.txt", person=who[pid],
                                               items=[detail[i] for i in ids], total=total),
                              key=f"escalation:{ESC_STALLED}:batch:{batch}:p{pid}")

    # level 3 — 久拖不办 (the one place this alert is sent)
    if new3:
        secret = confidential_ids(session, new3.keys())
        shown = _first(session, new3.keys() - secret)
        detail = _details(session, shown, today)
        out.to_group("supervision", render("escalate/auto_interview.txt", items=[detail[i] for i in shown],
                                           total=len(new3), days=days, now=as_of, secret=len(secret)),
                     key=f"escalation:{ESC_INTERVIEW}:batch:{min(new3.values())}")

    out.flush(session)
    session.expire_all()  # matters loaded by the caller see their new escalation_level
    return sorted([Raised(eid, mid, ESC_INTERVIEW) for mid, eid in new3.items()]
                  + [Raised(eid, mid, ESC_STALLED) for mid, eid in new2.items()])


# -- one item, by hand: 提请督办 and its decision ------------------------------------------------------
HISTORY_LINES = 8  # the latest audit entries shown to the supervision group


def alert_key(matter: Matter, level: int) -> str:
    return f"escalation:{level}:{matter.id}"


def escalation_of(session: Session, matter: Matter, level: int) -> Optional[Escalation]:
    return session.scalar(select(Escalation).where(Escalation.matter_id == matter.id, Escalation.level == level))


def do_raise_escalation(act: Act, matter: Matter, level: int, reason: Optional[str] = None) -> Optional[Escalation]:
    """Raise one step of the escalation ladder for one item: once per item and level (None if already
    raised). 提请督办 (level 1) needs a reason and sends the item with its latest history to the
    supervision group's chat and, as a decision card, to each of its members (`_announce_request`)."""
    s = act.session
    lock(s, matter)
    ledger.check("escalate", matter)
    if level == ESC_SUPERVISION_REQUEST:
        reason = ledger.need_reason(reason)
    if escalation_of(s, matter, level) is not None:
        return None
    before = snapshot(matter, WATCHED)
    esc = Escalation(matter_id=matter.id, level=level, state=ESC_RAISED, reason=reason, raised_at=act.now,
                     raised_by_id=person_id(act.actor))
    s.add(esc)
    matter.escalation_level = max(matter.escalation_level or 0, level)
    s.flush()
    audit_matter(s, matter, before, act.actor, "escalated", act.now, reason, level=level)
    if level == ESC_SUPERVISION_REQUEST:
        _announce_request(act, matter, esc)
    return esc


def _announce_request(act: Act, matter: Matter, esc: Escalation) -> None:
    """A new 提请督办 to the supervision group: its chat gets the item with its latest history (a 保密 item
    counted, never shown: a group chat), and each member who may decide it a decision card (kind `esc`,
    bot.actions.decision_kinds) in their own chat — the same text, whose buttons run `do_decide_escalation`.
    Keyed per item: a retry queues each once."""
    from bot.actions import decisions

    s = act.session
    shown = dict(m=matter, v=ledger.item_view(matter, act.now), esc=esc, by=act.actor,
                 rows=ledger.history_rows(s, matter)[-HISTORY_LINES:])
    key = alert_key(matter, ESC_SUPERVISION_REQUEST)
    if confidential_ids(s, [matter.id]):
        group = act.render("escalate/to_supervision_secret.txt", m=matter, by=act.actor, secret=1)
    else:
        group = act.render("escalate/to_supervision.txt", group=True, **shown)
    act.notify_group("supervision", group, key=key)
    notify_people(act, deciders(s, matter), act.render("escalate/to_supervision.txt", group=False, **shown),
                  key=f"{key}:card", card=decisions.card(act, "esc", esc))


def deciders(session: Session, matter: Matter) -> list[Person]:
    """Who is asked to decide a 提请督办 of `matter` (立项督办 / 退回督办): the supervision group's members who may
    see the item — everyone of them, but for a 保密 item only those with a role on it. The same rule as 查
    (`bot.domain.scope.can_see`): a direct card shows the item, so it goes to no one who may not see it."""
    return [p for p in people_with_role(session, ROLE_SUPERVISION) if may_decide(session, matter, p)]


def may_decide(session: Session, matter: Matter, person: Person) -> bool:
    """A supervision group member or an admin (the roles of the typed 立项督办) who may see the item."""
    roles = roles_of(session, person)
    return roles.has(ROLE_SUPERVISION, ROLE_ADMIN) and can_see(session, roles, matter)


def lead_unit_of(matter: Matter):
    """The lead unit that raises 提请督办 for the item ("提请督办" is the lead unit's, §三(二)): the lead unit
    of its minutes or slip when that is not the item's responsible unit, else None (the responsible unit
    raises it itself)."""
    source = matter.minutes if matter.minutes_id is not None else matter.slip
    lead = getattr(source, "lead_unit", None)
    return lead if lead is not None and lead.id != matter.responsible_unit_id else None


def do_ask_lead_unit_to_escalate(act: Act, matter: Matter, reason: Optional[str]) -> Optional[Person]:
    """A responsible unit asks the item's lead unit to raise 提请督办: audited, and the lead unit's liaison is
    told with the command to send. Returns that liaison (None if the lead unit has none named yet)."""
    s = act.session
    lock(s, matter)
    ledger.check("escalate", matter)
    reason = ledger.need_reason(reason)
    lead = lead_unit_of(matter)
    before = snapshot(matter, WATCHED)
    audit_matter(s, matter, before, act.actor, "escalation_asked", act.now, reason)
    liaison = lead.liaison if lead is not None else None
    if liaison is None or liaison.placeholder:
        return None
    notify_people(act, [liaison], act.render("escalate/to_lead_unit.txt", m=matter, lead=lead, reason=reason,
                                             by=act.actor),
                  key=f"escalation_asked:{matter.id}:{act.now.isoformat()}")
    return liaison


def do_decide_escalation(act: Act, escalation: Escalation, accept: bool, *, deadline: Optional[date] = None,
                         note: Optional[str] = None) -> Escalation:
    """立项督办 (accept, with a supervision deadline) or 退回督办 (with a reason) of a raised request; the unit
    liaison and the office liaisons of the item's row are told."""
    s = act.session
    matter = escalation.matter
    lock(s, matter)  # the item first, then the escalation: the order every action takes them in
    lock(s, escalation)
    if escalation.state != ESC_RAISED:
        raise ledger.TransitionError("already_decided", state=escalation.state)
    ledger.check("decide_escalation", matter)
    note = (note or "").strip() or None
    if accept and deadline is None:
        raise ledger.TransitionError("deadline_required")
    if not accept:
        note = ledger.need_reason(note)
    before = snapshot(matter, WATCHED)
    escalation.state = ESC_ACCEPTED if accept else ESC_RETURNED
    escalation.decided_by_id = person_id(act.actor)
    escalation.decided_at = act.now
    escalation.decision_note = note
    escalation.supervision_deadline = deadline if accept else None
    if not accept:
        s.flush()
        levels = s.scalars(select(Escalation.level).where(Escalation.matter_id == matter.id,
                                                          Escalation.state != ESC_RETURNED))
        matter.escalation_level = max(levels, default=0)
    audit_matter(s, matter, before, act.actor, "escalation_accepted" if accept else "escalation_returned", act.now,
                 note, level=escalation.level, supervision_deadline=deadline)
    people_told = [*unit_liaisons_of(matter), *office_liaisons_of(s, matter)]
    notify_people(act, people_told, act.render("escalate/decided_notice.txt", m=matter, esc=escalation,
                                               accept=accept, by=act.actor),
                  key=f"escalation:{ESC_SUPERVISION_REQUEST}:{matter.id}:decided")
    return escalation


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
    # only periods already due: a deadline still ahead is not a missing report
    periods = [p for p in periods_in_month(year, mon) if p.deadline <= as_of] or [previous_period(period_at(as_of))]
    while len(periods) < lookback_periods:
        periods.insert(0, previous_period(periods[0]))
    periods = periods[-lookback_periods:] if lookback_periods else []
    status = reporting.by_unit(reporting.report_status(session, periods, as_of))  # a period late if one list was
    found: dict[int, Candidate] = {}
    units = {}

    def cand(uid: int) -> Candidate:
        if uid not in found:
            units.setdefault(uid, session.get(Unit, uid))
            found[uid] = Candidate(units[uid])
        return found[uid]

    lag = defaultdict(list)
    for (uid, key), st in sorted(status.items(), key=lambda kv: kv[0][1]):
        if st != reporting.ON_TIME:
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
        c.late_periods = [k for k, st in lag.get(uid, []) if st == reporting.LATE]
        c.missing_periods = [k for k, st in lag.get(uid, []) if st == reporting.MISSING]
        c.overdue_items = overdue.get(uid, [])
    return sorted(found.values(), key=lambda c: (-(c.lagging_periods + len(c.overdue_items)), c.unit.name))


__all__ = ["auto_escalate", "Raised", "do_raise_escalation", "do_decide_escalation", "escalation_of", "deciders",
           "may_decide",
           "accountability_candidates", "Candidate", "stalled_matters", "long_overdue_matters"]
