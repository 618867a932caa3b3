"""Settings from environment variables with documented defaults (see README "Configuration"), through
pydantic-settings: a value that does not parse fails at start-up with the variable's name.

`Settings.load(overrides)` reads the environment, then applies a mapping of overrides (tests and
`create_app(config=...)` use that). Every field is listed once, here. This package is the only place the
process environment is read: `ServerSettings` for gunicorn, `robot_credential` for the per-chat robot keys
whose variable names the org chart gives.
"""
from __future__ import annotations

import multiprocessing
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = PROJECT_ROOT / "instance"


class SettingsError(ValueError):
    """A setting that does not parse; the message starts with the variable's name."""


def _validated(cls, values: Mapping[str, Any]):
    try:
        return cls(**values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}={e.get('input')!r}: {e['msg']}"
                             for e in exc.errors())
        raise SettingsError(f"invalid setting {problems}") from None


_CONFIG = SettingsConfigDict(frozen=True, extra="ignore", env_ignore_empty=True, case_sensitive=True)


class Settings(BaseSettings):
    model_config = _CONFIG

    # Storage
    DATABASE_URL: str = f"sqlite:///{INSTANCE_DIR / 'bot.sqlite3'}"
    DATABASE_POOL_SIZE: int = 10  # PostgreSQL connections kept per process …
    DATABASE_MAX_OVERFLOW: int = 20  # … and opened beyond them at a peak (workers × both ≤ max_connections)
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
    # Interactive decision cards (docs/dingtalk.md "Decision cards"): the template built in DingTalk's card
    # platform (empty: decisions go as text), the route key and secret its HTTP callback was registered with.
    DINGTALK_CARD_TEMPLATE_ID: str = ""
    DINGTALK_CARD_ROUTE_KEY: str = "ddb-decision"
    DINGTALK_CARD_SECRET: str = ""  # empty: the app secret
    # E-mail (SMTP), a delivery channel of the outbox: docs/mail.md
    MAIL_HOST: str = ""  # unset: nothing is sent by mail
    MAIL_PORT: int = 587
    MAIL_USER: str = ""  # login; empty: no AUTH
    MAIL_PASSWORD: str = ""  # the mailbox's password or 授权码
    MAIL_FROM: str = ""  # the From address (may carry a display name); empty: MAIL_USER
    MAIL_TLS: Literal["starttls", "ssl", "none"] = "starttls"  # ssl = implicit TLS (port 465)
    MAIL_CA_FILE: str = ""  # PEM file of a private CA; empty: the system's trusted CAs
    MAIL_TIMEOUT_SECONDS: float = 30.0
    MAIL_MAX_ATTACHMENT_BYTES: int = 20 * 1024 * 1024  # attachments of one mail, together
    # Behaviour
    MAX_BODY_BYTES: int = 64 * 1024  # callbacks larger than this are refused (413)
    PASSIVE_REPLY_SECONDS: float = 3.0  # answer in the HTTP response if ready within this, else send actively
    DEDUP_TTL_SECONDS: int = 2 * 24 * 3600  # at least WECOM_TIMESTAMP_WINDOW_SECONDS and DingTalk's hour
    # A WeCom callback signed further than this from now is refused (403): WeCom retries within about a
    # minute, plus five minutes of clock skew. Deduplication must outlive it, or a capture replays.
    WECOM_TIMESTAMP_WINDOW_SECONDS: int = 360
    CONVERSATION_IDLE_MINUTES: int = 30
    DRAFT_KEEP_HOURS: int = 24
    OUTBOX_MAX_ATTEMPTS: int = 8
    OUTBOX_POLL_SECONDS: float = 1.0
    HTTP_TIMEOUT_SECONDS: float = 5.0
    OVERDUE_INTERVIEW_DAYS: int = 30  # 久拖不办: overdue this many days → 督查约谈 alert
    ACK_CHASE_WORKDAYS: int = 1  # 认领: a unit that has not acknowledged a new item this many working days on is chased
    ACK_ESCALATE_WORKDAYS: int = 3  # … and after this many the lead unit and the office liaisons are told
    SUPERVISION_REMIND_WORKDAYS: int = 2  # 整改 / 约谈承诺 reminded this many working days before
    JOBS_FILE: str = str(PROJECT_ROOT / "config" / "jobs.yaml")
    SEED_FILE: str = str(PROJECT_ROOT / "config" / "seed" / "quangang.yaml")
    CALENDAR_FILE: str = str(PROJECT_ROOT / "config" / "calendar.yaml")  # the office's 节假日/调休 override
    # A 5th/20th report deadline on a weekend or holiday: moved to the next working day (same hour) or kept
    DEADLINE_ON_NON_WORKING_DAY: Literal["next_working_day", "keep"] = "next_working_day"
    SUPERVISION_FILE: str = str(PROJECT_ROOT / "config" / "supervision.yaml")  # 效能问责 thresholds, 考评 rules
    EMBEDDED_WORKERS: bool = True  # `serve` runs the outbox sender and scheduler in-process
    # The web ledger board (/board)
    SECRET_KEY: str = ""  # signs board sessions and 看板 links; unset: a key file under INSTANCE_DIR
    BOARD_BASE_URL: str = "http://127.0.0.1:5000"  # public address of this app, for links sent in chat
    BOARD_LINK_MINUTES: int = 5  # a 看板 link works once, within this time
    BOARD_SESSION_HOURS: int = 8
    WECOM_OAUTH_BASE: str = "https://open.weixin.qq.com"  # OAuth2 authorize host (a fake server in tests)
    DINGTALK_CORP_ID: str = ""  # the corpId the board's page passes to DingTalk's requestAuthCode (免登)
    # Running it (docs/operations.md): logs, metrics, what is kept how long
    LOG_FORMAT: Literal["text", "json"] = "text"  # json: one JSON object per line, with the request id
    METRICS_ENABLED: bool = True  # GET /metrics (Prometheus)
    PROMETHEUS_MULTIPROC_DIR: Optional[str] = None  # gunicorn: the workers' shared metrics directory
    OUTBOX_KEEP_DAYS: int = 400  # sent / failed notices older than this are pruned (> any job's key window)
    LOG_KEEP_DAYS: int = 30  # rotated log files under INSTANCE_DIR/logs older than this are deleted
    TESTING: bool = False

    @field_validator("BOT_TIMEZONE")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("not an IANA time zone (e.g. Asia/Shanghai)") from None
        return value

    @model_validator(mode="after")
    def _dedup_outlives_the_windows(self):
        if self.DEDUP_TTL_SECONDS < max(self.WECOM_TIMESTAMP_WINDOW_SECONDS, 3600):
            raise ValueError("DEDUP_TTL_SECONDS must be at least WECOM_TIMESTAMP_WINDOW_SECONDS and 3600 "
                             "(DingTalk's sign window), or a captured callback is processed again")
        return self

    @classmethod
    def load(cls, overrides: Optional[Mapping[str, Any]] = None) -> Settings:
        """Defaults, then the environment, then `overrides` (keys that are not settings are ignored)."""
        picked = {k: v for k, v in (overrides or {}).items() if k in cls.model_fields}
        return _validated(cls, picked)

    @property
    def wecom_enabled(self) -> bool:
        return bool(self.WECOM_TOKEN and self.WECOM_AES_KEY and self.WECOM_CORP_ID)

    @property
    def dingtalk_enabled(self) -> bool:
        return bool(self.DINGTALK_APP_SECRET)

    @property
    def mail_enabled(self) -> bool:
        return bool(self.MAIL_HOST)

    @property
    def mail_sender(self) -> str:
        return self.MAIL_FROM or self.MAIL_USER

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump()


