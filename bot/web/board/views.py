"""The board's pages. Each is a GET (the board is read-only; filters live in the URL), each checks the
viewer's roles on the request (auth.viewer_required) and asks the same scope rule as chat."""
from __future__ import annotations

import io
import json
import re

from flask import abort, render_template, request, send_file

from bot.actions.status import progress_summary
from bot.domain import codes, ledger
from bot.domain.scope import can_see
from bot.web.board import bp, queries
from bot.web.board.auth import Viewer, viewer_required
from bot.web.board.downloads import FORMS
from models import PROBLEM_CATEGORIES


@bp.get("/", endpoint="ledger")
@viewer_required
def ledger_view(v: Viewer):
    f = queries.Filters.from_args(request.args)
    total, rows = queries.ledger_page(v.session, v.roles, v.now, f)
    pages = max(1, (total + queries.PAGE_SIZE - 1) // queries.PAGE_SIZE)
    return render_template("board/ledger.html", v=v, f=f, total=total, rows=rows, pages=pages,
                           progress=progress_summary(v.session, v.roles, v.now),
                           choices=queries.filter_choices(v.session, v.roles),
                           periods=queries.recent_periods(v.now), tab="ledger")


@bp.get("/item/<code>")
@viewer_required
def item(v: Viewer, code: str):
    m = codes.find_matter(v.session, code)
    if m is None or not can_see(v.session, v.roles, m):
        abort(404)  # the same answer for someone else's item and an unknown code
    return render_template("board/item.html", v=v, m=m, iv=ledger.item_view(m, v.now),
                           history=ledger.history_rows(v.session, m), d=queries.item_page(v.session, m),
                           tab="ledger")


MONTH_RE = re.compile(r"^(\d{4})-(\d{1,2})$")


@bp.get("/compliance")
@viewer_required
def compliance(v: Viewer):
    year, month = v.now.year, v.now.month
    hit = MONTH_RE.match(request.args.get("month", ""))
    if hit and 1 <= int(hit.group(2)) <= 12 and 2000 <= int(hit.group(1)) <= 2100:
        year, month = int(hit.group(1)), int(hit.group(2))
    data = queries.compliance(v.session, v.roles, year, month, v.now)
    prev = (year, month - 1) if month > 1 else (year - 1, 12)
    nxt = (year, month + 1) if month < 12 else (year + 1, 1)
    return render_template("board/compliance.html", v=v, year=year, month=month, d=data,
                           chart_json=json.dumps(data["chart"], ensure_ascii=False),
                           prev=f"{prev[0]}-{prev[1]:02d}", next=f"{nxt[0]}-{nxt[1]:02d}", tab="compliance")


@bp.get("/projects")
@viewer_required
def projects(v: Viewer):
    return render_template("board/projects.html", v=v, projects=queries.projects(v.session, v.roles),
                           categories=PROBLEM_CATEGORIES, today=v.now.date(), tab="projects")


@bp.get("/downloads")
@viewer_required
def downloads(v: Viewer):
    return render_template("board/downloads.html", v=v, forms=list(FORMS.values()), tab="downloads")


@bp.get("/download/<form>")
@viewer_required
def download(v: Viewer, form: str):
    entry = FORMS.get(form)
    if entry is None:
        abort(404)
    args = {k: val for k, val in request.args.items() if k not in ("now", "session", "roles")}
    filename, data = entry.export(v.session, v.roles, now=v.now, **args)
    # send_file words a Chinese filename as RFC 5987 filename*= (a raw one is not a valid header)
    return send_file(io.BytesIO(data), mimetype=entry.mimetype, as_attachment=True, download_name=filename)
