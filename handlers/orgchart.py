"""The org chart kept by the office (issue 19): admins replace a unit's liaison, add / rename / deactivate
units and people, set titles and mobiles, keep the 附件2 rows, name key projects' leaders and set the group
robots — each through bot.actions.orgchart, each audited and undone by 撤销. People are named the way the
office knows them, by name or mobile; a mobile nobody in the database has is looked up in the platform's
address book (bot.channels.directory). `通讯录` shows the 督查联络库 (head, liaison and phone of each unit)."""
from __future__ import annotations

import re
from typing import Optional

from sqlalchemy import select

from bot.actions import orgchart as oc
from bot.channels.directory import DirectoryUnavailable, identities_by_mobile
from bot.core.messages import Context, Reply
from bot.core.routing import Commands
from bot.domain.unitmatch import UnitRef, match_unit
from handlers.common import paged
from models import (
    ROLE_ADMIN,
    ROLE_COORDINATION,
    ROLE_LEADER,
    ROLE_LIAISON_GROUP,
    ROLE_OFFICE_LIAISON,
    ROLE_OFFICE_SUPERVISOR,
    ROLE_SUPERVISION,
    ChatGroup,
    KeyProject,
    Person,
    Unit,
)

commands = Commands()

REASON_RE = re.compile(r"(?:原因|理由)\s*[:：]?\s*")
OFFICE_ROLES = (ROLE_ADMIN, ROLE_SUPERVISION, ROLE_COORDINATION, ROLE_LIAISON_GROUP, ROLE_OFFICE_LIAISON,
                ROLE_OFFICE_SUPERVISOR, ROLE_LEADER)


class Answer(Exception):
    """Stop and answer with this template."""

    def __init__(self, template: str, **kw):
        super().__init__(template)
        self.template, self.kw = template, kw


def _admin(ctx: Context) -> Optional[Reply]:
    return None if ctx.roles.has(ROLE_ADMIN) else Reply(ctx.render("orgchart/not_admin.txt"))


def _refused(ctx: Context, exc) -> Reply:
    return Reply(ctx.render(exc.template, **exc.kw))


def find_unit(ctx: Context, text: str, *, active_only: bool = False) -> Unit:
    units = list(ctx.session.scalars(select(Unit).order_by(Unit.id)))
    if active_only:
        units = [u for u in units if u.active]
    hit = match_unit(text, [UnitRef(str(u.id), u.name, tuple(u.aliases or ())) for u in units])
    if hit.exact is None:
        raise Answer("orgchart/unit_not_found.txt", text=text, candidates=[c.name for c in hit.candidates[:5]])
    return ctx.session.get(Unit, int(hit.exact.id))


def find_person(ctx: Context, name: Optional[str] = None, mobile: Optional[str] = None, *,
                create_unit: Optional[Unit] = None) -> Person:
    """The person the office means: by mobile (the database, else the platform's address book — a new
    person is then added, which needs the name), else by name (exactly one active person)."""
    s = ctx.session
    if mobile:
        found = s.scalars(select(Person).where(Person.mobile == mobile, Person.active.is_(True))).all()
        if len(found) == 1:
            return found[0]
        try:
            identities = identities_by_mobile(ctx.runtime, mobile)
        except DirectoryUnavailable:
            raise Answer("orgchart/directory_unavailable.txt", mobile=mobile) from None
        if not identities:
            raise Answer("orgchart/not_in_directory.txt", mobile=mobile)
        for channel, userid in identities.items():
            known = ctx.runtime.find_person(s, channel, userid)
            if known is not None:
                if known.mobile != mobile:
                    oc.do_set_person(ctx, known, mobile=mobile)
                return known
        if not name:
            raise Answer("orgchart/need_name.txt", mobile=mobile)
        return oc.do_add_person(ctx, name, mobile=mobile, unit=create_unit, identities=identities)
    found = s.scalars(select(Person).where(Person.name == name, Person.active.is_(True),
                                           Person.placeholder.is_(False))).all()
    if not found:
        raise Answer("orgchart/person_not_found.txt", name=name)
    if len(found) > 1:
        raise Answer("orgchart/person_ambiguous.txt", name=name, people=found)
    return found[0]


def person_spec(tokens: list[str]) -> tuple[Optional[str], Optional[str]]:
    """(name, mobile) from up to two words: a mobile and/or a name, in either order."""
    name = mobile = None
    for t in tokens:
        if oc.is_mobile(t):
            mobile = t
        else:
            name = t
    return name, mobile


def _split_reason(args: str) -> tuple[str, str]:
    m = REASON_RE.search(args)
    return (args[:m.start()], args[m.end():].strip()) if m else (args, "")


def run(ctx: Context, body) -> Reply:
    denied = _admin(ctx)
    if denied is not None:
        return denied
    try:
        with ctx.session.begin_nested():
            return body()
    except (Answer, oc.Refused) as exc:
        return _refused(ctx, exc)


