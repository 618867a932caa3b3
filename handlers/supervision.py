"""The supervision group's commands (seed 000 §三(二)(三)): 现场抽查 and 整改要求, 督查约谈 and its promises,
following those to 销号, 效能问责 (candidates, cases, decision and deduction, 转报区纪委监委), the year-end
考评 (in chat and as an .xlsx form), 信息简报 / 专项通报 and 亮点. The supervision group (and admins) act;
the office (综合协调组) may draft and publish briefings; a unit's head and liaison see, and answer for, what
concerns their unit. The changes are bot.actions.supervision's."""
from __future__ import annotations

import re
from datetime import datetime, time
from typing import Optional

from sqlalchemy import select

from bot.actions import supervision as act
from bot.actions.forms import mail_targets
from bot.core.messages import Context, Reply
from bot.core.routing import Commands
from bot.documents.assessment import assessment_filename, assessment_xlsx
from bot.domain import codes
from bot.domain import supervision as rules_of
from bot.domain.assessment import assessment
from bot.domain.clock import tz
from bot.domain.dateparse import DateAmbiguous, DateOk, parse_date
from bot.domain.unitmatch import UnitRef, match_unit
from handlers.common import first_word, load_item, paged
from handlers.export import send_file
from models import (
    BRIEF_BRIEFING,
    BRIEF_SPECIAL,
    ROLE_ADMIN,
    ROLE_COORDINATION,
    ROLE_SUPERVISION,
    AccountabilityCase,
    Briefing,
    ChatGroup,
    Interview,
    SpotCheck,
    SupervisionTask,
    Unit,
)

commands = Commands()
SUP = ("supervision_member", "admin")
TIME_RE = re.compile(r"^([01]?\d|2[0-3])[:：]([0-5]\d)$")
YEAR_RE = re.compile(r"^(20\d\d)(年)?$")
SPLIT_RE = re.compile(r"[、,，;；]+")


class Bad(Exception):
    """An answer to send instead (a parse failure or a refusal)."""

    def __init__(self, text: str):
        super().__init__(text)
        self.text = text


def _sup(ctx: Context) -> bool:
    return ctx.roles.has(ROLE_SUPERVISION, ROLE_ADMIN)


def _guard(fn):
    """Supervision-only commands: refused to others; Bad / Refused answered."""
    def run(ctx: Context, args: str) -> Reply:
        if not _sup(ctx):
            return Reply(ctx.render("supervision/refused.txt", code="not_supervision"))
        return _answer(ctx, fn, args)
    run.__name__ = fn.__name__
    return run


def _answer(ctx: Context, fn, args: str) -> Reply:
    try:
        out = fn(ctx, args)
    except Bad as exc:
        return Reply(exc.text)
    except act.Refused as exc:
        return Reply(ctx.render("supervision/refused.txt", code=exc.code, info=exc.info))
    return out if isinstance(out, Reply) else Reply(out)


def _usage(ctx: Context, which: str) -> Bad:
    return Bad(ctx.render("supervision/usage.txt", which=which))


def _date(ctx: Context, text: str, which: str, direction: str = "future"):
    result = parse_date(text, ctx.now.astimezone(tz()).date(), direction) if text else None
    if isinstance(result, DateAmbiguous):
        raise Bad(ctx.render("supervision/refused.txt", code="date_ambiguous", info={"text": text,
                                                                                     "candidates": result.candidates}))
    if not isinstance(result, DateOk):
        raise Bad(ctx.render("supervision/refused.txt", code="bad_date", info={"text": text, "which": which}))
    return result.value


def _unit(ctx: Context, text: str) -> Unit:
    units = list(ctx.session.scalars(select(Unit).where(Unit.active.is_(True)).order_by(Unit.id)))
    hit = match_unit(text, [UnitRef(str(u.id), u.name, tuple(u.aliases or ())) for u in units])
    if hit.exact is None:
        raise Bad(ctx.render("supervision/refused.txt", code="unit_unknown",
                             info={"text": text, "candidates": [c.name for c in hit.candidates[:5]]}))
    return ctx.session.get(Unit, int(hit.exact.id))


