"""What a flow is made of: `Flow` (steps, save, check), `Field` (one question), `Group` (the same questions
for each item) and what a parser may raise (`Invalid`, `Choose`). A handler module defines its flow with
these and registers it on its `commands` (`commands.flow(FLOW)`); see docs/conversations.md.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Optional, Union

MAX_OPTIONS = 9  # numbered candidates shown at most


class Invalid(Exception):
    """An answer that can't be used: `template` (under templates/) says why, with `kw`."""

    def __init__(self, template: str, **kw):
        super().__init__(template)
        self.template = template
        self.kw = kw


class Choose(Exception):
    """An ambiguous answer: offer these (value, label) options by number."""

    def __init__(self, options: list[tuple[Any, str]], template: str = "engine/choose.txt", **kw):
        super().__init__(template)
        self.options = options[:MAX_OPTIONS]
        self.template = template
        self.kw = kw


@dataclass
class FieldContext:
    """What a parser sees: the message context, the draft so far, the current group item and index."""

    ctx: Any  # the message's Context (parsers that look things up use ctx.session)
    data: dict
    meta: dict
    item: Optional[dict] = None
    index: Optional[int] = None

    @property
    def today(self) -> date:
        return self.ctx.now.date()


Parser = Callable[[FieldContext, str], Any]


@dataclass
class Field:
    """One question. `choices(fc)` makes it a menu of (value, label): the answer may be the number or the
    label; otherwise (or if neither matches) `parse` is called. `when(fc)` False skips the field."""

    name: str
    prompt: str
    parse: Optional[Parser] = None
    choices: Optional[Callable[[FieldContext], list[tuple[Any, str]]]] = None
    when: Optional[Callable[[FieldContext], bool]] = None
    help: Optional[str] = None  # template shown on 帮助 (default: the prompt again)
    label: str = ""  # what the field is called on an item's field list (修改 N: 1. 事项内容 2. 责任单位 …)

    @property
    def title(self) -> str:
        return self.label or self.name


@dataclass
class Group:
    """A repeating block of fields. `items(fc)` gives a fixed list (as dicts) to go through; without it
    items are entered until 完成 (at least `min_items`)."""

    name: str
    fields: list[Field]
    items: Optional[Callable[[FieldContext], list[dict]]] = None
    min_items: int = 1
    max_items: int = 50

    @property
    def fixed(self) -> bool:
        return self.items is not None


Step = Union[Field, Group]


@dataclass
class Flow:
    """A conversation: `name` is also the template folder (title.txt, summary.txt, saved replies).
    `save(ctx, data, meta)` writes the ledger on 确认 and returns the reply (or raises Invalid)."""

    name: str
    steps: list[Step]
    save: Callable[[Any, dict, dict], Any]
    summary: str = ""
    title: str = ""
    check: Optional[Callable[[Any, dict, dict], None]] = None  # raise Invalid before the summary/save

    def __post_init__(self):
        self.summary = self.summary or f"{self.name}/summary.txt"
        self.title = self.title or f"{self.name}/title.txt"

    def step_no(self, name: str) -> int:
        return next(i for i, s in enumerate(self.steps) if s.name == name) + 1
