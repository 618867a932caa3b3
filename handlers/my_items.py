"""我的事项: a unit liaison's open matters and slip rows with deadlines, soonest first."""
from __future__ import annotations

from sqlalchemy import func, select

from bot.core.messages import Context
from bot.core.routing import Commands
from bot.domain.ledger import LIGHT_ICONS, OPEN_STATES, light, overdue_days
from bot.domain.responsibility import sql_responsible_for
from models import Matter, Unit

commands = Commands()

LIMIT = 30  # items listed in one message (WeCom text is capped at 2048 bytes; the rest is counted)


@commands.command("我的事项", menu_key="my_items", summary="查看本单位未销号的事项和时限", order=15,
                roles=("unit_liaison", "unit_head"))
def my_items(ctx: Context, args: str):
    unit_ids = sorted(ctx.roles.liaison_unit_ids)
    if not unit_ids:
        return ctx.render("my_items/denied.txt")
    where = (sql_responsible_for(unit_ids), Matter.state.in_(OPEN_STATES))  # 主办 and 协办 items
    total = ctx.session.scalar(select(func.count(Matter.id)).where(*where))
    matters = list(ctx.session.scalars(select(Matter).where(*where).order_by(Matter.deadline, Matter.id).limit(LIMIT)))
    today = ctx.now.date()
    rows = [{"m": m, "icon": LIGHT_ICONS[light(m, today)], "overdue": overdue_days(m, today),
             "left": (m.deadline - today).days, "assist": m.responsible_unit_id not in unit_ids,
             "unacked": [r for r in m.unit_links if r.unit_id in unit_ids and r.assigned_at is not None
                         and r.acknowledged_at is None]} for m in matters]
    units = [ctx.session.get(Unit, uid) for uid in unit_ids]
    return ctx.render("my_items/list.txt", rows=rows, total=total, units=units, many_units=len(units) > 1)