@commands.command("组织架构", summary="管理员：维护组织架构（联络员、单位、人员、调度事项清单）", order=200,
                  roles=(ROLE_ADMIN,))
def orgchart_help(ctx: Context, args: str) -> Reply:
    denied = _admin(ctx)
    return denied if denied is not None else Reply(ctx.render("orgchart/help.txt"))


@commands.command("更换联络员", order=200)
def replace_liaison(ctx: Context, args: str) -> Reply:
    head, reason = _split_reason(args)
    words = head.split()
    if len(words) < 2:
        return Reply(ctx.render("orgchart/liaison_usage.txt"))

    def body():
        unit = find_unit(ctx, words[0], active_only=True)
        name, mobile = person_spec(words[1:3])
        new = find_person(ctx, name, mobile, create_unit=unit)
        old = oc.do_replace_liaison(ctx, unit, new, reason)
        return Reply(ctx.render("orgchart/liaison_changed.txt", unit=unit, old=old, new=new, reason=reason))

    return run(ctx, body)


@commands.command("撤销", order=201)
def undo(ctx: Context, args: str) -> Reply:
    def body():
        row = oc.do_undo(ctx)
        return Reply(ctx.render("orgchart/undone.txt", row=row))

    return run(ctx, body)


@commands.command("新增单位", order=202)
def add_unit(ctx: Context, args: str) -> Reply:
    words = args.split()
    if not words:
        return Reply(ctx.render("orgchart/usage.txt", usage="新增单位 区数据局 [bureau/town/street/company/office]"))

    def body():
        unit = oc.do_add_unit(ctx, words[0], words[1] if len(words) > 1 else "bureau")
        return Reply(ctx.render("orgchart/done.txt", what=f"已新增单位：{unit.name}"))

    return run(ctx, body)


@commands.command("单位改名", order=203)
def rename_unit(ctx: Context, args: str) -> Reply:
    words = args.split()
    if len(words) != 2:
        return Reply(ctx.render("orgchart/usage.txt", usage="单位改名 旧名称 新名称"))

    def body():
        unit = find_unit(ctx, words[0])
        old = unit.name
        oc.do_rename_unit(ctx, unit, words[1])
        return Reply(ctx.render("orgchart/done.txt", what=f"{old} 已更名为 {unit.name}"))

    return run(ctx, body)


@commands.command("停用单位", "启用单位", order=204)
def unit_active(ctx: Context, args: str) -> Reply:
    active = ctx.incoming.text.strip().startswith("启用")
    if not args.strip():
        return Reply(ctx.render("orgchart/usage.txt", usage="停用单位 单位名称"))

    def body():
        unit = find_unit(ctx, args.strip())
        oc.do_set_unit_active(ctx, unit, active)
        return Reply(ctx.render("orgchart/done.txt", what=f"{unit.name} 已{'启用' if active else '停用'}"))

    return run(ctx, body)


@commands.command("新增人员", order=205)
def add_person(ctx: Context, args: str) -> Reply:
    words = args.split()
    if len(words) < 2 or not oc.is_mobile(words[1]):
        return Reply(ctx.render("orgchart/usage.txt", usage="新增人员 姓名 手机号 [单位] [职务]"))

    def body():
        unit = find_unit(ctx, words[2]) if len(words) > 2 else None
        person = find_person(ctx, words[0], words[1], create_unit=unit)
        if len(words) > 3:
            oc.do_set_person(ctx, person, title=" ".join(words[3:]))
        return Reply(ctx.render("orgchart/done.txt", what=f"人员：{person.name}（{person.mobile}）"))

    return run(ctx, body)


def _person_field(ctx: Context, args: str, field: str, usage: str) -> Reply:
    words = args.split(None, 1)
    if len(words) != 2:
        return Reply(ctx.render("orgchart/usage.txt", usage=usage))

    def body():
        name, mobile = person_spec(words[:1])
        person = find_person(ctx, name, mobile)
        oc.do_set_person(ctx, person, **{field: words[1].strip()})
        return Reply(ctx.render("orgchart/done.txt", what=f"{person.name}：已更新"))

    return run(ctx, body)


@commands.command("设置职务", order=206)
def set_title(ctx: Context, args: str) -> Reply:
    return _person_field(ctx, args, "title", "设置职务 姓名或手机号 职务")


@commands.command("设置手机", order=207)
def set_mobile(ctx: Context, args: str) -> Reply:
    return _person_field(ctx, args, "mobile", "设置手机 姓名 手机号")


