"""Two app processes sharing PostgreSQL (and Redis): one person's messages alternate between them and still
make one coherent conversation; simultaneous messages are handled one at a time."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from models import Matter, Minutes
from tests import factories as f
from tests.dialog import Direct, at, talk
from tests.support import make_app
from tests.threads import at_once

USER = "linyongyong"
SCRIPT = [
    ("录入纪要", "第 1/"), ("陈剑锋", "纪要编号"), ("12号", "纪要名称"), ("专题会", "会议日期"),
    ("昨天", "起草单位"), ("发改局", "第 1 项"), ("抓征迁", "责任单位"), ("科技局", "完成时限"),
    ("月底", "牵头单位"), ("同上", "第 2 项"), ("抓审批", "责任单位"), ("发改局", "完成时限"),
    ("12月15日", "牵头单位"), ("无", "第 3 项"), ("返回", "牵头单位"), ("无", "第 3 项"), ("完成", "请核对"),
    ("修改 2", "纪要编号"), ("13号", ("请核对", "纪要编号：13号")), ("确认", ("✅", "M1", "M2")),
]


def two_apps(pg_url, tmp_path, redis_url):
    apps = [make_app(pg_url, tmp_path / name, **({"REDIS_URL": redis_url} if redis_url else {}))
            for name in ("a", "b")]
    rts = [a.extensions["bot"] for a in apps]
    for rt in rts:
        rt.clock.set(at(2026, 11, 23))
    with rts[0].db.session() as s:
        f.small_org(s)
    return rts


class Alternating:
    """Sends each message to the next process in turn."""

    def __init__(self, rts):
        self.drivers = [Direct(rt, USER) for rt in rts]
        self.n = 0

    def say(self, text):
        self.n += 1
        return self.drivers[self.n % len(self.drivers)].say(text)


@pytest.mark.parametrize("with_redis", [True, False], ids=["pg+redis", "pg-only"])
def test_alternating_processes_make_one_conversation(pg_url, tmp_path, request, with_redis):
    redis_url = request.getfixturevalue("redis_url") if with_redis else None
    rts = two_apps(pg_url, tmp_path, redis_url)
    try:
        talk(Alternating(rts), SCRIPT)
        with rts[1].db.session() as s:
            [m] = s.scalars(select(Minutes)).all()
            assert (m.number, m.title, m.meeting_date) == ("13号", "专题会", date(2026, 11, 22))
            matters = [(x.code, x.title, x.responsible_unit.name, x.deadline,
                        x.lead_unit.name if x.lead_unit else None)
                       for x in s.scalars(select(Matter).order_by(Matter.id))]
        assert matters == [("M1", "抓征迁", "区科技局", date(2026, 11, 30), "区科技局"),
                           ("M2", "抓审批", "区发改局", date(2026, 12, 15), None)]
    finally:
        for rt in rts:
            rt.db.dispose()


def test_simultaneous_messages_on_two_processes_are_serialised(pg_url, tmp_path, redis_url):
    """Two answers arrive at the same moment on different processes: both are applied, one after the other."""
    rts = two_apps(pg_url, tmp_path, redis_url)
    try:
        talk(Direct(rts[0], USER), SCRIPT[:2])  # now at 纪要编号
        sent = [(0, "甲方案"), (1, "乙乙")]
        answers = at_once([lambda i=i, text=text: rts[i].handle_text("wecom", USER, text).text for i, text in sent],
                          timeout=30)
        replies = {text: answer for (_, text), answer in zip(sent, answers, strict=False)}
        assert len(replies) == 2 and all("出了问题" not in r for r in replies.values())
        assert sorted(r.split("\n")[0] for r in replies.values()) == ["【录入纪要】第 3/6 步", "【录入纪要】第 4/6 步"]
        talk(Direct(rts[1], USER), [("昨天", "起草单位"), ("发改局", None), ("抓征迁", None), ("科技局", None),
                                    ("月底", None), ("同上", None), ("完成", "请核对"), ("确认", "✅")])
        with rts[0].db.session() as s:
            m = s.scalar(select(Minutes))
            assert {m.number, m.title} == {"甲方案", "乙乙"}
    finally:
        for rt in rts:
            rt.db.dispose()
