"""The supervision group's rules, each in one place: when a rectification or promise is overdue, which
units are 效能问责 candidates (the thresholds), and how the year-end 绩效考评 scores a unit. The numbers
live in config/supervision.yaml (Settings.SUPERVISION_FILE), validated here at load."""
from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from models import TASK_CLOSED, SupervisionTask

COLUMNS = ("reports_on_time", "reports_late", "reports_missing", "items_on_time", "items_overdue",
           "escalations", "findings", "findings_overdue")


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lookback_periods: int = Field(2, ge=1)
    min_late_periods: int = Field(2, ge=1)
    min_overdue_items: int = Field(3, ge=1)
    min_overdue_tasks: int = Field(1, ge=1)


class AssessmentRules(BaseModel):
    model_config = ConfigDict(extra="forbid")
    base: float = 100
    escalation_levels: list[int] = [2, 3, 4, 5]
    weights: dict[str, float] = Field(default_factory=lambda: dict.fromkeys(COLUMNS, 0.0))

    def model_post_init(self, _ctx) -> None:
        unknown = set(self.weights) - set(COLUMNS)
        if unknown:
            raise ValueError(f"unknown assessment columns: {sorted(unknown)}")
        if any(w < 0 for w in self.weights.values()):
            raise ValueError("assessment weights must not be negative")

    def score(self, counts: dict[str, int], deductions: float) -> float:
        """base − Σ weight × count − the 效能问责 deductions, never below 0, to one decimal."""
        lost = sum(self.weights.get(c, 0.0) * counts.get(c, 0) for c in COLUMNS) + deductions
        return round(max(self.base - lost, 0.0), 1)


class Rules(BaseModel):
    model_config = ConfigDict(extra="forbid")
    candidates: Thresholds = Thresholds()
    assessment: AssessmentRules = AssessmentRules()


@lru_cache(maxsize=8)
def _load(path: str, mtime: float) -> Rules:
    return Rules.model_validate(yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {})


def rules(path: str) -> Rules:
    """The rules of config/supervision.yaml (re-read when the file changes)."""
    p = Path(path)
    return _load(str(p), p.stat().st_mtime) if p.exists() else Rules()


def task_overdue(task: SupervisionTask, today: date) -> bool:
    """A rectification or promise is overdue when it is not closed and its date has passed (a claim does
    not stop the clock: like a ledger item, it counts until the supervision group confirms it)."""
    return task.state != TASK_CLOSED and task.deadline < today


def sql_task_overdue(today: date):
    """`task_overdue` as an SQL condition."""
    return (SupervisionTask.state != TASK_CLOSED) & (SupervisionTask.deadline < today)


def on_time(deadline: date, closed_on: date | None) -> bool:
    """A ledger item or task was done on time iff it was closed on or before its deadline."""
    return closed_on is not None and closed_on <= deadline
