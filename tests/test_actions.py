"""Actions (bot.actions) outside chat, and two people acting on one record at once: each action locks its
row and checks the state it finds, so exactly one of two conflicting changes wins."""
from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import func, select

from bot.actions.base import Acting
from bot.actions.closeout import do_claim_completion, do_close, do_return_for_redo
from bot.actions.slip import do_return_slip, do_sign_slip
from bot.domain.ledger import TransitionError
from bot.infra.db import Database
from models import SLIP_PENDING, AssignmentSlip, AuditLog, Matter, Notice, Person
from tests import factories as f
from tests.factories import at
from tests.threads import at_once

NOW = at(2026, 12, 10, 10)


def _race(db: Database, load, calls):
    """Each call runs in its own transaction on the record `load(session)` returns, all loaded BEFORE any
    acts (so a check on the loaded state alone would pass in both); returns each outcome."""
    loaded = threading.Barrier(len(calls))

    def run(call):
        def go():
            with db.session() as s:
                obj = load(s)
                loaded.wait()
                try:
                    call(s, obj)
                    return "ok"
                except TransitionError as exc:
                    return exc.code
        return go

    return at_once([run(c) for c in calls])


@pytest.fixture
def pg(pg_url):
    db = Database(pg_url)
    with db.session() as s:
        o = f.small_org(s)
        m = f.matter(s, "M1", o.fagai, o.leader1, date(2026, 12, 20))
        do_claim_completion(Acting(s, o.ua, NOW), m, "已完成")
        ids = {"matter": m.id, "ol1": o.ol1.id, "admin": o.admin.id, "leader": o.leader1.id, "ua": o.ua.id}
    yield db, ids
    db.dispose()


def test_close_and_return_at_once_one_wins(pg):
    db, ids = pg
    load = lambda s: s.get(Matter, ids["matter"])  # noqa: E731
    out = _race(db, load, [
        lambda s, m: do_close(Acting(s, s.get(Person, ids["ol1"]), NOW), m, "核实完成"),
        lambda s, m: do_return_for_redo(Acting(s, s.get(Person, ids["admin"]), NOW), m, "材料不全"),
    ])
    assert sorted(out) in (["not_claimed", "ok"], ["closed", "ok"])
    with db.session() as s:
        state = s.scalar(select(Matter.state).where(Matter.id == ids["matter"]))
        actions = list(s.scalars(select(AuditLog.action).where(AuditLog.entity == "matter").order_by(AuditLog.id)))
    assert state == ("closed" if out[0] == "ok" else "returned")
    assert actions == ["completion_claimed", "closed" if out[0] == "ok" else "returned"]


def test_sign_and_return_a_slip_at_once_one_wins(pg):
    db, ids = pg
    with db.session() as s:
        o_fagai = s.get(Matter, ids["matter"]).responsible_unit
        slip = AssignmentSlip(code="JB1", leader_id=ids["leader"], dispatched_on=date(2026, 12, 1),
                              drafted_by_id=ids["ua"], state=SLIP_PENDING, created_at=NOW,
                              draft={"rows": [{"title": "道路征迁", "obstacles": "资金", "measures": "协调",
                                               "responsible_unit": {"id": o_fagai.id}, "deadline": "2026-12-30"}]})
        s.add(slip)
        s.flush()
        slip_id, o_fagai_id = slip.id, o_fagai.id
    load = lambda s: s.get(AssignmentSlip, slip_id)  # noqa: E731
    leader = lambda s: s.get(Person, ids["leader"])  # noqa: E731
    out = _race(db, load, [lambda s, sl: do_sign_slip(Acting(s, leader(s), NOW), sl),
                           lambda s, sl: do_return_slip(Acting(s, leader(s), NOW), sl, "请补充措施")])
    assert sorted(out) == ["not_pending", "ok"]
    with db.session() as s:
        items = s.scalar(select(func.count()).select_from(Matter).where(Matter.slip_id == slip_id))
        assert items == (1 if out[0] == "ok" else 0)  # signed: its row is in the ledger; returned: nothing
        keys = sorted(s.scalars(select(Notice.key).where(Notice.key.like(f"slip-%:{slip_id}%"))))
        # signed: the copy, the unit's notice and the drafter's; returned: the drafter's only
        assert keys == ([f"slip-copy:{slip_id}", f"slip-signed:{slip_id}", f"slip-unit:{slip_id}:{o_fagai_id}"]
                        if out[0] == "ok" else [f"slip-returned:{slip_id}:1"])


