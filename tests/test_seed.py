"""The org-chart loader (bot/actions/seed.py) and the real seed file config/seed/quangang.yaml.

Database tests run on SQLite and PostgreSQL (the `db_session` fixture of conftest.py)."""
from __future__ import annotations

import copy
from datetime import date
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

import models
from bot.actions.seed import SeedError, load_seed, read_yaml, seed_command, validate_seed
from bot.domain.roles import roles_of
from models import (
    ROLE_ADMIN,
    ROLE_CONVENER,
    ROLE_COORDINATION,
    ROLE_LEADER,
    ROLE_LIAISON_GROUP,
    ROLE_OFFICE_LIAISON,
    ROLE_OFFICE_SUPERVISOR,
    ROLE_SUPERVISION,
    ROLE_UNIT_HEAD,
    ROLE_UNIT_LIAISON,
    AuditLog,
    ChatGroup,
    DispatchRow,
    KeyProject,
    Person,
    Unit,
    WorkGroup,
)

ROOT = Path(__file__).resolve().parent.parent
SEED_FILE = ROOT / "config" / "seed" / "quangang.yaml"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "seed"
GOOD = FIXTURES / "good_minimal.yaml"

# Seed 000 附件2, row by row: leader, lead units (split into units), office supervisor, office liaisons.
DISPATCH = {
    1: ("杨凤翔", [], "刘小军", ["何苍海", "潘晓清"]),
    2: ("陈剑锋", ["区发改局", "区统计局", "区应急局", "区科技局", "新城投资公司", "大众公交公司"], "曾永顺",
        ["林勇勇"]),
    3: ("庄一鸣", ["区农水局", "区文体旅游局", "区卫健局"], "肖坚松", ["贾义海"]),
    4: ("陈荣省", ["区公安分局", "区道安办", "区信访局"], "刘冷华", ["潘晓清"]),
    5: ("柯永进", ["区住建局", "区自然资源局", "区城管局", "区交通运输局", "水利水务公司", "大众公交公司"],
        "刘冷华", ["唐少清"]),
    6: ("郭雅婷", ["区教育局", "区生态环境局"], "肖坚松", ["苏冰娇"]),
    7: ("朱添洪", ["区政府办（效能办）", "区工信局（数字办）", "区商务局", "高新产业园区公司"], "刘小军", ["刘泽阳"]),
    8: ("程刚", ["区科技局", "区民政局"], "曾永顺", ["刘建伟"]),
}

# Every named member of seed 000's task force and groups, and of seed 001's bodies, with positions.
GROUPS = {
    "taskforce": [("杨凤翔", "组长"), ("陈剑锋", "第一副组长"), ("庄一鸣", "副组长"), ("陈荣省", "副组长"),
                  ("柯永进", "副组长"), ("郭雅婷", "副组长"), ("朱添洪", "副组长"), ("程刚", "副组长")],
    "coordination": [("陈剑锋", "组长"), ("刘昭暄", "副组长"), ("刘志春", "成员"), ("曾永顺", "成员"),
                     ("肖坚松", "成员"), ("刘冷华", "成员"), ("刘小军", "成员")],
    "liaison": [("朱添洪", "组长"), ("肖坚松", "副组长")] + [(n, "成员") for n in (
        "林勇勇", "连雪娟", "何苍海", "苏冰娇", "刘泽阳", "唐少清", "刘建伟", "贾义海", "潘晓清")],
    "supervision": [("朱添洪", "组长"), ("刘志春", "副组长")] + [(n, "成员") for n in (
        "吴金明", "刘国钦", "杨幼梅", "刘建伟", "李雅茹")],
    "joint_leadership": [("张井丽", "总召集人")] + [(n, "召集人") for n in ("庄一鸣", "黄少伟", "蔡奔腾", "苏纯益")]
    + [(n, "成员") for n in ("刘玉强", "陈建雄", "李海军", "林昀瑜", "郭志雄", "朱辉阳", "刘婉娥", "施文勇", "程进强",
                             "邱清满", "陈宝喜", "郭森波", "黄金奖", "邱建忠", "庄猛", "朱志卿", "郑炜")],
    "joint_office": [("肖坚松", "主任")] + [(n, "副主任") for n in ("陈阿芳", "王建华", "张澄海", "吴文锋")]
    + [(n, "成员") for n in ("唐少清", "吴金明", "王尚溢", "郑景霖", "施华东", "陈燕芳", "陈国显", "庄清江", "林冠忠")],
}

