"""Ledger rules: lights, overdue, stalled, report compliance, and the state machine of an item."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from bot.actions.base import Acting
from bot.actions.closeout import do_claim_completion, do_close, do_reopen, do_return_for_redo, do_withdraw_item
from bot.actions.escalation import do_decide_escalation, do_raise_escalation
from bot.actions.extension import do_decide_extension, do_request_extension
from bot.domain import ledger, reporting
from bot.domain.ledger import TransitionError
from models import (
    EXT_PENDING,
    MATTER_CLAIMED,
    MATTER_CLOSED,
    MATTER_EXTENSION,
    MATTER_OPEN,
    MATTER_RETURNED,
    MATTER_STATES,
    MATTER_WITHDRAWN,
    AuditLog,
    Base,
    Escalation,
    ExtensionRequest,
    Matter,
)
from tests import factories as f
from tests.factories import at

# Written on nominal deadlines (Saturday 5 / Sunday 20 December 2026 as they fall); the default rule,
# moving them to the next working day, is tested in tests/test_deadline_rule.py.
pytestmark = pytest.mark.usefixtures("keep_deadlines")

TODAY = date(2026, 12, 10)
NOW = at(2026, 12, 10, 10)


def item(state=MATTER_OPEN, deadline=TODAY + timedelta(days=10), last=None, created=at(2026, 11, 1)):
    return Matter(code="M1", title="t", responsible_unit_id=1, deadline=deadline, original_deadline=deadline,
                  state=state, last_progress_at=last, created_at=created, escalation_level=0)


# -- pure rules ----------------------------------------------------------------------------------
@pytest.mark.parametrize("state, deadline, last, expected", [
    (MATTER_OPEN, TODAY + timedelta(days=10), at(2026, 12, 1), ledger.GREEN),
    (MATTER_OPEN, TODAY + timedelta(days=3), at(2026, 12, 1), ledger.YELLOW),  # due within 3 days
    (MATTER_OPEN, TODAY + timedelta(days=4), at(2026, 12, 1), ledger.GREEN),
    (MATTER_OPEN, TODAY, at(2026, 12, 1), ledger.YELLOW),  # due today is not overdue
    (MATTER_OPEN, TODAY - timedelta(days=1), at(2026, 12, 1), ledger.RED),
    (MATTER_CLAIMED, TODAY - timedelta(days=1), at(2026, 12, 1), ledger.RED),  # not yet 销号
    (MATTER_CLOSED, TODAY - timedelta(days=9), None, ledger.CLOSED),
    # on 12-10 the last completed period is the one due 12-05 (opened 11-20 18:00)
    (MATTER_OPEN, TODAY + timedelta(days=10), at(2026, 11, 20, 18, 1), ledger.GREEN),
    (MATTER_OPEN, TODAY + timedelta(days=10), at(2026, 11, 20, 18, 0), ledger.YELLOW),  # silent last period
    (MATTER_OPEN, TODAY + timedelta(days=10), None, ledger.YELLOW),  # created 11-01, never reported
])
def test_light_at(state, deadline, last, expected):
    assert ledger.light_at(item(state, deadline, last), NOW) == expected


def test_new_item_is_not_silent():
    assert ledger.light_at(item(last=None, created=at(2026, 12, 1)), NOW) == ledger.GREEN


@given(st.dates(date(2020, 1, 1), date(2030, 12, 31)), st.dates(date(2020, 1, 1), date(2030, 12, 31)),
       st.sampled_from(MATTER_STATES))
def test_overdue_iff_red(deadline, today, state):
    m = item(state, deadline, last=datetime(2030, 12, 31, tzinfo=UTC))
    days = ledger.overdue_days(m, today)
    assert days >= 0
    assert (days > 0) == (ledger.light(m, today) == ledger.RED)
    if state == MATTER_CLOSED:
        assert ledger.light(m, today) == ledger.CLOSED and days == 0


@pytest.mark.parametrize("last, state, stalled", [
    (at(2026, 11, 5, 19), MATTER_OPEN, False),  # reported in the period due 11-20
    (at(2026, 11, 5, 17), MATTER_OPEN, True),  # last seen before the period due 11-20 opened
    (None, MATTER_OPEN, True),
    (None, MATTER_RETURNED, True),
    (None, MATTER_CLAIMED, False),  # done, waiting for 销号: not stalled
    (None, MATTER_CLOSED, False),
])
def test_stalled_needs_two_silent_periods(last, state, stalled):
    # on 12-10: last two completed periods are due 11-20 (opened 11-05 18:00) and 12-05
    assert ledger.is_stalled(item(state, last=last), NOW) is stalled


def test_stalled_unless_reported_in_a_report_item():
    assert ledger.is_stalled(item(last=None), NOW, reported_in_last_two=True) is False


# -- transitions on a database -----------------------------------------------------------------
@pytest.fixture(scope="module")
def engine():
    eng = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    Base.metadata.create_all(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def org_session(engine):
    conn = engine.connect()
    tx = conn.begin()
    s = Session(bind=conn, join_transaction_mode="create_savepoint")
    o = f.small_org(s)
    yield s, o
    s.close()
    tx.rollback()
    conn.close()


def audits(s, m):
    return list(s.scalars(select(AuditLog).where(AuditLog.entity == "matter", AuditLog.entity_id == str(m.id))
                          .order_by(AuditLog.id)))


def test_extension_approved_keeps_both_deadlines(org_session):
    s, o = org_session
    m = f.matter(s, "M1", o.fagai, o.leader1, date(2026, 12, 20))
    req = do_request_extension(Acting(s, o.ua, NOW), m, date(2027, 1, 15), "征迁未完成")
    assert m.state == MATTER_EXTENSION and req.old_deadline == date(2026, 12, 20)
    do_decide_extension(Acting(s, o.sup1, NOW + timedelta(hours=1)), req, True)
    assert (m.state, m.deadline, m.original_deadline) == (MATTER_OPEN, date(2027, 1, 15), date(2026, 12, 20))
    rows = audits(s, m)
    assert [r.action for r in rows] == ["extension_requested", "extension_approved"]
    assert rows[0].actor == "发改联络员" and rows[1].actor == "曾永顺"
    assert rows[1].before == {"deadline": "2026-12-20", "state": MATTER_EXTENSION}
    assert rows[1].after["deadline"] == "2027-01-15"


@pytest.mark.parametrize("call, code", [
    (lambda s, o, m: do_request_extension(Acting(s, o.ua, NOW), m, date(2026, 12, 19), "x"), "deadline_not_later"),
    (lambda s, o, m: do_request_extension(Acting(s, o.ua, NOW), m, date(2027, 1, 1), " "), "reason_required"),
    (lambda s, o, m: do_close(Acting(s, o.ol1, NOW), m), "not_claimed"),
    (lambda s, o, m: do_return_for_redo(Acting(s, o.ol1, NOW), m, "不行"), "not_claimed"),
    (lambda s, o, m: do_reopen(Acting(s, o.admin, NOW), m, "误销号"), "not_closed"),
    (lambda s, o, m: do_raise_escalation(Acting(s, o.ua, NOW), m, 1, ""), "reason_required"),
])
def test_invalid_transitions_raise_and_change_nothing(org_session, call, code):
    s, o = org_session
    m = f.matter(s, "M1", o.fagai, o.leader1, date(2026, 12, 20))
    with pytest.raises(TransitionError) as exc:
        call(s, o, m)
    assert exc.value.code == code
    assert m.state == MATTER_OPEN and audits(s, m) == []


def test_close_out_and_closed_is_terminal(org_session):
    s, o = org_session
    m = f.matter(s, "M1", o.fagai, o.leader1, date(2026, 12, 20))
    assert do_claim_completion(Acting(s, o.ua, NOW), m, "已竣工") is True
    assert do_claim_completion(Acting(s, o.ua, NOW), m) is False  # idempotent for re-sent reports
    do_return_for_redo(Acting(s, o.ol1, NOW), m, "缺验收材料")
    assert m.state == MATTER_RETURNED
    do_claim_completion(Acting(s, o.ua, NOW), m)
    do_close(Acting(s, o.ol1, NOW), m)
    assert m.state == MATTER_CLOSED and m.closed_at == NOW
    for call in (lambda: do_claim_completion(Acting(s, o.ua, NOW), m),
                 lambda: do_request_extension(Acting(s, o.ua, NOW), m, date(2027, 3, 1), "x"),
                 lambda: do_raise_escalation(Acting(s, "system:test", NOW), m, 2)):
        with pytest.raises(TransitionError) as exc:
            call()
        assert exc.value.code == "closed"
    do_reopen(Acting(s, o.admin, NOW), m, "误销号")
    assert m.state == MATTER_RETURNED and m.closed_at is None
    assert [r.action for r in audits(s, m)] == [
        "completion_claimed", "returned", "completion_claimed", "closed", "reopened"]


def test_close_withdraws_a_pending_extension(org_session):
    s, o = org_session
    m = f.matter(s, "M1", o.fagai, o.leader1, date(2026, 12, 20))
    req = do_request_extension(Acting(s, o.ua, NOW), m, date(2027, 1, 15), "等资金")
    do_claim_completion(Acting(s, o.ua, NOW), m)
    do_close(Acting(s, o.ol1, NOW), m)
    assert req.state == ledger.EXT_WITHDRAWN
    with pytest.raises(TransitionError):
        do_decide_extension(Acting(s, o.sup1, NOW), req, True)


def test_escalation_once_per_level_and_return_lowers_the_flag(org_session):
    s, o = org_session
    m = f.matter(s, "M1", o.fagai, o.leader1, date(2026, 12, 20))
    e1 = do_raise_escalation(Acting(s, o.ua, NOW), m, 1, "跨部门")
    assert do_raise_escalation(Acting(s, o.ua, NOW), m, 1, "再来") is None
    assert do_raise_escalation(Acting(s, "system:escalation", NOW), m, 3) is not None
    assert m.escalation_level == 3
    with pytest.raises(TransitionError) as exc:
        do_decide_escalation(Acting(s, o.member, NOW), e1, True)
    assert exc.value.code == "deadline_required"
    do_decide_escalation(Acting(s, o.member, NOW), e1, False, note="本单位可解决")
    assert m.escalation_level == 3
    e4 = do_raise_escalation(Acting(s, "system:x", NOW), m, 4)
    assert m.escalation_level == 4
    do_decide_escalation(Acting(s, o.member, NOW), e4, False, note="x")
    assert m.escalation_level == 3


def test_report_status(org_session):
    s, o = org_session
    from bot.domain.periods import period_by_key

    m1 = f.matter(s, "M1", o.fagai, o.leader1, date(2027, 1, 1))
    f.matter(s, "M2", o.keji, o.leader1, date(2027, 1, 1))
    f.matter(s, "M3", o.jiaoyu, o.leader2, date(2027, 1, 1), created_at=at(2026, 12, 6))  # after the deadline
    f.report(s, o.fagai, o.ua, "2026-12-05", at(2026, 12, 5, 17), [(m1, "open", "推进中")])
    f.report(s, o.fagai, o.ua, "2026-12-05", at(2026, 12, 5, 19), [(m1, "open", "修订")], version=2)
    p = period_by_key("2026-12-05")
    src = reporting.source_of(m1)  # the problem list of the minutes both items come from
    st_ = reporting.report_status(s, [p], NOW)
    assert st_ == {(o.fagai.id, src, p.key): reporting.ON_TIME, (o.keji.id, src, p.key): reporting.MISSING}
    f.report(s, o.keji, o.uk, "2026-12-05", at(2026, 12, 6, 9))
    assert reporting.report_status(s, [p], NOW)[(o.keji.id, src, p.key)] == reporting.LATE
    assert reporting.report_status(s, [p], at(2026, 12, 6, 8))[(o.keji.id, src, p.key)] == reporting.MISSING


def test_sql_lights_match_python(org_session):
    s, o = org_session
    cases = [("G", date(2026, 12, 31), at(2026, 12, 1)), ("Y1", date(2026, 12, 12), at(2026, 12, 1)),
             ("Y2", date(2026, 12, 31), at(2026, 11, 10)), ("R", date(2026, 12, 9), at(2026, 12, 1))]
    for code, dl, last in cases:
        f.matter(s, code, o.fagai, o.leader1, dl, last_progress_at=last)
    cut = ledger.progress_cutoff(NOW)
    for name, cond in ((ledger.GREEN, ledger.sql_light_green(TODAY, cut)),
                       (ledger.YELLOW, ledger.sql_light_yellow(TODAY, cut)), (ledger.RED, ledger.sql_light_red(TODAY))):
        got = set(s.scalars(select(Matter.code).where(cond)))
        want = {m.code for m in s.scalars(select(Matter)) if ledger.light_at(m, NOW) == name}
        assert got == want, name


# -- the state machine: random sequences never reach an invalid state ------------------------------
class ItemMachine(RuleBasedStateMachine):
    """Drive one item with random transitions; check the invariants after every step."""

    def __init__(self):
        super().__init__()
        self.engine = create_engine("sqlite://", poolclass=StaticPool)
        Base.metadata.create_all(self.engine)
        self.s = Session(self.engine)
        self.o = f.small_org(self.s)
        self.m = f.matter(self.s, "M1", self.o.fagai, self.o.leader1, date(2026, 12, 20))
        self.now = NOW
        self.changes = 0
        self.levels: set[int] = set()
        self.returned_levels: set[int] = set()

    def teardown(self):
        self.s.close()
        self.engine.dispose()

    def attempt(self, name: str, call, args_ok: bool = True):
        """Run one transition with the transition table as the oracle: refused exactly when the state is not
        one it may start from (with the table's code) or, from such a state, when the arguments are not
        acceptable; on success the item is in the table's target state (or unchanged for a no-op)."""
        t = ledger.TRANSITIONS[name]
        state = self.m.state
        try:
            result = call()
        except TransitionError as exc:
            if not t.allows(state):
                assert exc.code == t.refusal_code(state), (name, state, exc.code)
            else:
                assert not args_ok, (name, state, exc.code)
            assert self.m.state == state
            return None
        assert t.allows(state) and args_ok, (name, state)
        assert self.m.state == t.target_of(state), (name, state)
        return result if result is not None else True

    def pending(self):
        return self.s.scalar(select(ExtensionRequest).where(ExtensionRequest.state == EXT_PENDING))

    def act(self, who):
        return Acting(self.s, who, self.now)

    @rule(days=st.integers(-5, 60), reason=st.sampled_from(["", "资金未到位"]))
    def request_extension(self, days, reason):
        ok = bool(reason) and days > 0 and self.pending() is None
        if self.attempt("request_extension", lambda: do_request_extension(
                self.act(self.o.ua), self.m, self.m.deadline + timedelta(days=days), reason), ok):
            self.changes += 1

    @rule(approve=st.booleans(), note=st.sampled_from(["", "同意", None]))
    def decide_extension(self, approve, note):
        req = self.pending()
        if req is None:
            return
        if self.attempt("decide_extension", lambda: do_decide_extension(self.act(self.o.sup1), req, approve, note),
                        approve or bool(note)):
            self.changes += 1

    @rule()
    def claim(self):
        changes = ledger.TRANSITIONS["claim_completion"].changes(self.m.state)
        result = self.attempt("claim_completion", lambda: do_claim_completion(self.act(self.o.ua), self.m))
        if result is not None:
            assert result is changes  # True when it claimed, False for a repeat
            self.changes += changes

    @rule()
    def close(self):
        if self.attempt("close", lambda: do_close(self.act(self.o.ol1), self.m)):
            self.changes += 1

    @rule(reason=st.sampled_from(["", "材料不全"]))
    def return_for_redo(self, reason):
        if self.attempt("return_for_redo", lambda: do_return_for_redo(self.act(self.o.ol1), self.m, reason),
                        bool(reason)):
            self.changes += 1

    @rule(reason=st.sampled_from(["", "误销号"]))
    def reopen(self, reason):
        if self.attempt("reopen", lambda: do_reopen(self.act(self.o.admin), self.m, reason), bool(reason)):
            self.changes += 1

    @rule(level=st.integers(1, 5))
    def escalate(self, level):
        raised = []
        if self.attempt("escalate", lambda: raised.append(
                do_raise_escalation(self.act(self.o.ua), self.m, level, "跨部门难协调"))):
            if raised[0] is not None:  # None: this level was raised before
                self.changes += 1
                self.levels.add(level)

    @rule(accept=st.booleans())
    def decide_escalation(self, accept):
        esc = self.s.scalar(select(Escalation).where(Escalation.state == "raised").order_by(Escalation.level))
        if esc is None:
            return
        if self.attempt("decide_escalation", lambda: do_decide_escalation(
                self.act(self.o.member), esc, accept, deadline=date(2027, 2, 1), note="退回")):
            self.changes += 1
            if not accept:
                self.returned_levels.add(esc.level)

    @rule(reason=st.sampled_from(["", "纪要已撤销印发"]))
    def withdraw(self, reason):
        changes = ledger.TRANSITIONS["withdraw"].changes(self.m.state)
        result = self.attempt("withdraw", lambda: do_withdraw_item(self.act(self.o.admin), self.m, reason),
                              bool(reason))
        if result is not None:
            assert result is changes  # False for a closed item: it keeps its 销号
            self.changes += changes

    @invariant()
    def valid(self):
        m, s = self.m, self.s
        assert m.state in MATTER_STATES
        assert (m.state == MATTER_CLOSED) == (m.closed_at is not None)
        assert (m.state == MATTER_WITHDRAWN) == (m.withdrawn_at is not None)
        pending = s.scalar(select(func.count()).select_from(ExtensionRequest)
                           .where(ExtensionRequest.state == EXT_PENDING))
        assert pending <= 1
        if m.state == MATTER_EXTENSION:
            assert pending == 1
        assert m.original_deadline == date(2026, 12, 20) and m.deadline >= m.original_deadline
        assert m.escalation_level == max(self.levels - self.returned_levels, default=0)
        assert s.scalar(select(func.count()).select_from(AuditLog)) == self.changes

    @precondition(lambda self: self.m.state == MATTER_CLOSED)
    @rule()
    def closed_is_terminal(self):
        for fn in (lambda: do_claim_completion(Acting(self.s, self.o.ua, self.now), self.m),
                   lambda: do_return_for_redo(Acting(self.s, self.o.ol1, self.now), self.m, "x"),
                   lambda: do_request_extension(Acting(self.s, self.o.ua, self.now), self.m, date(2030, 1, 1), "x"),
                   lambda: do_raise_escalation(Acting(self.s, self.o.ua, self.now), self.m, 5, "x")):
            with pytest.raises(TransitionError):
                fn()
        assert self.m.state == MATTER_CLOSED

    @precondition(lambda self: self.m.state == MATTER_WITHDRAWN)
    @rule()
    def withdrawn_is_terminal(self):
        for fn in (lambda: do_claim_completion(Acting(self.s, self.o.ua, self.now), self.m),
                   lambda: do_close(Acting(self.s, self.o.ol1, self.now), self.m),
                   lambda: do_reopen(Acting(self.s, self.o.admin, self.now), self.m, "x"),
                   lambda: do_request_extension(Acting(self.s, self.o.ua, self.now), self.m, date(2030, 1, 1), "x"),
                   lambda: do_raise_escalation(Acting(self.s, self.o.ua, self.now), self.m, 5, "x"),
                   lambda: do_withdraw_item(Acting(self.s, self.o.admin, self.now), self.m, "x")):
            with pytest.raises(TransitionError) as exc:
                fn()
            assert exc.value.code == "withdrawn"
        assert self.m.state == MATTER_WITHDRAWN


ItemMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=25, deadline=None,
                                         suppress_health_check=[HealthCheck.too_slow])
TestItemMachine = ItemMachine.TestCase
