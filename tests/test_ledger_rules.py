"""Ledger rules: lights, overdue, stalled, report compliance, and the state machine of an item."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from bot.domain import ledger
from bot.domain.ledger import TransitionError
from models import (EXT_PENDING, MATTER_CLAIMED, MATTER_CLOSED, MATTER_EXTENSION, MATTER_OPEN, MATTER_RETURNED,
                    MATTER_STATES, AuditLog, Base, Escalation, ExtensionRequest, Matter)
from tests import factories as f
from tests.factories import at

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
    m = item(state, deadline, last=datetime(2030, 12, 31, tzinfo=timezone.utc))
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
    req = ledger.request_extension(s, m, o.ua, date(2027, 1, 15), "征迁未完成", now=NOW)
    assert m.state == MATTER_EXTENSION and req.old_deadline == date(2026, 12, 20)
    ledger.decide_extension(s, req, o.sup1, True, now=NOW + timedelta(hours=1))
    assert (m.state, m.deadline, m.original_deadline) == (MATTER_OPEN, date(2027, 1, 15), date(2026, 12, 20))
    rows = audits(s, m)
    assert [r.action for r in rows] == ["extension_requested", "extension_approved"]
    assert rows[0].actor == "发改联络员" and rows[1].actor == "曾永顺"
    assert rows[1].before == {"deadline": "2026-12-20", "state": MATTER_EXTENSION}
    assert rows[1].after["deadline"] == "2027-01-15"


@pytest.mark.parametrize("call, code", [
    (lambda s, o, m: ledger.request_extension(s, m, o.ua, date(2026, 12, 19), "x", now=NOW), "deadline_not_later"),
    (lambda s, o, m: ledger.request_extension(s, m, o.ua, date(2027, 1, 1), " ", now=NOW), "reason_required"),
    (lambda s, o, m: ledger.close(s, m, o.ol1, now=NOW), "not_claimed"),
    (lambda s, o, m: ledger.return_for_redo(s, m, o.ol1, "不行", now=NOW), "not_claimed"),
    (lambda s, o, m: ledger.reopen(s, m, o.admin, "误销号", now=NOW), "not_closed"),
    (lambda s, o, m: ledger.escalate(s, m, 1, o.ua, "", now=NOW), "reason_required"),
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
    assert ledger.claim_completion(s, m, o.ua, "已竣工", now=NOW) is True
    assert ledger.claim_completion(s, m, o.ua, now=NOW) is False  # idempotent for re-sent reports
    ledger.return_for_redo(s, m, o.ol1, "缺验收材料", now=NOW)
    assert m.state == MATTER_RETURNED
    ledger.claim_completion(s, m, o.ua, now=NOW)
    ledger.close(s, m, o.ol1, now=NOW)
    assert m.state == MATTER_CLOSED and m.closed_at == NOW
    for call in (lambda: ledger.claim_completion(s, m, o.ua, now=NOW),
                 lambda: ledger.request_extension(s, m, o.ua, date(2027, 3, 1), "x", now=NOW),
                 lambda: ledger.escalate(s, m, 2, "system:test", now=NOW)):
        with pytest.raises(TransitionError) as exc:
            call()
        assert exc.value.code == "closed"
    ledger.reopen(s, m, o.admin, "误销号", now=NOW)
    assert m.state == MATTER_RETURNED and m.closed_at is None
    assert [r.action for r in audits(s, m)] == [
        "completion_claimed", "returned", "completion_claimed", "closed", "reopened"]


def test_close_withdraws_a_pending_extension(org_session):
    s, o = org_session
    m = f.matter(s, "M1", o.fagai, o.leader1, date(2026, 12, 20))
    req = ledger.request_extension(s, m, o.ua, date(2027, 1, 15), "等资金", now=NOW)
    ledger.claim_completion(s, m, o.ua, now=NOW)
    ledger.close(s, m, o.ol1, now=NOW)
    assert req.state == ledger.EXT_WITHDRAWN
    with pytest.raises(TransitionError):
        ledger.decide_extension(s, req, o.sup1, True, now=NOW)


def test_escalation_once_per_level_and_return_lowers_the_flag(org_session):
    s, o = org_session
    m = f.matter(s, "M1", o.fagai, o.leader1, date(2026, 12, 20))
    e1 = ledger.escalate(s, m, 1, o.ua, "跨部门", now=NOW)
    assert ledger.escalate(s, m, 1, o.ua, "再来", now=NOW) is None
    assert ledger.escalate(s, m, 3, "system:escalation", now=NOW) is not None
    assert m.escalation_level == 3
    with pytest.raises(TransitionError) as exc:
        ledger.decide_escalation(s, e1, o.member, True, now=NOW)
    assert exc.value.code == "deadline_required"
    ledger.decide_escalation(s, e1, o.member, False, note="本单位可解决", now=NOW)
    assert m.escalation_level == 3
    e4 = ledger.escalate(s, m, 4, "system:x", now=NOW)
    assert m.escalation_level == 4
    ledger.decide_escalation(s, e4, o.member, False, note="x", now=NOW)
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
    st_ = ledger.report_status(s, [p], NOW)
    assert st_ == {(o.fagai.id, p.key): ledger.ON_TIME, (o.keji.id, p.key): ledger.MISSING}
    f.report(s, o.keji, o.uk, "2026-12-05", at(2026, 12, 6, 9))
    assert ledger.report_status(s, [p], NOW)[(o.keji.id, p.key)] == ledger.LATE
    assert ledger.report_status(s, [p], at(2026, 12, 6, 8))[(o.keji.id, p.key)] == ledger.MISSING


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
TRANSITIONS_BY_NAME = {t.name: t for t in ledger.TRANSITIONS}
# The refusals that are about the item's state. The others are about the arguments (a reason, a deadline)
# or other records: extension_pending means a request is still open, which a claimed-then-returned item may
# carry from before its claim.
STATE_REFUSALS = {"closed", "already_claimed", "not_claimed", "not_closed"}


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

    def _apply(self, name: str, change) -> None:
        """Run one transition with the table as the oracle: from a state that is not one of its sources it is
        refused; from a source it is refused only for its arguments (never for the state), and when it
        happens the item ends in the transition's target."""
        edge = TRANSITIONS_BY_NAME[name]
        before = self.m.state
        try:
            changed = change()
        except TransitionError as exc:
            assert before not in edge.sources or exc.code not in STATE_REFUSALS, (name, before, exc.code)
            return
        assert before in edge.sources, (name, before)
        if changed is not False:
            self.changes += 1
            if edge.target is not None:
                assert self.m.state == edge.target, (name, before, self.m.state)

    @rule(days=st.integers(-5, 60), reason=st.sampled_from(["", "资金未到位"]))
    def request_extension(self, days, reason):
        self._apply("request_extension", lambda: ledger.request_extension(
            self.s, self.m, self.o.ua, self.m.deadline + timedelta(days=days), reason, now=self.now))

    @rule(approve=st.booleans(), note=st.sampled_from(["", "同意", None]))
    def decide_extension(self, approve, note):
        req = self.s.scalar(select(ExtensionRequest).where(ExtensionRequest.state == EXT_PENDING))
        if req is None:
            return
        self._apply("decide_extension", lambda: ledger.decide_extension(self.s, req, self.o.sup1, approve, note,
                                                                         now=self.now))

    @rule()
    def claim(self):
        self._apply("claim_completion", lambda: ledger.claim_completion(self.s, self.m, self.o.ua, now=self.now))

    @rule()
    def close(self):
        self._apply("close", lambda: ledger.close(self.s, self.m, self.o.ol1, now=self.now))

    @rule(reason=st.sampled_from(["", "材料不全"]))
    def return_for_redo(self, reason):
        self._apply("return_for_redo", lambda: ledger.return_for_redo(self.s, self.m, self.o.ol1, reason,
                                                                       now=self.now))

    @rule(reason=st.sampled_from(["", "误销号"]))
    def reopen(self, reason):
        self._apply("reopen", lambda: ledger.reopen(self.s, self.m, self.o.admin, reason, now=self.now))

    @rule(level=st.integers(1, 5))
    def escalate(self, level):
        try:
            if ledger.escalate(self.s, self.m, level, self.o.ua, "跨部门难协调", now=self.now) is not None:
                self.changes += 1
                self.levels.add(level)
        except TransitionError:
            pass

    @rule(accept=st.booleans())
    def decide_escalation(self, accept):
        esc = self.s.scalar(select(Escalation).where(Escalation.state == "raised").order_by(Escalation.level))
        if esc is None:
            return
        try:
            ledger.decide_escalation(self.s, esc, self.o.member, accept, now=self.now,
                                     deadline=date(2027, 2, 1), note="退回")
            self.changes += 1
            if not accept:
                self.returned_levels.add(esc.level)
        except TransitionError:
            pass

    @invariant()
    def valid(self):
        m, s = self.m, self.s
        assert m.state in MATTER_STATES
        assert (m.state == MATTER_CLOSED) == (m.closed_at is not None)
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
        for fn in (lambda: ledger.claim_completion(self.s, self.m, self.o.ua, now=self.now),
                   lambda: ledger.return_for_redo(self.s, self.m, self.o.ol1, "x", now=self.now),
                   lambda: ledger.request_extension(self.s, self.m, self.o.ua, date(2030, 1, 1), "x", now=self.now),
                   lambda: ledger.escalate(self.s, self.m, 5, self.o.ua, "x", now=self.now)):
            with pytest.raises(TransitionError):
                fn()
        assert self.m.state == MATTER_CLOSED


ItemMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=25, deadline=None,
                                         suppress_health_check=[HealthCheck.too_slow])
TestItemMachine = ItemMachine.TestCase