def test_an_action_queues_its_notices_without_a_chat_message(db_url):
    """A job or the CLI calls the same action with an Acting: the same audit row and the same notice."""
    db = Database(db_url)
    try:
        with db.session() as s:
            o = f.small_org(s)
            m = f.matter(s, "M1", o.fagai, o.leader1, date(2026, 12, 20))
            assert do_claim_completion(Acting(s, "system:report", NOW), m, "已竣工") is True
            notices = list(s.scalars(select(Notice)))
            assert [n.target for n in notices] == ["linyongyong"]  # the office liaison of the item's row
            assert "M1" in notices[0].payload["content"]
            row = s.scalar(select(AuditLog).where(AuditLog.action == "completion_claimed"))
            assert (row.actor, row.actor_id, row.reason) == ("system:report", None, "已竣工")
    finally:
        db.dispose()


def test_a_report_on_an_item_closed_meanwhile_is_refused_before_anything_is_written(db_url):
    from bot.actions.report import ItemReport, do_submit_report
    from bot.domain.periods import period_by_key
    from models import ReportSubmission

    db = Database(db_url)
    try:
        with db.session() as s:
            o = f.small_org(s)
            m1 = f.matter(s, "M1", o.fagai, o.leader1, date(2026, 12, 20))
            m2 = f.matter(s, "M2", o.fagai, o.leader1, date(2026, 12, 20), state="closed")
            items = [ItemReport(m1.id, "M1", "open", "推进中", date(2026, 12, 30)),
                     ItemReport(m2.id, "M2", "done", "已完成")]
            with pytest.raises(TransitionError) as exc:
                do_submit_report(Acting(s, o.ua, NOW), o.fagai, period_by_key("2026-12-20"), items)
            assert (exc.value.code, exc.value.info) == ("changed", {"item": "M2"})
            assert s.scalar(select(func.count()).select_from(ReportSubmission)) == 0
            assert m1.last_progress is None
    finally:
        db.dispose()


def test_rows_locked_in_a_transaction_are_not_reloaded_until_it_or_its_savepoint_ends(db_url):
    """`lock_all` locks and reloads many rows in one statement; `lock` of a row the transaction holds
    reloads nothing (a flush in between changes nothing); after a savepoint rolls back (its locks
    released) or a commit, `lock` reloads again."""
    from sqlalchemy import event

    from bot.actions.base import lock, lock_all

    db = Database(db_url)
    statements = []
    try:
        with db.session() as s:
            o = f.small_org(s)
            ids = [f.matter(s, code, o.fagai, o.leader1, date(2026, 12, 20)).id for code in ("M1", "M2")]
        event.listen(db.engine, "before_cursor_execute", lambda *a, **k: statements.append(a[2]))
        with db.session() as s:
            locked = lock_all(s, Matter, ids + [999])
            assert sorted(locked) == ids
            assert len([q for q in statements if "FROM matter" in q]) == 1
            if db.engine.dialect.name == "postgresql":
                assert "FOR UPDATE" in statements[-1]
            statements.clear()
            locked[ids[0]].title = "改过的标题"
            s.flush()  # a flush's inner transaction ends: the locks are still held
            lock(s, locked[ids[0]])
            assert not [q for q in statements if "FROM matter" in q]  # held: not reloaded
            assert locked[ids[0]].title == "改过的标题"
            with pytest.raises(RuntimeError):
                with s.begin_nested():
                    raise RuntimeError
            lock(s, locked[ids[0]])
            assert len([q for q in statements if "FROM matter" in q]) == 1  # the savepoint ended: reloaded
        statements.clear()
        with db.session() as s:
            m2 = s.get(Matter, ids[1])
            lock(s, m2)
            lock(s, m2)
            assert len([q for q in statements if "FROM matter" in q]) == 2  # the get, one reload
    finally:
        db.dispose()