PROJECTS = {
    "锦川实验小学项目": (["区教育局"], ["2021-02-25", "2021-03-30", "2021-03-31"]),
    "泉港医院病房大楼2#楼及附属配套设施项目": (["区卫健局"], ["2021-02-25", "2021-03-30", "2021-03-31"]),
    "泉港高铁站前广场及配套工程": (["区交通运输局", "新城投资公司"],
                                   ["2021-03-25", "2021-03-18", "2021-03-18", "2021-03-31"]),
    "泉港坝头溪流域综合整治项目": (["区农水局"], ["2021-03-18", "2021-03-25", "2021-03-18", "2021-03-31"]),
}


def dump(session) -> dict:
    """Every row of every table, ordered by primary key: the whole database as data."""
    session.expire_all()
    out = {}
    for table in models.Base.metadata.sorted_tables:
        rows = session.execute(select(table).order_by(*table.primary_key.columns)).all()
        out[table.name] = [tuple(r) for r in rows]
    return out


def audit_count(session) -> int:
    return session.scalar(select(func.count(AuditLog.id)))


def person(session, name: str) -> Person:
    return session.scalars(select(Person).where(Person.name == name)).one()


@pytest.fixture
def loaded(db_session):
    report = load_seed(db_session, SEED_FILE)
    db_session.commit()
    return report


# ---------------------------------------------------------------------------------------------------
# The real file


def test_real_file_loads_with_expected_counts(db_session, loaded):
    counts = {k: (c.created, c.updated, c.unchanged) for k, c in loaded.counts.items()}
    # seed 001 in chat (issue 13) added 4 placeholder project leaders and a placeholder 区委主要领导, 5 groups of
    # recipients (main_leaders, party/gov_supervision, discipline, efficiency_office) and the joint office's chat
    assert counts == {"unit": (38, 0, 0), "person": (97 + 5, 0, 0), "work_group": (6 + 5, 0, 0),
                      "chat_group": (3 + 1, 0, 0), "dispatch_row": (8, 0, 0), "key_project": (4, 0, 0),
                      "milestone": (14, 0, 0)}
    assert db_session.scalar(select(func.count(Person.id)).where(Person.placeholder.is_(True))) == 38 + 5
    # One audit row per created row, all by "seed".
    assert audit_count(db_session) == loaded.audit_rows == 38 + 102 + 11 + 4 + 8 + 4 + 14
    assert set(db_session.scalars(select(AuditLog.actor))) == {"seed"}


def test_dispatch_schedule_rows_leaders_units_and_office_liaisons(db_session, loaded):
    rows = db_session.scalars(select(DispatchRow).order_by(DispatchRow.seq)).all()
    assert [r.seq for r in rows] == list(range(1, 9))
    for row in rows:
        leader, units, supervisor, liaisons = DISPATCH[row.seq]
        assert row.leader.name == leader
        assert sorted(u.name for u in row.lead_units) == sorted(units)
        assert row.office_supervisor.name == supervisor
        assert sorted(p.name for p in row.office_liaisons) == sorted(liaisons)
        assert row.cycle == "monthly"
    assert rows[0].lead_units_note == "区直各相关部门"
    assert rows[0].content == "区政府全面工作；重大项目招商、经济分析；数字经济产业发展（数字经济产业发展小组组长）等"
    assert rows[6].content.startswith("“‘产业布局’突破提升行动”专项（关于园区标准化建设方面）；")
    leaders = {p.name for p in db_session.scalars(select(Person)) if roles_of(db_session, p).has(ROLE_LEADER)}
    assert leaders == {v[0] for v in DISPATCH.values()} and len(leaders) == 8


def test_every_named_member_with_position(db_session, loaded):
    for code, members in GROUPS.items():
        group = db_session.scalars(select(WorkGroup).where(WorkGroup.code == code)).one()
        assert [(m.person.name, m.position) for m in group.members] == members, code
    sup = db_session.scalars(select(WorkGroup).where(WorkGroup.code == "supervision")).one()
    assert sup.mailbox == "qgzwdc@126.com" and sup.source == "泉港政办〔2023〕23号"


