#!/usr/bin/env python3
"""Dump an .xlsx workbook as JSON, as an independent reader sees it.

Used by the tests of cpis/batch/report: the workbook cpis writes (with
excelize) is read back here with openpyxl (Debian: python3-openpyxl), so
the tests check what another program finds in the file, not what the
writer meant to put there.

Usage: dump_xlsx.py FILE.xlsx > dump.json

For each sheet, in workbook order: its name, the frozen panes, the
autofilter range, the column widths, the conditional formats, and every
row up to the last one with a value. A cell is null when empty, else
[value, data_type] with the number format appended when it is not
"General". data_type is openpyxl's: "s" text, "n" number, "d" date, "f"
formula. Dates and times are ISO 8601, rounded to the second.
"""
import datetime
import json
import sys

import openpyxl


def value(cell):
    v = cell.value
    if isinstance(v, datetime.datetime):
        v = (v + datetime.timedelta(microseconds=500000)).replace(microsecond=0)
        return v.isoformat()
    if isinstance(v, (datetime.date, datetime.time)):
        return v.isoformat()
    return v


def dump_cell(cell):
    if cell.value is None:
        return None
    out = [value(cell), cell.data_type]
    if cell.number_format != "General":
        out.append(cell.number_format)
    return out


def conditional(ws):
    out = []
    for rng in ws.conditional_formatting:
        rules = []
        for rule in rng.rules:
            fill = None
            if rule.dxf is not None and rule.dxf.fill is not None:
                # A solid fill of a differential format is its bgColor.
                fill = rule.dxf.fill.bgColor.rgb
            rules.append({"type": rule.type, "formula": list(rule.formula), "fill": fill})
        out.append({"range": str(rng.sqref), "rules": rules})
    return out


def main(path):
    wb = openpyxl.load_workbook(path)
    sheets = []
    for ws in wb.worksheets:
        rows = []
        for row in ws.iter_rows():
            rows.append([dump_cell(c) for c in row])
        while rows and all(c is None for c in rows[-1]):
            rows.pop()
        for row in rows:
            while row and row[-1] is None:
                row.pop()
        widths = {k: d.width for k, d in sorted(ws.column_dimensions.items()) if d.customWidth}
        sheets.append({
            "name": ws.title,
            "freeze_panes": ws.freeze_panes,
            "auto_filter": ws.auto_filter.ref,
            "column_widths": widths,
            "conditional_formatting": conditional(ws),
            "rows": rows,
        })
    # One row per line keeps the golden file readable in a diff.
    out = ['{"sheets": [']
    for i, s in enumerate(sheets):
        head = {k: v for k, v in s.items() if k != "rows"}
        out.append(" {" + json.dumps(head, ensure_ascii=False, sort_keys=True)[1:-1] + ', "rows": [')
        out.append(",\n".join("  " + json.dumps(r, ensure_ascii=False) for r in s["rows"]))
        out.append(" ]}" + ("," if i < len(sheets) - 1 else ""))
    out.append("]}")
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
