"""`python -m bot chat`: lines piped into the real command, answers read from its output."""
from __future__ import annotations

import os
import subprocess
import sys

from tests.support import ROOT


def chat(tmp_path, user, lines, **env):
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("WECOM_", "REDIS_URL", "DATABASE_URL", "PASSIVE_REPLY"))}
    environ.update(DATABASE_URL=f"sqlite:///{tmp_path / 'chat.sqlite3'}", INSTANCE_DIR=str(tmp_path / "instance"),
                   **env)
    proc = subprocess.run([sys.executable, "-m", "bot", "chat", "--user", user], input="\n".join(lines) + "\n",
                          capture_output=True, text=True, cwd=ROOT, env=environ, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_chat_on_a_fresh_database_without_credentials(tmp_path):
    out = chat(tmp_path, "liuzhaoxuan", ["帮助", "/click help", "/quit", "不会发送"])
    assert "liuzhaoxuan（刘昭暄）" in out  # migrated and seeded on its own
    first, second = out.index("\n> 帮助\n"), out.index("\n> /click help\n")
    assert out[first:].startswith("\n> 帮助\n【助手】刘昭暄主任，您好！")
    assert "· 帮助 — 查看可用的指令" in out[first:second]
    assert out[second:].startswith("\n> /click help\n【助手】刘昭暄主任，您好！")
    assert "不会发送" not in out  # /quit ended the session


def test_unknown_user_and_a_reply_pushed_through_the_outbox(tmp_path):
    # PASSIVE_REPLY_SECONDS=0: every answer is "late", so it travels outbox → sender → fake WeCom.
    out = chat(tmp_path, "stranger", ["你好"], PASSIVE_REPLY_SECONDS="0")
    assert "stranger（名册中没有这个账号）" in out
    assert "【私信】您好！您的账号尚未登记" in out and "【助手】" not in out


def test_chat_refuses_a_server_database_without_any_db(tmp_path):
    environ = dict(os.environ, DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/none")
    proc = subprocess.run([sys.executable, "-m", "bot", "chat", "--user", "x"], input="", capture_output=True,
                          text=True, cwd=ROOT, env=environ, timeout=60)
    assert proc.returncode == 2 and "--any-db" in proc.stderr


def test_a_month_can_be_played_other_roles_seen_and_control_characters_survive(tmp_path):
    """Issue 15: the clock is set (--now, /now), a job run as of it (/run), another person speaks (/as) and
    what each was sent is visible (/outbox); a control character does not end the session."""
    out = chat(tmp_path, "liuzhaoxuan", [
        "帮\x00助\x07",  # NUL and BEL from a paste: dropped, the line still goes
        "/now 2026-12-05T18:01",
        "/run report_overdue",
        "/run no_such_job",
        "/now 明天",
        "/as yangfengxiang",
        "帮助",
        "/outbox yangfengxiang",
        "/outbox",
    ])
    assert "\n> 帮助\n【助手】刘昭暄主任，您好！" in out
    assert "模拟时钟已设为 2026-12-05 18:01（周六）" in out
    assert "已运行：report_overdue as of 2026-12-05T18:01" in out
    assert "没有名为 no_such_job 的定时任务" in out and "report_overdue" in out.split("没有名为", 1)[1]
    assert "看不懂时间“明天”" in out
    assert "已切换为以 yangfengxiang 的身份发言" in out
    after = out.split("已切换为以 yangfengxiang 的身份发言", 1)[1]
    assert "【助手】杨凤翔" in after  # the menu now greets the other person
    assert "目前还没有任何私信" in after  # passive replies are not private messages


def test_outbox_lists_what_each_person_was_sent(tmp_path):
    out = chat(tmp_path, "liuzhaoxuan", ["你好", "/as stranger", "你好", "/outbox", "/outbox liuzhaoxuan"],
               PASSIVE_REPLY_SECONDS="0")
    listing = out.split("> /outbox\n", 1)[1]
    assert "【发给 liuzhaoxuan】" in listing and "【发给 stranger】您好！您的账号尚未登记" in listing
    only = out.split("> /outbox liuzhaoxuan\n", 1)[1]
    assert "【发给 liuzhaoxuan】" in only and "【发给 stranger】" not in only
