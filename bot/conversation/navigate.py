"""Navigation through a flow: pure functions (flow, draft, text, env) -> (new draft, what to show).

Nothing here touches the database, the store or the templates: the input draft is never changed, the
result is a new draft and a `Show` that says which screen to render (the current question, the summary,
a group's item list, help, candidates …) and what went wrong, as a template name with its arguments. The
flow's own callables (`parse`, `choices`, `when`, `items`) are called with a `FieldContext` whose `ctx` is
`env.ctx` — the message's Context in the engine, any object with `now` in tests.

`handle` is the whole of one message; the global words are recognised first (帮助 取消 返回 查看 修改N 确认,
下一页, 完成 in an open group, 继续 / 重新开始 on an idle draft), then another command typed inside the form
is offered (是 / 否), then the answer is parsed (不变 keeps the value a field already has).
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Optional

from bot.conversation.draft import FIELDS, GROUP, ITEM, RESUME, SUMMARY, Draft, Edit
from bot.conversation.fields import is_none
from bot.conversation.flow import Choose, Field, FieldContext, Flow, Group, Invalid, Step
from bot.core.forgiving import NO_WORDS, YES_WORDS

MAX_ATTEMPTS = 3  # invalid answers in a row before 帮助 / 取消 are offered
MAX_HISTORY = 200

# Global words (commands inside a conversation; short keywords, not sentences).
W_HELP = ("帮助", "?", "？", "help")
W_CANCEL = ("取消", "放弃", "退出")
W_BACK = ("返回", "上一步")
W_VIEW = ("查看", "预览")
W_CONFIRM = ("确认", "确定", "提交")
W_DONE = ("完成", "结束", "没有了")
W_RESUME = ("继续",)
W_RESTART = ("重新开始", "重新填写")
W_ADD = ("添加", "新增")
W_KEEP = ("不变", "不改", "保持不变", "不用改", "不修改", "同前", "照旧", "维持")  # keep the value the field has
W_YES = ("是", "是的", "好", "好的", "办理", "先办")
W_NO = ("否", "不", "不是", "不用", "不办")
W_NEXT_PAGE = ("下一页", "下页")
W_PREV_PAGE = ("上一页", "上页")
W_ALL = ("全部", "全部重填", "重填")
# 修改 N, 修改 N.M / 修改 N 第M项 (item M of group N), 修改 N 完成时限 (a field by its label)
RE_EDIT = re.compile(r"^(?:修改|改)\s*第?\s*(\d{1,3})\s*[项步]?"
                     r"(?:\s*[.．、\-—·]?\s*第?\s*(\d{1,3})\s*项?)?(?:\s+|(?=\D))?([^\d\s].*)?$")
RE_DELETE = re.compile(r"^删除\s*第?\s*(\d{1,3})\s*项?$")
RE_NUMBER = re.compile(r"^(\d{1,3})$")

# Screens
PROMPT = "prompt"  # what the draft's mode shows: the question at the cursor, the summary or a group's list
HELP = "help"  # the help text, then PROMPT
VIEW = "view"  # everything filled in so far, then PROMPT
CHOOSE = "choose"  # the numbered candidates of an ambiguous answer (draft.pending)
OFFER = "resume"  # an idle draft offered back
CANCELLED = "cancelled"  # the draft is dropped
SAVE = "save"  # 确认 on the summary: the engine runs the flow's check and save
PASS = "pass"  # not for the draft (another command while it waits to be resumed): nothing changes
ASK = "ask_command"  # another command typed inside the form: 先办理「…」吗？(draft.offer)
RUN = "run"  # 是 to that offer: the draft is paused (RESUME) and the engine runs `Show.command`
THEN = "then"  # 重新开始 on a draft that a newer start waits behind: the engine starts draft.then


@dataclass(frozen=True)
class Msg:
    """A template and its arguments (rendered by the engine)."""

    template: str
    kw: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Show:
    screen: str
    error: Optional[Msg] = None  # what was wrong, shown above the question
    choose: Optional[Msg] = None  # for CHOOSE: the parser's template and arguments
    touched: bool = True  # the person worked on the draft (its `updated_at` moves)
    command: Optional[str] = None  # for RUN: the command to run now

    @property
    def finished(self) -> bool:
        return self.screen in (CANCELLED, SAVE)


def never(_text: str) -> bool:
    return False


@dataclass(frozen=True)
class Env:
    """What navigation needs from outside: the time, the object the flow's callables get as `fc.ctx`,
    the idle time after which a draft is offered back, and whether a text is another command."""

    now: datetime
    ctx: Any = None
    idle: timedelta = timedelta(minutes=30)
    is_command: Callable[[str], bool] = never


def err(template: str, **kw) -> Msg:
    return Msg(template, kw)


# -- the public moves -----------------------------------------------------------------------------
def start(flow: Flow, env: Env, data: Optional[dict] = None, meta: Optional[dict] = None,
          at_summary: bool = False) -> tuple[Draft, Show]:
    """A new draft of `flow` at its first question (or at the summary, with `data` already filled)."""
    draft = Draft.new(flow.name, env.now, data or {}, meta or {}, SUMMARY if at_summary else FIELDS)
    w = Walk(flow, draft, env)
    w.compute_fixed_items()
    if not at_summary:
        w.settle()
    return draft, Show(PROMPT)


def handle(flow: Flow, draft: Draft, text: str, env: Env) -> tuple[Draft, Show]:
    """One message to an open draft."""
    w = Walk(flow, draft.copy_deep(), env)
    text = (text or "").strip()
    if w.d.mode != RESUME and env.now - w.d.updated_at > env.idle:
        if env.is_command(text) and text not in W_RESUME + W_CANCEL:  # a command after a pause: handled, the
            w.offer_resume()                                          # draft kept (paused) for 继续
            w.d.offer = None
            show = Show(PASS, touched=False)
        else:
            show = w.offer_resume()
    else:
        show = w.handle(text)
    if show.touched:
        w.d.updated_at = env.now
    return w.d, show


def _move(name: str):
    def move(flow: Flow, draft: Draft, env: Env, *args) -> tuple[Draft, Show]:
        w = Walk(flow, draft.copy_deep(), env)
        return w.d, getattr(w, name)(*args)

    move.__name__ = name
    move.__doc__ = f"`Walk.{name}` on a copy of the draft."
    return move


answer = _move("answer")  # answer(flow, draft, env, text)
back = _move("back")  # back(flow, draft, env)
edit = _move("edit")  # edit(flow, draft, env, n)
confirm = _move("confirm")  # confirm(flow, draft, env)
cancel = _move("cancel")
help_ = _move("help")
view = _move("view")
group_choice = _move("handle_group")  # group_choice(flow, draft, env, text): a number, 添加, 删除 N
offer_resume = _move("offer_resume")
resume = _move("handle_resume")  # resume(flow, draft, env, text): 继续 / 重新开始 / 取消 / other


# -- read-only questions about a draft (also used to render it) ----------------------------------
def step_at(flow: Flow, s: int) -> Optional[Step]:
    return flow.steps[s] if s < len(flow.steps) else None


def field_at(flow: Flow, cursor) -> Optional[Field]:
    s, _i, f = cursor
    step = step_at(flow, s)
    if isinstance(step, Group):
        return step.fields[f] if f < len(step.fields) else None
    return step


def items_of(draft: Draft, group: Group) -> list[dict]:
    return draft.data.get(group.name) or []


def context_at(flow: Flow, draft: Draft, env: Env, cursor=None) -> FieldContext:
    s, i, _f = cursor or draft.cursor
    step = step_at(flow, s)
    if isinstance(step, Group):
        items = items_of(draft, step)
        item = items[i] if i < len(items) else {}
        return FieldContext(env.ctx, draft.data, draft.meta, item, i)
    return FieldContext(env.ctx, draft.data, draft.meta)


def fixed_items(flow: Flow, draft: Draft, env: Env, group: Group) -> list[dict]:
    """The fixed list of a group, as computed when the draft was started (kept in meta so it doesn't move
    under the user)."""
    key = f"_items_{group.name}"
    if key in draft.meta:
        return draft.meta[key]
    return group.items(FieldContext(env.ctx, draft.data, draft.meta))


def fixed_item(flow: Flow, draft: Draft, env: Env, step: Optional[Step], i: int) -> Optional[dict]:
    """For a fixed group, the given item (e.g. the matter being reported on)."""
    if isinstance(step, Group) and step.fixed:
        items = fixed_items(flow, draft, env, step)
        return items[i] if i < len(items) else None
    return None


def applies(flow: Flow, draft: Draft, env: Env, cursor) -> bool:
    s, _i, f = cursor
    step = step_at(flow, s)
    fld = step.fields[f] if isinstance(step, Group) else step
    return fld.when is None or bool(fld.when(context_at(flow, draft, env, cursor)))


def positions(flow: Flow, draft: Draft, env: Env) -> list[tuple[int, int, int]]:
    """Every question on the way through the flow as it stands (for 第 n/m 步)."""
    out = []
    for s, step in enumerate(flow.steps):
        if isinstance(step, Group):
            have = len(items_of(draft, step))
            if step.fixed:
                n = len(fixed_items(flow, draft, env, step))
            else:
                n = max(have, draft.cursor[1] + 1 if draft.cursor[0] == s else have, step.min_items)
            for i in range(n):
                out.extend((s, i, f) for f in range(len(step.fields))
                           if i >= have or applies(flow, draft, env, (s, i, f)))
        elif applies(flow, draft, env, (s, 0, 0)):
            out.append((s, 0, 0))
    return out


def step_number(flow: Flow, draft: Draft, env: Env) -> tuple[int, int]:
    """(k, n) for 第 k/n 步: the steps of the flow that apply to this draft (a group is one step, whatever
    its number of items, so n does not grow as items are added), and the current one among them — the same
    numbers 修改 N uses on the summary."""
    due = [s for s, step in enumerate(flow.steps) if isinstance(step, Group) or applies(flow, draft, env, (s, 0, 0))]
    s = draft.cursor[0]
    k = next((k for k, t in enumerate(due, 1) if t >= s), len(due))
    return k, len(due)


def item_fields(flow: Flow, draft: Draft, env: Env, s: int, i: int) -> list[tuple[int, Field]]:
    """The fields of item i of group s that apply to it, with their index (the numbered list of 修改)."""
    step = step_at(flow, s)
    return [(f, fld) for f, fld in enumerate(step.fields) if applies(flow, draft, env, (s, i, f))]


def field_by_label(fields: list[tuple[int, Field]], word: str) -> Optional[int]:
    """The field named `word` (its label, or a label containing it / contained in it): its index."""
    word = word.strip()
    hits = [f for f, fld in fields if word and (word == fld.title or word in fld.title or fld.title in word)]
    return hits[0] if len(hits) == 1 else None


def can_finish_group(flow: Flow, draft: Draft) -> bool:
    """At the first question of a new item of an open group, with enough items: 完成 ends the list."""
    s, i, f = draft.cursor
    step = step_at(flow, s)
    return (isinstance(step, Group) and not step.fixed and f == 0 and i >= step.min_items
            and i >= len(items_of(draft, step)) and draft.edit is None)


# -- the walk: the moves on one (copied) draft ---------------------------------------------------
class Walk:
    """The moves, applied to `d` in place. The public functions above give it a copy."""

    def __init__(self, flow: Flow, draft: Draft, env: Env):
        self.flow = flow
        self.d = draft
        self.env = env

    # helpers
    def step(self, s: Optional[int] = None) -> Optional[Step]:
        return step_at(self.flow, self.d.cursor[0] if s is None else s)

    def items(self, group: Group) -> list[dict]:
        """The group's answers, created when missing (a write: only on the walk's own draft)."""
        return self.d.data.setdefault(group.name, [])

    def fc(self, cursor=None) -> FieldContext:
        return context_at(self.flow, self.d, self.env, cursor)

    def applies(self, cursor) -> bool:
        return applies(self.flow, self.d, self.env, cursor)

    def compute_fixed_items(self) -> None:
        for step in self.flow.steps:
            if isinstance(step, Group) and step.fixed:
                self.fixed_items(step)

    def fixed_items(self, group: Group) -> list[dict]:
        key = f"_items_{group.name}"
        if key not in self.d.meta:
            self.d.meta[key] = group.items(FieldContext(self.env.ctx, self.d.data, self.d.meta))
        return self.d.meta[key]

    # the cursor
    def settle(self) -> None:
        """Move the cursor forward past skipped fields, finished items and finished steps."""
        while True:
            s, i, f = self.d.cursor
            step = self.step(s)
            if step is None:
                self.enter_summary()
                return
            if isinstance(step, Group):
                if step.fixed:
                    if i >= len(self.fixed_items(step)):
                        self.d.cursor = (s + 1, 0, 0)
                        continue
                    while len(self.items(step)) <= i:
                        self.items(step).append({})
                elif i >= step.max_items:
                    self.d.cursor = (s + 1, 0, 0)
                    continue
                if f >= len(step.fields):
                    if self.end_edit_if_done(item_done=True):
                        return
                    self.d.cursor = (s, i + 1, 0)
                    continue
                if not self.applies((s, i, f)):
                    self.d.cursor = (s, i, f + 1)
                    continue
                return
            if not self.applies((s, 0, 0)):
                self.d.cursor = (s + 1, 0, 0)
                continue
            return

    def end_edit_if_done(self, item_done: bool = False) -> bool:
        """After an edit (修改 N) is complete, go back where the person was. True if we went back."""
        if self.d.edit is None:
            return False
        if isinstance(self.step(), Group) and not item_done:
            return False
        back_to = self.d.edit.back
        self.d.edit = None
        self.go(back_to)
        return True

    def go(self, where) -> None:
        """To the summary, or to a position (past the last step is the summary too)."""
        if where == SUMMARY or where[0] >= len(self.flow.steps):
            self.enter_summary()
        else:
            self.d.cursor = tuple(where)
            self.d.mode = FIELDS
            self.settle()

    def advance(self) -> None:
        s, i, f = self.d.cursor
        self.d.history = (self.d.history + [(s, i, f)])[-MAX_HISTORY:]
        self.d.attempts = 0
        self.d.pending = None
        step = self.step(s)
        if isinstance(step, Group) and self.d.edit is not None and self.d.edit.only:
            # one field of an item changed: ask only the fields that became due (已完成 → 未完成 needs a plan)
            item = self.items(step)[i]
            nxt = next((g for g in range(f + 1, len(step.fields))
                        if step.fields[g].name not in item and self.applies((s, i, g))), None)
            if nxt is None:
                self.end_edit_if_done(item_done=True)
            else:
                self.d.cursor = (s, i, nxt)
            return
        if isinstance(step, Group):
            self.d.cursor = (s, i, f + 1)
        else:
            if self.end_edit_if_done():
                return
            self.d.cursor = (s + 1, 0, 0)
        self.settle()

    def enter_summary(self) -> None:
        self.prune()
        if self.d.mode != SUMMARY:
            self.d.page = 0
        self.d.mode = SUMMARY
        self.d.completed = True
        self.d.edit = None
        self.d.pending = None

    def prune(self) -> None:
        """Drop answers of fields that no longer apply (e.g. a planned deadline after 已完成)."""
        for s, step in enumerate(self.flow.steps):
            if isinstance(step, Group):
                for i, item in enumerate(self.items(step)):
                    for f, fld in enumerate(step.fields):
                        if fld.name in item and not self.applies((s, i, f)):
                            item.pop(fld.name)

    # one message
    def handle(self, text: str) -> Show:
        mode = self.d.mode
        if mode == RESUME:
            return self.handle_resume(text)
        if self.d.offer is not None:
            return self.handle_offer(text)
        if text in W_CANCEL:
            return self.cancel()
        if text in W_HELP:
            return self.help()
        if text in W_VIEW:
            return self.view()
        if text in W_BACK:
            return self.back()
        m = RE_EDIT.match(text)
        if m:
            return self.edit(int(m.group(1)), int(m.group(2)) if m.group(2) else None, m.group(3))
        if text in W_CONFIRM:
            return self.confirm()
        if mode in (SUMMARY, GROUP) and text in W_NEXT_PAGE + W_PREV_PAGE:
            self.d.page = max(0, self.d.page + (1 if text in W_NEXT_PAGE else -1))
            return Show(PROMPT)
        if self.env.is_command(text) and text not in W_DONE + W_KEEP and not self.is_option(text):
            self.d.offer = text  # 先办理「…」吗？ the draft is kept either way
            return Show(ASK, touched=False)
        if mode == SUMMARY:
            return Show(PROMPT, error=err("engine/summary_hint.txt"))
        if mode == GROUP:
            return self.handle_group(text)
        if mode == ITEM:
            return self.handle_item(text)
        return self.answer(text)

    def is_option(self, text: str) -> bool:
        """`text` is the label of an option of the question asked (an answer, even if a command has that name)."""
        if self.d.mode != FIELDS:
            return False
        fld = field_at(self.flow, self.d.cursor)
        return bool(fld and fld.choices and any(text == label for _v, label in fld.choices(self.fc())))

    def handle_offer(self, text: str) -> Show:
        """The answer to 先办理「…」吗？: 是 pauses the draft and runs the command; 否 takes it as the answer."""
        word, self.d.offer = self.d.offer, None
        if text in W_YES:
            self.d.resume_mode = self.d.mode
            self.d.mode = RESUME
            return Show(RUN, command=word, touched=False)
        if text in W_NO:
            return self.answer(word) if self.d.mode == FIELDS else Show(PROMPT)  # a page: shown again
        return self.handle(text)  # something else: the offer lapses, the text is handled as usual

    def cancel(self) -> Show:
        return Show(CANCELLED)

    def help(self) -> Show:
        self.d.attempts = 0
        return Show(HELP)

    def view(self) -> Show:
        return Show(PROMPT) if self.d.mode == SUMMARY else Show(VIEW)

    def confirm(self) -> Show:
        if self.d.mode == SUMMARY:
            return Show(SAVE)
        return Show(PROMPT, error=err("engine/not_yet.txt"))

    def offer_resume(self) -> Show:
        if self.d.mode != RESUME:
            self.d.resume_mode = self.d.mode
            self.d.mode = RESUME
        return Show(OFFER, touched=False)

    def handle_resume(self, text: str) -> Show:
        if text in W_RESUME:
            self.d.mode = self.d.resume_mode or FIELDS
            self.d.then = None
            return Show(PROMPT)
        if text in W_RESTART and self.d.then is not None:
            return Show(THEN)  # the newer start waiting behind this draft (the engine starts it)
        if text in W_RESTART:
            init = self.d.init.model_copy(deep=True)
            fresh, show = start(self.flow, self.env, init.data, init.meta, at_summary=init.mode == SUMMARY)
            self.d = fresh
            return show
        if text in W_CANCEL:
            return self.cancel()
        return Show(PASS, touched=False)  # another command: the draft keeps waiting

    def back(self) -> Show:
        if self.d.mode == GROUP:
            return self.leave_group()
        if self.d.mode == ITEM:  # an item's fields: back to the item list
            self.d.mode, self.d.item = GROUP, None
            return Show(PROMPT)
        if not self.d.history:
            return Show(PROMPT, error=err("engine/at_first.txt"))
        previous = self.d.history[-1]
        self.d.history = self.d.history[:-1]
        edit = self.d.edit
        if self.d.edit is not None and len(self.d.history) < self.d.edit.base:
            self.d.edit = None  # back past where the edit began (to the summary or where you were)
        self.d.pending = None
        self.d.attempts = 0
        if previous[0] >= len(self.flow.steps):  # an edit begun on a page: back where it was begun from
            self.d.edit = None
            self.go(edit.back if edit is not None else SUMMARY)
        else:
            self.d.cursor = previous
            self.d.mode = FIELDS
        return Show(PROMPT)

    def edit(self, n: int, m: Optional[int] = None, label: Optional[str] = None) -> Show:
        """修改 N: jump to step N (from the summary, or back to an answered step), then come back. On a group:
        its item list; 修改 N M (or, in a flow that is one group, 修改 M): the fields of item M to pick one
        from; 修改 … 字段 (its label, e.g. 完成时限): that field at once."""
        steps = self.flow.steps
        if self.d.mode in (GROUP, ITEM) and m is None:  # on an item list, 修改 M is item M
            return self.pick_item(self.d.group, n - 1, label)
        if len(steps) == 1 and isinstance(steps[0], Group) and m is None and (self.d.completed or n > 1
                                                                              or label):
            n, m = 1, n  # one group (填报): 修改 M is item M
        if not 1 <= n <= len(steps):
            return Show(PROMPT, error=err("engine/bad_step.txt", n=n, m=len(steps)))
        s = n - 1
        reached = self.d.completed or s < self.d.cursor[0]
        if not reached:
            return Show(PROMPT, error=err("engine/not_reached.txt", n=n))
        back_to = SUMMARY if self.d.completed else tuple(self.d.cursor)
        step = steps[s]
        self.d.pending = None
        self.d.attempts = 0
        if isinstance(step, Group):
            if self.d.mode not in (GROUP, ITEM):
                self.d.group_back = back_to
                self.d.page = 0
            self.d.mode = GROUP
            self.d.group = s
            if m is not None or (label and len(self.items(step)) == 1):
                return self.pick_item(s, (m or 1) - 1, label)
            return Show(PROMPT)
        if not self.applies((s, 0, 0)):
            return Show(PROMPT, error=err("engine/not_reached.txt", n=n))
        here = tuple(self.d.cursor) if self.d.mode == FIELDS else (len(steps), 0, 0)
        self.d.history = (self.d.history + [here])[-MAX_HISTORY:]
        self.d.edit = Edit(back=back_to, base=len(self.d.history))
        self.d.cursor = (s, 0, 0)
        self.d.mode = FIELDS
        return Show(PROMPT)

    def pick_item(self, s: int, i: int, label: Optional[str] = None) -> Show:
        """Item i of group s: its numbered fields (ITEM), or straight to the field named `label`, or — an item
        of one question — that question."""
        step = self.step(s)
        items = self.items(step)
        if not 0 <= i < len(items):
            return Show(PROMPT, error=err("engine/bad_item.txt", n=i + 1, count=len(items)))
        self.d.group, self.d.item = s, i
        fields = item_fields(self.flow, self.d, self.env, s, i)
        if label:
            f = field_by_label(fields, label)
            if f is None:
                self.d.mode = ITEM
                return Show(PROMPT, error=err("engine/bad_field.txt", text=label,
                                              labels=[fld.title for _f, fld in fields]))
            return self.begin_field_edit(s, i, f)
        if len(fields) == 1:
            return self.begin_field_edit(s, i, fields[0][0])
        self.d.mode = ITEM
        return Show(PROMPT)

    def handle_group(self, text: str) -> Show:
        """The item list of a group: a number opens that item's fields, 添加 / 删除 N for open groups."""
        s = self.d.group
        step = self.step(s)
        items = self.items(step)
        m = RE_NUMBER.match(text)
        if m:
            return self.pick_item(s, int(m.group(1)) - 1)
        if not step.fixed and text in W_ADD:
            if len(items) >= step.max_items:
                return Show(PROMPT, error=err("engine/too_many.txt", max=step.max_items))
            return self.begin_item_edit(s, len(items))
        m = RE_DELETE.match(text)
        if m and not step.fixed:
            i = int(m.group(1)) - 1
            if not 0 <= i < len(items):
                return Show(PROMPT, error=err("engine/bad_item.txt", n=i + 1, count=len(items)))
            if len(items) <= step.min_items:
                return Show(PROMPT, error=err("engine/too_few.txt", min=step.min_items))
            items.pop(i)
            return Show(PROMPT)
        return Show(PROMPT, error=err("engine/group_hint.txt", fixed=step.fixed))

    def handle_item(self, text: str) -> Show:
        """The numbered fields of one item: a number (or a field's name) re-asks that field only; 全部
        re-asks them all."""
        s, i = self.d.group, self.d.item or 0
        fields = item_fields(self.flow, self.d, self.env, s, i)
        if text in W_ALL:
            return self.begin_item_edit(s, i)
        m = RE_NUMBER.match(text)
        if m:
            k = int(m.group(1))
            if not 1 <= k <= len(fields):
                return Show(PROMPT, error=err("engine/bad_field_no.txt", n=k, count=len(fields)))
            return self.begin_field_edit(s, i, fields[k - 1][0])
        f = field_by_label(fields, text)
        if f is not None:
            return self.begin_field_edit(s, i, f)
        return Show(PROMPT, error=err("engine/item_hint.txt", count=len(fields)))

    def leave_group(self) -> Show:
        self.go(self.d.group_back or SUMMARY)
        return Show(PROMPT)

    def begin_edit(self, s: int, i: int, f: int, only: bool) -> Show:
        """Edit item i of group s from field f (only that field, or the whole item); afterwards back where
        the group was opened from (the summary). 返回 at the first question is that way back too."""
        self.d.history = (self.d.history + [(len(self.flow.steps), 0, 0)])[-MAX_HISTORY:]
        self.d.edit = Edit(back=self.d.group_back or SUMMARY, base=len(self.d.history), only=only)
        self.d.mode = FIELDS
        self.d.cursor = (s, i, f)
        self.d.item = None
        return Show(PROMPT)

    def begin_field_edit(self, s: int, i: int, f: int) -> Show:
        return self.begin_edit(s, i, f, only=True)

    def begin_item_edit(self, s: int, i: int) -> Show:
        show = self.begin_edit(s, i, 0, only=False)
        self.settle()
        return show

    def answer(self, text: str) -> Show:
        """Parse an answer to the current field; store it and move on, or say what was wrong."""
        s, i, f = self.d.cursor
        step = self.step(s)
        fld = field_at(self.flow, self.d.cursor)
        fc = self.fc()
        pending = self.d.pending
        if pending:
            m = RE_NUMBER.match(text)
            if m and 1 <= int(m.group(1)) <= len(pending):
                return self.store(step, fld, pending[int(m.group(1)) - 1][0])
            self.d.pending = None
            if len(pending) == 1 and text.lower() in YES_WORDS:  # "您指的是「南埔镇」吗？（是/否）"
                return self.store(step, fld, pending[0][0])
            if len(pending) == 1 and text.lower() in NO_WORDS:
                return Show(PROMPT)
        if ((text in W_DONE or is_none(text)) and isinstance(step, Group) and not step.fixed and f == 0
                and i >= len(items_of(self.d, step)) and self.d.edit is None):  # 完成 / 没有: the list is complete
            if i < step.min_items:
                return Show(PROMPT, error=err("engine/too_few.txt", min=step.min_items))
            self.d.history = (self.d.history + [(s, i, f)])[-MAX_HISTORY:]
            self.d.cursor = (s + 1, 0, 0)
            self.d.attempts = 0
            self.settle()
            return Show(PROMPT)
        container = fc.item if isinstance(step, Group) else self.d.data
        if text in W_KEEP or not text:
            if container is not None and fld.name in container:  # 不变: the value it has, checked again
                return self.keep(step, fld, fc, container[fld.name])
            if text:
                self.d.attempts += 1
                return Show(PROMPT, error=err("engine/err_nothing_to_keep.txt"))
        try:
            value = parse(fld, fc, text)
        except Invalid as exc:
            self.d.attempts += 1
            return Show(PROMPT, error=Msg(exc.template, exc.kw))
        except Choose as exc:
            self.d.pending = [(v, label) for v, label in exc.options]
            return Show(CHOOSE, choose=Msg(exc.template, {"options": [label for _v, label in exc.options],
                                                          **exc.kw}))
        return self.store(step, fld, value)

    def keep(self, step: Step, fld: Field, fc: FieldContext, value) -> Show:
        """不变 (or an empty answer) to a field that has a value: the value stays — never the word 不变. A kept
        text or date is checked by the field's parser again (a plan kept from the last report may be past)."""
        if isinstance(value, str) and fld.parse is not None and fld.choices is None:
            try:
                value = fld.parse(fc, value)
            except Invalid as exc:
                self.d.attempts += 1
                return Show(PROMPT, error=Msg(exc.template, exc.kw))
            except Choose:
                pass
        return self.store(step, fld, value)

    def store(self, step: Step, fld: Field, value) -> Show:
        _s, i, _f = self.d.cursor
        if isinstance(step, Group):
            items = self.items(step)
            while len(items) <= i:
                items.append({})
            items[i][fld.name] = value
        else:
            self.d.data[fld.name] = value
        self.advance()
        return Show(PROMPT)


def parse(fld: Field, fc: FieldContext, text: str):
    """The value of an answer to `fld`: a menu's number or label, else the field's parser, else the text."""
    if not text:
        raise Invalid("engine/err_blank.txt")
    if fld.choices is not None:
        options = fld.choices(fc)
        m = RE_NUMBER.match(text)
        if m:
            k = int(m.group(1))
            if 1 <= k <= len(options):
                return options[k - 1][0]
            if fld.parse is None:
                raise Invalid("engine/err_choice.txt", options=[label for _v, label in options])
        for value, label in options:
            if text == label:
                return value
        if fld.parse is None:
            raise Invalid("engine/err_choice.txt", options=[label for _v, label in options])
    if fld.parse is None:
        return text
    return fld.parse(fc, text)
