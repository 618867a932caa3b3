"""延期申请: a unit liaison asks for a later deadline with a reason; the office supervisor of the item's
dispatch row answers 批准 / 不批准 <申请号>. Both deadlines are kept (Matter.original_deadline and
ExtensionRequest.old_deadline / new_deadline); the changes, their audit and notices are bot.actions.extension's.

Forms: `延期申请 M12 2026-12-30 原因…` in one message, or `延期申请 M12` for a short conversation
(new deadline, reason, 确认) on the conversation engine.
"""
from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Optional

from sqlalchemy import select

from bot.actions.extension import deciders, do_request_extension, pending_extension
from bot.conversation import engine
from bot.conversation import fields as F
from bot.conversation.engine import Field, Flow
from bot.core.messages import Context, Reply
from bot.core.routing import Commands
from bot.domain import ledger
from bot.domain.dateparse import DateAmbiguous, DateOk, parse_date
from handlers import decisions
from handlers.common import first_word, is_unit_liaison, item_command, transition_error
from models import EXT_PENDING, ExtensionRequest, Matter

commands = Commands()

REQUEST_ID = re.compile(r"^[#＃]?(\d{1,9})$")


def submit(ctx: Context, matter: Matter, new_deadline: date, reason: str) -> Reply:
    """File the request (the deciders are told) and answer the applicant."""
    try:
        req = do_request_extension(ctx, matter, new_deadline, reason)
    except ledger.TransitionError as exc:
        return transition_error(ctx, exc)
    return Reply(ctx.render("extension/requested.txt", m=matter, req=req, deciders=deciders(ctx.session, matter)))


def save(ctx: Context, data: dict, meta: dict) -> Reply:
    matter = ctx.session.get(Matter, meta["matter_id"])
    return submit(ctx, matter, F.parse_iso(data["new_deadline"]), data["reason"])


FLOW = commands.flow(Flow(
    "extension",
    [
        Field("new_deadline", "extension/ask_deadline.txt",
              F.a_date("future", not_before=lambda fc: F.parse_iso(fc.meta["deadline"]) + timedelta(days=1),
                       not_before_template="extension/err_not_later.txt")),
        Field("reason", "extension/ask_reason.txt", F.text(500, min_len=2)),
    ],
    save,
))


@commands.command("延期申请", "申请延期", menu_key="extension", summary="申请延期：延期申请 编号 新时限 原因", order=50,
                roles=("unit_liaison",))
def request_extension(ctx: Context, args: str) -> Reply:
    def run(matter: Matter, rest: str) -> Reply:
        refused = ledger.refusal("request_extension", matter)
        if refused is not None:
            raise refused
        if pending_extension(ctx.session, matter) is not None:  # the action's own rule, asked before the form
            raise ledger.TransitionError("extension_pending", item=matter.code)
        if not rest:
            return engine.start(ctx, FLOW, meta={"matter_id": matter.id, "code": matter.code,
                                                 "title": matter.title, "deadline": matter.deadline.isoformat()})
        when, reason = first_word(rest)
        result = parse_date(when, ctx.now.date(), "future")
        if isinstance(result, DateAmbiguous):
            return Reply(ctx.render("extension/ambiguous_date.txt", text=when, candidates=result.candidates,
                                    m=matter))
        if not isinstance(result, DateOk):
            return Reply(ctx.render("extension/bad_date.txt", text=when, m=matter))
        if not reason.strip():
            return Reply(ctx.render("extension/need_reason.txt", m=matter, when=result.value))
        return submit(ctx, matter, result.value, reason)

    return item_command(ctx, args, usage="extension/usage.txt", may=is_unit_liaison,
                        denied="extension/not_liaison.txt", run=run)


def _load_request(ctx: Context, args: str) -> tuple[Optional[ExtensionRequest], str, Optional[Reply]]:
    word, rest = first_word(args)
    m = REQUEST_ID.match(word)
    req = ctx.session.get(ExtensionRequest, int(m.group(1))) if m else None
    if req is None or ctx.person not in deciders(ctx.session, req.matter):  # not theirs: as if there were none
        return None, rest, Reply(ctx.render("extension/no_request.txt", text=word))
    return req, rest, None


def decide(ctx: Context, args: str, approve: bool) -> Reply:
    """批准 shows the request and takes a 确认; 不批准 (with its reason) decides at once. Either way through
    bot.actions.decisions, so a card sent for the request shows the result."""
    req, note, err = _load_request(ctx, args)
    if err:
        return err
    if req.state != EXT_PENDING:
        return transition_error(ctx, ledger.TransitionError("already_decided", request_id=req.id, state=req.state))
    if approve:
        return decisions.ask_confirm(ctx, [("ext", req)], "approve", [], reason=note)
    return decisions.run_one(ctx, "ext", req, "refuse", note, None)


@commands.command("批准延期", "批准", "同意延期", summary="批准延期申请：批准 申请号", order=51,
                roles=("office_supervisor", "admin"))
def approve(ctx: Context, args: str) -> Reply:
    return decide(ctx, args, True)


@commands.command("不批准延期", "不批准", "驳回延期", summary="不批准延期申请：不批准 申请号 理由", order=52,
                roles=("office_supervisor", "admin"))
def refuse(ctx: Context, args: str) -> Reply:
    return decide(ctx, args, False)


@commands.command("待批延期", "延期审批", summary="查看待我审批的延期申请", order=53,
                roles=("office_supervisor", "admin"))
def pending(ctx: Context, args: str) -> Reply:
    reqs = [r for r in ctx.session.scalars(select(ExtensionRequest).where(ExtensionRequest.state == EXT_PENDING)
                                           .order_by(ExtensionRequest.id))
            if ctx.person in deciders(ctx.session, r.matter)]
    return Reply(ctx.render("extension/pending.txt", reqs=reqs))
