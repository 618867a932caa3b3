"""roles_of on the real org chart: derived roles and scopes, on SQLite and PostgreSQL."""
from sqlalchemy import select

from bot.domain.roles import roles_of
from models import DispatchRow, Person, Unit


def _person(s, userid):
    return s.scalar(select(Person).where(Person.wecom_userid == userid))


def test_leader_office_liaison_and_supervisor(seeded):
    with seeded.db.session() as s:
        row1 = s.scalar(select(DispatchRow).where(DispatchRow.seq == 1))
        row2 = s.scalar(select(DispatchRow).where(DispatchRow.seq == 2))
        yang = roles_of(s, _person(s, "yangfengxiang"))
        assert yang.has("leader") and yang.led_row_ids == {row1.id}
        assert not yang.liaison_unit_ids and not yang.sees_everything
        # 潘晓清 is office liaison of rows 1 and 4
        pan = roles_of(s, _person(s, "panxiaoqing"))
        assert pan.has("office_liaison") and len(pan.liaison_row_ids) == 2 and row1.id in pan.liaison_row_ids
        # 曾永顺 supervises rows 2 and 8
        zeng = roles_of(s, _person(s, "zengyongshun"))
        assert zeng.has("office_supervisor") and row2.id in zeng.supervised_row_ids
        assert len(zeng.supervised_row_ids) == 2 and not zeng.led_row_ids


def test_unit_liaison_supervision_member_and_admin(seeded):
    with seeded.db.session() as s:
        unit = s.scalar(select(Unit).where(Unit.name == "区发改局"))
        liaison = roles_of(s, unit.liaison)
        assert liaison.names == {"unit_liaison"} and liaison.liaison_unit_ids == {unit.id}
        assert not liaison.led_row_ids and not liaison.supervised_row_ids and not liaison.liaison_row_ids
        member = roles_of(s, _person(s, "yangyoumei"))  # 督导考核组 member
        assert member.has("supervision_member") and member.sees_everything
        admin = roles_of(s, _person(s, "liuzhaoxuan"))
        assert admin.has("admin") and admin.sees_everything and unit.id not in admin.liaison_unit_ids
