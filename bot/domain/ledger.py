"""Ledger rules, in one place for chat, jobs and reports: states and the transition table, lights,
overdue and stalled items. Pure rules: the changes themselves (rows, audit, notices) are the actions of
bot.actions (closeout, extension, escalation); report compliance is bot.domain.reporting.

Each rule exists as a Python function (for one item) and, where jobs need it, as a SQL expression
(for set-based queries) — kept side by side so they cannot drift apart.

State machine of a ledger item (Matter), `TRANSITIONS`::

    open / returned ──request_extension──▶ extension_requested ──decide_extension──▶ open
    open / returned / extension_requested ──claim_completion──▶ completion_claimed
    completion_claimed ──close──▶ closed (销号)      completion_claimed ──return_for_redo──▶ returned
    completion_claimed ──withdraw_claim──▶ open      closed ──reopen──▶ returned (explicit, with a reason)
    any state not yet closed ──withdraw──▶ withdrawn (its issued minutes / slip withdrawn: 撤销印发; terminal)

Escalation is a flag beside the state (`Matter.escalation_level`, one `Escalation` row per level); raising
and deciding one needs an item not yet closed. A transition refused in a state raises `TransitionError`
(with a `code` the chat templates turn into Chinese).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Optional

from sqlalchemy import and_, func, or_, select

from bot.domain import clock
from bot.domain.address import address
from bot.domain.periods import Period, period_at, previous_period
from models import (  # noqa: F401
    EXT_WITHDRAWN,
    MATTER_CLAIMED,
    MATTER_CLOSED,
    MATTER_EXTENSION,
    MATTER_OPEN,
    MATTER_RETURNED,
    MATTER_WITHDRAWN,
    AuditLog,
    Matter,
)

OPEN_STATES = (MATTER_OPEN, MATTER_EXTENSION, MATTER_CLAIMED, MATTER_RETURNED)  # not yet 销号
ACTIVE_STATES = (MATTER_OPEN, MATTER_EXTENSION, MATTER_RETURNED)  # work still to do (not claimed done)
DUE_SOON_DAYS = 3

GREEN = "green"  # on track
YELLOW = "yellow"  # due within 3 days, or no progress reported in the last period
RED = "red"  # overdue
CLOSED = "closed"
LIGHT_ICONS = {GREEN: "🟢", YELLOW: "🟡", RED: "🔴", CLOSED: "✅"}

# The escalation ladder (seed 000 §三(二)(三); models.ESC_*) by the names the office uses — THE mapping for
# every text, the board and the forms ("⚠️2级" nowhere): the level's name and the step it means.
ESCALATION_LEVEL_NAMES = {1: "提级督办", 2: "久推不动", 3: "久拖不办", 4: "效能问责", 5: "转报区纪委监委"}
ESCALATION_LEVEL_STEPS = {1: "提请督导考核组分解督办", 2: "久推不动（提请挂钩领导会商）", 3: "久拖不办（督查约谈）",
                          4: "效能问责", 5: "转报区纪委监委"}


def escalation_level_name(level, with_step: bool = False) -> str:
    """提级督办 / 久推不动 … for a level (with_step: the step it means, 提请督导考核组分解督办,
    久推不动（提请挂钩领导会商）); "" for none."""
    if not level:
        return ""
    names = ESCALATION_LEVEL_STEPS if with_step else ESCALATION_LEVEL_NAMES
    return names.get(int(level), ESCALATION_LEVEL_NAMES[1])



# -- rules for one item ---------------------------------------------------------------------------
def is_open(matter: Matter) -> bool:
    return matter.state in OPEN_STATES


def overdue_days(matter: Matter, today: date) -> int:
    """Days past the deadline (0 if not overdue or closed)."""
    if not is_open(matter) or matter.deadline >= today:
        return 0
    return (today - matter.deadline).days


def progress_cutoff(as_of: datetime, periods: int = 1) -> datetime:
    """The moment since which progress must have been reported to count as reported in the last
    `periods` completed report periods (the opening of the earliest of them)."""
    return _progress_cutoff(as_of, periods, clock.tz())


@lru_cache(maxsize=256)
def _progress_cutoff(as_of: datetime, periods: int, zone) -> datetime:  # the zone is part of the key
    p: Period = period_at(as_of)
    for _ in range(periods):
        p = previous_period(p)
    return p.opens


def last_activity(matter: Matter) -> Optional[datetime]:
    """The last reported progress, or the creation of the item if none was reported yet."""
    return matter.last_progress_at or matter.created_at


def progress_reported(matter: Matter, as_of: datetime, periods: int = 1) -> bool:
    """Was progress reported within the last `periods` completed periods (or is the item newer)?"""
    seen = last_activity(matter)
    return seen is None or seen > progress_cutoff(as_of, periods)


def light(matter: Matter, today: date, *, progress_reported: bool = True) -> str:
    """The light of one item. `progress_reported`: was progress reported in the last period?"""
    if not is_open(matter):
        return CLOSED
    if matter.deadline < today:
        return RED
    if (matter.deadline - today).days <= DUE_SOON_DAYS or not progress_reported:
        return YELLOW
    return GREEN


def light_at(matter: Matter, as_of: datetime) -> str:
    """The light of one item at a moment (today and the last-period progress rule together)."""
    return light(matter, as_of.date(), progress_reported=progress_reported(matter, as_of))


def is_stalled(matter: Matter, as_of: datetime, reported_in_last_two: bool = False) -> bool:
    """久推不动: work still to do and no progress in the two last completed periods."""
    return (matter.state in ACTIVE_STATES and not reported_in_last_two
            and not progress_reported(matter, as_of, periods=2))


# -- the same rules as SQL, for set-based jobs and queries ------------------------------------------
def sql_open():
    return Matter.state.in_(OPEN_STATES)


def sql_active():
    return Matter.state.in_(ACTIVE_STATES)


def sql_overdue(today: date, min_days: int = 1):
    """Open and at least `min_days` past the deadline."""
    return and_(sql_open(), Matter.deadline <= today - timedelta(days=min_days))


def sql_due_within(today: date, days: int = DUE_SOON_DAYS):
    return and_(sql_open(), Matter.deadline >= today, Matter.deadline <= today + timedelta(days=days))


def sql_light_red(today: date):
    return sql_overdue(today)


def sql_no_progress_since(moment: datetime):
    """No progress reported since `moment` (items created later do not count as silent)."""
    return func.coalesce(Matter.last_progress_at, Matter.created_at) <= moment


def sql_light_yellow(today: date, no_progress_since=None):
    """Due soon, or (when `no_progress_since` is given) no progress since that moment."""
    cond = sql_due_within(today)
    if no_progress_since is not None:
        cond = or_(cond, and_(sql_open(), Matter.deadline >= today, sql_no_progress_since(no_progress_since)))
    return cond


def sql_light_green(today: date, no_progress_since=None):
    cond = and_(sql_open(), Matter.deadline > today + timedelta(days=DUE_SOON_DAYS))
    if no_progress_since is not None:
        cond = and_(cond, ~sql_no_progress_since(no_progress_since))
    return cond


# -- transitions: which states each may start from (the actions in bot.actions apply them) ----------
class TransitionError(Exception):
    """A ledger change that the rules do not allow; `code` names the reason (templates word it)."""

    def __init__(self, code: str, **info):
        super().__init__(code)
        self.code = code
        self.info = info


@dataclass(frozen=True)
class Transition:
    """One edge of the state machine: the states it may start from (`sources`), the state it leads to
    (`target`; None: the state is kept, except where `moves` says otherwise), the states in which it is
    accepted but changes nothing (`unchanged`: idempotent calls), and the refusal code for every other
    state (`refusals`, else `refusal`)."""

    name: str
    sources: tuple[str, ...]
    target: Optional[str]
    unchanged: tuple[str, ...] = ()
    refusal: str = "closed"
    refusals: tuple[tuple[str, str], ...] = ()
    moves: tuple[tuple[str, str], ...] = ()

    def target_of(self, state: str) -> str:
        """The state after the transition started from `state`."""
        if not self.changes(state):
            return state
        return self.target or dict(self.moves).get(state, state)

    def allows(self, state: str) -> bool:
        return state in self.sources or state in self.unchanged

    def changes(self, state: str) -> bool:
        return state in self.sources

    def refusal_code(self, state: str) -> str:
        if state == MATTER_CLOSED and MATTER_CLOSED not in self.sources:
            return "closed"
        if state == MATTER_WITHDRAWN and MATTER_WITHDRAWN not in self.sources:
            return "withdrawn"
        return dict(self.refusals).get(state, self.refusal)


_ALL_STATES = OPEN_STATES + (MATTER_CLOSED,)

TRANSITIONS: dict[str, Transition] = {t.name: t for t in (
    Transition("request_extension", (MATTER_OPEN, MATTER_RETURNED), MATTER_EXTENSION,
               refusals=((MATTER_CLAIMED, "already_claimed"), (MATTER_EXTENSION, "extension_pending"))),
    Transition("decide_extension", OPEN_STATES, None, moves=((MATTER_EXTENSION, MATTER_OPEN),)),
    Transition("claim_completion", (MATTER_OPEN, MATTER_RETURNED, MATTER_EXTENSION), MATTER_CLAIMED,
               unchanged=(MATTER_CLAIMED,)),
    Transition("withdraw_claim", (MATTER_CLAIMED,), MATTER_OPEN,
               unchanged=tuple(s for s in _ALL_STATES if s != MATTER_CLAIMED)),
    Transition("close", (MATTER_CLAIMED,), MATTER_CLOSED, refusal="not_claimed"),
    Transition("return_for_redo", (MATTER_CLAIMED,), MATTER_RETURNED, refusal="not_claimed"),
    Transition("reopen", (MATTER_CLOSED,), MATTER_RETURNED, refusal="not_closed"),
    Transition("escalate", OPEN_STATES, None),
    Transition("decide_escalation", OPEN_STATES, None),
    # its minutes / slip withdrawn after issue; a closed item keeps its 销号; nothing leaves withdrawn
    Transition("withdraw", OPEN_STATES, MATTER_WITHDRAWN, unchanged=(MATTER_CLOSED,), refusal="withdrawn"),
)}


def refusal(name: str, matter: Matter) -> Optional[TransitionError]:
    """Why transition `name` may not start from the item's state (None: it may)."""
    t = TRANSITIONS[name]
    if t.allows(matter.state):
        return None
    return TransitionError(t.refusal_code(matter.state), item=matter.code, state=matter.state)


