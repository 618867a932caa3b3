"""The decisions of bot.actions.decisions, one `register` each: who decides, the card's content, and the
`do_*` action of each button — the same action the typed command runs."""
from __future__ import annotations

from typing import Optional

from sqlalchemy import func, select

from bot.actions.decisions import Button, Closed, Decision, register, utc
from bot.infra.text import cn_date, truncate_chars
from models import (
    EXT_APPROVED,
    EXT_PENDING,
    EXT_REFUSED,
    MATTER_CLAIMED,
    MINUTES_DRAFTED,
    SLIP_PENDING,
    AssignmentSlip,
    AuditLog,
    ExtensionRequest,
    Matter,
    Minutes,
    Person,
)

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


# -- 延期申请: the office supervisor of the item's row (admins if none) approves or refuses -------------

def _ext_deciders(req: ExtensionRequest) -> list:
    from sqlalchemy.orm import object_session

    from bot.actions.extension import deciders

    return [p.id for p in deciders(object_session(req), req.matter)]


def _decide_ext(approve: bool):
    def run(act, req: ExtensionRequest, reason: Optional[str]) -> str:
        from bot.actions.extension import do_decide_extension

        do_decide_extension(act, req, approve, reason)
        return act.render("extension/decided.txt", m=req.matter, req=req, approve=approve)
    return run


def _ext_content(act, req: ExtensionRequest) -> dict:
    m = req.matter
    return {"title": f"延期申请 {req.id} 待您审批", "desc": f"{m.code} {truncate_chars(m.title, 24)}",
            "fields": [("事项", m.code), ("责任单位", m.responsible_unit.name), ("原时限", cn_date(req.old_deadline)),
                       ("申请时限", cn_date(req.new_deadline)), ("理由", truncate_chars(req.reason, 24))]}


def _ext_decided(req: ExtensionRequest) -> Closed:
    from sqlalchemy.orm import object_session

    who = object_session(req).get(Person, req.decided_by_id) if req.decided_by_id else None
    verb = {EXT_APPROVED: "批准", EXT_REFUSED: "不批准"}.get(req.state, "撤回")
    return Closed(verb, who.name if who else "", utc(req.decided_at))


EXTENSION = register(Decision(
    kind="ext", entity="extension_request",
    load=lambda s, i: s.get(ExtensionRequest, i),
    deciders=_ext_deciders,
    is_open=lambda req: req.state == EXT_PENDING,
    rev=lambda s, req: 1,
    content=_ext_content,
    buttons=(Button("approve", "批准延期", "已批准", "批准", primary=True, run=_decide_ext(True)),
             Button("refuse", "不批准", "未批准", "不批准", reason=True, run=_decide_ext(False))),
    ask="decision/name_ext.txt",
    decided=_ext_decided,
))


# -- 申请销号: the office liaison of the item's row confirms (销号) or returns it (退回重办, with a reason) ----

def _closers(matter: Matter) -> list:
    from sqlalchemy.orm import object_session

    from bot.actions.closeout import closers

    return [p.id for p in closers(object_session(matter), matter)]


def _may_close(matter: Matter, person: Person) -> bool:
    from sqlalchemy.orm import object_session

    from bot.domain.roles import roles_of
    from models import ROLE_ADMIN

    return person.id in _closers(matter) or roles_of(object_session(matter), person).has(ROLE_ADMIN)


def _close(confirm: bool):
    def run(act, matter: Matter, reason: Optional[str]) -> str:
        from bot.actions.closeout import do_close, do_return_for_redo

        if confirm:
            do_close(act, matter, reason)
        else:
            do_return_for_redo(act, matter, reason)
        return act.render("closeout/decided.txt", m=matter, confirm=confirm, reason=reason or "")
    return run


def _claims(session, matter: Matter) -> int:
    """Which claim of the item this is (the same count `announce_claim` keys its notice with)."""
    from bot.domain import ledger

    return int(session.scalar(select(func.count()).select_from(AuditLog).where(
        ledger.sql_audit_of(matter), AuditLog.action.in_(("completion_claimed", "report")))) or 0)


def _close_content(act, matter: Matter) -> dict:
    return {"title": f"{matter.code} 申请销号，请确认", "desc": truncate_chars(matter.title, 30),
            "fields": [("事项", matter.code), ("责任单位", matter.responsible_unit.name),
                       ("完成时限", cn_date(matter.deadline)),
                       ("报告时间", cn_date(matter.claimed_at) if matter.claimed_at else "—")]}


CLOSEOUT = register(Decision(
    kind="close", entity="matter",
    load=lambda s, i: s.get(Matter, i),
    deciders=_closers,
    is_open=lambda m: m.state == MATTER_CLAIMED,
    rev=_claims,
    content=_close_content,
    buttons=(Button("close", "确认销号", "已销号", "销号", primary=True, run=_close(True)),
             Button("redo", "退回重办", "已退回重办", "退回重办", reason=True, run=_close(False))),
    ask="decision/name_close.txt",
    may=_may_close,
))
