"""How texts name a person — ONE rule, used by every template (`{{ person | address }}`) and job.

- A person with a post the office names after the person (区长, 副区长, 局长, 主任, 组长, 调研员…) is written
  name + short title: 杨凤翔区长, 张井丽常务副区长, 刘玉强局长. The short title is the org chart's
  `short_title` when given, else derived from `title` (`short_title`):
  1. of the posts in `title` (separated by 、) the government one (starting 区政府 / 区委区政府) if any,
     else the first: 区委常委、区政府常务副区长 → 区政府常务副区长;
  2. without the organisation in front of the post: the person's own unit's name, or 区委区政府,
     区政府办公室, 区政府办, 区效能办, 区政府, 区委: → 常务副区长; 区发改局局长 (of 区发改局) → 局长;
  3. kept only if it ends in a post named after a person (`NAMED_POSTS`): 三级主任科员, 督查股负责人 are
     not, so 刘冷华 is just 刘冷华.
- Anyone else: the name alone.
- A placeholder of the shipped org chart (「（待指定）…」, nobody named yet) never shows its placeholder
  text: it is named by its role («项目负责领导», from the title without 「（待指定）」), and a unit without a
  named liaison is named by the unit alone (`unit_contact`: 区工信局（数字办）, not
  区工信局（数字办）（（待指定）区工信局（数字办）联络员）).

Pure: works on a Person, a bot.delivery.outbox.Who or anything with name / title / short_title /
placeholder attributes (and, optionally, unit_name or unit.name).
"""
from __future__ import annotations

import re
from typing import Any, Optional

ORG_PREFIXES = ("区委区政府", "区政府办公室", "区政府办", "区效能办", "区政府", "区委")
NAMED_POSTS = re.compile(r"(?<!科)(?:长|书记|主任|调研员|巡视员|主席|组长)$")
PLACEHOLDER_MARK = re.compile(r"[（(]待指定[)）]")


def _unit_name(person: Any) -> Optional[str]:
    name = getattr(person, "unit_name", None)
    if name:
        return name
    try:
        unit = getattr(person, "unit", None)
    except Exception:  # noqa: BLE001 - a detached ORM instance: no unit prefix to strip
        return None
    return unit if isinstance(unit, str) else getattr(unit, "name", None)


def short_title(title: Optional[str], unit_name: Optional[str] = None) -> str:
    """The short title derived from an org-chart title (see the module's rule); "" when there is none."""
    parts = [p.strip() for p in PLACEHOLDER_MARK.sub("", title or "").split("、") if p.strip()]
    if not parts:
        return ""
    post = next((p for p in parts if p.startswith(("区政府", "区委区政府"))), parts[0])
    for prefix in ((unit_name,) if unit_name else ()) + ORG_PREFIXES:
        if post.startswith(prefix) and len(post) > len(prefix):
            post = post[len(prefix):]
            break
    return post if NAMED_POSTS.search(post) else ""


def title_of(person: Any) -> str:
    """The short title a text puts after this person's name ("" for none)."""
    if person is None or getattr(person, "placeholder", False):
        return ""
    explicit = getattr(person, "short_title", None)
    if explicit:
        return explicit
    return short_title(getattr(person, "title", None), _unit_name(person))


def address(person: Any) -> str:
    """The person as texts name them: 杨凤翔区长 / 李雅茹 / (a placeholder) 项目负责领导; "" for None."""
    if person is None:
        return ""
    if getattr(person, "placeholder", False):
        return PLACEHOLDER_MARK.sub("", getattr(person, "title", None) or "").strip()
    return f"{person.name}{title_of(person)}"


def is_named(person: Any) -> bool:
    """A real person (not a placeholder of the shipped org chart)."""
    return person is not None and not getattr(person, "placeholder", False)


def unit_contact(unit_name: str, liaison: Any = None) -> str:
    """A unit with its liaison in brackets when one is named: 区发改局（王五）; else the unit alone."""
    return f"{unit_name}（{address(liaison)}）" if is_named(liaison) else unit_name
