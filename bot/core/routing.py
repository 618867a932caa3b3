"""Routing of a message to a handler: interceptors (e.g. an open conversation) first, then commands
by their Chinese keyword, then the menu.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Optional

from bot.core import forgiving
from bot.core.messages import Context, Reply

Interceptor = Callable[[Context, str], Optional[Reply]]


@dataclass
class Command:
    words: tuple[str, ...]  # what users type, e.g. ("录入纪要",)
    func: Callable
    menu_key: Optional[str] = None  # WeCom menu EventKey / DingTalk card key
    summary: str = ""  # short Chinese description for the menu (rendered in templates/core/menu.txt)
    order: int = 100
    roles: Optional[tuple[str, ...]] = None  # who sees it in the menu (None: everyone); handlers still check


# A menu longer than this is shown by command names only: a passive WeCom reply carries 2048 bytes of text.
MENU_MAX_BYTES = 1900


class Commands:
    """The commands, interceptors and conversation flows of one handler module (like a Flask blueprint):
    decorators collect them here, and `Router.include` adds them to a router. Nothing is registered
    globally on import."""

    def __init__(self):
        self.commands: list[Command] = []
        self.interceptors: list[tuple[int, Interceptor]] = []
        self.state_keys: list[Callable[[int], str]] = []
        self.flows: list = []

    def command(self, *words: str, menu_key: Optional[str] = None, summary: str = "", order: int = 100,
                roles: Optional[tuple[str, ...]] = None):
        """Register a command handler `func(ctx, args) -> Reply | str | None`.

        `roles` only decides who sees it in the menu; the handler itself checks permissions."""

        def deco(func):
            self.commands.append(Command(tuple(words), func, menu_key, summary, order, roles))
            return func

        return deco

    def interceptor(self, priority: int = 100, state: Optional[Callable[[int], str]] = None):
        """Register `func(ctx, text) -> Reply | None`, tried before commands (lower priority first).
        `state(person_id)`: the conversation-store key the interceptor reads for every message of that
        person — the runtime reads all of them at once when the message starts (store.prefetch)."""

        def deco(func):
            self.interceptors.append((priority, func))
            if state is not None:
                self.state_keys.append(state)
            return func

        return deco

    def flow(self, flow):
        """Make a conversation flow (bot.conversation.flow.Flow) known to the router, so that a stored
        draft of it can be continued by any process. Returns the flow."""
        self.flows.append(flow)
        return flow


class Router:
    """All commands of the bot, in menu order, the interceptors, by priority, and the conversation flows
    by name."""

    def __init__(self):
        self.commands: list[Command] = []
        self.interceptors: list[tuple[int, Interceptor]] = []
        self.state_keys: list[Callable[[int], str]] = []
        self.flows: dict = {}

    def include(self, commands: Commands) -> None:
        self.commands = sorted(self.commands + commands.commands, key=lambda c: c.order)
        self.interceptors = sorted(self.interceptors + commands.interceptors, key=lambda p: p[0])
        self.state_keys += commands.state_keys
        for flow in commands.flows:
            if self.flows.get(flow.name, flow) is not flow:
                raise ValueError(f"two conversation flows are named {flow.name!r}")
            self.flows[flow.name] = flow

    def find(self, text: str) -> tuple[Optional[Command], str]:
        """The command whose keyword starts `text` as a whole word (longest keyword wins) and the rest as args.

        Chinese has no spaces, so "whole word" means: the keyword is not glued to more of the same script
        (查看 is not 查 + 看; 查M1 and 查 看 are 查)."""
        best: Optional[Command] = None
        best_word = ""
        for cmd in self.commands:
            for w in cmd.words:
                if (len(w) > len(best_word) and text.startswith(w)
                        and not (len(text) > len(w) and _glued(w[-1], text[len(w)]))):
                    best, best_word = cmd, w
        if best is None:
            return None, text
        return best, text[len(best_word):].strip()

    def find_loose(self, text: str) -> tuple[Optional[Command], str]:
        """For a text `find` does not take: the command it names once normalised (bot.core.forgiving:
        traditional → simplified, full-width → half-width, polite wrappers, spaces inside a keyword), or
        (None, text). A normalised form is a command when `find` takes it, or when it starts with a keyword
        typed with spaces between its characters (填 报) that is not glued to more of the same script."""
        for form in forgiving.variants(text):
            cmd, args = self.find(form)
            if cmd is not None:
                return cmd, args
            best: Optional[Command] = None
            best_word, best_rest = "", ""
            for c in self.commands:
                for w in c.words:
                    rest = forgiving.spaced_prefix(form, w) if len(w) > len(best_word) else None
                    if rest is not None and not (rest and _glued(w[-1], rest[0])):
                        best, best_word, best_rest = c, w, rest
            if best is not None:
                return best, best_rest.strip()
        return None, text

    def waiting_state(self, person_id: int) -> tuple[list[str], list[str]]:
        """What every message of this person reads before it is routed: the conversation-store keys of
        the interceptors, and the plain key-value entries (the pending suggestion)."""
        return [key(person_id) for key in self.state_keys], [forgiving.suggestion_key(person_id)]

    def by_menu_key(self, key: str) -> Optional[Command]:
        return next((c for c in self.commands if c.menu_key == key), None)

    def route(self, ctx: Context) -> Optional[Reply]:
        inc = ctx.incoming
        if inc.event in ("enter_agent", "subscribe"):
            return self.menu(ctx)
        text = normalize(inc.text or "")
        if inc.event == "click":
            cmd = self.by_menu_key(inc.event_key or "")
            if cmd is None:
                return self.menu(ctx)
            text = cmd.words[0]
        elif inc.event and not text:
            text = inc.event_key or ""
        pending = forgiving.take_suggestion(ctx)
        if pending is not None and text.lower() in forgiving.YES_WORDS:
            cmd, args = self.find(pending.word)
            if cmd is not None:
                return as_reply(cmd.func(ctx, pending.args))
        if pending is not None and text in forgiving.NO_WORDS:
            return Reply(ctx.render("core/suggest_declined.txt"))
        for _prio, func in self.interceptors:
            out = func(ctx, text)
            if out is not None:
                return as_reply(out)
        if not text:
            return Reply(ctx.render("core/empty.txt"))
        cmd, args = self.find(text)
        if cmd is None:
            cmd, args = self.find_loose(text)
        if cmd is None:
            return self.unknown(ctx, text)
        return as_reply(cmd.func(ctx, args))

    def unknown(self, ctx: Context, text: str) -> Reply:
        """A text that is no command: the nearest command the person may use, as a question that only 是
        answers (never run without it), or the short menu when nothing is close."""
        commands = self.visible(ctx)
        hit = forgiving.suggest(text, [w for c in commands for w in c.words])
        if hit is None:
            return Reply(ctx.render("core/unknown.txt", text=text, commands=commands))
        forgiving.remember_suggestion(ctx, hit)
        return Reply(ctx.render("core/suggest.txt", text=text, word=hit.word, args=hit.args))

    def visible(self, ctx: Context) -> list[Command]:
        """The commands shown to this person: those with a summary that their roles call for."""
        return [c for c in self.commands if c.summary and (c.roles is None or ctx.roles.has(*c.roles))]

    def menu(self, ctx: Context) -> Reply:
        """Each command with its description; for someone who may do very much (an administrator holds every
        role) the names only, so the menu still fits in one reply ("帮助 命令" describes one)."""
        commands = self.visible(ctx)
        full = ctx.render("core/menu.txt", commands=commands, roles=ctx.roles)
        if len(full.encode()) <= MENU_MAX_BYTES:
            return Reply(full)
        return Reply(ctx.render("core/menu_compact.txt", commands=commands, roles=ctx.roles))

    def describe(self, ctx: Context, word: str) -> Optional[Reply]:
        """`帮助 填报`: the description of one command this person may use (None: no such command)."""
        cmd, _args = self.find(word)
        if cmd is None or cmd not in self.visible(ctx):
            return None
        return Reply(ctx.render("core/menu_one.txt", command=cmd))


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" or "\uf900" <= ch <= "\ufaff"


def _glued(last: str, nxt: str) -> bool:
    """Whether `nxt` continues the word that ends in `last` (same script: both Chinese or both Latin/digits)."""
    if _is_cjk(last):
        return _is_cjk(nxt)
    return last.isascii() and last.isalnum() and nxt.isascii() and nxt.isalnum()


def normalize(text: str) -> str:
    """Trim, turn full-width spaces and letters/digits into half-width, collapse runs of spaces within each
    line; line breaks are kept (a multi-line answer stays multi-line)."""
    out = []
    for ch in text:
        code = ord(ch)
        if code == 0x3000:
            out.append(" ")
        elif 0xFF10 <= code <= 0xFF19 or 0xFF21 <= code <= 0xFF3A or 0xFF41 <= code <= 0xFF5A:
            out.append(chr(code - 0xFEE0))
        else:
            out.append(ch)
    lines = "".join(out).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(" ".join(line.split()) for line in lines).strip()


def as_reply(out) -> Optional[Reply]:
    if out is None or isinstance(out, Reply):
        return out
    return Reply(str(out))
