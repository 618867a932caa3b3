"""A large, synthetic ledger for set-based job tests and the jobs benchmark (bench/jobs_bench.py): units,
leaders with one dispatch row each, office liaisons, minutes, slips, matters, reports and escalations,
written with Core bulk inserts; `PLAN` is the moment each job runs as of."""
from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")
LEADERS = 50
OFFICE_LIAISONS_PER_ROW = 2


def at(y, m, d, hh=9, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=TZ)


# job, moment it runs as of
PLAN = [
    ("report_reminder", at(2026, 12, 4, 9)),
    ("report_overdue", at(2026, 12, 5, 18, 1)),
    ("rollup_compile", at(2026, 12, 6, 9)),
    ("rollup_reminder", at(2026, 12, 7, 9, 30)),
    ("rollup_overdue", at(2026, 12, 7, 18, 1)),
    ("minutes_draft", at(2026, 12, 12, 9)),
    ("leader_meeting", at(2026, 12, 25, 9)),
    ("matter_deadlines", at(2026, 12, 7, 8, 30)),
    ("escalation", at(2026, 12, 7, 8, 40)),
    ("monthly_report", at(2027, 1, 1, 8)),
]


def pick_list(reply: str):
    """A unit of this district leads items of several problem lists (minutes and slips): the 填报 asks which
    one. The answer that picks the list with the most items ("填报 2"), or None when `reply` does not ask."""
    import re

    if "填报 序号" not in reply:
        return None
    sizes = {int(n): int(k) for n, k in re.findall(r"^(\d+)\. .*（(\d+)项）", reply, re.M)}
    return f"填报 {max(sizes, key=lambda n: (sizes[n], -n))}" if sizes else "填报 1"


