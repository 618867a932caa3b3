"""Shared short-lived state: Redis when REDIS_URL is set, else in-process (one process only).

Used for: access-token caching, per-user locks, conversation drafts, message deduplication.
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Iterator, Optional


class LockTimeout(Exception):
    """Could not get a lock in time (another message of the same user is still being handled)."""


class MemoryKV:
    """A dict with expiry and named locks, for the embedded single-process default."""

    def __init__(self):
        self._data: dict[str, tuple[str, Optional[float]]] = {}
        self._mutex = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def _alive(self, key: str) -> Optional[str]:
        item = self._data.get(key)
        if item is None:
            return None
        value, expires = item
        if expires is not None and expires <= time.monotonic():
            del self._data[key]
            return None
        return value

    def get(self, key: str) -> Optional[str]:
        with self._mutex:
            return self._alive(key)

    def set(self, key: str, value: str, ttl: Optional[float] = None) -> None:
        with self._mutex:
            self._data[key] = (value, time.monotonic() + ttl if ttl else None)

    def set_nx(self, key: str, value: str, ttl: Optional[float] = None) -> bool:
        with self._mutex:
            if self._alive(key) is not None:
                return False
            self._data[key] = (value, time.monotonic() + ttl if ttl else None)
            return True

    def delete(self, key: str) -> None:
        with self._mutex:
            self._data.pop(key, None)

    @contextmanager
    def lock(self, name: str, timeout: float = 30, wait: float = 10) -> Iterator[None]:
        with self._mutex:
            lk = self._locks.setdefault(name, threading.Lock())
        if not lk.acquire(timeout=wait):
            raise LockTimeout(name)
        try:
            yield
        finally:
            lk.release()

    def ping(self) -> bool:
        return True


class RedisKV:
    """The same interface on Redis, shared by every process."""

    def __init__(self, url: str, prefix: str = "ddb:"):
        import redis

        self.client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=5,
                                           socket_connect_timeout=5, health_check_interval=30)
        self.prefix = prefix

    def _k(self, key: str) -> str:
        return self.prefix + key

    def get(self, key: str) -> Optional[str]:
        return self.client.get(self._k(key))

    def set(self, key: str, value: str, ttl: Optional[float] = None) -> None:
        self.client.set(self._k(key), value, px=int(ttl * 1000) if ttl else None)

    def set_nx(self, key: str, value: str, ttl: Optional[float] = None) -> bool:
        return bool(self.client.set(self._k(key), value, nx=True, px=int(ttl * 1000) if ttl else None))

    def delete(self, key: str) -> None:
        self.client.delete(self._k(key))

    @contextmanager
    def lock(self, name: str, timeout: float = 30, wait: float = 10) -> Iterator[None]:
        import redis

        lk = self.client.lock(self._k("lock:" + name), timeout=timeout, blocking_timeout=wait)
        if not lk.acquire():
            raise LockTimeout(name)
        try:
            yield
        finally:
            try:
                lk.release()
            except redis.exceptions.LockError:
                pass  # expired while held; the timeout is far above any handler's run time

    def ping(self) -> bool:
        return bool(self.client.ping())


def make_kv(redis_url: Optional[str], prefix: str = "ddb:"):
    return RedisKV(redis_url, prefix) if redis_url else MemoryKV()
