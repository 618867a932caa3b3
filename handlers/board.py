"""看板: a one-time signed link to the web ledger board (bot.web.board), bound to the person who asked."""
from __future__ import annotations

from bot.core.messages import Context, Reply
from bot.core.routing import Commands
from bot.web.board.auth import make_link

commands = Commands()


@commands.command("看板", "台账看板", menu_key="board", summary="打开督查台账看板（网页）", order=45)
def board(ctx: Context, args: str) -> Reply:
    s = ctx.runtime.settings
    url = make_link(s, ctx.person, ctx.incoming.channel, ctx.incoming.user_id)
    return Reply(ctx.render("board/link.txt", url=url, minutes=s.BOARD_LINK_MINUTES))
