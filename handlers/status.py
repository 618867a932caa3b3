"""Status queries, scoped by role (bot.domain.scope): 进度, 逾期, 未报, 查 <单位|领导|纪要号|关键词|编号>, 历史 <编号>,
and 下一页 for long answers (paged by handlers.common).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select

from bot.actions.closeout import claim_and_decision
from bot.actions.matterunits import not_acknowledged
from bot.actions.status import LIGHT_ORDER, progress_summary, unreported_summary
from bot.core.messages import Context, Reply
from bot.core.routing import Commands
from bot.domain import codes, ledger
from bot.domain.ledger import history_rows, item_view
from bot.domain.periods import period_at, previous_period
from bot.domain.responsibility import sql_responsible_for
from bot.domain.scope import can_see_record, sees_all
from bot.domain.unitmatch import UnitRef, match_unit
from handlers.common import keep_pages, kept_pages, load_item, paged, scoped
from models import ESC_RAISED, EXT_PENDING, Escalation, ExtensionRequest, Matter, Minutes, Person, Unit

commands = Commands()



@commands.command("下一页", "下页", "更多", summary="", order=60)
def next_page(ctx: Context, args: str) -> Reply:
    pages = kept_pages(ctx)
    if not pages:
        return Reply(ctx.render("status/no_more_pages.txt"))
    keep_pages(ctx, pages[1:])
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


@commands.command("进度", "台账", menu_key="progress", summary="查看督查台账进度（亮灯）", order=40)
def progress(ctx: Context, args: str) -> Reply:
    p = progress_summary(ctx.session, ctx.roles, ctx.now)
    text = ctx.render("status/progress.txt", scope=scope_label(ctx), total=p.total, open_count=p.open_count,
                      closed=p.closed, counts=p.counts, states=p.states, escalated=p.escalated, units=p.units,
                      attention=p.attention, today=ctx.now.date())
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
    u = unreported_summary(ctx.session, ctx.roles, p)
    text = ctx.render("status/unreported.txt", period=p, missing=u.missing, late=u.late, expected=u.expected,
                      reported=u.reported, past_deadline=ctx.now > p.deadline, scope=scope_label(ctx))
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
        items = s.scalars(scoped(ctx, sql_responsible_for([int(hit.exact.id)])).order_by(Matter.code))
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
    claim, decision = claim_and_decision(s, m)
    return ctx.render("status/item.txt", v=item_view(m, ctx.now), m=m, ext=ext, escalations=esc,
                      raised=ESC_RAISED, minutes=m.minutes, claim=claim, decision=decision,
                      acks=m.unit_links if len(m.unit_links) > 1 or not_acknowledged(m) else [],
                      children=[item_view(c, ctx.now) for c in m.children])


def slip_detail(ctx: Context, code: str) -> Reply:
    """查 JB3: the slip itself (its state, rows or draft) for whoever may see it (bot.domain.scope)."""
    slip = codes.find_slip(ctx.session, code)
    if slip is None or not can_see_record(ctx.roles, slip):
        return Reply(ctx.render("slip/not_found.txt", code=code.strip(), role=None))
    return paged(ctx, ctx.render("status/slip.txt", slip=slip, rows=slip.rows, draft=slip.draft or {}))


@commands.command("查", "查询", menu_key="search", summary="查事项：查 单位/领导/纪要号/关键词/编号", order=43)
def query(ctx: Context, args: str) -> Reply:
    if not args:
        return Reply(ctx.render("status/query_usage.txt"))
    parsed = codes.parse_code(args)
    if parsed is not None and not parsed.is_matter:
        return slip_detail(ctx, args)
    if parsed is not None:
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
