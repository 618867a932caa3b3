"""Issue 15 "how it will be checked": December 2026 replayed with the clock set — every scheduled job at its
hour on every day, and every role asking the bot the everyday questions — then over ALL texts sent (the
outbox and the chat replies): no leader named without their title, no 待指定 / placeholder text, no
"⚠️2级"-style escalation level, no raw markdown in a message sent as plain text."""
from __future__ import annotations

import re
from datetime import date, timedelta

from sqlalchemy import select

from bot.domain.address import address, title_of
from bot.jobs import config_of, run_job
from models import DispatchRow, Matter, Notice, Person, Unit
from tests.jobs_helpers import CREATED, at, build_december

JOBS = ("report_reminder", "report_overdue", "rollup_compile", "rollup_reminder", "rollup_overdue",
        "minutes_draft", "leader_meeting", "matter_deadlines", "escalation")
QUESTIONS = ("帮助", "我的事项", "进度", "逾期", "汇总", "填报")


def texts_of_notices(rt) -> list[tuple[str, str, str]]:
    with rt.db.session() as s:
        return [(n.key, n.msgtype, (n.payload or {}).get("content") or "")
                for n in s.scalars(select(Notice).order_by(Notice.id))]


def test_a_month_of_texts_names_leaders_with_titles_and_shows_no_placeholder_or_jargon(seeded):
    rt = seeded
    with rt.db.session() as s:
        d = build_december(s)
        for i, liaison in enumerate(d.liaison.values()):  # build_december un-placeholders them: name them too
            liaison.name = "王李张刘陈"[i] + "联络"
        # a unit whose liaison is still the shipped placeholder, owing a report: it must be named by the unit
        gongxin = s.scalar(select(Unit).where(Unit.name == "区工信局（数字办）"))
        chen = s.scalar(select(Person).where(Person.wecom_userid == "chenjianfeng"))
        s.add(Matter(code="M9", title="数字经济项目推进", responsible_unit_id=gongxin.id, leader_id=chen.id,
                     deadline=date(2026, 11, 2), original_deadline=date(2026, 11, 2), created_at=CREATED,
                     minutes_id=d.min_old.id))
        leaders = {p.name: p for p in s.scalars(select(Person).join(DispatchRow, DispatchRow.leader_id == Person.id))}
        leader_titles = {name: title_of(p) for name, p in leaders.items()}
        people = {r: s.scalar(select(Person).where(Person.wecom_userid == r)) for r in (
            "yangfengxiang", "chenjianfeng", "linyongyong", "liuzhaoxuan", "tangshaoqing", "wujinming")}
        liaison_ids = [u.liaison_id for u in s.scalars(select(Unit).where(Unit.liaison_id.is_not(None)))][:3]
        users = [p.wecom_userid for p in people.values()] + [
            s.get(Person, pid).wecom_userid for pid in liaison_ids]
    assert leader_titles["杨凤翔"] == "区长" and leader_titles["陈剑锋"] == "副区长"

    config = config_of(rt)
    replies: list[tuple[str, str]] = []
    day = date(2026, 12, 1)
    while day <= date(2026, 12, 31):
        for name in JOBS:
            spec = config.jobs[name]
            hour, minute = int(spec.cron.get("hour", 9)), int(spec.cron.get("minute", 0))
            run_job(rt, spec, at(day.year, day.month, day.day, hour, minute))
        if day.day in (3, 7, 21):  # everyone asks the everyday questions on a few days
            rt.clock.set(at(day.year, day.month, day.day, 10))
            for user in users:
                for q in QUESTIONS:
                    reply = rt.handle_text("wecom", user, q)
                    if reply is not None:
                        replies.append((f"{user}:{q}", reply.text))
                rt.handle_text("wecom", user, "取消")
            rt.clock.set(None)
        day += timedelta(days=1)

    sent = texts_of_notices(rt)
    assert len(sent) > 30 and any(k.startswith("report_overdue:") for k, _t, _c in sent)
    everything = [(k, c) for k, _t, c in sent] + replies
    problems = []
    for where, text in everything:
        if "待指定" in text or "placeholder_" in text:
            problems.append((where, "placeholder", text))
        if re.search(r"⚠️\s*\d级|\d级督办", text):
            problems.append((where, "level as a number", text))
        for name, title in leader_titles.items():
            if not title:
                continue
            for m in re.finditer(re.escape(name), text):
                if not text.startswith(title, m.end()):
                    problems.append((where, f"{name} without {title}", text[max(m.start() - 20, 0):m.end() + 20]))
    for key, msgtype, content in sent:
        if msgtype == "text" and "**" in content:
            problems.append((key, "raw markdown in a text message", content[:80]))
    assert not problems, "\n".join(f"{w} [{why}]: {t!r}" for w, why, t in problems[:15])
    assert address(leaders["杨凤翔"]) == "杨凤翔区长"


# -- markdown only where the channel renders it ---------------------------------------------------------
def test_markdown_is_kept_only_where_it_is_rendered():
    from bot.delivery.addressing import as_sent, plain_text, renders_markdown
    from bot.delivery.outbox import Who, group_message

    md = "**“大调度、大督查”工作通报**\n> 调度领导：杨凤翔区长\n- 区发改局：[看板](http://x/b)"
    assert renders_markdown("wecom", "markdown") and renders_markdown("dingtalk", "markdown")
    assert not renders_markdown("wecom", "text") and not renders_markdown("mail", "markdown")
    assert as_sent(md, "wecom", "markdown") == md
    assert plain_text(md) == "“大调度、大督查”工作通报\n调度领导：杨凤翔区长\n· 区发改局：看板（http://x/b）"
    # a group notice written in markdown but sent as text so that its @s ping reads without markup
    who = Who(1, "王五", "13900000001")
    msgtype, payload = group_message(md, "wecom", [who])
    assert msgtype == "text" and "**" not in payload["content"] and payload["content"].startswith("“大调度")
    msgtype, payload = group_message(md, "wecom")
    assert msgtype == "markdown" and payload["content"] == md


def test_the_circular_preview_reads_as_it_will_without_raw_markup(seeded):
    rt = seeded
    with rt.db.session() as s:
        build_december(s)
    rt.clock.set(at(2026, 12, 22, 10))
    preview = rt.handle_text("wecom", "wujinming", "通报").text
    rt.clock.set(None)
    assert "通报预览" in preview and "“大调度、大督查”工作通报" in preview and "**" not in preview
    assert "12月5日期（12月7日18:00截止）" in preview  # the period by its name, the moved deadline
