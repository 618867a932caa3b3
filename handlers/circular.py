"""通报: the supervision group (or an admin) previews the circular with `通报` and sends it to the
liaisons' group chat with `通报 发布` (once a day per month covered). A month may be named: `通报 12月`,
`通报 本月`, `通报 2026年11月 发布` (bot.domain.dateparse.parse_month); by default the month of the latest
deadline. The monthly job calls bot.actions.circular.publish_circular."""
from __future__ import annotations

from bot.actions.circular import build_circular, publish_circular
from bot.core.messages import Context, Reply
from bot.core.routing import Commands
from bot.delivery.addressing import as_sent
from bot.domain.clock import tz
from bot.domain.dateparse import parse_month
from handlers.common import paged
from models import ROLE_ADMIN, ROLE_SUPERVISION

commands = Commands()

PUBLISH_WORDS = ("发布", "发送", "下发")


@commands.command("通报", summary="督导考核组：生成通报（“通报 发布”发到联络员群）", order=70,
                roles=("supervision_member", "admin"))
def circular(ctx: Context, args: str) -> Reply:
    if not ctx.roles.has(ROLE_SUPERVISION, ROLE_ADMIN):
        return Reply(ctx.render("circular/not_allowed.txt"))
    words = args.split()
    publish = any(w in PUBLISH_WORDS for w in words)
    rest = "".join(w for w in words if w not in PUBLISH_WORDS)
    month = None
    if rest:
        month = parse_month(rest, ctx.now.astimezone(tz()).date())
        if month is None:
            return Reply(ctx.render("circular/usage.txt", text=rest))
    if publish:
        key = f"circular:manual:{ctx.now.date().isoformat()}" + (f":{month[0]:04d}-{month[1]:02d}" if month else "")
        sent = publish_circular(ctx.session, ctx.runtime, ctx.now, key=key, month=month)
        return Reply(ctx.render("circular/published.txt", sent=len(sent)))
    text = build_circular(ctx.session, ctx.now, month=month)
    # the preview is a one-to-one text reply: it shows the circular as it will read, without raw markup
    body = as_sent(text, ctx.incoming.channel, "text")
    return paged(ctx, ctx.render("circular/preview.txt", body=body, month=month))