def _record(ctx: Context, args: str, model, which: str):
    code, rest = codes.split_record_code(args)
    if code is None:
        raise _usage(ctx, which)
    obj = ctx.session.scalar(select(model).where(model.code == code))
    if obj is None or not _may_see(ctx, obj):
        raise Bad(ctx.render("supervision/refused.txt", code="not_found", info={"code": code}))
    return obj, rest


def _may_see(ctx: Context, obj) -> bool:
    """The supervision group sees every record; a unit's head and liaison see their unit's (never a
    referral: `AccountabilityCase.referred_at` is shown to the supervision group only)."""
    if _sup(ctx):
        return True
    if isinstance(obj, Briefing):
        return ctx.roles.has(ROLE_COORDINATION)
    mine = ctx.roles.liaison_unit_ids | ctx.roles.head_unit_ids
    if isinstance(obj, SpotCheck):
        return bool(set(obj.unit_ids or ()) & mine)
    return obj.unit_id in mine


# -- 现场抽查 -----------------------------------------------------------------------------------------
@commands.command("现场抽查", "现场督查", summary="现场抽查：现场抽查 日期 单位或编号 人员；抽查结果、整改要求",
                order=70, roles=SUP)
@_guard
def plan_check(ctx: Context, args: str):
    when, rest = first_word(args)
    targets, team = first_word(rest)
    if not when or not targets or not team:
        raise _usage(ctx, "plan")
    day = _date(ctx, when, "抽查日期")
    units, matters = [], []
    for t in SPLIT_RE.split(targets):
        if not t:
            continue
        code = codes.parse_code(t)
        if code is not None:
            m, err = load_item(ctx, t)
            if err:
                return err
            matters.append(m)
        else:
            units.append(_unit(ctx, t))
    check = act.do_plan_spot_check(ctx, day, team, units, matters)
    return ctx.render("supervision/done.txt", what="planned", c=check, units=units, matters=matters)


@commands.command("抽查结果", "督查结果", order=71, roles=SUP)
@_guard
def record_findings(ctx: Context, args: str):
    check, findings = _record(ctx, args, SpotCheck, "findings")
    act.do_record_findings(ctx, check, findings)
    return ctx.render("supervision/done.txt", what="findings", c=check)


@commands.command("整改要求", order=72, roles=SUP)
@_guard
def ask_rectification(ctx: Context, args: str):
    check, rest = _record(ctx, args, SpotCheck, "rectify")
    unit_text, rest = first_word(rest)
    when, requirement = first_word(rest)
    if not unit_text or not when or not requirement:
        raise _usage(ctx, "rectify")
    task = act.do_ask_rectification(ctx, check, _unit(ctx, unit_text), _date(ctx, when, "整改期限"), requirement)
    return ctx.render("supervision/done.txt", what="task", t=task)


# -- 督查约谈 ----------------------------------------------------------------------------------------
@commands.command("约谈", "督查约谈", summary="督查约谈：约谈 编号或单位 日期 时间 地点；约谈改期、约谈记录、约谈承诺",
                  order=73, roles=SUP)
@_guard
def schedule_interview(ctx: Context, args: str):
    target, rest = first_word(args)
    when, rest = first_word(rest)
    if not target or not when:
        raise _usage(ctx, "interview")
    day = _date(ctx, when, "约谈日期")
    clock_text, after = first_word(rest)
    hm = TIME_RE.match(clock_text)
    if hm:
        rest = after
    at = datetime.combine(day, time(int(hm[1]), int(hm[2])) if hm else time(9, 0), tzinfo=tz())
    place, interviewers = first_word(rest)
    if not place:
        raise _usage(ctx, "interview")
    matter, unit = None, None
    if codes.parse_code(target) is not None:
        matter, err = load_item(ctx, target)
        if err:
            return err
    else:
        unit = _unit(ctx, target)
    iv = act.do_schedule_interview(ctx, unit, at, place, interviewers, matter=matter)
    return ctx.render("supervision/done.txt", what="interview", iv=iv)


