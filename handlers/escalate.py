"""提请督办 (escalation level 1, seed 000 §三(二)): a unit liaison raises an item that spans departments
and can't be settled; the supervision group gets the item with its history and answers 立项督办 <编号>
<期限> (takes it on) or 退回督办 <编号> <原因>. The automatic levels are in bot.actions.escalation.
"""
from __future__ import annotations

from bot.domain import ledger
from bot.core.messages import Context, Reply
from bot.domain.dateparse import DateAmbiguous, DateOk, parse_date
from bot.domain.scope import office_liaisons_of, unit_liaison_of
from bot.core.routing import Commands
from handlers.status import first_word, history_rows, item_view, load_item, notify_people, transition_error
from models import ESC_RAISED, ESC_SUPERVISION_REQUEST, ROLE_ADMIN, ROLE_SUPERVISION, Matter

commands = Commands()

HISTORY_LINES = 8  # the latest audit entries shown to the supervision group


def alert_key(matter: Matter, level: int) -> str:
    return f"escalation:{level}:{matter.id}"


@commands.command("提请督办", "申请督办", summary="提请督导考核组分解督办：提请督办 编号 理由", order=58, roles=("unit_liaison",))
def raise_request(ctx: Context, args: str) -> Reply:
    code, reason = first_word(args)
    if not code:
        return Reply(ctx.render("escalate/usage.txt"))
    matter, err = load_item(ctx, code)
    if err:
        return err
    if matter.responsible_unit_id not in ctx.roles.liaison_unit_ids:
        return Reply(ctx.render("escalate/not_unit_liaison.txt", m=matter))
    if not reason.strip():
        return Reply(ctx.render("escalate/need_reason.txt", m=matter))
    try:
        esc = ledger.escalate(ctx.session, matter, ESC_SUPERVISION_REQUEST, ctx.person, reason, now=ctx.now)
    except ledger.TransitionError as exc:
        return transition_error(ctx, exc)
    if esc is None:
        existing = ledger.escalation_of(ctx.session, matter, ESC_SUPERVISION_REQUEST)
        return Reply(ctx.render("escalate/already.txt", m=matter, esc=existing))
    rows = history_rows(ctx.session, matter)[-HISTORY_LINES:]
    text = ctx.render("escalate/to_supervision.txt", m=matter, v=item_view(matter, ctx.now), esc=esc, rows=rows,
                      by=ctx.person)
    ctx.notify_group("supervision", text, key=alert_key(matter, ESC_SUPERVISION_REQUEST))
    return Reply(ctx.render("escalate/raised.txt", m=matter))


def _decide(ctx: Context, args: str, accept: bool) -> Reply:
    if not ctx.roles.has(ROLE_SUPERVISION, ROLE_ADMIN):
        return Reply(ctx.render("escalate/not_supervision.txt"))
    code, rest = first_word(args)
    if not code:
        return Reply(ctx.render("escalate/usage.txt"))
    matter, err = load_item(ctx, code)
    if err:
        return err
    esc = ledger.escalation_of(ctx.session, matter, ESC_SUPERVISION_REQUEST)
    if esc is None or esc.state != ESC_RAISED:
        return Reply(ctx.render("escalate/nothing_raised.txt", m=matter, esc=esc))
    deadline = None
    note = rest
    if accept:
        when, note = first_word(rest)
        result = parse_date(when, ctx.now.date(), "future") if when else None
        if isinstance(result, DateAmbiguous):
            return Reply(ctx.render("escalate/ambiguous_date.txt", text=when, candidates=result.candidates, m=matter))
        if not isinstance(result, DateOk):
            return Reply(ctx.render("escalate/need_deadline.txt", m=matter, text=when))
        deadline = result.value
    try:
        ledger.decide_escalation(ctx.session, esc, ctx.person, accept, now=ctx.now, deadline=deadline, note=note)
    except ledger.TransitionError as exc:
        if exc.code == "reason_required":
            return Reply(ctx.render("escalate/need_reason_return.txt", m=matter))
        return transition_error(ctx, exc)
    people = [unit_liaison_of(matter), *office_liaisons_of(ctx.session, matter)]
    notify_people(ctx, [p for p in people if p is not None],
                  ctx.render("escalate/decided_notice.txt", m=matter, esc=esc, accept=accept, by=ctx.person),
                  key=f"escalation:1:{matter.id}:decided")
    return Reply(ctx.render("escalate/decided.txt", m=matter, esc=esc, accept=accept))


@commands.command("立项督办", summary="督导考核组立项督办：立项督办 编号 督办时限", order=59, roles=("supervision_member", "admin"))
def accept(ctx: Context, args: str) -> Reply:
    return _decide(ctx, args, True)


@commands.command("退回督办", summary="督导考核组退回督办申请：退回督办 编号 原因", order=59, roles=("supervision_member", "admin"))
def refuse(ctx: Context, args: str) -> Reply:
    return _decide(ctx, args, False)


