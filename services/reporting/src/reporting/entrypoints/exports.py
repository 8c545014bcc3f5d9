"""CSV and XLSX renderings of a report (XLSX with XlsxWriter, a maintained pure-Python writer).

A withheld figure (small-number suppression) is written ``c``, the convention of DfE's published
statistics; a figure with no denominator is left empty. Every file starts with what it is: title,
period, breakdown, when it was generated and the suppression applied.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

import xlsxwriter  # type: ignore[import-untyped]  # ships no type information

WITHHELD = "c"


def _columns(rows: Sequence[dict[str, Any]]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        for key in row:
            if key != "suppressed" and key not in columns:
                columns.append(key)
    return columns


def _cell(row: dict[str, Any], column: str) -> Any:
    if column in (row.get("suppressed") or ()):
        return WITHHELD
    value = row.get(column)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


def to_csv(rows: Sequence[dict[str, Any]], meta: dict[str, str]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for key, value in meta.items():
        writer.writerow([f"# {key}", value])
    columns = _columns(rows)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if (v := _cell(row, c)) is None else v for c in columns])
    # A byte-order mark so that spreadsheet software reads the file as UTF-8.
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(rows: Sequence[dict[str, Any]], meta: dict[str, str], *, sheet: str) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(
        buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
    bold = book.add_format({"bold": True})
    ws = book.add_worksheet(sheet[:31])
    line = 0
    for key, value in meta.items():
        ws.write_string(line, 0, key, bold)
        ws.write_string(line, 1, value)
        line += 1
    line += 1
    columns = _columns(rows)
    for col, name in enumerate(columns):
        ws.write_string(line, col, name, bold)
        ws.set_column(col, col, max(12, min(40, len(name) + 2)))
    for row in rows:
        line += 1
        for col, name in enumerate(columns):
            value = _cell(row, name)
            if value is None:
                continue
            if isinstance(value, int | float):
                ws.write_number(line, col, value)
            else:
                ws.write_string(line, col, str(value))
    ws.freeze_panes(len(meta) + 2, 0)
    book.close()
    return buffer.getvalue()