@commands.command("约谈改期", order=73, roles=SUP)
@_guard
def reschedule_interview(ctx: Context, args: str):
    """约谈改期 YT编号 日期 [时间] [地点] 原因：…"""
    iv, rest = _record(ctx, args, Interview, "reschedule")
    head, marker, reason = rest.partition("原因")
    if not marker:
        head, reason = rest, ""
    when, head = first_word(head)
    if not when:
        raise _usage(ctx, "reschedule")
    day = _date(ctx, when, "约谈日期")
    clock_text, after = first_word(head)
    hm = TIME_RE.match(clock_text)
    old = iv.scheduled_at.astimezone(tz())
    at = datetime.combine(day, time(int(hm[1]), int(hm[2])) if hm else old.timetz().replace(tzinfo=None),
                          tzinfo=tz())
    place = (after if hm else head).strip()
    reason = reason.lstrip("：:，, ").strip()
    act.do_reschedule_interview(ctx, iv, at, reason, place or None)
    return ctx.render("supervision/done.txt", what="rescheduled", iv=iv)


@commands.command("约谈记录", order=74, roles=SUP)
@_guard
def record_interview(ctx: Context, args: str):
    iv, text = _record(ctx, args, Interview, "interview_record")
    act.do_record_interview(ctx, iv, text)
    return ctx.render("supervision/done.txt", what="interview_record", iv=iv)


@commands.command("约谈承诺", order=75, roles=SUP)
@_guard
def add_promise(ctx: Context, args: str):
    iv, rest = _record(ctx, args, Interview, "promise")
    when, text = first_word(rest)
    if not when or not text:
        raise _usage(ctx, "promise")
    task = act.do_add_promise(ctx, iv, _date(ctx, when, "承诺时限"), text)
    return ctx.render("supervision/done.txt", what="task", t=task)


# -- following a task --------------------------------------------------------------------------------
@commands.command("整改", summary="整改/承诺事项：整改 · 整改完成 ZG编号", order=76,
                  roles=("unit_liaison", "unit_head", "supervision_member", "admin"))
def show_task(ctx: Context, args: str) -> Reply:
    def run(ctx, args):
        if not args.strip():
            return _my_tasks(ctx)
        task, _ = _record(ctx, args, SupervisionTask, "task")
        return ctx.render("supervision/task.txt", t=task, overdue=rules_of.task_overdue(task, _today(ctx)))
    return _answer(ctx, run, args)


def _today(ctx: Context):
    return ctx.now.astimezone(tz()).date()


def _my_tasks(ctx: Context) -> str:
    q = select(SupervisionTask).order_by(SupervisionTask.deadline, SupervisionTask.id)
    if not _sup(ctx):
        q = q.where(SupervisionTask.unit_id.in_(sorted(ctx.roles.liaison_unit_ids | ctx.roles.head_unit_ids)))
    tasks = [t for t in ctx.session.scalars(q) if t.state != "closed"]
    return ctx.render("supervision/tasks.txt", tasks=tasks, today=_today(ctx))


@commands.command("整改完成", order=77, roles=("unit_liaison",))
def claim_task(ctx: Context, args: str) -> Reply:
    def run(ctx, args):
        task, note = _record(ctx, args, SupervisionTask, "claim")
        if task.unit_id not in ctx.roles.liaison_unit_ids:
            raise act.Refused("not_unit_liaison")
        act.do_claim_task(ctx, task, note)
        return ctx.render("supervision/done.txt", what="claimed", t=task)
    return _answer(ctx, run, args)


@commands.command("整改销号", order=78, roles=SUP)
@_guard
def close_task(ctx: Context, args: str):
    task, _ = _record(ctx, args, SupervisionTask, "close")
    act.do_close_task(ctx, task, True)
    return ctx.render("supervision/done.txt", what="closed", t=task)


