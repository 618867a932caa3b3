"""填报: a unit liaison reports progress for the current period (seed 000 附件3 / 附件4 落实情况).

The bot lists the unit's open matters and slip rows; for each: 已完成 or 未完成, what was done, and for an
open one the planned deadline (调度事项 = 已完成 + 未完成). On 确认 it is saved as that period's report
(a new version; an earlier one is kept with current=False), late after 18:00 on the 5th / 20th, by
bot.actions.report.do_submit_report.
"""
from __future__ import annotations

from typing import Optional

from sqlalchemy import and_, exists, or_, select

from bot.actions.base import lock_all
from bot.actions.closeout import claim_and_decision
from bot.actions.report import REPORTABLE, ItemReport, do_submit_report
from bot.conversation import engine
from bot.conversation import fields as F
from bot.conversation.engine import Field, FieldContext, Flow, Group, Invalid
from bot.core.messages import Context, Reply
from bot.core.routing import Commands
from bot.domain import ledger, reporting
from bot.domain.clock import tz
from bot.domain.periods import period_by_key, period_for_report
from bot.domain.responsibility import sql_responsible_for, sql_units, units_label
from bot.domain.unitmatch import UnitRef, match_unit
from models import ITEM_DONE, ITEM_OPEN, MATTER_CLAIMED, MATTER_RETURNED, Matter, ReportItem, ReportSubmission, Unit

commands = Commands()

STATUS_CHOICES = [(ITEM_DONE, "已完成"), (ITEM_OPEN, "未完成")]


def reported(session, unit_id: int):
    """already_reported(period) for bot.domain.periods.period_for_report: the unit reported for the period
    and no problem list it owes for it is still missing."""
    def check(period) -> bool:
        if not session.scalar(select(exists().where(ReportSubmission.unit_id == unit_id,
                                                    ReportSubmission.period_key == period.key))):
            return False
        owed = reporting.report_status(session, [period], unit_ids=[unit_id])
        return all(st != reporting.MISSING for st in owed.values())
    return check


def current_submission(session, unit_id: int, period_key: str, source: Optional[str] = None):
    """The unit's current report of the period (of `source` or one of every source, when given; the latest)."""
    q = select(ReportSubmission).where(
        ReportSubmission.unit_id == unit_id, ReportSubmission.period_key == period_key,
        ReportSubmission.current.is_(True))
    if source is not None:
        q = q.where(ReportSubmission.source.in_((source, reporting.ALL_SOURCES)))
    return session.scalars(q.order_by(ReportSubmission.submitted_at.desc(), ReportSubmission.id.desc())).first()


def last_submission(session, unit_id: int, source: Optional[str] = None):
    """The unit's latest current report (this period's, or the last period it reported), of `source` or one
    of every source when given."""
    q = select(ReportSubmission).where(ReportSubmission.unit_id == unit_id, ReportSubmission.current.is_(True))
    if source is not None:
        q = q.where(ReportSubmission.source.in_((source, reporting.ALL_SOURCES)))
    return session.scalar(q.order_by(ReportSubmission.period_key.desc(), ReportSubmission.id.desc()).limit(1))


def earlier_answers(sub, matters: list[dict], period_key: str) -> list[dict]:
    """The answers of report `sub` for the items about to be reported, in their order, to start a revised
    report from (each is shown and kept with 不变, or changed). From an earlier period a 已完成 is not carried
    over (the item is back on the list, so it was not closed): only what was written."""
    by_matter = {it.matter_id: it for it in sub.items}
    out = []
    for m in matters:
        it = by_matter.get(m["id"])
        if it is None:
            out.append({})
            continue
        answer = {"progress": it.progress}
        if it.status == ITEM_OPEN or sub.period_key == period_key:
            answer["status"] = it.status
        if it.status == ITEM_OPEN:
            answer["planned_deadline"] = it.planned_deadline.isoformat() if it.planned_deadline else None
            answer["obstacle"] = it.obstacle
        out.append({k: v for k, v in answer.items() if v is not None or k == "obstacle"})
    return out


def sql_to_report(unit_id: int, period, source: Optional[str] = None, sub=None):
    """The condition on Matter for `items_to_report`: the unit's open items and those of the minutes and
    slips it leads, those claimed done since the period opened, and (`sub`: the id of its current report
    of the period, or a scalar subquery giving it) those claimed in that report; of `source` when given."""
    of_source = () if source is None else (reporting.sql_source() == source,)
    mine = or_(sql_responsible_for([unit_id]), reporting.sql_led_by([unit_id]))
    cond = and_(mine, or_(Matter.state.in_(REPORTABLE),
                          and_(Matter.state == MATTER_CLAIMED, Matter.claimed_at > period.opens)))
    if sub is not None:
        cond = or_(cond, and_(Matter.state == MATTER_CLAIMED, Matter.id.in_(
            select(ReportItem.matter_id).where(ReportItem.submission_id == sub))))
    return and_(cond, *of_source)


