"""The decisions of bot.actions.decisions, one `register` each: who decides, the card's content, and the
`do_*` action of each button — the same action the typed command runs."""
from __future__ import annotations

from typing import Optional

from sqlalchemy import func, select

from bot.actions.decisions import Button, Decision, register
from bot.infra.text import cn_date, truncate_chars
from models import MINUTES_DRAFTED, SLIP_PENDING, AssignmentSlip, AuditLog, Minutes

# -- 交办单: the leader signs (同意) or returns it (退回, with a reason) ------------------------------

def _sign_slip(act, slip: AssignmentSlip, reason: Optional[str]) -> str:
    from bot.actions.slip import do_sign_slip

    rows = do_sign_slip(act, slip)
    return act.render("slip/signed.txt", slip=slip, rows=rows)


def _return_slip(act, slip: AssignmentSlip, reason: Optional[str]) -> str:
    from bot.actions.slip import do_return_slip

    do_return_slip(act, slip, reason)
    return act.render("slip/returned.txt", slip=slip, reason=reason)


def _slip_content(act, slip: AssignmentSlip) -> dict:
    rows = (slip.draft or {}).get("rows", [])
    drafter = slip.drafted_by
    fields = [("编号", slip.code), ("起草人", drafter.name if drafter else "—"),
              ("调度时间", cn_date(slip.dispatched_on)), ("事项", f"共 {len(rows)} 项")]
    fields += [(f"事项{k}", truncate_chars(r.get("title"), 24)) for k, r in enumerate(rows[:2], 1)]
    return {"title": f"交办单 {slip.code} 待您签发", "desc": "事项交办单（附件4）", "fields": fields}


SLIP = register(Decision(
    kind="slip", entity="assignment_slip",
    load=lambda s, i: s.get(AssignmentSlip, i),
    deciders=lambda slip: [slip.leader_id],
    is_open=lambda slip: slip.state == SLIP_PENDING,
    rev=lambda s, slip: int((slip.draft or {}).get("rev", 1)),
    content=_slip_content,
    buttons=(Button("sign", "同意签发", "已签发", "签发", primary=True, run=_sign_slip),
             Button("return", "退回修改", "已退回", "退回", reason=True, run=_return_slip)),
    ask="decision/name_slip.txt",
))


# -- 会议纪要: the leader issues (同意) or returns the draft (退回, with a reason) -----------------------

def _issue_minutes(act, minutes: Minutes, reason: Optional[str]) -> str:
    from bot.actions.minutes import do_issue_minutes

    unreached = do_issue_minutes(act, minutes)
    return act.render("minutes/issued.txt", minutes=minutes, matters=minutes.matters, unreached=unreached)


def _return_minutes(act, minutes: Minutes, reason: Optional[str]) -> str:
    from bot.actions.minutes import do_return_minutes

    do_return_minutes(act, minutes, reason)
    return act.render("minutes/returned.txt", minutes=minutes, reason=reason)


def _minutes_rev(session, minutes: Minutes) -> int:
    """1 + the returns so far: a draft resubmitted after a return is sent as a new card."""
    return 1 + int(session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.entity == "minutes", AuditLog.entity_id == str(minutes.id), AuditLog.action == "return")) or 0)


def _minutes_content(act, minutes: Minutes) -> dict:
    fields = [("编号", f"纪要{minutes.id}"), ("拟定单位", minutes.drafting_unit.name),
              ("会议日期", cn_date(minutes.meeting_date)), ("事项", f"共 {len(minutes.matters)} 项")]
    return {"title": f"会议纪要待您签发：{truncate_chars(minutes.title, 20)}", "desc": minutes.number or "会议纪要",
            "fields": fields}


MINUTES = register(Decision(
    kind="minutes", entity="minutes",
    load=lambda s, i: s.get(Minutes, i),
    deciders=lambda m: [m.leader_id],
    is_open=lambda m: m.state == MINUTES_DRAFTED,
    rev=_minutes_rev,
    content=_minutes_content,
    buttons=(Button("sign", "同意印发", "已签发", "签发", primary=True, run=_issue_minutes),
             Button("return", "退回修改", "已退回", "退回", reason=True, run=_return_minutes)),
    ask="decision/name_minutes.txt",
))
