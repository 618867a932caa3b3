"""Text similarity for forgiving input: traditional → simplified, toneless pinyin (IME homophones), and a
0..1 similarity of two short texts by characters and by sound. Used by bot.core.forgiving (commands) and
bot.domain.unitmatch (unit names). The tables come from well-kept libraries (zhconv, pypinyin, rapidfuzz),
loaded on first use.
"""
from __future__ import annotations

import unicodedata
from functools import lru_cache


def is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" or "\uf900" <= ch <= "\ufaff"


def simplify(text: str) -> str:
    """Traditional → simplified (zhconv, zh-hans) and compatibility forms folded (NFKC: full-width letters,
    digits and punctuation → half-width). Short texts (commands, unit names) are cached."""
    return _simplify(text) if len(text) <= 64 else _convert(text)


@lru_cache(maxsize=4096)
def _simplify(text: str) -> str:
    return _convert(text)


def _convert(text: str) -> str:
    import zhconv  # a 1 MB table: loaded on first use, not on import

    return zhconv.convert(unicodedata.normalize("NFKC", text), "zh-hans")


# pypinyin's phrase dictionary (44 MB in every process, most of the forgiving-input tables) only decides
# polyphonic characters by their neighbours; the bot compares its own small vocabulary — command keywords and
# the org chart's names — so it reads characters one by one (PYPINYIN_NO_PHRASES) and names the few phrases
# of that vocabulary whose polyphones need their context. tests/test_forgiving.py checks that every command
# keyword and seed name reads as it does with the full dictionary.
PHRASES = {"协调": [["xié"], ["tiáo"]], "重新": [["chóng"], ["xīn"]]}


def _pinyin_module():
    from config.settings import library_defaults

    library_defaults()  # PYPINYIN_NO_PHRASES, read when pypinyin is first imported
    import pypinyin

    if not getattr(pypinyin, "_bot_phrases", False):
        pypinyin.load_phrases_dict(PHRASES)
        pypinyin._bot_phrases = True
    return pypinyin


@lru_cache(maxsize=4096)
def pinyin(text: str) -> str:
    """Toneless pinyin of the Chinese characters (others kept, lower-case): 天报 → tianbao."""
    return "".join(_pinyin_module().lazy_pinyin(text)).lower()  # loaded on first use


def similarity(typed: str, word: str) -> float:
    """How close `typed` is to the command `word`, 0..1: 1.0 for the same pinyin (an IME homophone: 天报 /
    填报), else the better of the normalised edit-distance similarities of the characters and of the
    pinyin (a slip of one syllable: 填表 / 填报)."""
    from rapidfuzz.distance import Levenshtein

    if not typed or not word:
        return 0.0
    if typed == word:
        return 1.0
    chars = Levenshtein.normalized_similarity(typed, word)
    if not any(is_cjk(ch) for ch in typed + word):
        return chars
    p_typed, p_word = pinyin(typed), pinyin(word)
    if p_typed == p_word:
        return 1.0
    sounds = Levenshtein.normalized_similarity(p_typed, p_word)
    # one wrong character of two is 0.5 by characters: the sound decides, slightly below a homophone
    return max(chars, 0.98 * sounds)
