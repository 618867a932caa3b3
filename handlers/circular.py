"""通报: the supervision group (or an admin) previews the circular with `通报` and sends it to the
liaisons' group chat with `通报 发布` (once a day). The monthly job calls bot.actions.circular.publish_circular."""
from __future__ import annotations

from bot.actions.circular import build_circular, publish_circular
from bot.core.messages import Context, Reply
from bot.core.routing import Commands
from handlers.common import paged
from models import ROLE_ADMIN, ROLE_SUPERVISION

commands = Commands()

PUBLISH_WORDS = ("发布", "发送", "下发")


@commands.command("通报", summary="督导考核组：生成通报（“通报 发布”发到联络员群）", order=70, roles=("supervision_member", "admin"))
def circular(ctx: Context, args: str) -> Reply:
    if not ctx.roles.has(ROLE_SUPERVISION, ROLE_ADMIN):
        return Reply(ctx.render("circular/not_allowed.txt"))
    if args.strip() in PUBLISH_WORDS:
        sent = publish_circular(ctx.session, ctx.runtime, ctx.now, key=f"circular:manual:{ctx.now.date().isoformat()}")
        return Reply(ctx.render("circular/published.txt", sent=len(sent)))
    text = build_circular(ctx.session, ctx.now)
    return paged(ctx, ctx.render("circular/preview.txt", body=text))
