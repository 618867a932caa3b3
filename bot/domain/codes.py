"""The codes people type for ledger items: M<id> for minutes matters, J<id> for slip rows, T<id> for topic
decisions; JB<id> for assignment slips. ONE parser (`parse_code` / `split_code`) and one look-up each
(`find_matter`, `find_slip`), so every flow and command agrees.

A sub-item of 分解督办 is numbered under the item it was split from: M3-1, M3-2 (`sub_code`); the hyphen
and its number directly follow the parent's digits.

What is typed is tolerated in full-width (Ｍ１２), in lower case (m12) and with a space or a hyphen
between the letters and the number (J 3, M-12). Anything else is not a code: None, never a guess.
"""
from __future__ import annotations

import re
import uuid
from typing import NamedTuple, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import KIND_MINUTES, KIND_SLIP, KIND_TOPIC, AssignmentSlip, Matter

MATTER_PREFIX = {KIND_MINUTES: "M", KIND_SLIP: "J", KIND_TOPIC: "T"}
SLIP_PREFIX = "JB"
KIND_ASSIGNMENT_SLIP = "assignment_slip"  # JB<id>: a slip itself, not a ledger item
KIND_OF_PREFIX = {**{p: k for k, p in MATTER_PREFIX.items()}, SLIP_PREFIX: KIND_ASSIGNMENT_SLIP}
MAX_DIGITS = 9

# Full-width ASCII (U+FF01…U+FF5E) and the ideographic space to their ASCII forms: one character for
# one, so a position in the folded text is the same position in what was typed.
_FOLD = {0x3000: " ", **{c: chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)}}
_CODE = re.compile(rf"\s*(JB|M|J|T)[ \t-]?([0-9]{{1,{MAX_DIGITS}}})(?:-([0-9]{{1,4}}))?(?![0-9A-Z])", re.IGNORECASE)
# What someone meant as a code: JB…, or M / J / T followed by a hyphen or a digit ("JB-x", "J1a", "M0").
_CODE_LIKE = re.compile(r"\s*(?:JB|[MJT](?:-|\s*[0-9]))", re.IGNORECASE)


class Code(NamedTuple):
    """A parsed code: `kind` is a Matter kind (minutes / slip / topic) or KIND_ASSIGNMENT_SLIP."""

    kind: str
    id: int
    sub: int = 0  # a 分解督办 sub-item's number under the item `id` (0: not a sub-item)

    @property
    def prefix(self) -> str:
        return SLIP_PREFIX if self.kind == KIND_ASSIGNMENT_SLIP else MATTER_PREFIX[self.kind]

    @property
    def is_matter(self) -> bool:
        return self.kind != KIND_ASSIGNMENT_SLIP

    def __str__(self) -> str:
        return f"{self.prefix}{self.id}" + (f"-{self.sub}" if self.sub else "")


def split_code(text: Optional[str]) -> tuple[Optional[Code], str]:
    """(the code at the start of `text`, the rest of it as typed) — (None, text) if it does not start with one."""
    text = text or ""
    m = _CODE.match(text.translate(_FOLD))
    if m is None or int(m[2]) == 0:
        return None, text
    kind = KIND_OF_PREFIX[m[1].upper()]
    if m[3] is not None and (int(m[3]) == 0 or kind == KIND_ASSIGNMENT_SLIP):  # JB3-1, M3-0: not codes
        return None, text
    return Code(kind, int(m[2]), int(m[3] or 0)), text[m.end():].strip()


def split_code_strict(text: Optional[str]) -> tuple[Optional[Code], str, bool]:
    """`split_code`, and whether `text` starts with something meant as a code that does not parse (a
    malformed code is an error for the caller, never "no code given" and never part of a reason)."""
    code, rest = split_code(text)
    if code is not None:
        return code, rest, False
    return None, rest, _CODE_LIKE.match((text or "").translate(_FOLD)) is not None


