"""Status queries, scoped by role (bot.domain.scope): 进度, 逾期, 未报, 查 <单位|领导|纪要号|关键词|编号>, 历史 <编号>,
and 下一页 for long answers.

Long answers are cut into pages of at most PAGE_BYTES of UTF-8 (WeCom's text limit); the pages wait in
runtime.kv under the person's key for PAGE_TTL seconds. The helpers here (item views, item lookup,
transition errors, paging) are shared by the other ledger handlers.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Iterable, Optional

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from bot.domain import codes, ledger, reporting
from bot.core.messages import Context, Reply
from bot.domain.ledger import history_rows, item_view
from bot.domain.periods import period_at, previous_period
from bot.domain.scope import can_see, matter_filter, sees_all
from bot.delivery.textsplit import split_utf8, utf8_len
from bot.domain.unitmatch import UnitRef, match_unit
from bot.core.routing import Commands
from models import ESC_RAISED, EXT_PENDING, Escalation, ExtensionRequest, Matter, Minutes, Person, Unit

commands = Commands()

PAGE_BYTES = 2048
FOOTER_RESERVE = 160  # bytes kept free on each page for the page footer
PAGE_TTL = 30 * 60


def scoped(ctx: Context, *conds):
    """A select of the Matters ctx.person may see, with extra conditions."""
    return (select(Matter).where(matter_filter(ctx.roles), *conds)
            .options(joinedload(Matter.responsible_unit), joinedload(Matter.leader)))


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


def paged(ctx: Context, text: str) -> Reply:
    """Answer with the first page; keep the rest for 下一页."""
    pages = paginate(ctx, text)
    if len(pages) > 1:
        ctx.runtime.kv.set(_page_key(ctx), json.dumps({"pages": pages[1:]}), ttl=PAGE_TTL)
    else:
        ctx.runtime.kv.delete(_page_key(ctx))
    return Reply(pages[0])


@commands.command("下一页", "下页", "更多", summary="", order=60)
def next_page(ctx: Context, args: str) -> Reply:
    raw = ctx.runtime.kv.get(_page_key(ctx))
    pages = json.loads(raw)["pages"] if raw else []
    if not pages:
        return Reply(ctx.render("status/no_more_pages.txt"))
    if len(pages) > 1:
        ctx.runtime.kv.set(_page_key(ctx), json.dumps({"pages": pages[1:]}), ttl=PAGE_TTL)
    else:
        ctx.runtime.kv.delete(_page_key(ctx))
    return Reply(pages[0])


# -- 进度 -----------------------------------------------------------------------------------------
def scope_label(ctx: Context) -> str:
    r = ctx.roles
    if sees_all(r):
        return "all"
    if r.led_row_ids:
        return "leader"
    if r.liaison_row_ids or r.supervised_row_ids:
        return "office"
    if r.liaison_unit_ids or r.head_unit_ids:
        return "unit"
    return "none"


LIGHT_ORDER = {ledger.RED: 0, ledger.YELLOW: 1, ledger.GREEN: 2, ledger.CLOSED: 3}


@commands.command("进度", "台账", menu_key="progress", summary="查看督查台账进度（亮灯）", order=40)
def progress(ctx: Context, args: str) -> Reply:
    matters = list(ctx.session.scalars(scoped(ctx).order_by(Matter.code)))
    views = [item_view(m, ctx.now) for m in matters]
    open_views = [v for v in views if v.light != ledger.CLOSED]
    counts = {k: sum(1 for v in open_views if v.light == k) for k in (ledger.RED, ledger.YELLOW, ledger.GREEN)}
    states = {}
    for v in open_views:
        states[v.state] = states.get(v.state, 0) + 1
    by_unit: dict[str, dict] = {}
    for v in open_views:
        row = by_unit.setdefault(v.unit, {"unit": v.unit, "total": 0, ledger.RED: 0, ledger.YELLOW: 0})
        row["total"] += 1
        if v.light in row:
            row[v.light] += 1
    units = sorted(by_unit.values(), key=lambda r: (-r[ledger.RED], -r[ledger.YELLOW], -r["total"], r["unit"]))
    attention = sorted((v for v in open_views if v.light in (ledger.RED, ledger.YELLOW)),
                       key=lambda v: (LIGHT_ORDER[v.light], -v.overdue_days, v.deadline, v.code))
    text = ctx.render("status/progress.txt", scope=scope_label(ctx), total=len(views), open_count=len(open_views),
                      closed=len(views) - len(open_views), counts=counts, states=states,
                      escalated=sum(1 for v in open_views if v.escalation_level), units=units,
                      attention=attention, today=ctx.now.date())
    return paged(ctx, text)


# -- 逾期 -----------------------------------------------------------------------------------------
@commands.command("逾期", "超期", menu_key="overdue", summary="查看逾期未办结事项", order=41)
def overdue(ctx: Context, args: str) -> Reply:
    today = ctx.now.date()
    matters = ctx.session.scalars(scoped(ctx, ledger.sql_overdue(today)).order_by(Matter.deadline, Matter.code))
    items = [item_view(m, ctx.now) for m in matters]
    return paged(ctx, ctx.render("status/overdue.txt", items=items, today=today))


# -- 未报 -----------------------------------------------------------------------------------------
def reporting_period(now: datetime, args: str):
    """本期 / 上期 explicitly; by default the period just due while its roll-up is still ahead
    (who missed the deadline), else the current one (who has not reported yet)."""
    current = period_at(now)
    prev = previous_period(current)
    if "上期" in args:
        return prev
    if "本期" in args:
        return current
    return prev if now < prev.rollup_due else current


@commands.command("未报", "未报送", menu_key="unreported", summary="查看本期未报送的单位", order=42)
def unreported(ctx: Context, args: str) -> Reply:
    p = reporting_period(ctx.now, args)
    s = ctx.session
    status = reporting.report_status(s, [p], ctx.now, scope=matter_filter(ctx.roles))
    units = {u.id: u for u in s.scalars(select(Unit).where(Unit.id.in_({uid for uid, _k in status} or {-1})))}
    by_status = lambda wanted: sorted((units[uid] for (uid, _k), st in status.items() if st == wanted),  # noqa: E731
                                      key=lambda u: u.name)
    missing = by_status(reporting.MISSING)
    text = ctx.render("status/unreported.txt", period=p, missing=missing, late=by_status(reporting.LATE),
                      expected=len(status), reported=len(status) - len(missing), past_deadline=ctx.now > p.deadline, scope=scope_label(ctx))
    return paged(ctx, text)


# -- 查 -------------------------------------------------------------------------------------------
def _unit_refs(session) -> list[UnitRef]:
    return [UnitRef(str(u.id), u.name, tuple(u.aliases or ()))
            for u in session.scalars(select(Unit).where(Unit.active.is_(True)).order_by(Unit.id))]


def search(ctx: Context, query: str) -> tuple[str, str, list[Matter]]:
    """(kind, label, items): a unit, a leader, a minutes number or title, else a keyword in the titles."""
    s = ctx.session
    hit = match_unit(query, _unit_refs(s))
    if hit.exact is not None:
        items = s.scalars(scoped(ctx, Matter.responsible_unit_id == int(hit.exact.id)).order_by(Matter.code))
        return "unit", hit.exact.name, list(items)
    leader = s.scalar(select(Person).where(Person.name == query, Person.id.in_(
        select(Matter.leader_id).where(Matter.leader_id.is_not(None)))))
    if leader is not None:
        return "leader", leader.name, list(s.scalars(scoped(ctx, Matter.leader_id == leader.id).order_by(Matter.code)))
    like = f"%{query}%"
    minutes_ids = select(Minutes.id).where(or_(Minutes.number.ilike(like), Minutes.title.ilike(like)))
    items = list(s.scalars(scoped(ctx, Matter.minutes_id.in_(minutes_ids)).order_by(Matter.code)))
    if items:
        return "minutes", query, items
    items = list(s.scalars(scoped(ctx, or_(Matter.title.ilike(like), Matter.obstacles.ilike(like)))
                           .order_by(Matter.code)))
    return "keyword", query, items


def item_detail(ctx: Context, m: Matter) -> str:
    s = ctx.session
    ext = s.scalar(select(ExtensionRequest).where(ExtensionRequest.matter_id == m.id,
                                                  ExtensionRequest.state == EXT_PENDING))
    esc = list(s.scalars(select(Escalation).where(Escalation.matter_id == m.id).order_by(Escalation.level)))
    return ctx.render("status/item.txt", v=item_view(m, ctx.now), m=m, ext=ext, escalations=esc,
                      raised=ESC_RAISED, minutes=m.minutes)


@commands.command("查", "查询", menu_key="search", summary="查事项：查 单位/领导/纪要号/关键词/编号", order=43)
def query(ctx: Context, args: str) -> Reply:
    if not args:
        return Reply(ctx.render("status/query_usage.txt"))
    if codes.parse_code(args) is not None:
        m, err = load_item(ctx, args)
        return err or paged(ctx, item_detail(ctx, m))
    kind, label, items = search(ctx, args)
    views = [item_view(x, ctx.now) for x in items]
    views.sort(key=lambda v: (LIGHT_ORDER[v.light], v.deadline, v.code))
    return paged(ctx, ctx.render("status/query.txt", kind=kind, label=label, items=views, query=args))


# -- 历史 -----------------------------------------------------------------------------------------
@commands.command("历史", "轨迹", summary="查看某事项的办理轨迹：历史 编号", order=44)
def history(ctx: Context, args: str) -> Reply:
    if not args:
        return Reply(ctx.render("status/history_usage.txt"))
    m, err = load_item(ctx, args.split()[0])
    if err:
        return err
    return paged(ctx, ctx.render("status/history.txt", m=m, rows=history_rows(ctx.session, m)))


def first_word(args: str) -> tuple[str, str]:
    """Split "M12 rest of text" into ("M12", "rest of text")."""
    parts = args.split(None, 1)
    if not parts:
        return "", ""
    return parts[0], parts[1] if len(parts) > 1 else ""


def notify_people(ctx: Context, people: Iterable[Person], text: str, key: Optional[str] = None) -> int:
    """One direct message per person (each with its own key when `key` is given)."""
    n = 0
    for p in people:
        if p is None or p.id == ctx.person.id:
            continue
        if ctx.notify_person(p, text, key=f"{key}:p{p.id}" if key else None) is not None:
            n += 1
    return n
