"""Conversations and commands. Each capability is one module here, with its templates in
templates/<module>/ and its tests in tests/test_<module>.py. Importing this package registers them all.
"""
from handlers.router import Router

router = Router()

from handlers import menu  # noqa: E402,F401  (registration side effects)
