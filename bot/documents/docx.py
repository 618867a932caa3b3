"""python-docx helpers: A4 sections, Chinese fonts (the East Asian font must be set on each run's
rFonts, python-docx's `font.name` only sets the Latin one), bordered tables whose header row repeats on
every page."""
from __future__ import annotations

import io

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

TITLE_FONT = "方正小标宋简体"
HEADING_FONT = "黑体"
SUBHEADING_FONT = "楷体_GB2312"
BODY_FONT = "仿宋_GB2312"
TABLE_FONT = "宋体"
BODY_PT = 16  # 三号 (GB/T 9704)
TITLE_PT = 22  # 二号
TABLE_PT = 10.5  # 五号
CENTER = WD_ALIGN_PARAGRAPH.CENTER
LEFT = WD_ALIGN_PARAGRAPH.LEFT
RIGHT = WD_ALIGN_PARAGRAPH.RIGHT


def new_document(*, landscape: bool = False, official: bool = False):
    """An empty A4 document; `official` uses GB/T 9704's margins (37/35/28/26 mm)."""
    doc = Document()
    set_section(doc.sections[0], landscape=landscape, official=official)
    normal = doc.styles["Normal"]
    normal.font.name = BODY_FONT if official else TABLE_FONT
    normal.font.size = Pt(BODY_PT if official else 12)
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), normal.font.name)
    return doc


def set_section(section, *, landscape: bool, official: bool = False) -> None:
    short, long_ = Cm(21.0), Cm(29.7)
    section.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = (long_, short) if landscape else (short, long_)
    if official and not landscape:
        section.top_margin, section.bottom_margin = Cm(3.7), Cm(3.5)
        section.left_margin, section.right_margin = Cm(2.8), Cm(2.6)
    else:
        section.top_margin = section.bottom_margin = Cm(2.0)
        section.left_margin = section.right_margin = Cm(2.0)


def font(run, name: str, size: float, bold: bool = False) -> None:
    run.font.name = name
    run.font.size = Pt(size)
    run.font.bold = bold
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), name)


def para(container, text: str, *, name: str = BODY_FONT, size: float = BODY_PT, bold: bool = False,
         align=None, indent: bool = False, space_after: float = 0):
    p = container.add_paragraph()
    if align is not None:
        p.alignment = align
    if indent:
        p.paragraph_format.first_line_indent = Pt(size * 2)
    p.paragraph_format.space_after = Pt(space_after)
    if text:
        font(p.add_run(text), name, size, bold)
    return p


def table(doc, headers: list[str], rows: list[list[str]], widths_cm: list[float], *, size: float = TABLE_PT):
    """A bordered table (style Table Grid), header row bold, centred and repeated on each page."""
    t = doc.add_table(rows=1, cols=len(headers))
    t.style = "Table Grid"
    t.alignment = WD_TABLE_ALIGNMENT.CENTER
    t.autofit = False
    head = t.rows[0]
    trpr = head._tr.get_or_add_trPr()
    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    trpr.append(el)
    for i, h in enumerate(headers):
        cell_text(head.cells[i], h, size=size, bold=True, align=CENTER)
    for row in rows:
        cells = t.add_row().cells
        for i, v in enumerate(row):
            cell_text(cells[i], "" if v is None else str(v), size=size)
    for i, w in enumerate(widths_cm):  # the grid LibreOffice and WPS lay out by
        t.columns[i].width = Cm(w)
    for row in t.rows:
        for i, w in enumerate(widths_cm):
            row.cells[i].width = Cm(w)
    return t


def cell_text(cell, text: str, *, size: float = TABLE_PT, bold: bool = False, align=None) -> None:
    """Each line of `text` its own paragraph in the cell (numbered items stay one per line)."""
    parts = text.split("\n") if text else [""]
    first = cell.paragraphs[0]
    for i, line in enumerate(parts):
        p = first if i == 0 else cell.add_paragraph()
        if align is not None:
            p.alignment = align
        if line:
            font(p.add_run(line), TABLE_FONT, size, bold)


def to_bytes(doc) -> bytes:
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