def test_people_in_both_seeds_are_one_person_with_both_titles(db_session, loaded):
    xiao = person(db_session, "肖坚松")
    assert xiao.title == "区政府办副主任、三级主任科员"  # 2023
    office = db_session.scalars(select(WorkGroup).where(WorkGroup.code == "joint_office")).one()
    titles = {m.person.name: m.title_in_group for m in office.members}
    assert titles["肖坚松"] == "区政府办副主任" and titles["唐少清"] == "区政府办公室务会成员"
    assert person(db_session, "唐少清").title == "区效能办督查股负责人"
    assert person(db_session, "程刚").wecom_userid == "chenggang"


def test_derived_roles(db_session, loaded):
    def names(n):
        return roles_of(db_session, person(db_session, n)).names

    assert {ROLE_LEADER, ROLE_SUPERVISION, ROLE_LIAISON_GROUP} <= names("朱添洪")
    assert {ROLE_OFFICE_SUPERVISOR, ROLE_COORDINATION} <= names("刘小军")
    assert {ROLE_OFFICE_LIAISON, ROLE_SUPERVISION, ROLE_LIAISON_GROUP} <= names("刘建伟")
    assert {ROLE_ADMIN, ROLE_COORDINATION, ROLE_UNIT_HEAD} <= names("刘昭暄")
    assert ROLE_CONVENER in names("张井丽") and ROLE_CONVENER in names("庄一鸣")
    assert ROLE_CONVENER not in names("刘玉强")
    assert ROLE_UNIT_HEAD in names("刘玉强")
    assert ROLE_UNIT_LIAISON in names("（待指定）区教育局联络员")
    admins = [p.name for p in db_session.scalars(select(Person)) if roles_of(db_session, p).has(ROLE_ADMIN)]
    assert admins == ["刘昭暄"]


def test_units_heads_liaisons_and_aliases(db_session, loaded):
    units = {u.name: u for u in db_session.scalars(select(Unit))}
    for name in ("南埔镇", "前黄镇", "涂岭镇", "山腰街道", "石化工业园区", "新城投资公司", "水利水务公司",
                 "高新产业园区公司", "大众公交公司", "泉港区总医院", "区行政服务中心管委会"):
        assert name in units
    assert "高新公司" in units["高新产业园区公司"].aliases
    assert "卫健委" in units["区卫健局"].aliases
    assert units["区教育局"].head.name == "陈建雄" and units["泉港区总医院"].head.name == "郑炜"
    assert units["区公安分局"].head.name == "陈荣省"
    for u in units.values():
        assert u.liaison is not None and u.liaison.placeholder, u.name
    assert units["区教育局"].liaison.name == "（待指定）区教育局联络员"
    chats = {c.code: c for c in db_session.scalars(select(ChatGroup))}
    assert set(chats) == {"supervision", "liaisons", "office", "joint_office"}  # joint_office: seed 001 (issue 13)
    assert all(c.robot_key is None and c.robot_key_env.startswith("WECOM_ROBOT_") for c in chats.values())


def test_key_projects_and_milestones(db_session, loaded):
    projects = db_session.scalars(select(KeyProject).order_by(KeyProject.seq)).all()
    assert [p.name for p in projects] == list(PROJECTS)
    assert sum(len(p.milestones) for p in projects) == 14
    for p in projects:
        units, deadlines = PROJECTS[p.name]
        assert sorted(u.name for u in p.lead_units) == sorted(units)
        assert [m.deadline.isoformat() for m in p.milestones] == deadlines
        assert [m.seq for m in p.milestones] == list(range(1, len(deadlines) + 1))
        assert p.batch == "2021年第一批“难硬重新”重点项目"
    assert projects[0].milestones[0].target == "完成项目工程量清算"
    assert projects[3].milestones[1].target == "完成最后2公里截污工程施工任务"


def test_second_run_changes_nothing(db_session, loaded):
    before = dump(db_session)
    report = load_seed(db_session, SEED_FILE)
    db_session.commit()
    assert not report.changed and report.audit_rows == 0
    assert report.created == report.updated == 0 and report.unchanged == 38 + 102 + 11 + 4 + 8 + 4 + 14
    assert dump(db_session) == before


# ---------------------------------------------------------------------------------------------------
# Bad files: refused with every error named by entry and field; nothing written


