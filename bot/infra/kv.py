"""Shared short-lived state: Redis when REDIS_URL is set, else in-process (one process only).

Used for: access-token caching, job locks, rate-limit windows, result pages, conversation drafts
(versioned documents written by compare-and-set). Message deduplication and the per-person lock live in
the database (bot.core.runtime), so a message is never refused because Redis is away.

When Redis does not answer (refused, reset, timed out), `RedisKV` degrades for DOWN_SECONDS instead of
failing every callback: plain keys and locks fall back to this process's memory (tokens are fetched per
process, rate windows and job locks hold per process), and the versioned documents raise
`KVUnavailable` so the draft store keeps drafts in the database meanwhile (bot/conversation/store.py).
See docs/reliability.md.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Optional, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class LockTimeout(Exception):
    """Could not get a lock in time (another message of the same user is still being handled)."""


class KVUnavailable(Exception):
    """The shared store is not reachable (Redis down): the caller uses the database instead."""


DOWN_SECONDS = 5.0  # after a failed Redis call, use the fallback this long before trying Redis again


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

    def fetch(self, plain: list[str], versioned: list[str]) -> tuple[dict, dict]:
        """RedisKV.fetch's answer (several keys at once), from memory."""
        return {k: self.get(k) for k in plain}, {k: self.get_versioned(k) for k in versioned}

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

    @property
    def available(self) -> bool:
        return True


class RedisKV:
    """The same interface on Redis, shared by every process; degraded to `fallback` (this process's
    memory) while Redis does not answer."""

    def __init__(self, url: str, prefix: str = "ddb:"):
        import redis

        self.client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=5,
                                           socket_connect_timeout=2, health_check_interval=30)
        self.prefix = prefix
        self._cas = None
        self.fallback = MemoryKV()
        self._down_until = 0.0
        self._errors = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)

    def _k(self, key: str) -> str:
        return self.prefix + key

    @property
    def available(self) -> bool:
        """False while a recent call found Redis away (for DOWN_SECONDS)."""
        return time.monotonic() >= self._down_until

    def _went_down(self, exc: Exception) -> None:
        """One call failed: degrade for DOWN_SECONDS if Redis does not answer a ping either (a call that
        failed on its own is not an outage)."""
        try:
            if self.available and self.client.ping():
                return
        except self._errors:
            pass
        if self.available:
            log.warning("redis unavailable (%s): degraded to the database and this process's memory for %.0f s",
                        type(exc).__name__, DOWN_SECONDS)
        self._down_until = time.monotonic() + DOWN_SECONDS

    def _call(self, fn: Callable[[], T], fallback: Callable[[], T]) -> T:
        if not self.available:
            return fallback()
        try:
            return fn()
        except self._errors as exc:
            self._went_down(exc)
            return fallback()

    def get(self, key: str) -> Optional[str]:
        return self._call(lambda: self.client.get(self._k(key)), lambda: self.fallback.get(key))

    def set(self, key: str, value: str, ttl: Optional[float] = None) -> None:
        self._call(lambda: self.client.set(self._k(key), value, px=int(ttl * 1000) if ttl else None),
                   lambda: self.fallback.set(key, value, ttl))

    def set_nx(self, key: str, value: str, ttl: Optional[float] = None) -> bool:
        return self._call(
            lambda: bool(self.client.set(self._k(key), value, nx=True, px=int(ttl * 1000) if ttl else None)),
            lambda: self.fallback.set_nx(key, value, ttl))

    def delete(self, key: str) -> None:
        self._call(lambda: self.client.delete(self._k(key)), lambda: self.fallback.delete(key))

    @contextmanager
    def lock(self, name: str, timeout: float = 30, wait: float = 10) -> Iterator[None]:
        import redis

        lk = self.client.lock(self._k("lock:" + name), timeout=timeout, blocking_timeout=wait)
        try:
            got = lk.acquire() if self.available else None
        except self._errors as exc:
            self._went_down(exc)
            got = None
        if got is None:  # Redis away: this process's lock (what the embedded default has)
            with self.fallback.lock(name, timeout=timeout, wait=wait):
                yield
            return
        if not got:
            raise LockTimeout(name)
        try:
            yield
        finally:
            try:
                lk.release()
            except redis.exceptions.LockError:
                pass  # expired while held; the timeout is far above any handler's run time
            except self._errors as exc:
                self._went_down(exc)  # the lock expires by its timeout

    def _versioned(self, fn: Callable[[], T]) -> T:
        if not self.available:
            raise KVUnavailable("redis")
        try:
            return fn()
        except self._errors as exc:
            self._went_down(exc)
            raise KVUnavailable("redis") from exc

    def get_versioned(self, key: str) -> Optional[tuple[int, str]]:
        """A versioned document (a hash {v: version, s: value}): (version, value), or None."""
        version, value = self._versioned(lambda: self.client.hmget(self._k(key), "v", "s"))
        if version is None or value is None:
            return None
        return int(version), value

    def set_versioned(self, key: str, value: str, expected: int, ttl: Optional[float] = None) -> bool:
        """Write `value` as version expected+1 if the stored version is `expected` (0: none stored), in
        one step (a Lua script), so two processes can't both write over the same version."""
        if self._cas is None:
            self._cas = self.client.register_script(_CAS)
        ms = int(ttl * 1000) if ttl else 0
        return bool(self._versioned(
            lambda: self._cas(keys=[self._k(key)], args=[str(expected), str(expected + 1), value, ms])))

    def fetch(self, plain: list[str], versioned: list[str]) -> tuple[dict, dict]:
        """`get` of each `plain` key and `get_versioned` of each `versioned` key in ONE round trip (a
        pipeline): ({key: value or None}, {key: (version, value) or None}). KVUnavailable while Redis is
        away (the caller then reads each key as it would have)."""
        def run():
            pipe = self.client.pipeline(transaction=False)
            for key in plain:
                pipe.get(self._k(key))
            for key in versioned:
                pipe.hmget(self._k(key), "v", "s")
            return pipe.execute()

        got = self._versioned(run)
        values = dict(zip(plain, got[:len(plain)], strict=True))
        docs = {key: (int(v), s) if v is not None and s is not None else None
                for key, (v, s) in zip(versioned, got[len(plain):], strict=True)}
        return values, docs

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
