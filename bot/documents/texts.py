"""The fixed Chinese texts of the forms live in templates/documents/<form>.txt, one `part` each."""
from __future__ import annotations

from bot.infra.text import render


def part(form: str, which: str, **kw) -> str:
    return render(f"documents/{form}.txt", part=which, **kw)


def lines(form: str, which: str, **kw) -> list[str]:
    return [ln.strip() for ln in part(form, which, **kw).splitlines() if ln.strip()]


def level_name(level: int) -> str:
    return render("documents/level.txt", level=level or 0)