def items_to_report(session, unit_id: int, period, source: Optional[str] = None) -> list[dict]:
    """The unit's problem list for `period`: the open matters and slip rows it is responsible for, and those
    of the minutes and slips it leads (牵头单位, seed 000 附件3 note 2), soonest deadline first; plus those
    claimed done since the period opened or in this period's current report (so it can revise them). For a
    led item other units are responsible for (主办 or 协办, bot.domain.responsibility), their own reports of the
    period are shown pre-filled, the 主办's first."""
    sub = current_submission(session, unit_id, period.key, source)
    matters = list(session.scalars(select(Matter).where(sql_to_report(unit_id, period, source, sub and sub.id))
                                   .order_by(Matter.deadline, Matter.id)))
    if not matters:
        return []
    earlier = {it.matter_id: it for it in sub.items} if sub is not None else {}
    theirs: dict[int, list] = {}  # matter id -> [(unit name, submitted_at, status, progress)]: their reports
    others = [m.id for m in matters if m.responsible_unit_id != unit_id or len(m.unit_links) > 1]
    if others:
        units = sql_units(Matter.id.in_(others)).subquery()
        for item, at, name, _role in session.execute(
                select(ReportItem, ReportSubmission.submitted_at, Unit.name, units.c.role)
                .join(ReportSubmission, ReportSubmission.id == ReportItem.submission_id)
                .join(Unit, Unit.id == ReportSubmission.unit_id)
                .join(units, and_(units.c.matter_id == ReportItem.matter_id,
                                  units.c.unit_id == ReportSubmission.unit_id))
                .where(ReportSubmission.period_key == period.key, ReportSubmission.current.is_(True),
                       ReportSubmission.unit_id != unit_id)
                .order_by(units.c.role.desc(), ReportSubmission.unit_id)):  # host before assist
            theirs.setdefault(item.matter_id, []).append((name, at, item.status, item.progress))
    out = []
    for m in matters:
        prev = earlier.get(m.id)
        pres = theirs.get(m.id, [])
        pre = pres[0] if pres else None
        decision = claim_and_decision(session, m)[1] if m.state == MATTER_RETURNED else None
        out.append({"id": m.id, "code": m.code, "kind": m.kind, "source": reporting.source_of(m), "title": m.title,
                    "deadline": m.deadline.isoformat(),
                    "planned": m.planned_deadline.isoformat() if m.planned_deadline else None,
                    "last": m.last_progress, "state": m.state,
                    "earlier": prev.status if prev else None,
                    "unit": units_label(m) if m.responsible_unit_id != unit_id or len(m.unit_links) > 1 else None,
                    "theirs": None if pre is None else dict(
                        unit=pre[0], at=pre[1].astimezone(tz()).date().isoformat(), status=pre[2], progress=pre[3]),
                    "also": [dict(unit=p[0], at=p[1].astimezone(tz()).date().isoformat(), status=p[2], progress=p[3])
                             for p in pres[1:]],
                    # why it was sent back (退回重办 / 重新打开): the unit sees it before reporting again
                    "returned": {"action": decision.action, "reason": decision.reason, "by": decision.actor}
                    if decision is not None else None})
    return out


def is_open_item(fc: FieldContext) -> bool:
    return (fc.item or {}).get("status") == ITEM_OPEN


def save(ctx: Context, data: dict, meta: dict) -> Reply:
    period = period_by_key(meta["period_key"])
    unit = lock_all(ctx.session, Unit, [meta["unit_id"]])[meta["unit_id"]]  # do_submit_report locks it anyway
    items = [ItemReport(fixed["id"], fixed["code"], answer["status"], answer["progress"],
                        F.parse_iso(answer.get("planned_deadline")) if answer["status"] == ITEM_OPEN else None,
                        answer.get("obstacle"))
             for fixed, answer in zip(meta["_items_items"], data["items"], strict=False)]
    try:
        out = do_submit_report(ctx, unit, period, items, meta.get("source"))
    except ledger.TransitionError as exc:
        raise Invalid("report/err_changed.txt", code=exc.info.get("item")) from exc
    lists = sources_to_report(ctx.session, unit.id, period)
    label = next((x[1] for x in lists if x[0] == out.submission.source), None) or \
        reporting.source_labels(ctx.session, [out.submission.source])[out.submission.source]
    rest = [x for x in lists if x[0] != out.submission.source]
    return Reply(ctx.render("report/saved.txt", sub=out.submission, unit=unit, period=period, replaced=out.replaced,
                            done=out.done, open=out.open, beyond=out.beyond_deadline, label=label,
                            rest=rest))


