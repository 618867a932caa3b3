"""Settings from environment variables with documented defaults (see README "Configuration").

`Settings.load(overrides)` reads the environment, then applies a mapping of overrides (tests and
`create_app(config=...)` use that). Every field is listed once, here.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping, Optional

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = PROJECT_ROOT / "instance"


def _default_db_url() -> str:
    return f"sqlite:///{INSTANCE_DIR / 'bot.sqlite3'}"


@dataclass(frozen=True)
class Settings:
    # Storage
    DATABASE_URL: str = field(default_factory=_default_db_url)
    REDIS_URL: Optional[str] = None  # unset: one process, in-process locks, SQL dedup and sessions
    BOT_TIMEZONE: str = "Asia/Shanghai"
    INSTANCE_DIR: str = str(INSTANCE_DIR)  # reports, exports, SQLite file
    # WeCom self-built app (企业微信自建应用)
    WECOM_CORP_ID: str = ""
    WECOM_AGENT_ID: str = ""
    WECOM_SECRET: str = ""
    WECOM_TOKEN: str = ""
    WECOM_AES_KEY: str = ""  # EncodingAESKey, 43 chars
    WECOM_API_BASE: str = "https://qyapi.weixin.qq.com"
    # DingTalk enterprise-internal robot (钉钉企业内部机器人)
    DINGTALK_APP_KEY: str = ""
    DINGTALK_APP_SECRET: str = ""
    DINGTALK_ROBOT_CODE: str = ""
    DINGTALK_API_BASE: str = "https://api.dingtalk.com"
    DINGTALK_OAPI_BASE: str = "https://oapi.dingtalk.com"
    # Behaviour
    MAX_BODY_BYTES: int = 64 * 1024  # callbacks larger than this are refused (413)
    PASSIVE_REPLY_SECONDS: float = 3.0  # answer in the HTTP response if ready within this, else send actively
    DEDUP_TTL_SECONDS: int = 2 * 24 * 3600
    CONVERSATION_IDLE_MINUTES: int = 30
    DRAFT_KEEP_HOURS: int = 24
    OUTBOX_MAX_ATTEMPTS: int = 8
    OUTBOX_POLL_SECONDS: float = 1.0
    HTTP_TIMEOUT_SECONDS: float = 5.0
    OVERDUE_INTERVIEW_DAYS: int = 30  # 久拖不办: overdue this many days → 督查约谈 alert
    JOBS_FILE: str = str(PROJECT_ROOT / "config" / "jobs.yaml")
    SEED_FILE: str = str(PROJECT_ROOT / "config" / "seed" / "quangang.yaml")
    CALENDAR_FILE: str = str(PROJECT_ROOT / "config" / "calendar.yaml")  # the office's 节假日/调休 override
    EMBEDDED_WORKERS: bool = True  # `serve` runs the outbox sender and scheduler in-process
    # The web ledger board (/board)
    SECRET_KEY: str = ""  # signs board sessions and 看板 links; unset: a key file under INSTANCE_DIR
    BOARD_BASE_URL: str = "http://127.0.0.1:5000"  # public address of this app, for links sent in chat
    BOARD_LINK_MINUTES: int = 5  # a 看板 link works once, within this time
    BOARD_SESSION_HOURS: int = 8
    WECOM_OAUTH_BASE: str = "https://open.weixin.qq.com"  # OAuth2 authorize host (a fake server in tests)
    DINGTALK_CORP_ID: str = ""  # the corpId the board's page passes to DingTalk's requestAuthCode (免登)
    TESTING: bool = False

    @classmethod
    def load(cls, overrides: Optional[Mapping[str, Any]] = None, environ: Optional[Mapping[str, str]] = None):
        """Defaults, then the environment, then `overrides`."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in environ and environ[f.name] != "":
                values[f.name] = _coerce(f, environ[f.name])
        settings = cls(**values)
        if overrides:
            known = {f.name: f for f in fields(cls)}
            picked = {k: (_coerce(known[k], v) if isinstance(v, str) else v)
                      for k, v in overrides.items() if k in known}
            settings = replace(settings, **picked)
        return settings

    @property
    def wecom_enabled(self) -> bool:
        return bool(self.WECOM_TOKEN and self.WECOM_AES_KEY and self.WECOM_CORP_ID)

    @property
    def dingtalk_enabled(self) -> bool:
        return bool(self.DINGTALK_APP_SECRET)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _coerce(f, raw: str):
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "str")
    if "bool" in kind:
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if kind.startswith("int"):
        return int(raw)
    if kind.startswith("float"):
        return float(raw)
    return raw