@commands.command("停用人员", "启用人员", order=208)
def person_active(ctx: Context, args: str) -> Reply:
    active = ctx.incoming.text.strip().startswith("启用")
    if not args.strip():
        return Reply(ctx.render("orgchart/usage.txt", usage="停用人员 姓名或手机号"))

    def body():
        name, mobile = person_spec(args.split()[:1])
        s = ctx.session
        if active:  # an inactive person is found among the inactive ones
            person = s.scalars(select(Person).where((Person.mobile == mobile) if mobile
                                                    else (Person.name == name))).first()
            if person is None:
                raise Answer("orgchart/person_not_found.txt", name=name or mobile)
        else:
            person = find_person(ctx, name, mobile)
        oc.do_set_person_active(ctx, person, active)
        return Reply(ctx.render("orgchart/done.txt", what=f"{person.name} 已{'启用' if active else '停用'}"))

    return run(ctx, body)


@commands.command("项目领导", order=209)
def project_leader(ctx: Context, args: str) -> Reply:
    words = args.split()
    if len(words) != 2:
        return Reply(ctx.render("orgchart/usage.txt", usage="项目领导 项目名称 领导姓名"))

    def body():
        project = ctx.session.scalar(select(KeyProject).where(KeyProject.name.contains(words[0])))
        if project is None:
            raise Answer("orgchart/project_not_found.txt", text=words[0])
        leader = find_person(ctx, *person_spec(words[1:2]))
        oc.do_set_project_leader(ctx, project, leader)
        return Reply(ctx.render("orgchart/done.txt", what=f"{project.name} 责任领导：{leader.name}"))

    return run(ctx, body)


@commands.command("设置机器人", order=210)
def chat_robot(ctx: Context, args: str) -> Reply:
    words = args.split()
    if len(words) != 2:
        return Reply(ctx.render("orgchart/usage.txt",
                                usage="设置机器人 群代码 环境变量名（如 supervision WECOM_ROBOT_SUPERVISION）"))

    def body():
        chat = ctx.session.scalar(select(ChatGroup).where(ChatGroup.code == words[0]))
        if chat is None:
            raise Answer("orgchart/chat_not_found.txt", code=words[0])
        oc.do_set_chat_robot(ctx, chat, words[1])
        return Reply(ctx.render("orgchart/done.txt", what=f"{chat.name} 机器人：{words[1]}"))

    return run(ctx, body)


ROW_FIELDS = {"领导": "leader", "内容": "content", "牵头单位": "lead_units", "督导领导": "office_supervisor",
              "调度联络员": "office_liaisons"}


@commands.command("调度事项", order=211)
def dispatch_row(ctx: Context, args: str) -> Reply:
    """调度事项 7 领导 郭雅婷 / 内容 … / 牵头单位 区教育局 区卫健局 / 督导领导 … / 调度联络员 … / 停用 / 启用;
    新增: 调度事项 12 新增 领导姓名 内容"""
    words = args.split()
    if len(words) < 2 or not words[0].isdigit():
        return Reply(ctx.render("orgchart/row_usage.txt"))
    seq, what, rest = int(words[0]), words[1], words[2:]

    def body():
        kw: dict = {}
        if what in ("停用", "启用"):
            kw["active"] = what == "启用"
        elif what == "新增" and len(rest) >= 2:
            kw["leader"] = find_person(ctx, *person_spec(rest[:1]))
            kw["content"] = " ".join(rest[1:])
        elif what in ROW_FIELDS and rest:
            field = ROW_FIELDS[what]
            if field == "content":
                kw["content"] = " ".join(rest)
            elif field == "lead_units":
                kw["lead_units"] = [find_unit(ctx, w) for w in rest]
            elif field == "office_liaisons":
                kw["office_liaisons"] = [find_person(ctx, *person_spec([w])) for w in rest]
            else:
                kw[field] = find_person(ctx, *person_spec(rest[:1]))
        else:
            raise Answer("orgchart/row_usage.txt")
        row = oc.do_set_dispatch_row(ctx, seq, **kw)
        return Reply(ctx.render("orgchart/done.txt", what=f"调度事项第{row.seq}项已更新"))

    return run(ctx, body)


@commands.command("通讯录", summary="督查联络库：各单位第一责任人、联络员及电话", order=80)
def contacts(ctx: Context, args: str) -> Reply:
    """Office-side roles see every unit; a unit's head or liaison sees their own units."""
    q = select(Unit).where(Unit.active.is_(True)).order_by(Unit.id)
    if not ctx.roles.has(*OFFICE_ROLES):
        mine = set(ctx.roles.liaison_unit_ids) | set(ctx.roles.head_unit_ids)
        if not mine:
            return Reply(ctx.render("orgchart/contacts_none.txt"))
        q = q.where(Unit.id.in_(mine))
    units = list(ctx.session.scalars(q))
    if args.strip():
        try:
            wanted = find_unit(ctx, args.strip(), active_only=True)
        except Answer as exc:
            return _refused(ctx, exc)
        units = [u for u in units if u.id == wanted.id]
        if not units:
            return Reply(ctx.render("orgchart/contacts_none.txt"))
    return paged(ctx, ctx.render("orgchart/contacts.txt", units=units))
