"""The typed draft of one person's conversation, and its JSON form.

A draft is what the engine stores between two messages: which flow, where the person is (`mode` and
`cursor`), the answers (`data`), the handler's context (`meta`), the way back (`history`), and the few
things a step must remember (an edit in progress, numbered candidates offered, invalid answers in a row).
It is serialised as one JSON document carrying `schema_version` (its layout); documents written before
the layout had a number (schema 1) have the same keys and are read as they are.
"""
from __future__ import annotations

import copy
import uuid
from datetime import date, datetime
from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, ValidationError

SCHEMA = 3  # 3: mode "item", edit.base / edit.only, offer, then, page (all optional: schema 2 reads as is)

FIELDS = "fields"  # answering the question at `cursor`
SUMMARY = "summary"  # the summary page, waiting for 确认 / 修改 N
GROUP = "group"  # the item list of a group (after 修改 N on a group)
ITEM = "item"  # the numbered fields of one item of a group (which one to change)
RESUME = "resume"  # an idle draft offered back (继续 / 重新开始)

Mode = Literal["fields", "summary", "group", "item", "resume"]
Cursor = tuple[int, int, int]  # (step, item of a group, field of the item)
Back = Union[Literal["summary"], Cursor]  # where an edit returns: the summary or a position


_IMMUTABLE = (str, int, float, bool, type(None), datetime, date)


def _copy(value):
    """A deep copy of JSON-like data (dicts, lists, tuples of scalars); anything else by copy.deepcopy."""
    if isinstance(value, _IMMUTABLE):
        return value
    if type(value) is dict:
        return {k: _copy(v) for k, v in value.items()}
    if type(value) is list:
        return [_copy(v) for v in value]
    if type(value) is tuple:
        return tuple(_copy(v) for v in value)
    return copy.deepcopy(value)


class Unreadable(Exception):
    """A stored document that is not a draft this code can continue (corrupt, or a newer schema)."""


class Edit(BaseModel):
    """An edit in progress (修改 N): where to go once the edited field or item is answered."""

    back: Back
    base: int = 0  # the history's length when the edit began: 返回 below it leaves the edit
    only: bool = False  # one field of an item: after it only the item's fields that became due are asked


class Then(BaseModel):
    """A flow started while this draft was open: it waits until the person says 继续 (this draft) or
    重新开始 (that one)."""

    flow: str
    data: dict[str, Any]
    meta: dict[str, Any]
    at_summary: bool = False
    intro: str = ""


class Initial(BaseModel):
    """What the flow was started with (重新开始 starts from here again)."""

    data: dict[str, Any]
    meta: dict[str, Any]
    mode: Mode = FIELDS


class Draft(BaseModel):
    model_config = ConfigDict(extra="ignore")

    schema_version: int = SCHEMA  # the layout of the JSON document
    id: str  # names the draft once it is finished (its tombstone), see bot/conversation/store.py
    flow: str
    mode: Mode = FIELDS
    cursor: Cursor = (0, 0, 0)
    data: dict[str, Any]
    meta: dict[str, Any]
    history: list[Cursor] = []
    attempts: int = 0  # invalid answers in a row to the current question
    edit: Optional[Edit] = None
    pending: Optional[list[tuple[Any, str]]] = None  # numbered candidates offered by the last answer
    completed: bool = False  # the summary has been reached once (修改 N may then go anywhere)
    resume_mode: Optional[Mode] = None  # the mode to go back to on 继续
    group: Optional[int] = None  # the step whose item list is shown (mode GROUP)
    group_back: Optional[Back] = None  # where leaving that list goes
    item: Optional[int] = None  # the item whose fields are listed (mode ITEM)
    offer: Optional[str] = None  # a command typed inside the form, offered (是 / 否)
    then: Optional[Then] = None  # a start waiting on the resume offer
    page: int = 0  # the page of the summary shown (long summaries are paged)
    started_at: datetime
    updated_at: datetime
    init: Initial

    @classmethod
    def new(cls, flow: str, now: datetime, data: dict, meta: dict, mode: str = FIELDS) -> Draft:
        return cls(id=uuid.uuid4().hex, flow=flow, mode=mode, data=data, meta=meta, completed=mode == SUMMARY,
                   started_at=now, updated_at=now,
                   init=Initial(data=copy.deepcopy(data), meta=copy.deepcopy(meta), mode=mode))

    def to_doc(self) -> dict:
        """The JSON document (dates as ISO strings, cursors as lists)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_doc(cls, doc: Any) -> Draft:
        if not isinstance(doc, dict):
            raise Unreadable(type(doc).__name__)
        schema = doc.get("schema_version", 1)
        if not isinstance(schema, int) or schema > SCHEMA:
            raise Unreadable(f"schema {schema!r}")
        try:
            return cls.model_validate({**doc, "schema_version": SCHEMA})
        except ValidationError as exc:
            raise Unreadable(str(exc)) from exc

    def copy_deep(self) -> Draft:
        """A copy a step may change without changing this draft (every step works on one): the answers,
        the way back and the step's memory copied; `meta` copied at its top level only — the handler's
        context is read, and navigation only adds keys to it (a group's fixed items) — and `init` shared
        (read only; 重新开始 copies it). Plain containers are copied by hand: pydantic's deep copy
        (copy.deepcopy) cost more than the rest of a form step, and copying the handler's context (a 填报's
        items) and `init` on every step was most of what remained."""
        return self.model_copy(update={
            "data": _copy(self.data), "meta": dict(self.meta), "history": list(self.history),
            "edit": self.edit.model_copy() if self.edit is not None else None,
            "pending": _copy(self.pending)})
