"""The menu shows each person the commands their roles call for (table-driven, on the real org chart)."""
import pytest
from sqlalchemy import select

from models import Unit

EVERYONE = ["进度", "逾期", "未报", "查", "历史", "帮助"]
CASES = [
    # (who, must see, must not see)
    ("unit_liaison", ["填报", "我的事项", "延期申请", "申请销号", "提请督办", "录入纪要"],
     ["立项督办", "通报", "销号", "汇总", "批准延期", "同意"]),
    ("yangfengxiang", ["同意"], ["填报", "我的事项", "立项督办", "通报", "汇总", "录入纪要"]),  # leader
    ("yangyoumei", ["立项督办", "退回督办", "通报"], ["填报", "汇总", "批准延期"]),  # supervision group
    ("hecanghai", ["汇总", "提交汇总", "销号", "待销号", "录入纪要"], ["填报", "立项督办", "通报"]),  # office liaison
    ("liuxiaojun", ["批准延期", "不批准延期", "待批延期"], ["填报", "汇总"]),  # office supervisor
]


def _menu_lines(rt, userid):
    text = rt.handle_text("wecom", userid, "帮助").text
    return [ln[2:].split(" — ")[0] for ln in text.splitlines() if ln.startswith("· ")]


@pytest.mark.parametrize("who,see,hide", CASES)
def test_menu_by_role(seeded, who, see, hide):
    if who == "unit_liaison":
        with seeded.db.session() as s:
            who = s.scalar(select(Unit).where(Unit.name == "区发改局")).liaison.wecom_userid
    shown = _menu_lines(seeded, who)
    for word in EVERYONE + see:
        assert word in shown, (who, word, shown)
    for word in hide:
        assert word not in shown, (who, word, shown)


def test_hidden_commands_still_answer_with_a_refusal(seeded):
    """The menu hides; the handler decides: a unit liaison typing 通报 gets a clear refusal."""
    with seeded.db.session() as s:
        liaison = s.scalar(select(Unit).where(Unit.name == "区发改局")).liaison.wecom_userid
    reply = seeded.handle_text("wecom", liaison, "通报").text
    assert "督导考核组" in reply and "通报" not in _menu_lines(seeded, liaison)


def test_an_administrator_with_every_role_gets_the_names_in_one_reply_and_help_for_one(seeded):
    """刘昭暄 (admin) may use nearly every command: the described menu would pass WeCom's 2048-byte reply,
    so the names come in one reply and `帮助 命令` describes one."""
    text = seeded.handle_text("wecom", "liuzhaoxuan", "帮助").text
    assert len(text.encode()) <= 2048
    assert "以下仅列名称" in text and "帮助 — 查看可用的指令" in text
    for word in ("进度", "通报", "录入纪要", "组织架构", "现场抽查"):
        assert word in text, word
    one = seeded.handle_text("wecom", "liuzhaoxuan", "帮助 通报").text
    assert one.startswith("通报：") and "督导考核组" in one
    unknown = seeded.handle_text("wecom", "liuzhaoxuan", "帮助 不存在的指令").text
    assert "以下仅列名称" in unknown  # not a command: the menu again
