"""One sheet laid out as a printed government form, written with XlsxWriter.

A `Form` says what the document says — title, header lines, columns in the document's order and
wording, rows, notes under the table, footer lines — and `write_xlsx` lays it out the usual way of Chinese
government forms: the title centred in a larger bold font, a table with full borders (the printed grid),
notes in a smaller font, A4 (landscape where the table is wide), fit to the page width, the header row
repeated on every page, wrapped text and row heights estimated from the text so LibreOffice, WPS and
Excel print the same thing.
"""
from __future__ import annotations

import io
import math
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Optional

BODY_FONT = "宋体"
TITLE_FONT = "黑体"
BODY_SIZE = 11
NOTE_SIZE = 10
TITLE_SIZE = 18
A4 = 9  # XlsxWriter / Excel paper code
LINE_PT = 1.45  # one line of text is about 1.45 × the font size in points


@dataclass
class Column:
    title: str
    width: float  # Excel character units (one CJK character is about two)
    center: bool = False  # short values (序号, dates) centred


@dataclass
class Form:
    sheet: str
    title: str
    columns: list[Column]
    rows: list[list] = field(default_factory=list)
    label: str = ""  # "附件2" above the title, as the seed prints it
    header_lines: list[str] = field(default_factory=list)  # under the title, left: 单位：（盖章）：…
    preface: str = ""  # a paragraph between the header lines and the table (附件2's 备注)
    notes: list[str] = field(default_factory=list)  # under the table (填表说明 / numbered notes)
    footer: list[str] = field(default_factory=list)  # 联络员：____ 联系电话：____
    landscape: bool = True
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)  # data-row indices (r1, c1, r2, c2)
    title_rows: int = 0  # filled by write_xlsx: where the table header landed (0-based row)


def text_width(text: str) -> float:
    """Width of text in Excel character units: wide (CJK) characters count two."""
    return sum(2.0 if unicodedata.east_asian_width(ch) in "WF" else 1.0 for ch in text)


def lines_needed(text: str, width: float) -> int:
    usable = max(width - 1.0, 1.0)
    if 2 * len(text) <= usable and "\n" not in text:  # fits whatever the characters (most cells)
        return 1
    return sum(max(1, math.ceil(text_width(part) / usable)) for part in str(text).split("\n"))


def _height(lines: int, size: float) -> float:
    return round(lines * size * LINE_PT + 4, 1)


def cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def write_xlsx(forms: list[Form]) -> bytes:
    """The workbook of one or more forms (one sheet each), as bytes."""
    import xlsxwriter  # here, not at import: a web worker loads it with its first document, not at start

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
                                   "strings_to_urls": False})
    fmts = _formats(wb)
    for form in forms:
        _sheet(wb, fmts, form)
    wb.close()
    return buf.getvalue()


def _formats(wb) -> dict:
    base = {"font_name": BODY_FONT, "font_size": BODY_SIZE, "text_wrap": True, "valign": "vcenter"}
    cell = {**base, "border": 1}
    return {
        "label": wb.add_format({**base, "font_name": TITLE_FONT, "text_wrap": False}),
        "title": wb.add_format({**base, "font_name": TITLE_FONT, "font_size": TITLE_SIZE, "bold": True,
                                "align": "center"}),
        "line": wb.add_format({**base, "align": "left"}),
        "head": wb.add_format({**cell, "bold": True, "align": "center"}),
        "cell": wb.add_format({**cell, "align": "left", "valign": "top"}),
        "center": wb.add_format({**cell, "align": "center"}),
        "date": wb.add_format({**cell, "align": "center", "num_format": "yyyy-mm-dd"}),
        "datetime": wb.add_format({**cell, "align": "center", "num_format": "yyyy-mm-dd hh:mm"}),
        "note": wb.add_format({**base, "font_size": NOTE_SIZE, "align": "left", "valign": "top"}),
    }


