"""Concurrency helper for tests: callables run in their own threads, released together by a barrier."""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any


def at_once(calls: Sequence[Callable[[], Any]], timeout: float = 60) -> list:
    """Run each callable in its own thread, all started at the same moment; return their results in
    order. Fails when one raised or did not finish within `timeout` seconds."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)
    errors: list[BaseException] = []

    def run(i: int, call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[i] = call()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), f"a thread was still running after {timeout} s"
    assert not errors, errors
    return results
