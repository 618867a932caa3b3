"""Forgiving input for commands: the ONE place where a typed text that is not exactly a command is made
into one (traditional characters, full-width forms, spaces inside a keyword, polite wrappers), and where an
unknown text gets its nearest command as a suggestion (pinyin for IME homophones, then edit distance).

Exact commands never come here: `Router.route` tries `Router.find` on the text first, so whatever routed
before still routes the same way (`查 看` stays 查 + 看).
"""
from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

from bot.domain.fuzzy import is_cjk as _is_cjk
from bot.domain.fuzzy import similarity, simplify

log = logging.getLogger(__name__)

# Polite wrappers around a command (我要填报, 帮我查一下逾期, 请填报, 麻烦…一下). Stripped only when what
# remains is a command (`Router.find_loose`).
_POLITE_HEAD = re.compile(r"^(?:(?:麻烦(?:你|您)?|劳驾|请(?:你|您)?|帮(?:我|忙)|给我|我(?:想|要|想要|需要|来))\s*)+")
_POLITE_TAIL = re.compile(r"(?:\s*(?:一下|吧|啊|呀|呢|哈|好吗|好吧|可以吗|行吗|谢谢|谢谢你|谢谢您|多谢))+"
                          r"[。！!？?~～…]*$")
_VERB_HEAD = re.compile(r"^(?:查询|查看|查|看)(?:一下|一查|一看|查|看)\s*")
_YIXIA = re.compile(r"一下")

# A yes / no to a question the bot asked (a suggested command; in a form, a single candidate to confirm).
YES_WORDS = frozenset({"是", "是的", "对", "对的", "好", "好的", "嗯", "要", "y", "yes", "ok"})
NO_WORDS = frozenset({"否", "不是", "不", "不对", "不要", "算了", "n", "no"})


def variants(text: str) -> Iterator[str]:
    """The texts to try as a command, most literal first: simplified; then without polite wrappers; then
    without 一下 inside; then without a leading 查一下 / 看看 (帮我查一下逾期 → 逾期)."""
    seen: set[str] = set()

    def fresh(s: str) -> Optional[str]:
        s = s.strip()
        if s and s not in seen:
            seen.add(s)
            return s
        return None

    base = simplify(text)
    for s in (base, _POLITE_TAIL.sub("", _POLITE_HEAD.sub("", base))):
        if (v := fresh(s)) is not None:
            yield v
    core = _POLITE_TAIL.sub("", _POLITE_HEAD.sub("", base)).strip()
    for s in (_YIXIA.sub("", core), _VERB_HEAD.sub("", core)):
        if (v := fresh(s)) is not None:
            yield v


def spaced_prefix(text: str, word: str) -> Optional[str]:
    """If `text` starts with `word` typed with spaces between its Chinese characters (填 报, 我的 事项), the
    rest of the text; else None. Spaces are skipped only between two Chinese characters."""
    i = 0
    for k, ch in enumerate(word):
        if k:
            j = i
            while j < len(text) and text[j] == " ":
                j += 1
            if j > i and not (_is_cjk(word[k - 1]) and _is_cjk(ch)):
                return None
            i = j
        if i >= len(text) or text[i] != ch:
            return None
        i += 1
    return text[i:]


# -- near-miss suggestions ------------------------------------------------------------------------------

MIN_SIMILARITY = 0.75  # below this nothing is suggested (the menu is shown instead)


@dataclass(frozen=True)
class Suggestion:
    word: str  # the command's keyword as it is registered
    args: str  # the rest of what was typed
    score: float


def _head(text: str) -> tuple[str, str]:
    """The leading word of a text (a run of Chinese characters, or up to the first space) and the rest."""
    text = text.strip()
    if not text:
        return "", ""
    if _is_cjk(text[0]):
        n = 1
        while n < len(text) and _is_cjk(text[n]):
            n += 1
    else:
        n = text.find(" ") if " " in text else len(text)
    return text[:n], text[n:].strip()


def suggest(text: str, words: Iterable[str]) -> Optional[Suggestion]:
    """The nearest command word to an unknown `text` (None if none is close enough). `words` are the
    keywords the person may use, in menu order (ties go to the earlier). The text's leading word is
    compared, also after the polite wrappers are stripped (我要天报 → 天报)."""
    words = list(words)
    best: Optional[Suggestion] = None
    tried: set[str] = set()
    for form in variants(text):
        head, args = _head(form)
        if head in tried or len(head) > 12:
            continue
        tried.add(head)
        for word in words:
            if len(word) < 2 and not word.isascii():
                continue  # a one-character keyword (查) would be "near" every one-character text
            if word.isascii() and not word.isalpha():
                continue  # ?, ？
            score = similarity(head, word)
            if score >= MIN_SIMILARITY and (best is None or score > best.score):
                best = Suggestion(word, args, score)
    return best


# -- the pending suggestion: one per person, answered by the next message ------------------------------
SUGGESTION_TTL_SECONDS = 300


def suggestion_key(person_id: int) -> str:
    return f"suggest:person:{person_id}"


def _key(ctx) -> str:
    return suggestion_key(ctx.person.id)


def remember_suggestion(ctx, hit: Suggestion) -> None:
    """Keep `hit` for this person's next message (SUGGESTION_TTL_SECONDS; by the bot's clock too)."""
    doc = {"word": hit.word, "args": hit.args, "score": hit.score, "at": ctx.now.isoformat()}
    ctx.runtime.kv.set(_key(ctx), json.dumps(doc, ensure_ascii=False), ttl=SUGGESTION_TTL_SECONDS)


def take_suggestion(ctx) -> Optional[Suggestion]:
    """The suggestion made to this person by their previous message, if any and not expired; it is used up
    whatever the next message is."""
    from bot.conversation.store import take_plain

    kv = ctx.runtime.kv
    raw = take_plain(ctx.runtime, ctx.session, _key(ctx))  # read with the message's other state
    if raw is None:
        return None
    kv.delete(_key(ctx))
    try:
        doc = json.loads(raw)
        made = datetime.fromisoformat(doc["at"])
        if not timedelta(0) <= ctx.now - made <= timedelta(seconds=SUGGESTION_TTL_SECONDS):
            return None
        return Suggestion(str(doc["word"]), str(doc.get("args") or ""), float(doc.get("score") or 0))
    except (ValueError, KeyError, TypeError):
        return None


_warmed = threading.Event()


def warm_up(today=None) -> None:
    """Load the tables the first near-miss would otherwise load inside a callback's reply window (zhconv,
    pypinyin, rapidfuzz; this and next year's holiday names for 春节前 …, without touching the working-day
    warnings). `start_warm_up` runs it once per process in a daemon thread."""
    from datetime import date

    from bot.domain import fuzzy, workdays

    try:
        fuzzy.similarity(fuzzy.simplify("天報"), "填报")
        year = (today or date.today()).year
        for name in workdays.HOLIDAY_NAMES:
            workdays.holiday_days(name, year)
            workdays.holiday_days(name, year + 1)
    except Exception:  # noqa: BLE001 - a warm-up must never break the start; the first use loads it then
        log.warning("warming up forgiving input failed", exc_info=True)


def start_warm_up() -> None:
    """Warm up in the background, once per process (the runtime calls it when it is built)."""
    if not _warmed.is_set():
        _warmed.set()
        threading.Thread(target=warm_up, name="forgiving-warm-up", daemon=True).start()
