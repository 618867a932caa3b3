"""What the ledger handlers share: the scoped item query, item look-up, the item-command preamble,
transition errors and paging of long answers.

Long answers are cut into pages of at most PAGE_BYTES of UTF-8 (WeCom's text limit); the pages wait in
runtime.kv under the person's key for PAGE_TTL seconds (status.py's 下一页 shows the next).
"""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Optional

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from bot.core.messages import Context, Reply
from bot.delivery.textsplit import split_utf8, utf8_len
from bot.domain import codes, ledger
from bot.domain.scope import can_see, matter_filter
from models import Matter, MatterUnit

PAGE_BYTES = 2048
FOOTER_RESERVE = 160  # bytes kept free on each page for the page footer
PAGE_TTL = 30 * 60


def first_word(args: str) -> tuple[str, str]:
    """Split "M12 rest of text" into ("M12", "rest of text")."""
    parts = args.split(None, 1)
    if not parts:
        return "", ""
    return parts[0], parts[1] if len(parts) > 1 else ""


def scoped(ctx: Context, *conds):
    """A select of the Matters ctx.person may see, with extra conditions."""
    return (select(Matter).where(matter_filter(ctx.roles), *conds)
            .options(joinedload(Matter.responsible_unit), joinedload(Matter.leader),
                     selectinload(Matter.unit_links).joinedload(MatterUnit.unit)))


def load_item(ctx: Context, code: str) -> tuple[Optional[Matter], Optional[Reply]]:
    """The visible item with this code, or a reply saying it was not found (same answer whether it does
    not exist or is someone else's, so nothing leaks)."""
    parsed = codes.parse_code(code)
    m = codes.find_matter(ctx.session, code) if parsed is not None else None
    if m is None or not can_see(ctx.session, ctx.roles, m):
        return None, Reply(ctx.render("status/not_found.txt", code=str(parsed) if parsed else code.strip()))
    return m, None


def transition_error(ctx: Context, exc: ledger.TransitionError) -> Reply:
    return Reply(ctx.render("status/transition_error.txt", code=exc.code, info=exc.info))


def item_command(ctx: Context, args: str, *, usage: str, run: Callable[[Matter, str], Reply],
                 may: Optional[Callable[[Context, Matter], bool]] = None, denied: str = "",
                 errors: Optional[Mapping[str, str]] = None) -> Reply:
    """The preamble of every command on one item (`<命令> <编号> <其余>`): the usage without a code, "not
    found" for an item the person cannot see, `denied` (rendered with m=matter) when `may(ctx, matter)` says no,
    then `run(matter, rest)`. A TransitionError it raises is answered with the template `errors` names for
    its code (rendered with m=matter), else the generic transition error."""
    code, rest = first_word(args)
    if not code:
        return Reply(ctx.render(usage))
    matter, err = load_item(ctx, code)
    if err:
        return err
    if may is not None and not may(ctx, matter):
        return Reply(ctx.render(denied, m=matter))
    try:
        return run(matter, rest)
    except ledger.TransitionError as exc:
        if errors and exc.code in errors:
            return Reply(ctx.render(errors[exc.code], m=matter))
        return transition_error(ctx, exc)


def is_unit_liaison(ctx: Context, matter: Matter) -> bool:
    """The person is a liaison of the item's responsible unit."""
    return matter.responsible_unit_id in ctx.roles.liaison_unit_ids


# -- paging ---------------------------------------------------------------------------------------
def _page_key(ctx: Context) -> str:
    return f"pages:{ctx.incoming.channel}:{ctx.incoming.user_id}"


def paginate(ctx: Context, text: str, limit: int = PAGE_BYTES) -> list[str]:
    """Cut `text` at line breaks into pages of at most `limit` bytes including the footer."""
    if utf8_len(text) <= limit:
        return [text]
    chunks = [c.strip("\n") for c in split_utf8(text, limit - FOOTER_RESERVE)]
    chunks = [c for c in chunks if c.strip()]
    n = len(chunks)
    pages = [c + "\n" + ctx.render("status/page_footer.txt", i=i + 1, n=n) for i, c in enumerate(chunks)]
    assert all(utf8_len(p) <= limit for p in pages)
    return pages


def keep_pages(ctx: Context, pages: list[str]) -> None:
    """Keep `pages` for 下一页 (nothing kept when empty)."""
    if pages:
        ctx.runtime.kv.set(_page_key(ctx), json.dumps({"pages": pages}), ttl=PAGE_TTL)
    else:
        ctx.runtime.kv.delete(_page_key(ctx))


def kept_pages(ctx: Context) -> list[str]:
    raw = ctx.runtime.kv.get(_page_key(ctx))
    return json.loads(raw)["pages"] if raw else []


def paged(ctx: Context, text: str) -> Reply:
    """Answer with the first page; keep the rest for 下一页."""
    pages = paginate(ctx, text)
    keep_pages(ctx, pages[1:])
    return Reply(pages[0])
