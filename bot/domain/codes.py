"""The codes people type for ledger items: M<id> for minutes matters, J<id> for slip rows, T<id> for topic
decisions; JB<id> for assignment slips. One place, so every flow and command agrees."""
from __future__ import annotations

import re
import uuid
from typing import Optional

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import KIND_MINUTES, KIND_SLIP, KIND_TOPIC, AssignmentSlip, Matter

MATTER_PREFIX = {KIND_MINUTES: "M", KIND_SLIP: "J", KIND_TOPIC: "T"}
SLIP_PREFIX = "JB"
RE_MATTER = re.compile(r"^\s*([MJT])\s*(\d{1,9})\s*$", re.IGNORECASE)
RE_SLIP = re.compile(r"^\s*JB\s*(\d{1,9})\s*$", re.IGNORECASE)


def add_matter(session: Session, matter: Matter) -> Matter:
    """Add a new ledger item and give it its code (the code needs the id, so: placeholder, flush, code)."""
    matter.code = "tmp-" + uuid.uuid4().hex[:20]
    session.add(matter)
    session.flush()
    assign_code(matter)
    session.flush()
    return matter


def assign_code(matter: Matter) -> str:
    matter.code = f"{MATTER_PREFIX[matter.kind]}{matter.id}"
    return matter.code


def add_slip(session: Session, slip: AssignmentSlip) -> AssignmentSlip:
    slip.code = "tmp-" + uuid.uuid4().hex[:20]
    session.add(slip)
    session.flush()
    slip.code = f"{SLIP_PREFIX}{slip.id}"
    session.flush()
    return slip


def find_matter(session: Session, code: str) -> Optional[Matter]:
    """The ledger item a typed code (m12, J 3) names, or None."""
    m = RE_MATTER.match(code or "")
    if not m:
        return None
    return session.scalar(select(Matter).where(func.upper(Matter.code) == f"{m[1].upper()}{int(m[2])}"))


def find_slip(session: Session, code: str) -> Optional[AssignmentSlip]:
    m = RE_SLIP.match(code or "")
    if not m:
        return None
    return session.scalar(select(AssignmentSlip).where(AssignmentSlip.code == f"{SLIP_PREFIX}{int(m[1])}"))
