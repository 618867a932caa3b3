"""Conversations and commands. Each capability is one module here, with its templates in
templates/<module>/ and its tests in tests/test_<module>.py. Importing this package registers every
module in it (no list to keep in step).
"""
import importlib
import pkgutil

from handlers.router import Router

router = Router()

for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _info.name != "router":
        importlib.import_module(f"{__name__}.{_info.name}")