def populate(engine, units: int, matters: int, seed: int = 7) -> dict:
    """Fill an empty, migrated database with Core bulk inserts; returns a few counts."""
    from sqlalchemy import insert

    from models import (
        AssignmentSlip,
        ChatGroup,
        DispatchRow,
        Escalation,
        Matter,
        Minutes,
        Person,
        PersonIdentity,
        ReportItem,
        ReportSubmission,
        Unit,
        dispatch_row_liaison,
        dispatch_row_unit,
        utcnow,
    )

    rnd = random.Random(seed)
    now = utcnow()
    as_of = at(2026, 12, 7)
    leaders = LEADERS if units >= LEADERS else max(1, units // 10)
    n_ol = leaders * OFFICE_LIAISONS_PER_ROW
    person_rows = []
    pid = 0
    for i in range(units):  # unit liaisons: ids 1..units
        pid += 1
        person_rows.append(dict(id=pid, name=f"联络员{i}", wecom_userid=f"u{i}", mobile=f"139{i:08d}",
                                placeholder=False, active=True, created_at=now))
    leader_ids, ol_ids = [], []
    for i in range(leaders):
        pid += 1
        leader_ids.append(pid)
        person_rows.append(dict(id=pid, name=f"领导{i}", wecom_userid=f"leader{i}", mobile=None, placeholder=False,
                                active=True, created_at=now))
    for i in range(n_ol):
        pid += 1
        ol_ids.append(pid)
        person_rows.append(dict(id=pid, name=f"办公室联络员{i}", wecom_userid=f"ol{i}", mobile=None,
                                placeholder=False, active=True, created_at=now))
    identity_rows = [dict(person_id=r["id"], channel="wecom", external_id=r.pop("wecom_userid")) for r in person_rows]
    unit_rows = [dict(id=i + 1, name=f"单位{i}", aliases=[], kind="bureau", liaison_id=i + 1, active=True,
                      created_at=now) for i in range(units)]
    row_rows = [dict(id=r + 1, seq=r + 1, leader_id=leader_ids[r], content=f"调度事项{r}", cycle="monthly")
                for r in range(leaders)]
    row_of_unit = {u: (u - 1) % leaders + 1 for u in range(1, units + 1)}
    ru = [dict(dispatch_row_id=row_of_unit[u], unit_id=u) for u in range(1, units + 1)]
    rl = [dict(dispatch_row_id=r + 1, person_id=ol_ids[r * OFFICE_LIAISONS_PER_ROW + k])
          for r in range(leaders) for k in range(OFFICE_LIAISONS_PER_ROW)]
    minutes_rows = []
    for r in range(leaders):
        for k in range(3):
            minutes_rows.append(dict(id=len(minutes_rows) + 1, title=f"调度会{r}-{k}", leader_id=leader_ids[r],
                                     dispatch_row_id=r + 1, meeting_date=date(2026, 11 + (k == 2), 10 + k),
                                     drafting_unit_id=(r % units) + 1,
                                     state="recorded" if k == 2 and r % 3 == 0 else "issued", created_at=now))
    slip_rows = [dict(id=r + 1, code=f"JB{r + 1}", leader_id=leader_ids[r], dispatched_on=date(2026, 11, 12),
                      drafted_by_id=ol_ids[r * OFFICE_LIAISONS_PER_ROW], state="issued", created_at=now)
                 for r in range(leaders)]
    matter_rows = []
    created = at(2026, 8, 1)
    for i in range(matters):
        u = i % units + 1
        r = row_of_unit[u]
        deadline = date(2026, 12, 7) + timedelta(days=rnd.randint(-90, 120))
        roll = rnd.random()
        state, closed_at = "open", None
        if roll < 0.15:
            state, closed_at = "closed", created + timedelta(days=rnd.randint(1, 120))
        elif roll < 0.25:
            state = "completion_claimed"
        slip = rnd.random() < 0.3
        matter_rows.append(dict(
            id=i + 1, code=f"{'J' if slip else 'M'}{i + 1}", kind="slip" if slip else "minutes",
            minutes_id=None if slip else (r - 1) * 3 + 1, slip_id=r if slip else None, seq=i + 1 if slip else 1,
            title=f"事项{i}",
            leader_id=leader_ids[r - 1],
            obstacles="资金缺口" if slip and rnd.random() < 0.5 else None, responsible_unit_id=u, deadline=deadline,
            original_deadline=deadline, state=state, escalation_level=0, created_at=created, closed_at=closed_at))
    subs, items = [], []
    matters_of_unit: dict[int, list[int]] = {}
    for mrow in matter_rows:
        matters_of_unit.setdefault(mrow["responsible_unit_id"], []).append(mrow["id"])
    for key, deadline_at, share in (("2026-11-05", at(2026, 11, 5, 18), 0.8),
                                    ("2026-11-20", at(2026, 11, 20, 18), 0.8),
                                    ("2026-12-05", at(2026, 12, 5, 18), 0.7),
                                    ("2026-12-20", at(2026, 12, 20, 18), 0.75)):
        for u in range(1, units + 1):
            if rnd.random() >= share:
                continue
            late = rnd.random() < 0.1
            when = deadline_at + (timedelta(hours=20) if late else -timedelta(days=rnd.randint(1, 3)))
            sid = len(subs) + 1
            subs.append(dict(id=sid, unit_id=u, period_key=key, version=1, current=True, submitted_by_id=u,
                             submitted_at=when, is_late=late))
            if key == "2026-12-05":
                for mid in matters_of_unit.get(u, [])[:20]:
                    items.append(dict(submission_id=sid, matter_id=mid, status="open", progress="推进中",
                                      obstacle="协调难度大" if rnd.random() < 0.1 else None))
    escalations = [dict(matter_id=mid, level=1, state="raised", raised_at=at(2026, 12, rnd.randint(1, 28)))
                   for mid in rnd.sample(range(1, matters + 1), min(2000, matters))]
    chats = [dict(code=c, name=c, channel="wecom") for c in ("supervision", "liaisons", "office")]
    with engine.begin() as conn:
        for table, rows in ((Person, person_rows), (PersonIdentity, identity_rows), (Unit, unit_rows),
                            (DispatchRow, row_rows), (dispatch_row_unit, ru), (dispatch_row_liaison, rl),
                            (ChatGroup, chats), (Minutes, minutes_rows), (AssignmentSlip, slip_rows),
                            (Matter, matter_rows), (ReportSubmission, subs), (ReportItem, items),
                            (Escalation, escalations)):
            tbl = getattr(table, "__table__", table)
            for start in range(0, len(rows), 5000):
                conn.execute(insert(tbl), rows[start:start + 5000])
        if engine.dialect.name == "postgresql":  # explicit ids: move the sequences past them
            from sqlalchemy import text

            for t in ("person", "unit", "dispatch_row", "minutes", "assignment_slip", "matter", "report_submission"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT max(id) FROM {t}))"))
            conn.execute(text("ANALYZE"))
    return dict(units=units, matters=matters, reports=len(subs), report_items=len(items), as_of=as_of)


class QueryCounter:
    def __init__(self, engine):
        from sqlalchemy import event

        self.n = 0
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *_a, **_k):
        self.n += 1
