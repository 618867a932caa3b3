"""Which unit leads (牵头) minutes or a slip when nobody names one — the one rule for the defaults.

Seed 000 附件3 note 2: "会议纪要撰写、会签及问题清单填报、后续跟踪均由牵头单位负责". The unit that drafts the
minutes is therefore their lead unit when it leads the 附件2 row they are filed under (or when the row names
no single other lead unit); a row with exactly one lead unit gives it. A slip is drafted by the office
liaison, whose own unit leads nothing: its lead unit is the single 主办 unit of its rows, else the single
lead unit of the leader's 附件2 row, else none (each row's responsible unit then reports for itself —
configurable by naming the lead unit on the slip).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Optional


def minutes_lead_unit(drafting_unit_id: int, row_lead_unit_ids: Sequence[int]) -> int:
    """The lead unit of minutes drafted by `drafting_unit_id`, filed under a row with these lead units."""
    if drafting_unit_id in row_lead_unit_ids or len(row_lead_unit_ids) != 1:
        return drafting_unit_id
    return row_lead_unit_ids[0]


def slip_lead_unit(row_unit_ids: Iterable[int], leader_row_lead_unit_ids: Sequence[Sequence[int]]) -> Optional[int]:
    """The lead unit of a slip whose rows go to `row_unit_ids`, dispatched by a leader whose 附件2 rows
    have these lead units — never the drafter's own unit."""
    units = set(row_unit_ids)
    if len(units) == 1:
        return units.pop()
    rows = [list(r) for r in leader_row_lead_unit_ids]
    if len(rows) == 1 and len(rows[0]) == 1:
        return rows[0][0]
    return None
