"""Trial design datasets (TS, TA, TE, TV, TI) from the configuration: the design, never a subject."""
from __future__ import annotations

import pandas as pd

from cdisc.sdtm.common import Context


def build_ta(ctx: Context) -> pd.DataFrame:
    elements = {e.etcd: e for e in ctx.design.elements}
    rows = []
    for arm in [a for a in ctx.design.arms if ctx.level in a.levels]:
        for order, etcd in enumerate(arm.elements, start=1):
            rows.append({"ARMCD": arm.armcd, "ARM": arm.arm, "TAETORD": float(order), "ETCD": etcd,
                         "ELEMENT": elements[etcd].element, "TABRANCH": ctx.design.branches.get(etcd, ""),
                         "TATRANS": "", "EPOCH": elements[etcd].epoch})
    return pd.DataFrame(rows).assign(STUDYID=ctx.studyid, DOMAIN="TA")


def build_te(ctx: Context) -> pd.DataFrame:
    return pd.DataFrame([{"STUDYID": ctx.studyid, "DOMAIN": "TE", "ETCD": e.etcd, "ELEMENT": e.element,
                          "TESTRL": e.testrl, "TEENRL": e.teenrl, "TEDUR": e.tedur or ""}
                         for e in ctx.design.elements if ctx.level in e.levels])


def build_tv(ctx: Context) -> pd.DataFrame:
    rows = []
    for v in ctx.study.visits:
        low, high = v.window
        rows.append({"STUDYID": ctx.studyid, "DOMAIN": "TV", "VISITNUM": float(v.visitnum), "VISIT": v.label,
                     "VISITDY": float(v.target_day + 1 if v.target_day >= 0 else v.target_day), "ARMCD": "",
                     "TVSTRL": f"Protocol day {v.target_day} after the first infusion (window days {low} to {high})",
                     "TVENRL": ""})
    return pd.DataFrame(rows)


def build_ti(ctx: Context) -> pd.DataFrame:
    return pd.DataFrame([{"STUDYID": ctx.studyid, "DOMAIN": "TI", "IETESTCD": c.code, "IETEST": c.text,
                          "IECAT": c.cat, "TIVERS": "1"} for c in ctx.design.criteria])


def build_ts(ctx: Context) -> pd.DataFrame:
    rows, seen = [], {}
    for p in ctx.design.trial_summary:
        seen[p.parmcd] = seen.get(p.parmcd, 0) + 1
        rows.append({"STUDYID": ctx.studyid, "DOMAIN": "TS", "TSSEQ": float(seen[p.parmcd]), "TSPARMCD": p.parmcd,
                     "TSPARM": p.parm, "TSVAL": p.val, "TSVALNF": "", "TSVALCD": p.valcd or "",
                     "TSVCDREF": p.vcdref or "", "TSVCDVER": ""})
    return pd.DataFrame(rows)