def _sheet(wb, fmts: dict, form: Form) -> None:
    ws = wb.add_worksheet(form.sheet)
    ncol = len(form.columns)
    last = ncol - 1
    total_width = sum(c.width for c in form.columns)
    for i, col in enumerate(form.columns):
        ws.set_column(i, i, col.width)
    r = 0

    def line(text: str, fmt: str, size: float = BODY_SIZE) -> None:
        nonlocal r
        if last:
            ws.merge_range(r, 0, r, last, text, fmts[fmt])
        else:
            ws.write_string(r, 0, text, fmts[fmt])
        ws.set_row(r, _height(lines_needed(text, total_width), size))
        r += 1

    if form.label:
        ws.write_string(r, 0, form.label, fmts["label"])
        r += 1
    line(form.title, "title", TITLE_SIZE)
    for text in form.header_lines:
        line(text, "line")
    if form.preface:
        line(form.preface, "line")
    head = r
    form.title_rows = head
    for i, col in enumerate(form.columns):
        ws.write_string(r, i, col.title, fmts["head"])
    ws.set_row(r, _height(max(lines_needed(c.title, c.width) for c in form.columns), BODY_SIZE))
    r += 1
    first = r
    merged = {(r1 + i, c) for r1, c1, r2, c2 in form.merges for i in range(r2 - r1 + 1) for c in range(c1, c2 + 1)}
    heights = []
    for n, row in enumerate(form.rows):
        need = 1
        for i, value in enumerate(row):
            _write(ws, r, i, value, _fmt(fmts, form.columns[i], value))
            if isinstance(value, str) and (n, i) not in merged:
                need = max(need, lines_needed(value, form.columns[i].width))
        heights.append(_height(need, BODY_SIZE))
        r += 1
    for r1, c1, r2, c2 in form.merges:
        value = form.rows[r1][c1]
        fmt = _fmt(fmts, form.columns[c1], value)
        ws.merge_range(first + r1, c1, first + r2, c2, "", fmt)
        _write(ws, first + r1, c1, value, fmt)
        width = sum(form.columns[c].width for c in range(c1, c2 + 1))
        want = _height(lines_needed(cell_text(value), width), BODY_SIZE)
        have = sum(heights[r1:r2 + 1])
        if want > have:  # spread the missing height over the merged rows
            extra = (want - have) / (r2 - r1 + 1)
            for k in range(r1, r2 + 1):
                heights[k] = round(heights[k] + extra, 1)
    for k, h in enumerate(heights):
        ws.set_row(first + k, h)
    for text in form.notes:
        line(text, "note", NOTE_SIZE)
    for text in form.footer:
        line(text, "line")

    ws.set_paper(A4)
    if form.landscape:
        ws.set_landscape()
    else:
        ws.set_portrait()
    ws.fit_to_pages(1, 0)  # one page wide, as many tall as it takes
    ws.repeat_rows(head)
    ws.center_horizontally()
    ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.7)
    ws.set_footer("&C第 &P 页，共 &N 页")
    ws.print_area(0, 0, max(r - 1, head), last)
    ws.freeze_panes(head + 1, 0)


def _write(ws, r: int, c: int, value, fmt) -> None:
    if isinstance(value, datetime):
        ws.write_datetime(r, c, value.replace(tzinfo=None), fmt)
    elif isinstance(value, date):
        ws.write_datetime(r, c, datetime(value.year, value.month, value.day), fmt)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        ws.write_number(r, c, value, fmt)
    else:
        ws.write_string(r, c, cell_text(value), fmt)


def _fmt(fmts: dict, col: Column, value) -> object:
    if isinstance(value, datetime):
        return fmts["datetime"]
    if isinstance(value, date):
        return fmts["date"]
    return fmts["center"] if col.center else fmts["cell"]


def numbered(items: list[str]) -> str:
    """`1.` `2.` `3.` on separate lines inside one cell, as the blank forms show them."""
    return "\n".join(f"{i}.{text}" for i, text in enumerate(items, 1))


def first_not_none(*values) -> Optional[object]:
    return next((v for v in values if v is not None), None)