class ServerSettings(BaseSettings):
    """gunicorn's settings (gunicorn.conf.py documents each)."""

    model_config = _CONFIG

    HOST: str = "0.0.0.0"
    PORT: int = 8000
    WEB_CONCURRENCY: int = multiprocessing.cpu_count() * 2 + 1
    WEB_THREADS: int = 8
    WEB_TIMEOUT: int = 30
    WEB_ACCESS_LOG: Optional[str] = None
    LOG_LEVEL: str = "info"
    OUTBOX_SENDER_IN_WEB: Literal["auto", "1", "true", "yes", "on", "0", "false", "no", "off"] = "auto"
    REDIS_URL: Optional[str] = None
    PROMETHEUS_MULTIPROC_DIR: Optional[str] = None

    @classmethod
    def load(cls) -> ServerSettings:
        return _validated(cls, {})


def child_environment(project_root) -> dict:
    """The environment of a child process the bot starts (a heavy job, the migration at start): this
    process's, with the project importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(project_root)] + [p for p in [env.get("PYTHONPATH")] if p])
    return env


def library_defaults() -> None:
    """Settings that third-party libraries read from the environment when first imported: pypinyin without
    its phrase dictionary (bot/domain/fuzzy.py says why). An operator's own value wins."""
    os.environ.setdefault("PYPINYIN_NO_PHRASES", "1")


def robot_credential(env_name: Optional[str]) -> Optional[str]:
    """A group robot's key or secret from the variable the org chart names for that chat (WECOM_ROBOT_<CHAT>,
    its _SECRET): those names are data, not fields, so this is their one reader."""
    return (os.environ.get(env_name) or None) if env_name else None


def set_robot_credential(env_name: str, value: str) -> None:
    """For the local simulator: give a chat's robot a key in this process only."""
    os.environ[env_name] = value
