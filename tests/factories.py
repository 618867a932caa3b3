"""Small builders of ledger data for tests (minutes, matters, reports), usable before the report flows
land. `small_org(session)` makes a compact org chart with every role the ledger cares about."""
from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Optional
from zoneinfo import ZoneInfo

from sqlalchemy import select

from models import (
    ROLE_ADMIN,
    ROLE_SUPERVISION,
    ChatGroup,
    DispatchRow,
    Matter,
    Minutes,
    Person,
    PersonRole,
    ReportItem,
    ReportSubmission,
    Unit,
)

TZ = ZoneInfo("Asia/Shanghai")


def at(y: int, m: int, d: int, hh: int = 9, mm: int = 0) -> datetime:
    """An aware local moment."""
    return datetime(y, m, d, hh, mm, tzinfo=TZ)


def person(session, name: str, userid: str, unit: Optional[Unit] = None, roles=(), mobile=None) -> Person:
    p = Person(name=name, wecom_userid=userid, unit_id=unit.id if unit else None, mobile=mobile)
    p.roles = [PersonRole(role=r) for r in roles]
    session.add(p)
    session.flush()
    return p


def small_org(session) -> SimpleNamespace:
    """Two leaders with one dispatch row each; units 发改局 and 科技局 (row 1), 教育局 (row 2);
    an office supervisor and an office liaison per row; a supervision member; an admin."""
    o = SimpleNamespace()
    o.fagai = Unit(name="区发改局", aliases=["发改局"], kind="bureau")
    o.keji = Unit(name="区科技局", aliases=["科技局"], kind="bureau")
    o.jiaoyu = Unit(name="区教育局", aliases=["教育局"], kind="bureau")
    o.office_unit = Unit(name="区政府办（效能办）", aliases=["政府办"], kind="office")
    session.add_all([o.fagai, o.keji, o.jiaoyu, o.office_unit])
    session.flush()
    o.leader1 = person(session, "陈剑锋", "chenjianfeng", mobile="13800000001")
    o.leader2 = person(session, "郭雅婷", "guoyating", mobile="13800000002")
    o.sup1 = person(session, "曾永顺", "zengyongshun", o.office_unit, mobile="13800000003")
    o.sup2 = person(session, "肖坚松", "xiaojiansong", o.office_unit)
    o.ol1 = person(session, "林勇勇", "linyongyong", o.office_unit)
    o.ol2 = person(session, "苏冰娇", "subingjiao", o.office_unit)
    o.member = person(session, "吴金明", "wujinming", o.office_unit, roles=[ROLE_SUPERVISION])
    o.admin = person(session, "刘昭暄", "liuzhaoxuan", o.office_unit, roles=[ROLE_ADMIN])
    o.ua = person(session, "发改联络员", "ua", o.fagai)
    o.uk = person(session, "科技联络员", "uk", o.keji)
    o.ub = person(session, "教育联络员", "ub", o.jiaoyu)
    o.fagai.liaison_id, o.keji.liaison_id, o.jiaoyu.liaison_id = o.ua.id, o.uk.id, o.ub.id
    o.row1 = DispatchRow(seq=2, leader_id=o.leader1.id, content="经济运行工作", office_supervisor_id=o.sup1.id)
    o.row1.lead_units = [o.fagai, o.keji]
    o.row1.office_liaisons = [o.ol1]
    o.row2 = DispatchRow(seq=6, leader_id=o.leader2.id, content="教育工作", office_supervisor_id=o.sup2.id)
    o.row2.lead_units = [o.jiaoyu]
    o.row2.office_liaisons = [o.ol2]
    session.add_all([o.row1, o.row2])
    for code, name in (("supervision", "督导考核组工作群"), ("liaisons", "调度联络员群"), ("office", "专班办公室群")):
        session.add(ChatGroup(code=code, name=name, channel="wecom"))
    session.flush()
    return o


def minutes(session, leader: Person, drafting_unit: Unit, *, row: Optional[DispatchRow] = None,
            number: str = "", title: str = "调度会", meeting: date = date(2026, 11, 2)) -> Minutes:
    m = Minutes(number=number or None, title=title, leader_id=leader.id, meeting_date=meeting,
                drafting_unit_id=drafting_unit.id, dispatch_row_id=row.id if row else None, state="issued")
    session.add(m)
    session.flush()
    return m


def source_minutes(session, leader: Optional[Person], unit: Unit) -> Minutes:
    """The minutes an item comes from when a test does not care which (a minutes item always has one): one
    issued meeting long before any test's period, so no job counts or chases it."""
    if "test_minutes" not in session.info:
        leader = leader or session.scalar(select(Person).order_by(Person.id).limit(1))
        session.info["test_minutes"] = minutes(session, leader, unit, title="测试用调度会", meeting=date(2020, 1, 6))
    return session.info["test_minutes"]


def matter(session, code: str, unit: Unit, leader: Optional[Person], deadline: date, *, title: str = "",
           minutes_obj: Optional[Minutes] = None, state: str = "open",
           created_at: datetime = datetime(2026, 10, 1, tzinfo=UTC),
           last_progress_at: Optional[datetime] = None, last_progress: Optional[str] = None) -> Matter:
    minutes_obj = minutes_obj or source_minutes(session, leader, unit)
    m = Matter(code=code, kind="minutes", title=title or f"事项{code}", responsible_unit_id=unit.id,
               leader_id=leader.id if leader else None, deadline=deadline, original_deadline=deadline,
               minutes_id=minutes_obj.id, state=state, created_at=created_at,
               last_progress_at=last_progress_at, last_progress=last_progress)
    session.add(m)
    session.flush()
    return m


def report(session, unit: Unit, by: Person, period_key: str, submitted_at: datetime, items=(),
           *, is_late: bool = False, version: int = 1) -> ReportSubmission:
    """A unit's report: `items` are (matter, status, progress)."""
    sub = ReportSubmission(unit_id=unit.id, period_key=period_key, version=version, current=True,
                           submitted_by_id=by.id, submitted_at=submitted_at, is_late=is_late)
    sub.items = [ReportItem(matter_id=m.id, status=s, progress=p) for m, s, p in items]
    session.add(sub)
    session.flush()
    return sub


def mention_fields(rt, payload: dict, channel: str = "wecom") -> dict:
    """The @-fields a group payload's mentioned people (person ids) become on `channel`, as the
    transport resolves them: {"mentioned_mobile_list": [...], "mentioned_list": [...]}."""
    from bot.delivery.outbox import MENTION
    from bot.delivery.sender import mentions

    with rt.db.session() as s:
        mobiles, user_ids = mentions(s, payload.get(MENTION) or [], channel)
    return {"mentioned_mobile_list": mobiles, "mentioned_list": user_ids}
