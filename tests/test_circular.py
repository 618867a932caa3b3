"""通报: late and missing reports per unit and overdue items, from the editable template."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from bot.actions.circular import build_circular, circular_periods, publish_circular
from bot.domain.roles import roles_of
from bot.domain.scope import matter_filter
from models import Notice, Person
from tests import factories as f
from tests.factories import at

# Written on nominal deadlines (Saturday 5 / Sunday 20 December 2026 as they fall); the default rule,
# moving them to the next working day, is tested in tests/test_deadline_rule.py.
pytestmark = pytest.mark.usefixtures("keep_deadlines")

NOW = at(2026, 12, 10, 10)


@pytest.fixture
def rt(runtime):
    with runtime.db.session() as s:
        o = f.small_org(s)
        m1 = f.matter(s, "M1", o.fagai, o.leader1, date(2026, 11, 30), title="石化园区道路征迁")
        f.matter(s, "M2", o.keji, o.leader1, date(2027, 1, 30), title="科创小镇招商")
        m3 = f.matter(s, "M3", o.jiaoyu, o.leader2, date(2026, 12, 1), title="校舍维修资金")
        f.report(s, o.fagai, o.ua, "2026-12-05", at(2026, 12, 5, 17), [(m1, "open", "推进中")])
        f.report(s, o.jiaoyu, o.ub, "2026-12-05", at(2026, 12, 6, 9), [(m3, "open", "推进中")])
    runtime.clock.set(NOW)
    return runtime


def test_periods_covered():
    assert [p.key for p in circular_periods(at(2026, 12, 10))] == ["2026-12-05"]
    assert [p.key for p in circular_periods(at(2026, 12, 1))] == ["2026-11-05", "2026-11-20"]
    assert [p.key for p in circular_periods(at(2026, 12, 21))] == ["2026-12-05", "2026-12-20"]


def test_circular_lists_late_missing_and_overdue(rt):
    with rt.db.session() as s:
        text = build_circular(s, NOW)
    assert "（2026年12月）" in text
    assert "应报送问题清单 3 份，按时报送 1 份；逾期报送 1 份：区教育局；未报送 1 份：区科技局" in text
    assert "- 区科技局：未报 1 次（12月5日期）" in text
    assert "- 区教育局：逾期报送 1 次（12月5日期）" in text
    assert "区发改局：" not in text  # on time
    assert "（共 2 项）" in text and "M1“石化园区道路征迁”逾期10天" in text and "M3“校舍维修资金”逾期9天" in text
    assert "M2" not in text


def test_circular_scope(rt):
    with rt.db.session() as s:
        leader = s.scalar(select(Person).where(Person.wecom_userid == "guoyating"))
        text = build_circular(s, NOW, matter_filter(roles_of(s, leader)))
    assert "区教育局" in text and "区科技局" not in text and "M1" not in text


def test_template_is_editable(rt, monkeypatch):
    """An office's own wording in place of templates/circular/circular.md gets the same variables."""
    from jinja2 import ChoiceLoader, DictLoader
    from jinja2.utils import LRUCache

    from bot.infra import text as text_mod

    edited = {"circular/circular.md": "{% for u in lagging %}{{ u.unit }}；{% endfor %}共{{ overdue_total }}项"}
    monkeypatch.setattr(text_mod.env, "loader", ChoiceLoader([DictLoader(edited), text_mod.env.loader]))
    monkeypatch.setattr(text_mod.env, "cache", LRUCache(10))
    with rt.db.session() as s:
        assert build_circular(s, NOW) == "区教育局；区科技局；共2项"


def test_command_preview_and_publish_once(rt):
    assert "由督导考核组成员发布" in rt.handle_text("wecom", "ua", "通报").text
    preview = rt.handle_text("wecom", "wujinming", "通报").text
    assert "通报预览" in preview and "区科技局" in preview
    assert "已发送到调度联络员群" in rt.handle_text("wecom", "wujinming", "通报 发布").text
    assert "今天已经发布过" in rt.handle_text("wecom", "liuzhaoxuan", "通报 发布").text
    with rt.db.session() as s:
        sent = list(s.scalars(select(Notice).where(Notice.kind == "circular")))
    assert len(sent) == 1 and sent[0].target == "liaisons" and sent[0].msgtype == "markdown"
    assert "区科技局" in sent[0].payload["content"]


def test_monthly_publish_is_keyed(rt):
    with rt.db.session() as s:
        assert len(publish_circular(s, rt, at(2026, 12, 1, 9), key="circular:monthly:2026-11")) == 1
        assert publish_circular(s, rt, at(2026, 12, 1, 9), key="circular:monthly:2026-11") == []