@commands.command("整改退回", order=78, roles=SUP)
@_guard
def return_task(ctx: Context, args: str):
    task, reason = _record(ctx, args, SupervisionTask, "return")
    act.do_close_task(ctx, task, False, reason)
    return ctx.render("supervision/done.txt", what="returned", t=task)


# -- 效能问责 -----------------------------------------------------------------------------------------
def _rules(ctx: Context) -> rules_of.Rules:
    return rules_of.rules(ctx.runtime.settings.SUPERVISION_FILE)


@commands.command("问责候选", summary="效能问责：问责候选、效能问责、问责决定、转报纪委", order=80, roles=SUP)
@_guard
def candidates(ctx: Context, args: str):
    th = _rules(ctx).candidates
    found = act.case_candidates(ctx.session, ctx.now, th)
    return paged(ctx, ctx.render("supervision/candidates.txt", found=found, th=th))


@commands.command("效能问责", order=81, roles=SUP)
@_guard
def open_case(ctx: Context, args: str):
    unit_text, reason = first_word(args)
    if not unit_text:
        raise _usage(ctx, "case")
    case = act.do_open_case(ctx, _unit(ctx, unit_text), _rules(ctx).candidates, reason)
    return ctx.render("supervision/case.txt", c=case, sup=True, opened=True)


@commands.command("问责决定", order=82, roles=SUP)
@_guard
def decide_case(ctx: Context, args: str):
    case, rest = _record(ctx, args, AccountabilityCase, "decide")
    points, decision = first_word(rest)
    try:
        deduction = float(points.rstrip("分").lstrip("扣"))
    except ValueError:
        raise _usage(ctx, "decide") from None
    act.do_decide_case(ctx, case, deduction, decision)
    return ctx.render("supervision/done.txt", what="decided", c=case)


@commands.command("转报纪委", "转报区纪委监委", order=83,
                  roles=SUP)
@_guard
def refer_case(ctx: Context, args: str):
    case, sent = _record(ctx, args, AccountabilityCase, "refer")
    act.do_refer_case(ctx, case, sent)
    return ctx.render("supervision/done.txt", what="referred", c=case)


@commands.command("问责", order=84)
def show_case(ctx: Context, args: str) -> Reply:
    def run(ctx, args):
        case, _ = _record(ctx, args, AccountabilityCase, "show_case")
        return ctx.render("supervision/case.txt", c=case, sup=_sup(ctx), opened=False)
    return _answer(ctx, run, args)


# -- 考评 --------------------------------------------------------------------------------------------
@commands.command("考评", "绩效考评", summary="年度绩效考评：考评 2026 [导出]", order=85,
                  roles=("unit_liaison", "unit_head", "supervision_member", "coordination_member", "admin"))
def yearly(ctx: Context, args: str) -> Reply:
    def run(ctx, args):
        year_text, rest = first_word(args)
        m = YEAR_RE.match(year_text or str(_today(ctx).year))
        if m is None:
            raise _usage(ctx, "assess")
        year = int(m[1])
        mine = ctx.roles.liaison_unit_ids | ctx.roles.head_unit_ids
        if not (_sup(ctx) or ctx.roles.has(ROLE_COORDINATION)) and not mine:
            raise act.Refused("not_allowed")
        unit_ids = None if (_sup(ctx) or ctx.roles.has(ROLE_COORDINATION)) else mine
        rules = _rules(ctx).assessment
        rows = assessment(ctx.session, year, ctx.now, rules, unit_ids)
        if rest.strip() == "导出":
            refused = send_file(ctx, assessment_filename(year), assessment_xlsx(rows, year, rules, ctx.now))
            return refused or ctx.render("supervision/done.txt", what="exported", year=year)
        return paged(ctx, ctx.render("supervision/assessment.txt", rows=rows, year=year, rules=rules))
    return _answer(ctx, run, args)


