"""Every user-visible text is a Jinja2 template under templates/; this renders them."""
from __future__ import annotations

from datetime import date, datetime

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context

from bot.domain.clock import tz
from config.settings import PROJECT_ROOT

TEMPLATES_DIR = PROJECT_ROOT / "templates"
WEEKDAYS = "一二三四五六日"


def cn_date(value) -> str:
    """2026年12月5日-style date for people, in the bot's zone (templates add the weekday with `cn_weekday`)."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.astimezone(tz()).date()
    return f"{value.year}年{value.month}月{value.day}日"


def cn_short_date(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.astimezone(tz()).date()
    return f"{value.month}月{value.day}日"


def cn_datetime(value: datetime | None) -> str:
    if value is None:
        return "—"
    v = value.astimezone(tz())
    return f"{v.year}年{v.month}月{v.day}日 {v:%H:%M}"


def cn_weekday(value: date) -> str:
    return "周" + WEEKDAYS[value.weekday()]


def truncate_chars(value: str | None, n: int = 60) -> str:
    value = value or ""
    return value if len(value) <= n else value[: n - 1] + "…"


def addressed(person) -> str:
    """A leader as official texts address them: name and short title (杨凤翔区长, from 区政府区长; 陈剑锋副区长,
    from 区委常委、区政府副区长) — the government post if one is listed, else the first; the name alone
    without a title."""
    if person is None:
        return ""
    parts = [p.strip() for p in (getattr(person, "title", None) or "").split("、") if p.strip()]
    post = next((p for p in parts if p.startswith("区政府")), parts[0] if parts else "")
    return person.name + post.removeprefix("区政府")


@pass_context
def markdown_text(context, value) -> str:
    """`{{ field | md }}`: user-typed text in a group markdown template, made inert for the channel the
    template is rendered for (`md_channel`; unset: safe for every channel)."""
    from bot.channels import markdown_escaper

    channel = context.get("md_channel")
    return markdown_escaper(channel)(value)


env = Environment(
    loader=FileSystemLoader(str(TEMPLATES_DIR)),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    autoescape=False,
    cache_size=-1,  # every template stays compiled (there are more than the default 400)
    auto_reload=False,  # no stat() of the file per render: templates change with a deploy, not while running
)
env.filters.update(cn_date=cn_date, cn_short_date=cn_short_date, cn_datetime=cn_datetime,
                   cn_weekday=cn_weekday, clip=truncate_chars,
                   addressed=addressed, md=markdown_text)


def render(name: str, **context) -> str:
    """Render templates/<name> and strip surrounding blank space."""
    return env.get_template(name).render(**context).strip()
