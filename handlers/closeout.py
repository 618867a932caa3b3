"""Close-out (到期收账): the unit claims completion (已完成 in a report, or 申请销号 <编号>); the office liaison
of the item's dispatch row confirms with 销号 <编号> or sends it back with 退回重办 <编号> <原因>.
Only then is the item closed. `announce_claim(ctx, matter)` tells the office liaisons — the report flow
calls it after `bot.domain.ledger.claim_completion`.
"""
from __future__ import annotations

from sqlalchemy import func, select

from bot.domain import ledger
from bot.core.messages import Context, Reply
from bot.domain.scope import office_liaisons_of, unit_liaison_of
from bot.core.routing import Commands
from handlers.status import first_word, item_view, load_item, notify_people, paged, scoped, transition_error
from models import MATTER_CLAIMED, ROLE_ADMIN, AuditLog, Matter

commands = Commands()


def closers(session, matter: Matter):
    """Who confirms or returns a claimed completion: the office liaison(s) of the item's row."""
    return office_liaisons_of(session, matter)


def may_close(ctx: Context, matter: Matter) -> bool:
    return ctx.person in closers(ctx.session, matter) or ctx.roles.has(ROLE_ADMIN)


def announce_claim(ctx: Context, matter: Matter, note: str = "") -> int:
    """Ask the office liaisons to confirm a completion claim (once per claim)."""
    n_claims = ctx.session.scalar(select(func.count()).select_from(AuditLog).where(
        ledger.sql_audit_of(matter), AuditLog.action.in_(("completion_claimed", "report"))))
    return notify_people(ctx, closers(ctx.session, matter),
                         ctx.render("closeout/to_office_liaison.txt", m=matter, note=note),
                         key=f"closeout:{matter.id}:claim{n_claims}")


@commands.command("申请销号", "报告完成", summary="报告事项已完成：申请销号 编号 说明", order=54, roles=("unit_liaison",))
def claim(ctx: Context, args: str) -> Reply:
    code, note = first_word(args)
    if not code:
        return Reply(ctx.render("closeout/usage.txt"))
    matter, err = load_item(ctx, code)
    if err:
        return err
    if matter.responsible_unit_id not in ctx.roles.liaison_unit_ids:
        return Reply(ctx.render("closeout/not_unit_liaison.txt", m=matter))
    try:
        changed = ledger.claim_completion(ctx.session, matter, ctx.person, note, now=ctx.now)
    except ledger.TransitionError as exc:
        return transition_error(ctx, exc)
    if changed:
        ctx.session.flush()
        announce_claim(ctx, matter, note)
    return Reply(ctx.render("closeout/claimed.txt", m=matter, changed=changed,
                            closers=closers(ctx.session, matter)))


def _decide(ctx: Context, args: str, confirm: bool) -> Reply:
    code, text = first_word(args)
    if not code:
        return Reply(ctx.render("closeout/usage.txt"))
    matter, err = load_item(ctx, code)
    if err:
        return err
    if not may_close(ctx, matter):
        return Reply(ctx.render("closeout/not_office_liaison.txt", m=matter))
    try:
        if confirm:
            ledger.close(ctx.session, matter, ctx.person, text, now=ctx.now)
        else:
            ledger.return_for_redo(ctx.session, matter, ctx.person, text, now=ctx.now)
    except ledger.TransitionError as exc:
        if exc.code == "reason_required":
            return Reply(ctx.render("closeout/need_reason.txt", m=matter))
        return transition_error(ctx, exc)
    liaison = unit_liaison_of(matter)
    key = f"closeout:{matter.id}:{'closed' if confirm else 'returned'}:{ctx.now.isoformat()}"
    notify_people(ctx, [liaison] if liaison else [],
                  ctx.render("closeout/to_unit.txt", m=matter, confirm=confirm, reason=text, by=ctx.person), key=key)
    return Reply(ctx.render("closeout/decided.txt", m=matter, confirm=confirm, reason=text))


@commands.command("销号", "确认销号", summary="确认事项办结销号：销号 编号", order=55, roles=("office_liaison", "admin"))
def close(ctx: Context, args: str) -> Reply:
    return _decide(ctx, args, True)


@commands.command("退回重办", summary="退回重办：退回重办 编号 原因", order=56, roles=("office_liaison", "admin"))
def return_for_redo(ctx: Context, args: str) -> Reply:
    return _decide(ctx, args, False)


@commands.command("待销号", summary="查看已报完成、待确认销号的事项", order=57, roles=("office_liaison", "admin"))
def waiting(ctx: Context, args: str) -> Reply:
    items = [item_view(m, ctx.now) for m in ctx.session.scalars(
        scoped(ctx, Matter.state == MATTER_CLAIMED).order_by(Matter.code))]
    return paged(ctx, ctx.render("closeout/waiting.txt", items=items))