# -- 信息简报 / 专项通报 / 亮点 -------------------------------------------------------------------------
def _briefer(ctx: Context) -> bool:
    return _sup(ctx) or ctx.roles.has(ROLE_COORDINATION)


@commands.command("简报", "专项通报", summary="信息简报：简报 起草 · 修改 · 发布；亮点 单位 内容",
                  order=86, roles=("supervision_member", "coordination_member", "admin"))
def briefing(ctx: Context, args: str) -> Reply:
    special = ctx.incoming.text.strip().startswith("专项通报")

    def run(ctx, args):
        if not _briefer(ctx):
            raise act.Refused("not_supervision")
        verb, rest = first_word(args)
        if verb == "起草":
            kind = BRIEF_SPECIAL if special else BRIEF_BRIEFING
            word, title = first_word(rest)
            if word == "专项":
                kind = BRIEF_SPECIAL
            else:
                title = rest
            b = act.do_draft_briefing(ctx, kind, title)
            return ctx.render("supervision/briefing_view.txt", b=b, drafted=True)
        if verb == "修改":
            b, body = _record(ctx, rest, Briefing, "briefing")
            act.do_edit_briefing(ctx, b, body)
            return ctx.render("supervision/briefing_view.txt", b=b, edited=True)
        if verb == "发布":
            b, target_text = _record(ctx, rest, Briefing, "briefing")
            group_text, mail_text = _split_mail(target_text)
            group = _group(ctx, group_text) if group_text or mail_text is None else None
            mailboxes = _mailboxes(ctx, mail_text) if mail_text is not None else []
            act.do_publish_briefing(ctx, b, group, [box for _name, box in mailboxes])
            return ctx.render("supervision/done.txt", what="published", b=b, group=group, mailboxes=mailboxes,
                              mail_on=ctx.runtime.settings.mail_enabled)
        b, _ = _record(ctx, args, Briefing, "briefing")
        return ctx.render("supervision/briefing_view.txt", b=b)
    return _answer(ctx, run, args)


MAIL_WORD_RE = re.compile(r"(?:^|\s)(?:邮箱|邮件)[：:]?")


def _split_mail(text: str) -> tuple[str, Optional[str]]:
    """`调度联络员群 邮箱 督导考核组、x@y.cn` → (group text, mailbox text); None without 邮箱/邮件."""
    m = MAIL_WORD_RE.search(text)
    if m is None:
        return text.strip(), None
    return text[:m.start()].strip(), text[m.end():].strip()


def _mailboxes(ctx: Context, text: str) -> list[tuple[str, str]]:
    """The org chart's mailboxes named in `text` (a work group's or key project's name, or the address
    itself); anything else is refused with the list to choose from."""
    known = mail_targets(ctx.session)
    chosen, unknown = [], []
    for word in SPLIT_RE.split(text):
        word = word.strip()
        if not word:
            continue
        hit = next((t for t in known if word in (t[0], t[1])), None) or next(
            (t for t in known if word in t[0]), None)
        (chosen if hit else unknown).append(hit or word)
    if unknown or not chosen:
        raise Bad(ctx.render("supervision/refused.txt", code="mailbox_unknown",
                             info={"text": "、".join(unknown), "known": known}))
    return list(dict.fromkeys(chosen))


def _group(ctx: Context, text: str) -> ChatGroup:
    text = text.strip()
    groups = list(ctx.session.scalars(select(ChatGroup).order_by(ChatGroup.id)))
    hit = next((g for g in groups if text and text in (g.code, g.name)), None)
    if hit is None:
        raise Bad(ctx.render("supervision/refused.txt", code="group_unknown", info={"text": text, "groups": groups}))
    return hit


@commands.command("亮点", "典型经验", order=87, roles=SUP)
@_guard
def highlight(ctx: Context, args: str):
    unit_text, text = first_word(args)
    if not unit_text or not text:
        raise _usage(ctx, "highlight")
    h = act.do_mark_highlight(ctx, _unit(ctx, unit_text), text)
    return ctx.render("supervision/done.txt", what="highlight", h=h)
