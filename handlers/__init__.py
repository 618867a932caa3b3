"""Commands and conversations: one module per capability, with its templates in templates/<module>/
and its tests in tests/test_<module>.py. A handler parses what was typed, checks the person may do it,
calls an action (bot.actions) and renders the answer. `build_router` puts them together; importing a
module registers nothing by itself.
"""
from __future__ import annotations

import importlib

from bot.core.routing import Router

# Every capability, in no particular order (the menu is ordered by each command's `order`).
MODULES = ("acknowledge", "board", "circular", "closeout", "decisions", "escalate", "export", "extension",
           "menu", "minutes", "my_items", "orgchart", "projects", "report", "rollup", "slip", "status",
           "supervision", "topics")


def build_router() -> Router:
    """The router with the conversation engine's interceptor and every handler module's commands."""
    from bot.conversation import engine

    router = Router()
    router.include(engine.commands)
    for name in MODULES:
        router.include(importlib.import_module(f"{__name__}.{name}").commands)
    return router
