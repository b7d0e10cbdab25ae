"""Trial design datasets (TS, TA, TE, TV, TI) from the configuration: the design, never a subject."""
from __future__ import annotations

import pandas as pd

from cdisc.sdtm.common import Context
from cdisc.sdtm.special import randomized


def _arms(ctx: Context):
    return [a for a in ctx.design.arms if ctx.level in a.levels]


def build_ta(ctx: Context) -> pd.DataFrame:
    """The arms the area's level tells apart; a branch only in the arms that branch there (the
    hUC-MSC x3 arm is not randomized again, so its MSC1 element has none)."""
    elements = {e.etcd: e for e in ctx.design.elements}
    shown = {a.armcd for a in _arms(ctx)}
    rows = []
    for arm in _arms(ctx):
        for order, etcd in enumerate(arm.elements, start=1):
            branch = ctx.design.branches.get(etcd)
            branches = branch is not None and arm.armcd in branch.arms and len(shown & set(branch.arms)) > 1
            rows.append({"ARMCD": arm.armcd, "ARM": arm.arm, "TAETORD": float(order), "ETCD": etcd,
                         "ELEMENT": elements[etcd].element, "TABRANCH": branch.text if branches else "",
                         "TATRANS": "", "EPOCH": elements[etcd].epoch})
    return pd.DataFrame(rows).assign(STUDYID=ctx.studyid, DOMAIN="TA")


def build_te(ctx: Context) -> pd.DataFrame:
    """The elements of the arms shown (TE holds no element that no arm uses)."""
    used = {etcd for arm in _arms(ctx) for etcd in arm.elements}
    return pd.DataFrame([{"STUDYID": ctx.studyid, "DOMAIN": "TE", "ETCD": e.etcd, "ELEMENT": e.element,
                          "TESTRL": e.testrl, "TEENRL": e.teenrl, "TEDUR": e.tedur or ""}
                         for e in ctx.design.elements if e.etcd in used])


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
    """The configured parameters, and from the night: the data cut, the subjects randomized and
    whether the study is ongoing (no end date configured)."""
    parameters = [(p.parmcd, p.parm, p.val, p.valcd or "", p.vcdref or "") for p in ctx.design.trial_summary]
    if ctx.data_cut:
        parameters += [("DCUTDTC", "Data Cutoff Date", ctx.data_cut, "", ""),
                       ("DCUTDESC", "Data Cutoff Description", "NIGHTLY DATA CUT (NEWEST TRANSFER IN FORCE)", "", "")]
    parameters.append(("ACTSUB", "Actual Number of Subjects", str(len(randomized(ctx))), "", ""))
    # the study is in progress until its end date is configured (SENDTC, in study/sdtm/trial_design.yaml)
    ended = any(p.parmcd == "SENDTC" for p in ctx.design.trial_summary)
    parameters.append(("ONGOSIND", "Ongoing Study Indicator", *(("N", "C49487") if ended else ("Y", "C49488")),
                       "CDISC CT"))
    rows, seen = [], {}
    for parmcd, parm, val, valcd, vcdref in parameters:
        seen[parmcd] = seen.get(parmcd, 0) + 1
        rows.append({"STUDYID": ctx.studyid, "DOMAIN": "TS", "TSSEQ": float(seen[parmcd]), "TSPARMCD": parmcd,
                     "TSPARM": parm, "TSVAL": val, "TSVALNF": "", "TSVALCD": valcd, "TSVCDREF": vcdref,
                     "TSVCDVER": ctx.ct_release if vcdref == "CDISC CT" else ""})
    return pd.DataFrame(rows)