def check(name: str, matter: Matter) -> bool:
    """Raise TransitionError unless transition `name` may start from the item's state; True when it
    changes the state, False when it is accepted as a no-op (an idempotent repeat)."""
    err = refusal(name, matter)
    if err is not None:
        raise err
    return TRANSITIONS[name].changes(matter.state)


def need_reason(reason: Optional[str]) -> str:
    """The reason a transition requires, stripped (refused when blank)."""
    reason = (reason or "").strip()
    if not reason:
        raise TransitionError("reason_required")
    return reason


# -- views for chat, jobs and reports ------------------------------------------------------------
@dataclass
class ItemView:
    """One ledger item as the templates show it."""

    code: str
    title: str
    unit: str
    leader: str
    state: str
    light: str
    icon: str
    deadline: date
    original_deadline: date
    overdue_days: int
    escalation_level: int
    last_progress: Optional[str]
    last_progress_at: Optional[datetime]


def item_view(m: Matter, as_of: datetime) -> ItemView:
    """The item at a moment: light, overdue days and the fields every list shows."""
    lt = light_at(m, as_of)
    from bot.domain.responsibility import units_label

    return ItemView(m.code, m.title, units_label(m),
                    address(m.leader), m.state, lt, LIGHT_ICONS[lt], m.deadline,
                    m.original_deadline, overdue_days(m, as_of.date()), m.escalation_level or 0,
                    m.last_progress, m.last_progress_at)


def _as_date(value) -> Optional[date]:
    return date.fromisoformat(value) if isinstance(value, str) else value


def sql_audit_of(m: Matter):
    """The audit rows of one item (entity_id is the item's id, as for every entity: see AuditLog)."""
    return and_(AuditLog.entity == "matter", AuditLog.entity_id == str(m.id))


def history_rows(session, m: Matter) -> list[dict]:
    """The audit trail of one item, oldest first, with the dates it carries as dates."""
    out = []
    for r in session.scalars(select(AuditLog).where(sql_audit_of(m)).order_by(AuditLog.at, AuditLog.id)):
        before, after = r.before or {}, r.after or {}
        out.append({"at": r.at, "actor": r.actor, "system": r.actor_id is None, "action": r.action,
                    "reason": r.reason, "level": after.get("level"),
                    "old_deadline": _as_date(before.get("deadline")), "deadline": _as_date(after.get("deadline")),
                    "new_deadline": _as_date(after.get("new_deadline")),
                    "supervision_deadline": _as_date(after.get("supervision_deadline"))})
    return out


