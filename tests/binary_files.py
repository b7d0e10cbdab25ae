"""Small hand-written site 03 (Excel) and site 05 (SPSS) files, built from literal rows with the
real libraries the sites use (openpyxl, pyreadstat), since these formats cannot be typed by hand."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pandas as pd
import pyreadstat

SITE03_HEADER = ["Subject", "Visit", "Sample No", "Collection Date", "Collection Time",
                 "TBIL (µmol/L)", "ALB (g/L)", "INR", "PTA (%)", "GGT (U/L)"]
SITE03_ROWS = [
    ["03007", "SCR", "SL240305017", dt.datetime(2024, 3, 5), "08:30", 298.1, 29.4, 2.1, 32, None],
    [3007, "W0", "SL240312003", dt.datetime(2024, 3, 12), None, "<0.5", None, 1.9, "hemolysed", None],
    ["03012", "W1", "SL240319044", dt.datetime(2024, 3, 19), "25:99", 150, 30, None, None, None],
    ["03012", "UNS", "SL240322001", dt.datetime(2024, 3, 22), "10:15", None, None, None, None, 55],
]
SITE03_RANGES = [["TBIL", 3.4, 20.5, "µmol/L"], ["ALB", 35, 55, "g/L"], ["INR", 0.8, 1.2, ""],
                 ["PTA", 70, 130, "%"]]


def write_site03(path: Path, ranges: list[list] = SITE03_RANGES, rows: list[list] = SITE03_ROWS,
                 header: list[str] = SITE03_HEADER) -> Path:
    wb = openpyxl.Workbook()
    lab = wb.active
    lab.title = "Lab"
    lab.append(header)
    for row in rows:
        lab.append(row)
    ref = wb.create_sheet("Reference ranges")
    ref.append(["Test", "Low", "High", "Unit"])
    for row in ranges:
        ref.append(row)
    wb.save(path)
    return path


def write_site05(path: Path) -> Path:
    frame = pd.DataFrame({
        "subj": [5007.0, 5007.0, 5007.0, 5011.0],
        "visno": [1.0, 1.0, 2.0, 99.0],
        "sampid": ["F5-240305-03", "F5-240305-03", "F5-240312-01", "F5-240320-07"],
        "sampdt": pd.to_datetime(["2024-03-05 08:30", "2024-03-05 08:30", "2024-03-12 07:10", "2024-03-20 11:00"]),
        "lbcode": [1.0, 5.0, 1.0, 12.0],
        "lbres": [301.5, 2.35, float("nan"), 40.0],
        "lbresc": ["", "", "hemolysed", ""],
        "lbunit": [1.0, 4.0, 1.0, 8.0],
        "nrlo": [3.4, 0.8, 3.4, float("nan")],
        "nrhi": [20.5, 1.2, 20.5, float("nan")],
    })
    labels = {"lbcode": {1: "TBIL", 2: "ALB", 3: "CREA", 4: "BUN", 5: "INR", 6: "PT", 7: "PTA", 8: "NA",
                         9: "PLT", 10: "ALT", 11: "AST"},
              "lbunit": {1: "umol/L", 2: "g/L", 3: "mmol/L", 4: "(none)", 5: "s", 6: "%", 7: "10^9/L", 8: "U/L"}}
    pyreadstat.write_sav(frame, str(path), variable_value_labels=labels,
                         variable_format={"sampdt": "DATETIME20"})
    return path
