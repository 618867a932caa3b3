"""Shared short-lived state: Redis when REDIS_URL is set, else in-process (one process only).

Used for: access-token caching, per-user locks, conversation drafts (versioned documents written by
compare-and-set), message deduplication.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Optional


class LockTimeout(Exception):
    """Could not get a lock in time (another message of the same user is still being handled)."""


class MemoryKV:
    """A dict with expiry and named locks, for the embedded single-process default."""

    def __init__(self):
        self._data: dict[str, tuple[str, Optional[float]]] = {}
        self._mutex = threading.Lock()
        self._locks: dict[str, list] = {}  # name -> [lock, holders + waiters]: dropped when nobody needs it
        self._versions: dict[str, int] = {}

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
            self._versions.pop(key, None)

    @contextmanager
    def lock(self, name: str, timeout: float = 30, wait: float = 10) -> Iterator[None]:
        with self._mutex:
            entry = self._locks.setdefault(name, [threading.Lock(), 0])
            entry[1] += 1
        try:
            if not entry[0].acquire(timeout=wait):
                raise LockTimeout(name)
            try:
                yield
            finally:
                entry[0].release()
        finally:
            with self._mutex:
                entry[1] -= 1
                if entry[1] == 0:  # released and unheld: one entry per live lock, not per id ever seen
                    del self._locks[name]

    def get_versioned(self, key: str) -> Optional[tuple[int, str]]:
        """A versioned document: (version, value), or None."""
        with self._mutex:
            value = self._alive(key)
            return None if value is None else (self._versions.get(key, 0), value)

    def set_versioned(self, key: str, value: str, expected: int, ttl: Optional[float] = None) -> bool:
        """Write `value` as version expected+1 if the stored version is `expected` (0: none stored)."""
        with self._mutex:
            current = self._versions.get(key, 0) if self._alive(key) is not None else 0
            if current != expected:
                return False
            self._data[key] = (value, time.monotonic() + ttl if ttl else None)
            self._versions[key] = expected + 1
            return True

    def ping(self) -> bool:
        return True


class RedisKV:
    """The same interface on Redis, shared by every process."""

    def __init__(self, url: str, prefix: str = "ddb:"):
        import redis

        self.client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=5,
                                           socket_connect_timeout=5, health_check_interval=30)
        self.prefix = prefix
        self._cas = None

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

    def get_versioned(self, key: str) -> Optional[tuple[int, str]]:
        """A versioned document (a hash {v: version, s: value}): (version, value), or None."""
        version, value = self.client.hmget(self._k(key), "v", "s")
        if version is None or value is None:
            return None
        return int(version), value

    def set_versioned(self, key: str, value: str, expected: int, ttl: Optional[float] = None) -> bool:
        """Write `value` as version expected+1 if the stored version is `expected` (0: none stored), in
        one step (a Lua script), so two processes can't both write over the same version."""
        if self._cas is None:
            self._cas = self.client.register_script(_CAS)
        ms = int(ttl * 1000) if ttl else 0
        return bool(self._cas(keys=[self._k(key)], args=[str(expected), str(expected + 1), value, ms]))

    def ping(self) -> bool:
        return bool(self.client.ping())


_CAS = """
local cur = redis.call('HGET', KEYS[1], 'v')
if (cur or '0') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 's', ARGV[3])
if tonumber(ARGV[4]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[4]) else redis.call('PERSIST', KEYS[1]) end
return 1
"""


def make_kv(redis_url: Optional[str], prefix: str = "ddb:"):
    return RedisKV(redis_url, prefix) if redis_url else MemoryKV()
