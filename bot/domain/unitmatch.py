"""Tolerant matching of typed unit names ("区发改局", "发展和改革局", "涂岭镇政府").

Matching works on normalised keys (see normalise()).  Tiers, best first:
  1. equal key (name or alias)            -> exact if exactly one unit has it
  2. substring either way (>= 2 chars)    -> exact if exactly one unit (and tier 1 empty)
  3. query chars in order in a key        -> candidates only, never exact
  4. near by sound or spelling (only when tiers 1-3 found nothing): the same toneless pinyin (南铺镇 /
     南埔镇, an IME homophone) or a similarity (bot.domain.fuzzy.similarity) of at least NEAR_SIMILARITY
     -> candidates only, never exact (the caller confirms a single one: "您指的是「南埔镇」吗？")
Candidates are ranked by tier, then by length difference (tier 4: by similarity), then input order.
Traditional characters are read as simplified (區發改局 = 区发改局).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Optional

from bot.domain.fuzzy import similarity, simplify

_PREFIXES = ("泉港区", "泉港", "区")
_TOWN_SUFFIXES = ("人民政府", "政府")
_TOWN_ENDINGS = ("镇", "乡", "街道")
_STREET_OFFICE = ("街道办事处", "街道办")
_MIN_PARTIAL = 2
NEAR_SIMILARITY = 0.8  # tier 4: how close a misspelt name must be to a unit's name or alias
HINT_SIMILARITY = 0.55 # similar_units(): names shown as "相近的单位" when nothing matched

_HARD_SEP = re.compile(r"[、，,；;/\s]+")
_SOFT_SEP = re.compile(r"[和及与]")


@dataclass(frozen=True)
class UnitRef:
    id: str
    name: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class MatchResult:
    exact: Optional[UnitRef]
    candidates: list[UnitRef] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return bool(self.candidates)

    @property
    def ambiguous(self) -> bool:
        return self.exact is None and len(self.candidates) > 1


def normalise(text: str) -> str:
    """Canonical key: halfwidth, no spaces/punctuation, no 泉港区/区 prefix, town suffix cut."""
    s = simplify(unicodedata.normalize("NFKC", text or "")).lower()
    s = "".join(ch for ch in s
                if not unicodedata.category(ch).startswith(("P", "S", "Z", "C")))
    for prefix in _PREFIXES:
        if s.startswith(prefix):
            s = s[len(prefix):]  # a bare "泉港区" becomes ""
            break
    for suffix in _TOWN_SUFFIXES:
        if s.endswith(suffix) and s[: -len(suffix)].endswith(_TOWN_ENDINGS):
            s = s[: -len(suffix)]
            break
    for suffix in _STREET_OFFICE:
        if s.endswith(suffix):
            s = s[: -len(suffix)] + "街道"
            break
    return s


def _keys(unit: UnitRef) -> list[str]:
    keys = [normalise(unit.name)] + [normalise(a) for a in unit.aliases]
    return [k for k in dict.fromkeys(keys) if k]


def _is_subsequence(needle: str, hay: str) -> bool:
    it = iter(hay)
    return all(ch in it for ch in needle)


def _tier(query: str, key: str) -> Optional[int]:
    if query == key:
        return 1
    if query in key or (len(key) >= _MIN_PARTIAL and key in query):
        return 2
    if len(query) >= _MIN_PARTIAL and _is_subsequence(query, key):
        return 3
    return None


def match_unit(text: str, units: Sequence[UnitRef]) -> MatchResult:
    """Match one typed unit name against units; see the module docstring."""
    query = normalise(text)
    if not query:
        return MatchResult(None, [])
    best: dict[str, tuple[tuple[int, int, int], int, UnitRef]] = {}
    for order, unit in enumerate(units):
        for key in _keys(unit):
            tier = _tier(query, key)
            if tier is None:
                continue
            rank = (tier, abs(len(key) - len(query)), order)
            if unit.id not in best or rank < best[unit.id][0]:
                best[unit.id] = (rank, len(key), unit)
    if not best:
        return MatchResult(None, [u for _score, u in _near(query, units, NEAR_SIMILARITY)])
    ranked = sorted(best.values(), key=lambda r: r[0])
    tier1 = [r for r in ranked if r[0][0] == 1]
    tier2 = [r for r in ranked if r[0][0] == 2]
    exact = None
    if len(tier1) == 1:
        exact = tier1[0][2]
    elif not tier1 and len(tier2) == 1 and min(len(query), tier2[0][1]) >= _MIN_PARTIAL:
        exact = tier2[0][2]
    return MatchResult(exact, [r[2] for r in ranked])


def _near(query: str, units: Sequence[UnitRef], floor: float) -> list[tuple[float, UnitRef]]:
    """Units whose best key is at least `floor` similar to `query`, most similar first (input order on ties)."""
    scored = []
    for order, unit in enumerate(units):
        score = max((similarity(query, key) for key in _keys(unit)), default=0.0)
        if score >= floor:
            scored.append((-score, order, unit))
    return [(-neg, unit) for neg, _order, unit in sorted(scored, key=lambda t: (t[0], t[1]))]


def similar_units(text: str, units: Sequence[UnitRef], limit: int = 5) -> list[UnitRef]:
    """For a name that matched nothing: the units that look most like it (at least HINT_SIMILARITY), to
    show as a hint; [] when none is even that close."""
    query = normalise(text)
    if not query:
        return []
    return [u for _score, u in _near(query, units, HINT_SIMILARITY)[:limit]]


def _split_hard(text: str) -> list[str]:
    return [p for p in _HARD_SEP.split(text or "") if p]


def match_many(text: str, units: Sequence[UnitRef]) -> list[tuple[str, MatchResult]]:
    """Split a "responsible units" list and match each part.

    Splits on 、，,；; / and whitespace; 和/及/与 split a part only when the whole part is
    not itself an exact match and every piece matches something (so 发展和改革局 survives).
    Parts that normalise to nothing (e.g. a lone "泉港区") are dropped.
    """
    out: list[tuple[str, MatchResult]] = []
    for part in _split_hard(text):
        if not normalise(part):
            continue
        whole = match_unit(part, units)
        if whole.exact is None and _SOFT_SEP.search(part):
            pieces = [p for p in _SOFT_SEP.split(part) if normalise(p)]
            results = [(p, match_unit(p, units)) for p in pieces]
            if len(results) > 1 and all(r.found for _, r in results):
                out.extend(results)
                continue
        out.append((part, whole))
    return out


def unit_keys(units: Iterable[UnitRef]) -> dict[str, list[UnitRef]]:
    """Normalised key -> units having it (to spot colliding names/aliases)."""
    table: dict[str, list[UnitRef]] = {}
    for unit in units:
        for key in _keys(unit):
            table.setdefault(key, []).append(unit)
    return table