def sources_to_report(session, unit_id: int, period) -> list[tuple[str, str, int, bool]]:
    """The problem lists the unit has items to report on for `period`: (source, label, items, reported
    already this period), the minutes / slips it leads first (by their first item), then the others."""
    current = (select(ReportSubmission.id).where(
        ReportSubmission.unit_id == unit_id, ReportSubmission.period_key == period.key,
        ReportSubmission.current.is_(True)).order_by(ReportSubmission.submitted_at.desc(), ReportSubmission.id.desc())
        .limit(1).scalar_subquery())  # current_submission's, in the same statement
    counts: dict[str, int] = {}
    for src in session.scalars(select(reporting.sql_source()).where(sql_to_report(unit_id, period, None, current))
                               .order_by(Matter.deadline, Matter.id)):
        counts[src] = counts.get(src, 0) + 1
    labels = reporting.source_labels(session, counts)
    done = set(session.scalars(select(ReportSubmission.source).where(
        ReportSubmission.unit_id == unit_id, ReportSubmission.period_key == period.key)))
    return [(src, labels[src], n, src in done or reporting.ALL_SOURCES in done) for src, n in counts.items()]


FLOW = commands.flow(Flow(
    name="report",
    steps=[
        Group("items", [
            Field("status", "report/ask_status.txt", choices=lambda fc: STATUS_CHOICES, label="是否完成"),
            Field("progress", "report/ask_progress.txt", F.text(1000, min_len=2), label="进展情况"),
            Field("planned_deadline", "report/ask_planned.txt", F.a_date("future"), when=is_open_item,
                  label="计划完成时间"),
            Field("obstacle", "report/ask_obstacle.txt", F.text(500, optional=True), when=is_open_item,
                  label="难点痛点堵点"),
        ], items=lambda fc: fc.meta["matters"]),
    ],
    save=save,
))


def pick_unit(ctx: Context, args: str):
    """The unit to report for: the only one, or the one named in the args among the person's units."""
    units = [ctx.session.get(Unit, uid) for uid in sorted(ctx.roles.liaison_unit_ids)]
    if len(units) == 1:
        return units[0]
    if args:
        refs = [UnitRef(str(u.id), u.name, tuple(u.aliases or ())) for u in units]
        hit = match_unit(args, refs)
        if hit.exact is not None:
            return ctx.session.get(Unit, int(hit.exact.id))
    return None


@commands.command("填报", menu_key="report", summary="报送本单位事项进展（每月5日、20日18:00前）", order=10,
                roles=("unit_liaison",))
def report(ctx: Context, args: str):
    if not ctx.roles.liaison_unit_ids:
        return ctx.render("report/denied.txt")
    unit = pick_unit(ctx, args)
    if unit is None:
        units = [ctx.session.get(Unit, uid) for uid in sorted(ctx.roles.liaison_unit_ids)]
        return ctx.render("report/which_unit.txt", units=units)
    period = period_for_report(ctx.now, reported(ctx.session, unit.id))
    # one problem list per minutes / slip (seed 000 附件3 / 附件4): with several, the unit picks one
    sources = sources_to_report(ctx.session, unit.id, period)
    if not sources:
        return ctx.render("report/nothing.txt", unit=unit, period=period)
    pick = (args or "").split()[-1:] or [""]
    pick = pick[0].translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    if len(sources) > 1 and not (pick.isdigit() and 1 <= int(pick) <= len(sources)):
        return ctx.render("report/which_source.txt", unit=unit, period=period, sources=sources,
                          many_units=len(ctx.roles.liaison_unit_ids) > 1)
    source, label, _n, _done = sources[int(pick) - 1 if len(sources) > 1 else 0]
    matters = items_to_report(ctx.session, unit.id, period, source)
    prev = current_submission(ctx.session, unit.id, period.key, source)
    last = last_submission(ctx.session, unit.id, source)
    data = {"items": earlier_answers(last, matters, period.key)} if last is not None else None
    if data is not None and not any(data["items"]):
        data = None
    intro = ctx.render("report/intro.txt", unit=unit, period=period, count=len(matters), prev=prev, label=label,
                       late=reporting.late_if_submitted(ctx.session, unit.id, period, ctx.now, source),
                       prefilled=last if data else None)
    return engine.start(ctx, FLOW, data=data, intro=intro,
                        meta={"unit_id": unit.id, "unit_name": unit.name, "period_key": period.key,
                              "matters": matters, "source": source})