BAD = {
    "bad_unknown_unit.yaml": 'dispatch_schedule[1].lead_units[1]: unknown unit "区农业局"',
    "bad_date.yaml": 'key_projects.projects[0].milestones[1].deadline: invalid date "2021-02-30"',
    "bad_duplicate_userid.yaml": 'people[4].wecom_userid: duplicate userid "zhangsan"',
    "bad_role.yaml": 'people[1].roles[0]: unknown role "boss"',
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_file_refused_on_empty_db(db_session, name):
    with pytest.raises(SeedError) as exc:
        load_seed(db_session, FIXTURES / name)
    assert any(e.startswith(BAD[name]) for e in exc.value.errors), exc.value.errors
    assert len(exc.value.errors) == 1, exc.value.errors
    db_session.rollback()
    assert all(not rows for rows in dump(db_session).values() if rows is not None)


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_file_refused_leaves_db_unchanged(db_session, name):
    load_seed(db_session, GOOD)
    db_session.commit()
    before = dump(db_session)
    with pytest.raises(SeedError):
        load_seed(db_session, FIXTURES / name)
    db_session.commit()  # even a commit after the refusal writes nothing
    assert dump(db_session) == before


def test_all_errors_are_collected():
    data = read_yaml(GOOD)
    data["people"][0]["mobile"] = "12345"
    data["people"][1]["wecom_userid"] = "Li Si"
    data["people"][2]["nickname"] = "老王"
    data["units"][2]["aliases"] = ["发改局"]
    data["units"][1]["liaison"] = ["zhaoliu", "sunqi"]
    data["dispatch_schedule"][0]["leader"] = "nobody"
    data["groups"][0]["members"][0]["position"] = "队长"
    data["key_projects"]["projects"][0]["milestones"][0]["deadline"] = "3月25日"
    data["chats"][0]["robot_key"] = "secret"
    with pytest.raises(SeedError) as exc:
        validate_seed(data)
    text = "\n".join(exc.value.errors)
    for expected in (
        'people[0].mobile: "12345" has the wrong form',
        'people[1].wecom_userid: "Li Si" has the wrong form',
        "people[2].nickname: unknown field",
        'units[2].aliases[0]: alias "发改局" already used by units[0] (区发改局)',
        "units[1].liaison: a unit has exactly one liaison",
        'dispatch_schedule[0].leader: unknown person "nobody"',
        "groups[0].members[0].position: '队长' is not one of",
        'key_projects.projects[0].milestones[0].deadline: invalid date "3月25日"',
        "chats[0].robot_key: unknown field",
    ):
        assert expected in text, (expected, text)


def test_more_validation_rules():
    data = read_yaml(GOOD)
    data["version"] = 2
    data["people"][0]["roles"] = ["leader"]  # derived: must not be listed
    data["people"][4]["placeholder"] = True  # a placeholder must have a placeholder_ userid
    data["units"].append({"name": "区发改局", "kind": "bureau"})
    data["dispatch_schedule"][1]["seq"] = 1
    data["extra_section"] = {}
    with pytest.raises(SeedError) as exc:
        validate_seed(data)
    text = "\n".join(exc.value.errors)
    assert "version: must be 1" in text
    assert 'people[0].roles[0]: role "leader" is derived' in text
    assert "people[4].wecom_userid: placeholder people" in text
    assert 'units[3].name: unit name "区发改局" already used by units[0]' in text
    assert "dispatch_schedule[1].seq: duplicate seq 1" in text
    assert "extra_section: unknown top-level section" in text


def test_yaml_syntax_error_is_a_seed_error(tmp_path):
    bad = tmp_path / "broken.yaml"
    bad.write_text("version: 1\nunits: [a, b\n", encoding="utf-8")
    with pytest.raises(SeedError) as exc:
        read_yaml(bad)
    assert "not valid YAML" in exc.value.errors[0] and "line" in exc.value.errors[0]


def test_aliases_resolve_and_mobile_may_be_a_number():
    data = read_yaml(GOOD)
    data["people"][0]["mobile"] = 13800000001
    seed = validate_seed(data)
    assert seed.people[0].mobile == "13800000001"
    assert seed.unit_names["发改局"] == "区发改局"
    assert seed.projects[0].milestones[0].deadline == date(2021, 2, 25)


# ---------------------------------------------------------------------------------------------------
# Updates and the liaison rule


def test_update_is_audited_with_before_and_after(db_session):
    load_seed(db_session, GOOD)
    db_session.commit()
    data = read_yaml(GOOD)
    data["people"][2]["title"] = "区发改局局长（主持工作）"
    data["groups"][0]["members"].pop()  # 李四 leaves the supervision group
    report = load_seed(db_session, data)
    db_session.commit()
    assert report.counts["person"].updated == 2  # 王五's title, 李四's supervision_member role
    assert report.counts["work_group"].updated == 1
    wang = person(db_session, "王五")
    row = db_session.scalars(select(AuditLog).where(AuditLog.entity == "person",
                                                    AuditLog.entity_id == str(wang.id),
                                                    AuditLog.action == "seed.update")).one()
    assert row.before == {"title": "区发改局局长"} and row.after == {"title": "区发改局局长（主持工作）"}
    assert ROLE_SUPERVISION not in roles_of(db_session, person(db_session, "李四")).names
    group = db_session.scalars(select(WorkGroup)).one()
    assert [m.person.name for m in group.members] == ["张三"]


def test_liaison_change_needs_a_reason(db_session):
    load_seed(db_session, GOOD)
    db_session.commit()
    # 区教育局's liaison is 赵六 (a real person): moving it to 孙七 needs a reason.
    data = read_yaml(GOOD)
    data["units"][1]["liaison"] = "sunqi"
    before = dump(db_session)
    with pytest.raises(SeedError) as exc:
        load_seed(db_session, data)
    assert len(exc.value.errors) == 1
    msg = exc.value.errors[0]
    assert msg.startswith("units[1].liaison:") and "区教育局" in msg and "赵六" in msg and "--reason" in msg
    db_session.commit()
    assert dump(db_session) == before

    n = audit_count(db_session)
    report = load_seed(db_session, data, liaison_change_reason="赵六调任，经分管领导同意更换")
    db_session.commit()
    assert report.counts["unit"].updated == 1 and len(report.liaison_changes) == 1
    unit = db_session.scalars(select(Unit).where(Unit.name == "区教育局")).one()
    assert unit.liaison.name == "孙七"
    row = db_session.scalars(select(AuditLog).where(AuditLog.action == "unit.liaison_change")).one()
    assert row.entity == "unit" and row.entity_id == str(unit.id) and row.actor == "seed"
    assert row.before == {"liaison": "zhaoliu"} and row.after == {"liaison": "sunqi"}
    assert row.reason == "赵六调任，经分管领导同意更换" and row.at is not None
    assert audit_count(db_session) == n + 1
    # The same file again: nothing to do, no reason needed.
    assert not load_seed(db_session, data).changed


def test_replacing_a_placeholder_liaison_needs_no_reason(db_session):
    load_seed(db_session, GOOD)
    db_session.commit()
    data = read_yaml(GOOD)
    data["units"][0]["liaison"] = "wangwu"
    report = load_seed(db_session, data)
    db_session.commit()
    assert report.counts["unit"].updated == 1
    row = db_session.scalars(select(AuditLog).where(AuditLog.action == "unit.liaison_change")).one()
    assert row.before == {"liaison": "placeholder_fagaiju"} and row.reason is None


def test_real_file_liaison_change_in_place(db_session, loaded):
    data = read_yaml(SEED_FILE)
    edu = next(u for u in data["units"] if u["name"] == "区教育局")
    edu["liaison"] = "chenjianxiong"  # first real choice: allowed without a reason
    load_seed(db_session, data)
    db_session.commit()
    edu2 = copy.deepcopy(data)
    next(u for u in edu2["units"] if u["name"] == "区教育局")["liaison"] = "guozhixiong"
    with pytest.raises(SeedError):
        load_seed(db_session, edu2)


# ---------------------------------------------------------------------------------------------------
# The command


def test_seed_command_prints_summary_and_refuses_bad_files(app, tmp_path):
    out: list[str] = []
    db = app.extensions["bot"].db
    assert seed_command(db, SEED_FILE, None, echo=out.append) == 0
    text = "\n".join(out)
    assert "seed loaded" in text and "unit" in text and "38" in text
    out.clear()
    assert seed_command(db, SEED_FILE, None, echo=out.append) == 0
    assert "nothing changed" in "\n".join(out)
    out.clear()
    assert seed_command(db, FIXTURES / "bad_role.yaml", None, echo=out.append) == 2
    assert any('people[1].roles[0]: unknown role "boss"' in line for line in out)


def test_cli_seed_twice_then_a_bad_file(runner, app):
    """`python -m bot seed`: loads, changes nothing the second time, refuses a bad file leaving the DB as it was."""
    first = runner.invoke(args=["seed", str(SEED_FILE)])
    assert first.exit_code == 0 and "seed loaded" in first.output
    again = runner.invoke(args=["seed", str(SEED_FILE)])
    assert again.exit_code == 0 and "nothing changed" in again.output
    db = app.extensions["bot"].db
    with db.Session() as s:
        before = s.scalar(select(func.count(Unit.id)))
    bad = runner.invoke(args=["seed", str(FIXTURES / "bad_role.yaml")])
    assert bad.exit_code == 2 and 'people[1].roles[0]: unknown role "boss"' in bad.output
    with db.Session() as s:
        assert s.scalar(select(func.count(Unit.id))) == before == 38


def test_real_file_is_plain_yaml():
    """The file parses with a plain safe_load too (what an office editing it would use to check it)."""
    data = yaml.safe_load(SEED_FILE.read_text(encoding="utf-8"))
    assert data["version"] == 1
    validate_seed(read_yaml(SEED_FILE))


def test_docs_example_is_valid():
    text = (ROOT / "docs" / "org-chart.md").read_text(encoding="utf-8")
    example = text.split("## Example", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    seed = validate_seed(yaml.load(example, Loader=yaml.SafeLoader))
    assert seed.dispatch_schedule[0].lead_units == ["区教育局"]


def test_renamed_unit_keeps_its_identity(db_session):
    load_seed(db_session, GOOD)
    db_session.commit()
    unit_id = db_session.scalars(select(Unit.id).where(Unit.name == "区发改局")).one()
    data = read_yaml(GOOD)
    data["units"][0].update(name="区发展和改革局", aliases=["发改局", "区发改局"])
    report = load_seed(db_session, data)
    db_session.commit()
    assert report.counts["unit"].updated == 1 and report.counts["unit"].created == 0
    assert db_session.get(Unit, unit_id).name == "区发展和改革局"


# ---------------------------------------------------------------------------------------------------
# Keys and identities


def test_a_person_keeps_their_key_when_their_platform_ids_change(db_session):
    """The natural key of a person is `key` (default: the WeCom id); the ids are identities, changed in place."""
    data = read_yaml(GOOD)
    data["people"][2]["key"] = "wangwu"  # 王五: explicit key, same value as the WeCom id it replaces as key
    load_seed(db_session, data)
    db_session.commit()
    wang = person(db_session, "王五")
    assert (wang.key, wang.wecom_userid, wang.dingtalk_userid) == ("wangwu", "wangwu", None)
    data["people"][2].update(wecom_userid="wangwu_new", dingtalk_userid="dt_wang")
    report = load_seed(db_session, data)
    db_session.commit()
    assert report.counts["person"].created == 0
    db_session.expire_all()
    again = person(db_session, "王五")
    assert again.id == wang.id and again.key == "wangwu"
    assert {c: i.external_id for c, i in again.identities.items()} == {"wecom": "wangwu_new", "dingtalk": "dt_wang"}
    assert db_session.scalar(select(models.Unit).where(models.Unit.name == "区发改局")).head_id == wang.id


def test_a_dingtalk_only_person_needs_a_key():
    data = read_yaml(GOOD)
    data["people"].append({"name": "钉钉用户", "dingtalk_userid": "dt9"})
    with pytest.raises(SeedError) as exc:
        validate_seed(data)
    assert any("people[7]" in e and "needs a key" in e for e in exc.value.errors)
    data["people"][-1]["key"] = "dingdinguser"
    seed = validate_seed(data)
    assert seed.people[-1].key == "dingdinguser" and seed.people[-1].wecom_userid is None


def test_dingtalk_only_person_loads_and_is_found_by_their_dingtalk_id(runtime):
    data = read_yaml(GOOD)
    data["people"].append({"name": "钉钉用户", "key": "dingdinguser", "dingtalk_userid": "dt9", "unit": "区教育局"})
    with runtime.db.session() as s:
        load_seed(s, data)
    with runtime.db.session() as s:
        found = runtime.find_person(s, "dingtalk", "dt9")
        assert found is not None and found.key == "dingdinguser" and found.wecom_userid is None
        assert runtime.find_person(s, "wecom", "dingdinguser") is None


def test_two_people_cannot_share_a_wecom_id_under_different_keys():
    data = read_yaml(GOOD)
    data["people"][1]["key"] = "lisi_key"
    data["people"][1]["wecom_userid"] = "zhangsan"
    with pytest.raises(SeedError) as exc:
        validate_seed(data)
    assert 'people[1].wecom_userid: duplicate userid "zhangsan"' in exc.value.errors[0]
