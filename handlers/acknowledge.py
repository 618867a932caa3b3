"""认领: a responsible unit's liaison acknowledges a new item for their unit — `认领 M5` — or lists what
awaits (`认领`). Every new item (the matters of issued minutes and slips, 分解督办 sub-items, a unit added)
awaits each responsible unit's 认领, 主办 and 协办 alike; the acknowledge_chase job chases the ones left
(bot/jobs/acknowledge.py). The rows: bot.actions.matterunits."""
from __future__ import annotations

from bot.actions.matterunits import awaiting, do_acknowledge
from bot.core.messages import Context, Reply
from bot.core.routing import Commands
from bot.domain.responsibility import role_of
from handlers.common import item_command
from models import Matter

commands = Commands()


def _units(ctx: Context) -> list[int]:
    return sorted(ctx.roles.liaison_unit_ids)


def may_acknowledge(ctx: Context, matter: Matter) -> bool:
    """Only a liaison of one of the item's responsible units acknowledges it."""
    return any(role_of(matter, uid) is not None for uid in _units(ctx))


# Not listed in the menu (a unit liaison's menu is at its size limit): every assignment notice, 我的事项
# and the chase name the command.
@commands.command("认领", "签收", order=16, roles=("unit_liaison",))
def acknowledge(ctx: Context, args: str) -> Reply:
    units = _units(ctx)
    if not units:
        return Reply(ctx.render("acknowledge/denied.txt"))
    if not args.strip():
        rows = awaiting(ctx.session, units)
        return Reply(ctx.render("acknowledge/list.txt", rows=rows))

    def run(matter: Matter, rest: str) -> Reply:
        done = do_acknowledge(ctx, matter, units)
        left = awaiting(ctx.session, units)
        return Reply(ctx.render("acknowledge/done.txt", m=matter, done=done, left=left,
                                role=next(role_of(matter, u) for u in units if role_of(matter, u))))

    return item_command(ctx, args, usage="acknowledge/list.txt", may=may_acknowledge,
                        denied="acknowledge/not_yours.txt", run=run)
