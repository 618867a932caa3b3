"""The official forms and the monthly analysis report as files: data read through a SQLAlchemy session,
laid out as the seed documents lay them out, returned as bytes (.xlsx by XlsxWriter, .docx by
python-docx). Nothing here sends or stores: the export handler and the monthly job do.

- `forms.py`    — the generic form sheet (title, header lines, columns, notes, footer, A4 print setup);
- `dispatch.py` — 附件2 区政府领导定期协调调度事项清单;
- `problems.py` — 附件3 重点工作定期调度问题清单 (rows built in one switchable function);
- `slip.py`     — 附件4 事项交办单 (.xlsx and .docx);
- `projects.py` — seed 001's 第一批"难硬重新"重点项目突破攻坚问题清单 (per week);
- `ledger.py`   — 督查台账 (scoped by bot.domain.scope.matter_filter);
- `report.py`   — 调度工作分析报告 (.docx) and the monthly workbook;
- `docx.py`     — python-docx helpers (fonts, A4, tables).
"""
