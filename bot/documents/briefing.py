"""信息简报 / 专项通报 as an official-style .docx (GB/T 9704 margins, 仿宋 body, 小标宋 title): the text
published in chat — its markdown (## headings, **bold**, numbered lines) laid out as paragraphs — with the
issuing body and date at the foot. Mailed with the briefing (bot.actions.supervision.do_publish_briefing)."""
from __future__ import annotations

import re

from bot.documents import docx as D
from bot.infra.text import cn_date
from models import BRIEF_SPECIAL, Briefing

ISSUER = "泉港区“大调度、大督查”工作专班"
_HEADING = re.compile(r"^#{1,6}\s*")
_BOLD = re.compile(r"\*\*(.+?)\*\*")


def briefing_filename(b: Briefing) -> str:
    kind = "专项通报" if b.kind == BRIEF_SPECIAL else "信息简报"
    return f"{kind}_{b.code}_{b.month}.docx"


def _plain(line: str) -> str:
    return _BOLD.sub(r"\1", _HEADING.sub("", line)).strip()


def briefing_docx(b: Briefing) -> bytes:
    doc = D.new_document(official=True)
    lines = [ln.rstrip() for ln in (b.body or "").splitlines()]
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    title = _plain(lines[first]) if first is not None and lines[first].lstrip().startswith("#") else b.title
    D.para(doc, title, name=D.TITLE_FONT, size=D.TITLE_PT, align=D.CENTER, space_after=12)
    body = lines[first + 1:] if first is not None and _plain(lines[first]) == title else lines
    for ln in body:
        if not ln.strip():
            continue
        text = _plain(ln)
        if _HEADING.match(ln) or (ln.strip().startswith("**") and ln.strip().endswith("**")):
            D.para(doc, text, name=D.HEADING_FONT, indent=True)
        else:
            D.para(doc, text, indent=True)
    D.para(doc, "", space_after=12)
    D.para(doc, ISSUER, align=D.RIGHT)
    D.para(doc, cn_date(b.published_at or b.created_at), align=D.RIGHT)
    return D.to_bytes(doc)
