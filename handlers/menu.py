"""帮助 / 菜单: what this person can do here."""
from bot.core.messages import Context, Reply
from bot.core.routing import Commands

commands = Commands()


@commands.command("帮助", "菜单", "help", "?", "？", menu_key="help", summary="查看可用的指令", order=999)
def help_command(ctx: Context, args: str) -> Reply:
    router = ctx.runtime.router
    return (router.describe(ctx, args) if args else None) or router.menu(ctx)
