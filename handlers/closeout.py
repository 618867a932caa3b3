"""Close-out (到期收账): the unit claims completion (已完成 in a report, or 申请销号 <编号>); the office liaison
of the item's dispatch row confirms with 销号 <编号> or sends it back with 退回重办 <编号> <原因>.
Only then is the item closed. The changes and their notices are bot.actions.closeout's.
"""
from __future__ import annotations

from bot.actions import closeout as actions
from bot.actions import decisions as D
from bot.actions.closeout import closers
from bot.core.messages import Context, Reply
from bot.core.routing import Commands
from bot.domain.ledger import item_view
from handlers import decisions
from handlers.common import is_unit_liaison, item_command, paged, scoped
from models import MATTER_CLAIMED, ROLE_ADMIN, Matter

commands = Commands()


def may_close(ctx: Context, matter: Matter) -> bool:
    return ctx.person in closers(ctx.session, matter) or ctx.roles.has(ROLE_ADMIN)


@commands.command("申请销号", "报告完成", summary="报告事项已完成：申请销号 编号 说明", order=54,
                roles=("unit_liaison",))
def claim(ctx: Context, args: str) -> Reply:
    def run(matter: Matter, note: str) -> Reply:
        changed = actions.do_claim_completion(ctx, matter, note, need_note=True)
        return Reply(ctx.render("closeout/claimed.txt", m=matter, changed=changed,
                                closers=closers(ctx.session, matter)))

    return item_command(ctx, args, usage="closeout/usage.txt", may=is_unit_liaison,
                        denied="closeout/not_unit_liaison.txt", run=run,
                        errors={"note_required": "closeout/need_note.txt"})


def _decide(ctx: Context, args: str, confirm: bool) -> Reply:
    def run(matter: Matter, text: str) -> Reply:
        if matter.state == MATTER_CLAIMED and confirm:  # shown first, closed on 确认 (handlers/decisions.py)
            actions.check_sub_items(matter)
            return decisions.ask_confirm(ctx, [("close", matter)], "close", [], reason=text)
        if matter.state == MATTER_CLAIMED:  # the decision a card asks for: one path, the card updated
            return Reply(D.decide(ctx, "close", matter, "close" if confirm else "redo", text))
        if confirm:
            actions.do_close(ctx, matter, text)
        else:
            actions.do_return_for_redo(ctx, matter, text)
        return Reply(ctx.render("closeout/decided.txt", m=matter, confirm=confirm, reason=text))

    return item_command(ctx, args, usage="closeout/usage.txt", may=may_close,
                        denied="closeout/not_office_liaison.txt", run=run,
                        errors={"reason_required": "closeout/need_reason.txt"})


@commands.command("销号", "确认销号", summary="确认事项办结销号：销号 编号", order=55,
                roles=("office_liaison", "admin"))
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


@commands.command("重新打开", summary="重新打开已销号事项：重新打开 编号 原因", order=58,
                roles=("office_liaison", "admin"))
def reopen(ctx: Context, args: str) -> Reply:
    """The office liaison of the item's row (or an admin) reopens a closed item, with a reason."""
    def run(matter: Matter, text: str) -> Reply:
        actions.do_reopen(ctx, matter, text)
        return Reply(ctx.render("closeout/reopened.txt", m=matter, reason=text.strip()))

    return item_command(ctx, args, usage="closeout/usage.txt", may=may_close,
                        denied="closeout/not_office_liaison.txt", run=run,
                        errors={"reason_required": "closeout/need_reopen_reason.txt",
                                "not_closed": "closeout/not_closed.txt"})
