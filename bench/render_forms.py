"""Build a seeded month (tests/documents_data.py on config/seed/quangang.yaml, SQLite in a temp dir), write
every form and the monthly report, and render each to PNG with LibreOffice headless + pdftoppm into
docs/forms/ (first page of each). Needs Debian's libreoffice-calc, libreoffice-writer, fonts-noto-cjk and
poppler-utils; the test suite does not.

    .venv/bin/python bench/render_forms.py [--out docs/forms]
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(ROOT / "docs" / "forms"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from sqlalchemy import select

    from bot import create_app
    from bot.actions.seed import load_seed
    from bot.documents.dispatch import annex2_xlsx
    from bot.documents.ledger import ledger_xlsx
    from bot.documents.problems import annex3_xlsx
    from bot.documents.projects import form_info_from_seed, projects_xlsx
    from bot.documents.report import SEES_ALL
    from bot.documents.slip import annex4_docx, annex4_xlsx
    from bot.domain.periods import period_by_key
    from bot.jobs import monthly
    from models import AssignmentSlip, Unit
    from tests.documents_data import build_month

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        app = create_app({"DATABASE_URL": f"sqlite:///{tmp / 'bot.sqlite3'}", "INSTANCE_DIR": str(tmp / "instance"),
                          "REDIS_URL": "", "EMBEDDED_WORKERS": False})
        rt = app.extensions["bot"]
        from bot.infra.db import upgrade

        upgrade(f"sqlite:///{tmp / 'bot.sqlite3'}")
        with rt.db.session() as s:
            load_seed(s, ROOT / "config" / "seed" / "quangang.yaml")
        with rt.db.session() as s:
            build_month(s)
        files = {}
        with rt.db.session() as s:
            slip = s.scalar(select(AssignmentSlip).where(AssignmentSlip.code == "JB1"))
            fagai = s.scalar(select(Unit).where(Unit.name == "区发改局"))
            now = datetime(2026, 12, 1, 1, tzinfo=UTC)
            files["annex2.xlsx"] = annex2_xlsx(s)
            files["annex3.xlsx"] = annex3_xlsx(s, SEES_ALL, period_by_key("2026-11-20"), fagai)
            files["annex4.xlsx"] = annex4_xlsx(s, slip)
            files["annex4.docx"] = annex4_docx(s, slip)
            files["projects.xlsx"] = projects_xlsx(s, date(2026, 11, 25), form_info_from_seed(rt.settings.SEED_FILE))
            files["ledger.xlsx"] = ledger_xlsx(s, SEES_ALL, now, "全部")
        monthly.run(rt, datetime(2026, 12, 1, tzinfo=UTC))
        folder = monthly.report_dir(rt, "2026-11")
        files["monthly_report.docx"] = (folder / "2026-11调度分析报告.docx").read_bytes()
        files["monthly_workbook.xlsx"] = (folder / "2026-11调度分析报告.xlsx").read_bytes()
        work = tmp / "render"
        work.mkdir()
        for name, data in files.items():
            (work / name).write_bytes(data)
            subprocess.run(["soffice", "--headless", "--convert-to", "pdf", "--outdir", str(work), str(work / name)],
                           check=True, capture_output=True, timeout=180)
            pdf = work / (Path(name).stem + ".pdf")
            target = out / f"{Path(name).stem}_{Path(name).suffix[1:]}"
            subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "2", str(pdf), str(target)], check=True)
            print("rendered", name)
        rt.db.dispose()
    for p in sorted(out.glob("*.png")):
        print(p.relative_to(ROOT), p.stat().st_size)


if __name__ == "__main__":
    if shutil.which("soffice") is None or shutil.which("pdftoppm") is None:
        sys.exit("needs soffice (libreoffice-calc, libreoffice-writer) and pdftoppm (poppler-utils)")
    main()
