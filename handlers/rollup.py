"""Office liaisons answer the roll-up (归口汇总) the rollup_compile job sent them:

    汇总 [序号]                 show the pending roll-up(s) (序号 = the row's 附件2 number)
    修改汇总 [序号] <内容>       replace its 难点痛点堵点 with <内容>
    提交 [序号] / 提交汇总 [序号] refresh the compiled figures and send it to the supervision group

序号 is needed only when the person has more than one pending roll-up. A roll-up submitted after
18:00 on the 7th/22nd is recorded as late. Editing is a one-line command rather than a multi-step
conversation: the only editable part is one free text.
"""
from __future__ import annotations

import re
from typing import Optional

from sqlalchemy import select

from bot.actions.rollup import do_edit_rollup, do_submit_rollup
from bot.core.messages import Context, Reply
from bot.core.routing import Commands
from bot.domain.address import address
from bot.domain.ledger import TransitionError
from bot.domain.periods import period_by_key
from models import ROLE_ADMIN, DispatchRow, Person, RollUp

commands = Commands()

HARDEST_MAX_CHARS = 1000
SEQ_RE = re.compile(r"^(\d{1,3})(?:\s+|$)(.*)$", re.S)


def _pending(ctx: Context) -> list[tuple[RollUp, DispatchRow]]:
    q = (select(RollUp, DispatchRow).join(DispatchRow, DispatchRow.id == RollUp.dispatch_row_id)
         .where(RollUp.submitted_at.is_(None)).order_by(RollUp.period_key.desc(), DispatchRow.seq))
    if not ctx.roles.has(ROLE_ADMIN):
        q = q.where(RollUp.dispatch_row_id.in_(sorted(ctx.roles.liaison_row_ids)))
    return list(ctx.session.execute(q).tuples())


def _split_seq(args: str) -> tuple[Optional[int], str]:
    m = SEQ_RE.match(args.strip())
    if m:
        return int(m.group(1)), m.group(2).strip()
    return None, args.strip()


def _pick(ctx: Context, args: str, verb: str):
    """(roll-up, row, rest of args) or (None, None, reply)."""
    if not ctx.roles.liaison_row_ids and not ctx.roles.has(ROLE_ADMIN):
        return None, None, Reply(ctx.render("rollup/not_office_liaison.txt"))
    pending = _pending(ctx)
    seq, rest = _split_seq(args)
    if seq is not None:
        found = [(r, row) for r, row in pending if row.seq == seq]
        if not found:
            return None, None, Reply(ctx.render("rollup/not_found.txt", seq=seq))
        return found[0][0], found[0][1], rest
    if not pending:
        return None, None, Reply(ctx.render("rollup/none.txt"))
    if len(pending) > 1:
        items = [dict(seq=row.seq, leader=_leader(ctx, row), period_key=r.period_key) for r, row in pending]
        return None, None, Reply(ctx.render("rollup/choose.txt", items=items, verb=verb))
    return pending[0][0], pending[0][1], rest


def _leader(ctx: Context, row: DispatchRow) -> str:
    p = ctx.session.get(Person, row.leader_id)
    return address(p)


@commands.command("汇总", "查看汇总", summary="办公室调度联络员：查看待提交的归口汇总", order=70,
                roles=("office_liaison",))
def show(ctx: Context, args: str) -> Reply:
    r, row, rest = _pick(ctx, args, "汇总")
    if r is None:
        return rest
    return Reply(ctx.render("rollup/show.txt", content=r.content, hardest=r.hardest, seq=row.seq,
                            due=period_by_key(r.period_key).rollup_due))


@commands.command("修改汇总", summary="修改归口汇总的难点痛点堵点：修改汇总 序号 内容", order=71,
                roles=("office_liaison",))
def edit(ctx: Context, args: str) -> Reply:
    r, row, rest = _pick(ctx, args, "修改汇总")
    if r is None:
        return rest
    if not rest:
        return Reply(ctx.render("rollup/edit_usage.txt", seq=row.seq))
    if len(rest) > HARDEST_MAX_CHARS:
        return Reply(ctx.render("rollup/too_long.txt", length=len(rest), limit=HARDEST_MAX_CHARS))
    try:
        do_edit_rollup(ctx, r, rest)
    except TransitionError:  # submitted meanwhile by another office liaison of the row
        return Reply(ctx.render("rollup/none.txt"))
    return Reply(ctx.render("rollup/edited.txt", seq=row.seq, leader=_leader(ctx, row), hardest=rest))


@commands.command("提交汇总", "提交", summary="提交归口汇总，报送督导考核组：提交 序号", order=72,
                roles=("office_liaison",))
def submit(ctx: Context, args: str) -> Reply:
    r, row, rest = _pick(ctx, args, "提交")
    if r is None:
        return rest
    try:
        do_submit_rollup(ctx, r, row)
    except TransitionError:  # submitted meanwhile by another office liaison of the row
        return Reply(ctx.render("rollup/none.txt"))
    period = period_by_key(r.period_key)
    return Reply(ctx.render("rollup/submitted.txt", seq=row.seq, leader=_leader(ctx, row), period_key=r.period_key,
                            late=r.is_late, due=period.rollup_due))
