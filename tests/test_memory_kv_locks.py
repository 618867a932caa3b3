"""The embedded in-memory lock table (bot.infra.kv.MemoryKV) stays bounded (issue 11, item 12): a lock is
removed once released and unheld, and removing it never lets two holders in at once."""
from __future__ import annotations

import threading
import time

import pytest

from bot.infra.kv import LockTimeout, MemoryKV


def test_the_lock_table_does_not_grow_with_the_ids_seen():
    kv = MemoryKV()
    for i in range(60_000):
        with kv.lock(f"user:wecom:u{i}"):
            pass
    assert kv._locks == {}


def test_a_timed_out_waiter_leaves_nothing_behind():
    kv = MemoryKV()
    with kv.lock("a"):
        with pytest.raises(LockTimeout):
            with kv.lock("a", wait=0.05):
                pass
        assert list(kv._locks) == ["a"]
    assert kv._locks == {}


def test_mutual_exclusion_holds_while_entries_come_and_go():
    kv = MemoryKV()
    inside, most, errors = [0], [0], []
    guard = threading.Lock()

    def worker():
        try:
            for _ in range(200):
                with kv.lock("shared", wait=10):
                    with guard:
                        inside[0] += 1
                        most[0] = max(most[0], inside[0])
                    time.sleep(0)
                    with guard:
                        inside[0] -= 1
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and most[0] == 1 and kv._locks == {}
