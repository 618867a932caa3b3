"""我的事项: a unit liaison's open items, soonest first, with lights; others are told it isn't for them."""
from __future__ import annotations

from datetime import date

from tests import factories as f
from tests.dialog import Direct, at, talk


def test_my_items_lists_open_items_soonest_first(runtime):
    with runtime.db.session() as s:
        o = f.small_org(s)
        f.matter(s, "M1", o.fagai, o.leader1, date(2026, 12, 31), title="年底的事")
        f.matter(s, "M2", o.fagai, o.leader1, date(2026, 11, 20), title="逾期的事")
        f.matter(s, "J3", o.fagai, o.leader1, date(2026, 11, 25), title="快到期的事", state="completion_claimed")
        f.matter(s, "M4", o.fagai, o.leader1, date(2026, 11, 1), title="销号的事", state="closed")
        f.matter(s, "M5", o.keji, o.leader1, date(2026, 11, 24), title="科技局的事")
    runtime.clock.set(at(2026, 11, 23))
    text = talk(Direct(runtime, "ua"), [("我的事项", ("区发改局未销号事项 3 项", "🔴 M2", "已逾期 3 天",
                                                      "🟡 J3", "还有 2 天", "已报完成，待销号", "🟢 M1",
                                                      "!M4", "!M5", "!科技局的事"))])
    assert text.index("M2") < text.index("J3") < text.index("M1")
    talk(Direct(runtime, "ub"), [("我的事项", "没有未销号的事项")])
    talk(Direct(runtime, "chenjianfeng"), [("我的事项", "单位联络员")])
