"""Split text into chunks that fit a byte limit measured in UTF-8.

WeCom limits text and markdown by UTF-8 bytes (a CJK character is 3 bytes,
most emoji 4), not by characters. `split_utf8` cuts only between code points,
keeps surrogate pairs and, where it can, emoji/ZWJ/combining sequences whole,
and prefers natural break points: newlines first, then sentence punctuation,
then spaces, then anywhere. Concatenating the chunks gives back the input.
"""

from __future__ import annotations

import unicodedata
from bisect import bisect_right
from collections.abc import Callable
from typing import Optional

__all__ = ["utf8_len", "split_utf8", "SENTENCE_BREAKS"]

# Break *after* these characters when no preferred (newline) break fits.
SENTENCE_BREAKS = "。；！？;,，!?"
_SPACE_BREAKS = " \t\u3000"

_ZWJ = "\u200d"


def _cp_bytes(ch: str) -> int:
    """UTF-8 size of one code point (a lone surrogate counts as 3)."""
    o = ord(ch)
    if o < 0x80:
        return 1
    if o < 0x800:
        return 2
    if o < 0x10000:
        return 3
    return 4


def utf8_len(s: str) -> int:
    """Number of bytes `s` takes in UTF-8 (lone surrogates count as 3)."""
    return len(s.encode("utf-8", "surrogatepass"))


def _is_high(ch: str) -> bool:
    return "\ud800" <= ch <= "\udbff"


def _is_low(ch: str) -> bool:
    return "\udc00" <= ch <= "\udfff"


def _is_regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _extends(ch: str) -> bool:
    """True if `ch` attaches to the previous character (no break before it)."""
    o = ord(ch)
    if ch == _ZWJ or o == 0x20E3:  # zero-width joiner, keycap
        return True
    if 0xFE00 <= o <= 0xFE0F or 0xE0100 <= o <= 0xE01EF:  # variation selectors
        return True
    if 0x1F3FB <= o <= 0x1F3FF:  # skin-tone modifiers
        return True
    if 0xE0020 <= o <= 0xE007F:  # emoji tag sequences (flags of regions)
        return True
    return unicodedata.category(ch) in ("Mn", "Me", "Mc")


def _codepoint_safe(text: str, k: int) -> bool:
    """A cut before index k does not separate a surrogate pair."""
    return not (_is_high(text[k - 1]) and _is_low(text[k]))


def _cluster_safe(text: str, k: int) -> bool:
    """A cut before index k keeps emoji, ZWJ and combining sequences whole."""
    prev, cur = text[k - 1], text[k]
    if not _codepoint_safe(text, k):
        return False
    if prev == _ZWJ or _extends(cur):
        return False
    if prev == "\r" and cur == "\n":
        return False
    if _is_regional(prev) and _is_regional(cur):
        # Flags are pairs of regional indicators: break only after an even run.
        run = 0
        i = k - 1
        while i >= 0 and _is_regional(text[i]):
            run += 1
            i -= 1
        return run % 2 == 0
    return True


def _chunk_end(text: str, start: int, limit: int, tiers: tuple[str, ...]) -> int:
    """Index where the chunk starting at `start` should end (exclusive)."""
    n = len(text)
    # `limit` is an absolute index: text[start:limit] is the longest fitting piece.
    if limit >= n:
        return n
    if limit <= start:
        raise ValueError("max_bytes too small for character at index %d" % start)
    # Prefer the latest natural break inside the window, tier by tier, but
    # never one that would leave a whitespace-only chunk (WeCom rejects those).
    first = start
    while first < limit and text[first].isspace():
        first += 1
    for chars in tiers:
        if not chars:
            continue
        for k in range(limit, first, -1):
            if text[k - 1] in chars and _cluster_safe(text, k):
                # Keep spaces after the break with this chunk, as far as they fit.
                j = k
                while j < limit and text[j] in _SPACE_BREAKS:
                    j += 1
                while j > k and not _cluster_safe(text, j):
                    j -= 1
                return j
    for k in range(limit, start, -1):
        if _cluster_safe(text, k):
            return k
    for k in range(limit, start, -1):
        if _codepoint_safe(text, k):
            return k
    raise ValueError("max_bytes too small for surrogate pair at index %d" % start)


def _split(text: str, budget: int, prefer: str) -> list[str]:
    """Split with a fixed per-chunk byte budget."""
    if budget < 1:
        raise ValueError("no room left for text in each chunk")
    # offsets[i] = UTF-8 bytes of text[:i]
    offsets = [0]
    total = 0
    for ch in text:
        total += _cp_bytes(ch)
        offsets.append(total)
    tiers = (prefer, SENTENCE_BREAKS, _SPACE_BREAKS)
    chunks: list[str] = []
    start = 0
    n = len(text)
    while start < n:
        # Largest index j with offsets[j] - offsets[start] <= budget.
        limit = bisect_right(offsets, offsets[start] + budget) - 1
        end = _chunk_end(text, start, limit, tiers)
        chunks.append(text[start:end])
        start = end
    return chunks


def split_utf8(
    text: str,
    max_bytes: int,
    *,
    prefer: str = "\n",
    header_for: Optional[Callable[[int, int], str]] = None,
) -> list[str]:
    """Split `text` into chunks of at most `max_bytes` UTF-8 bytes.

    `prefer` holds the characters to break after first (default newline).
    `header_for(i, n)` (0-based i, n chunks) returns a prefix such as "(1/3) "
    that is prepended to each chunk and counted within `max_bytes`; headers
    are only added when there is more than one chunk. Without headers,
    `"".join(result) == text`. Empty text gives `[]`. Raises ValueError when
    a single character (or the header) leaves no room.
    """
    if max_bytes < 1:
        raise ValueError("max_bytes must be positive")
    if not text:
        return []
    if header_for is None or utf8_len(text) <= max_bytes:
        return _split(text, max_bytes, prefer)

    # The header length depends on n, and n on the header length: iterate.
    # n only grows, and cannot exceed one chunk per code point.
    n = 2
    while n <= len(text):
        heads = [header_for(i, n) for i in range(n)]
        budget = max_bytes - max(utf8_len(h) for h in heads)
        chunks = _split(text, budget, prefer)
        m = len(chunks)
        if m == n:
            return [h + c for h, c in zip(heads, chunks, strict=False)]
        if m < n:
            # Fewer chunks than assumed: fine if their own headers still fit.
            heads_m = [header_for(i, m) for i in range(m)]
            if m > 1 and all(
                utf8_len(h) + utf8_len(c) <= max_bytes for h, c in zip(heads_m, chunks, strict=False)
            ):
                return [h + c for h, c in zip(heads_m, chunks, strict=False)]
            n += 1
        else:
            n = m
    raise ValueError("cannot fit headers and text within max_bytes")
