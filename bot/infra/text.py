"""Every user-visible text is a Jinja2 template under templates/; this renders them."""
from __future__ import annotations

from datetime import date, datetime

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context

from bot.domain.address import address, unit_contact
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


def cn_deadline(value: datetime | None) -> str:
    """A deadline as notices write it: 2026年12月7日（星期一）18:00 (in the bot's zone)."""
    if value is None:
        return "—"
    v = value.astimezone(tz())
    return f"{v.year}年{v.month}月{v.day}日（星期{WEEKDAYS[v.weekday()]}）{v:%H:%M}"


def truncate_chars(value: str | None, n: int = 60) -> str:
    value = value or ""
    return value if len(value) <= n else value[: n - 1] + "…"


def level_name(level, with_step: bool = False) -> str:
    """`{{ level | level_name }}`: an escalation level by its name (提级督办、久推不动…:
    bot.domain.ledger.ESCALATION_LEVEL_NAMES)."""
    from bot.domain.ledger import escalation_level_name

    return escalation_level_name(level, with_step)


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
                   cn_weekday=cn_weekday, cn_deadline=cn_deadline, clip=truncate_chars,
                   address=address, addressed=address, unit_contact=unit_contact, level_name=level_name,
                   md=markdown_text)
env.globals.update(address=address)


def render(name: str, **context) -> str:
    """Render templates/<name> and strip surrounding blank space."""
    return env.get_template(name).render(**context).strip()