def parse_code(text: Optional[str]) -> Optional[Code]:
    """The code `text` is (surrounding blanks allowed), or None."""
    code, rest = split_code(text)
    return code if code is not None and not rest else None


def add_matter(session: Session, matter: Matter) -> Matter:
    """Add a new ledger item and give it its code (the code needs the id, so: placeholder, flush, code)."""
    matter.code = "tmp-" + uuid.uuid4().hex[:20]
    session.add(matter)
    session.flush()
    assign_code(matter)
    session.flush()
    return matter


def assign_code(matter: Matter) -> str:
    matter.code = str(Code(matter.kind, matter.id))
    return matter.code


def sub_code(parent: Matter, n: int) -> str:
    """The code of the n-th sub-item (分解督办) of `parent`: M3-1 (a sub-item is not split again)."""
    assert parent.parent_id is None and n >= 1
    base = parse_code(parent.code)
    return str(Code(parent.kind, base.id, n))


def add_sub_matter(session: Session, parent: Matter, sub: Matter, n: int) -> Matter:
    """Add the n-th sub-item of `parent` with its code M3-n."""
    sub.code, sub.parent_id = sub_code(parent, n), parent.id
    session.add(sub)
    session.flush()
    return sub


def add_slip(session: Session, slip: AssignmentSlip) -> AssignmentSlip:
    slip.code = "tmp-" + uuid.uuid4().hex[:20]
    session.add(slip)
    session.flush()
    slip.code = str(Code(KIND_ASSIGNMENT_SLIP, slip.id))
    session.flush()
    return slip


def find_matter(session: Session, text: Optional[str]) -> Optional[Matter]:
    """The ledger item a typed code (m12, J 3) names, or None."""
    code = parse_code(text)
    if code is None or not code.is_matter:
        return None
    return session.scalar(select(Matter).where(Matter.code == str(code)))


def find_slip(session: Session, text: Optional[str]) -> Optional[AssignmentSlip]:
    """The assignment slip a typed code (jb3) names, or None."""
    code = parse_code(text)
    if code is None or code.is_matter:
        return None
    return session.scalar(select(AssignmentSlip).where(AssignmentSlip.code == str(code)))


# -- the supervision group's records: CC<id> spot check, YT<id> interview, ZG<id> rectification / promise,
# WZ<id> 效能问责 case, XB<id> briefing. Not ledger items: their own namespace, folded the same way.
RECORD_PREFIXES = ("CC", "YT", "ZG", "WZ", "XB")
_RECORD = re.compile(rf"\s*({'|'.join(RECORD_PREFIXES)})[ \t-]?([0-9]{{1,{MAX_DIGITS}}})(?![0-9A-Z])", re.IGNORECASE)


def split_record_code(text: Optional[str]) -> tuple[Optional[str], str]:
    """("YT3", the rest as typed) when `text` starts with a supervision record's code, else (None, text)."""
    text = text or ""
    m = _RECORD.match(text.translate(_FOLD))
    if m is None or int(m[2]) == 0:
        return None, text
    return f"{m[1].upper()}{int(m[2])}", text[m.end():].strip()


def record_code(prefix: str, ident: int) -> str:
    assert prefix in RECORD_PREFIXES
    return f"{prefix}{ident}"
# Minutes have no ledger code (their matters do): texts name them 纪要<id>, and 同意/退回 accept that.
_MINUTES_REF = re.compile(rf"\s*纪要[ \t-]?([0-9]{{1,{MAX_DIGITS}}})(?![0-9])")


def split_minutes_ref(text: Optional[str]) -> tuple[Optional[int], str]:
    """(the minutes id of a leading 纪要<id>, the rest) — (None, text) when it does not start with one."""
    text = text or ""
    m = _MINUTES_REF.match(text.translate(_FOLD))
    if m is None or int(m[1]) == 0:
        return None, text
    return int(m[1]), text[m.end():].strip()
