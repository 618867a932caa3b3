"""Helpers for the scheduled-job tests: a December 2026 ledger on the seed org chart, running jobs
through the CLI (`jobs run NAME --now ISO`) and reading back the notices they queued."""
from __future__ import annotations

from datetime import date, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from sqlalchemy import select

from models import (
    MINUTES_ISSUED,
    MINUTES_RECORDED,
    SLIP_ISSUED,
    AssignmentSlip,
    DispatchRow,
    Matter,
    Meeting,
    Minutes,
    Notice,
    Person,
    ReportSubmission,
    Unit,
)

TZ = ZoneInfo("Asia/Shanghai")
CREATED = datetime(2026, 11, 1, 9, 0, tzinfo=TZ)


def at(y, m, d, hh=9, mm=0, ss=0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=TZ)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="minutes")


def run_cli(runner, name: str, moment: datetime) -> str:
    result = runner.invoke(args=["jobs", "run", name, "--now", iso(moment)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def notices(runtime, prefix: str = "") -> list[Notice]:
    with runtime.db.session() as s:
        q = select(Notice).order_by(Notice.id)
        if prefix:
            q = q.where(Notice.key.like(prefix + "%"))
        return list(s.scalars(q))


def targets(rows) -> list[str]:
    return sorted(n.target for n in rows)


def build_december(session, created: datetime = CREATED) -> SimpleNamespace:
    """A ledger on the seed org chart (call after load_seed): five units with items, minutes, reports.

    Liaisons get mobiles and stop being placeholders (the office fills them in) so group notices can @ them."""
    d = SimpleNamespace()
    unit = {u.name: u for u in session.scalars(select(Unit))}
    person = {p.wecom_userid: p for p in session.scalars(select(Person))}
    d.fagai, d.jiaoyu, d.zhujian = unit["区发改局"], unit["区教育局"], unit["区住建局"]
    d.keji, d.nongshui = unit["区科技局"], unit["区农水局"]
    for i, u in enumerate((d.fagai, d.jiaoyu, d.zhujian, d.keji, d.nongshui), 1):
        liaison = session.get(Person, u.liaison_id)
        liaison.mobile = f"1390000000{i}"
        liaison.placeholder = False  # named by the office: no longer a placeholder of the shipped chart
    d.liaison = {u.name: session.get(Person, u.liaison_id) for u in (d.fagai, d.jiaoyu, d.zhujian, d.keji, d.nongshui)}
    d.p = person
    rows = {r.seq: r for r in session.scalars(select(DispatchRow))}
    d.rows = rows
    chen, guo, ke, zhuang = (person[x] for x in ("chenjianfeng", "guoyating", "keyongjin", "zhuangyiming"))
    d.min_chen = Minutes(title="经济运行调度会", leader_id=chen.id, meeting_date=date(2026, 11, 28),
                         drafting_unit_id=d.fagai.id, dispatch_row_id=rows[2].id, state=MINUTES_ISSUED)
    d.min_guo = Minutes(title="教育工作调度会", leader_id=guo.id, meeting_date=date(2026, 12, 9),
                        drafting_unit_id=d.jiaoyu.id, dispatch_row_id=rows[6].id, state=MINUTES_RECORDED)
    session.add_all([d.min_chen, d.min_guo])
    session.flush()
    # the meetings the minutes are of (郭雅婷's of Dec 9 has no first draft yet)
    for mn in (d.min_chen, d.min_guo):
        meeting = Meeting(leader_id=mn.leader_id, dispatch_row_id=mn.dispatch_row_id, meeting_date=mn.meeting_date,
                          lead_unit_id=mn.drafting_unit_id, created_at=created)
        session.add(meeting)
        session.flush()
        mn.meeting_id = meeting.id

    def matter(code, u, leader, deadline, **kw):
        m = Matter(code=code, title=kw.pop("title", f"{u.name}事项{code}"), responsible_unit_id=u.id,
                   leader_id=leader.id, deadline=deadline, original_deadline=deadline, created_at=created, **kw)
        session.add(m)
        return m

    d.m1 = matter("M1", d.fagai, chen, date(2026, 12, 10), minutes_id=d.min_chen.id)
    d.m2 = matter("M2", d.fagai, chen, date(2026, 10, 31), minutes_id=d.min_chen.id)
    # Every item comes from a record: J3 from an issued slip, the other minutes items from a meeting long ago.
    d.slip_guo = AssignmentSlip(code="JB1", leader_id=guo.id, dispatched_on=date(2026, 11, 20), drafted_by_id=guo.id,
                                state=SLIP_ISSUED)
    d.min_old = Minutes(title="往期调度会", leader_id=ke.id, meeting_date=date(2020, 1, 6),
                        drafting_unit_id=d.zhujian.id, state=MINUTES_ISSUED)
    session.add_all([d.slip_guo, d.min_old])
    session.flush()
    d.m3 = matter("J3", d.jiaoyu, guo, date(2026, 12, 31), kind="slip", slip_id=d.slip_guo.id,
                  obstacles="建设资金缺口约800万元")
    d.m4 = matter("M4", d.zhujian, ke, date(2026, 12, 20), minutes_id=d.min_old.id)
    d.m5 = matter("M5", d.keji, chen, date(2027, 1, 15), state="closed", closed_at=at(2026, 11, 20, 10),
                  minutes_id=d.min_old.id)
    d.m6 = matter("M6", d.nongshui, zhuang, date(2026, 12, 25), minutes_id=d.min_old.id)
    session.flush()
    return d


def report(session, unit: Unit, period_key: str, when: datetime, deadline: datetime) -> ReportSubmission:
    sub = ReportSubmission(unit_id=unit.id, period_key=period_key, version=1, current=True,
                           submitted_by_id=unit.liaison_id, submitted_at=when, is_late=when > deadline)
    session.add(sub)
    session.flush()
    return sub


def monthly_ledger(session):
    """small_org with October–December items, reports and escalations: the monthly report's hand-counted
    month (tests/test_jobs_monthly.py), also run through the child process (test_jobs_child, test_memory)."""
    from models import Escalation, ReportItem
    from tests import factories as f

    o = f.small_org(session)
    L1, L2 = o.leader1, o.leader2
    oct1 = at(2026, 10, 1)
    m = {}
    m["a1"] = f.matter(session, "M1", o.fagai, L1, date(2026, 11, 10), created_at=oct1)
    m["a2"] = f.matter(session, "M2", o.fagai, L1, date(2026, 11, 30), state="closed", created_at=oct1)
    m["a2"].closed_at = at(2026, 11, 15)
    m["a3"] = f.matter(session, "M3", o.fagai, L1, date(2026, 12, 15), state="completion_claimed", created_at=oct1)
    m["a4"] = f.matter(session, "M4", o.fagai, L1, date(2026, 12, 20), created_at=at(2026, 11, 5))
    m["b1"] = f.matter(session, "M5", o.keji, L1, date(2026, 10, 30), state="closed", created_at=oct1)
    m["b1"].closed_at = at(2026, 10, 20, 12)
    m["b2"] = f.matter(session, "J6", o.keji, L1, date(2026, 11, 30), created_at=oct1)
    m["b2"].obstacles, m["b2"].escalation_level = "用地指标不足", 2
    m["c1"] = f.matter(session, "M7", o.jiaoyu, L2, date(2026, 12, 31), created_at=oct1)
    m["c2"] = f.matter(session, "M8", o.jiaoyu, L2, date(2026, 12, 31), created_at=at(2026, 12, 2))
    m["c3"] = f.matter(session, "M9", o.jiaoyu, L2, date(2026, 10, 1), created_at=oct1)
    session.add_all([Escalation(matter_id=m["b2"].id, level=2, raised_at=at(2026, 11, 25)),
                     Escalation(matter_id=m["c3"].id, level=1, raised_at=at(2026, 10, 15), reason="跨部门")])
    f.report(session, o.fagai, o.ua, "2026-11-05", at(2026, 11, 4))
    f.report(session, o.keji, o.uk, "2026-11-05", at(2026, 11, 6), is_late=True)
    sub = f.report(session, o.fagai, o.ua, "2026-11-20", at(2026, 11, 19))
    session.add(ReportItem(submission_id=sub.id, matter_id=m["a1"].id, status="open", progress="推进中",
                           obstacle="资金未到位"))
    f.report(session, o.keji, o.uk, "2026-11-20", at(2026, 11, 20, 17))
    f.report(session, o.jiaoyu, o.ub, "2026-11-20", at(2026, 11, 20, 9))
    session.flush()
    return o, m
