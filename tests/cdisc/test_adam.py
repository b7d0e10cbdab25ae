"""ADaM: hand-built cases for the rules the protocol names (baseline and the infusion time, a score
with a missing component, death before week 4, censoring at week 53, partial AE onset), and the
blinded package from a generated study (read back, define.xml valid, figures, no treatment)."""
import numpy as np
import pandas as pd
import pyreadstat
import pytest

from aclf import scores
from aclf.config import load_study
from cdisc.adam.adae import build_adae, impute_onset
from cdisc.adam.adsl import sas_date
from cdisc.adam.adtte import build_adtte
from cdisc.adam.bds import build_adlb
from cdisc.adam.analysis import load_analysis
from cdisc.adam.periods import analysis_periods
from cdisc.define import validate_define
from cdisc.design import load_design
from cdisc.area import AreaFolders
from support import generated_night

ANALYSIS = load_analysis()


def adsl_row(usubjid="S-1", trtsdtm="2024-03-05T10:00", **dates):
    values = {"STUDYID": "NCT05985863", "USUBJID": usubjid, "SITEID": "01", "TRTSDTC": trtsdtm,
              "TRTSDT": sas_date(pd.Series([trtsdtm[:10]])).iloc[0],
              "TRTEDT": sas_date(pd.Series(["2024-03-19"])).iloc[0]}
    values.update({k: sas_date(pd.Series([v])).iloc[0] if isinstance(v, str) else v for k, v in dates.items()})
    return values


def lb_rows(usubjid, samples):
    return [{"STUDYID": "NCT05985863", "USUBJID": usubjid, "LBTESTCD": "BILI", "LBTEST": "Bilirubin",
             "LBSTRESU": "mg/dL", "LBDTC": dtc, "LBSTRESN": value, "LBSTRESC": f"{value:g}", "LBSTNRLO": 0.2,
             "LBSTNRHI": 1.2, "LBSEQ": float(i + 1)} for i, (dtc, value) in enumerate(samples)]


@pytest.mark.parametrize("week0, baseline_value, week0_chg", [
    ("2024-03-05T11:00", 5.0, 1.0),     # drawn after the 10:00 infusion: not baseline, a change
    ("2024-03-05T07:00", 6.0, np.nan),  # drawn before the infusion: the baseline
    ("2024-03-05", 6.0, np.nan),        # no time: counts as baseline (STUDY.md)
])
def test_baseline_when_the_week0_sample_is_drawn_after_the_infusion(week0, baseline_value, week0_chg):
    lb = pd.DataFrame(lb_rows("S-1", [("2024-02-28T08:00", 5.0), (week0, 6.0), ("2024-03-12T08:00", 4.0)]))
    adlb = build_adlb(lb, pd.DataFrame([adsl_row()]), load_study(), ANALYSIS)
    assert adlb["BASE"].tolist() == [baseline_value] * 3
    assert adlb.loc[adlb["ABLFL"] == "Y", "AVAL"].tolist() == [baseline_value]
    week0_row = adlb[adlb["LBDTC"] == week0].iloc[0]
    assert (np.isnan(week0_chg) and np.isnan(week0_row["CHG"])) or week0_row["CHG"] == week0_chg
    assert adlb["CHG"].iloc[-1] == 4.0 - baseline_value
    assert week0_row["ONTRTFL"] == ("" if np.isnan(week0_chg) else "Y")    # a pre-dose sample is not on treatment
    assert adlb["AVISIT"].tolist() == ["WEEK -1 (SCREENING)", "WEEK 0", "WEEK 1"]


def test_a_score_with_a_missing_component_stays_missing_and_says_why():
    meld = scores.meld_protocol(pd.Series([5.0, 5.0]), pd.Series([2.0, np.nan]), pd.Series([1.2, 1.2]),
                                pd.Series([1.0, 1.0]))
    assert not np.isnan(meld.iloc[0]) and np.isnan(meld.iloc[1])
    reason = scores.missing_reason(bilirubin=pd.Series([5.0, 5.0]), INR=pd.Series([2.0, np.nan]))
    assert reason.tolist() == ["", "missing: INR"]


def test_death_before_week_4_is_an_event_on_its_day():
    adsl = pd.DataFrame([adsl_row(RANDDT="2024-03-05", DTHDT="2024-03-20", LTXDT=np.nan,
                                  LSTALVDT="2024-03-20")])
    tte = build_adtte(adsl, ANALYSIS).set_index("PARAMCD")
    for param in ("TFS", "OS"):
        assert tte.loc[param, "CNSR"] == 0 and tte.loc[param, "EVNTDESC"] == "DEATH"
        assert tte.loc[param, "AVAL"] == 16                     # 2024-03-05 .. 2024-03-20, day 1 = origin


def test_transplant_ends_transplant_free_survival_but_not_overall_survival():
    adsl = pd.DataFrame([adsl_row(RANDDT="2024-03-05", DTHDT=np.nan, LTXDT="2024-04-01", LSTALVDT="2024-06-01")])
    tte = build_adtte(adsl, ANALYSIS).set_index("PARAMCD")
    assert (tte.loc["TFS", "CNSR"], tte.loc["TFS", "EVNTDESC"]) == (0, "LIVER TRANSPLANTATION")
    assert tte.loc["OS", "CNSR"] == 1 and tte.loc["OS", "CNSDTDSC"] == "LAST KNOWN ALIVE"


def test_censoring_at_week_53():
    adsl = pd.DataFrame([adsl_row(RANDDT="2024-03-05", DTHDT="2025-05-01", LTXDT=np.nan,
                                  LSTALVDT="2025-05-01")])
    tte = build_adtte(adsl, ANALYSIS).set_index("PARAMCD")
    week53 = sas_date(pd.Series(["2024-03-05"])).iloc[0] + ANALYSIS.tte_cutoff_day
    assert tte.loc["TFS", "ADT"] == week53 and tte.loc["TFS", "CNSR"] == 2   # death after week 53: censored
    assert tte.loc["TFS", "CNSDTDSC"].startswith("WEEK 53")


def test_partial_ae_onset_dates_are_imputed_conservatively_and_flagged():
    dose = pd.Series(pd.to_datetime(["2024-03-05"] * 5))
    dates, flags = impute_onset(pd.Series(["2024-03", "2024", "2024-02", "2024-03-04", ""]), dose)
    assert dates.tolist()[:4] == list(pd.to_datetime(["2024-03-05", "2024-03-05", "2024-02-01", "2024-03-04"]))
    assert flags.tolist() == ["D", "M", "D", "", ""]
    ae = pd.DataFrame({"STUDYID": "NCT05985863", "USUBJID": "S-1", "AESEQ": [1.0, 2.0, 3.0], "AETERM": "Fever",
                       "AEDECOD": "Pyrexia", "AEBODSYS": "General disorders", "AESER": "N", "AEREL": "NOT RELATED",
                       "AETOXGR": "1", "AESTDTC": ["2024-03", "2024-02", "2024-04-10"]})
    adsl = pd.DataFrame([adsl_row(LSTALVDT="2024-05-01", EOSDT=np.nan)])
    adsl = pd.concat([adsl, analysis_periods(adsl["TRTSDT"], adsl["LSTALVDT"], adsl["EOSDT"], ANALYSIS.stage_2_day)],
                     axis=1)
    adae = build_adae(ae, adsl)
    assert adae["TRTEMFL"].tolist() == ["Y", "", "Y"] and adae["ASTDTF"].tolist() == ["D", "D", ""]
    assert adae["APERIOD"].tolist()[::2] == [1, 2]               # onset on protocol day 36: stage 2
    assert np.isnan(adae["APERIOD"].iloc[1])                      # not treatment-emergent: no period


@pytest.mark.parametrize("last, eos, expected", [
    # (LSTALVDT, EOSDT) -> AP01SDT, AP01EDT, AP02SDT, AP02EDT, as offsets from TRTSDT (None: missing)
    (10, None, (0, None, None, None)),          # on study at day 11: period 1 open
    (10, 10, (0, 10, None, None)),              # left on day 11: period 1 ends then, no period 2
    (27, 27, (0, 27, None, None)),              # left on the last day of stage 1
    (28, None, (0, 27, 28, None)),              # known on the first day of stage 2: period 2 open
    (40, 35, (0, 27, 28, 40)),                  # left: period 2 ends at the later of the two
    (None, None, (0, None, None, None)),
])
@pytest.mark.parametrize("cut, still_in", [(None, (0, None, None, None)), (20, (0, None, None, None)),
                                           (40, (0, 27, 28, None))])
def test_analysis_periods_are_the_protocol_stages(last, eos, expected, cut, still_in):
    """A subject who has not left is in the study at the data cut: the cut, not the last record,
    says whether period 2 has begun (an AE onset imputed after the last record is then period 2)."""
    start = sas_date(pd.Series(["2024-03-05"])).iloc[0]
    at = lambda offset: np.nan if offset is None else start + offset  # noqa: E731
    periods = analysis_periods(pd.Series([start]), pd.Series([at(last)]), pd.Series([at(eos)]), 28,
                               None if cut is None else start + cut)
    if eos is None and (last or 0) < 28 and cut is not None:
        expected = still_in
    got = [None if np.isnan(v) else v - start for v in periods.iloc[0]]
    assert got == list(expected)


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    with generated_night(tmp_path_factory.mktemp("adam"), subjects=60, seed=9) as (settings, _, _):
        yield AreaFolders(settings.output / "blinded", "NCT05985863").adam, settings


def test_the_blinded_adam_package(package):
    folder, settings = package
    assert sorted(p.name for p in folder.glob("*.xpt")) == ["adae.xpt", "adlb.xpt", "adscore.xpt", "adsl.xpt",
                                                             "adtte.xpt"]
    assert validate_define(folder / "define.xml") == []
    guide = (folder / "adrg.html").read_text(encoding="utf-8")                   # the ADRG skeleton
    assert "Analysis Data Reviewer" in guide and "Liver scores" in guide and "ADSCORE" in guide
    assert "acrf.pdf" not in guide and not (folder / "acrf.pdf").exists()     # the aCRF is SDTM's
    adsl, meta = pyreadstat.read_xport(str(folder / "adsl.xpt"))
    assert meta.file_label == "Subject-Level Analysis Dataset"
    assert not {"TRT01PN", "TRT01AN", "TRT02PN", "TRT02A", "RAND2DT", "RAND2FL"} & set(adsl.columns)
    # the Required treatment variables are documented dummies, one value for every arm; TRT02P for
    # those who reached period 2 (APERIOD 2 in ADAE), by dates that follow one rule in every arm
    assert set(adsl["TRT01P"]) == {"MASKED STUDY PRODUCT (HUC-MSC OR PLACEBO)"}
    assert (adsl["TRT02P"] == np.where(adsl["AP02SDT"].notna(), "MASKED STUDY PRODUCT (HUC-MSC OR PLACEBO)", "")).all()
    assert (adsl["TRT02P"] != "").any() and (adsl["TRT02P"] == "").any()
    assert adsl["TR01SDT"].equals(adsl["TRTSDT"].rename("TR01SDT"))
    assert adsl["TR01EDT"].equals(adsl["TRTEDT"].rename("TR01EDT"))
    assert not {"TR02SDT", "TR02EDT"} & set(adsl.columns)             # stage-2 infusions: the unblinded area's
    for name in ("adlb", "adscore", "adae", "adtte"):       # ADaMIG: each analysis dataset names a treatment
        analysed, _ = pyreadstat.read_xport(str(folder / f"{name}.xpt"))
        assert set(analysed["TRT01P"]) == {"MASKED STUDY PRODUCT (HUC-MSC OR PLACEBO)"}, name
    assert set(adsl["TRT01A"]) <= {"MASKED STUDY PRODUCT (HUC-MSC OR PLACEBO)", ""}
    assert set(adsl["ARM"]) == {"Blinded until unblinding is authorized"}
    assert meta.original_variable_types["TRTSDT"].startswith("DATE")        # SAS dates, DATE9.
    assert meta.original_variable_types["TRTSDTM"].startswith("DATETIME")  # a numeric datetime
    treated = adsl[adsl["TRTSDTM"].notna()].iloc[0]
    assert pd.Timestamp(treated["TRTSDTM"]).date() == pd.Timestamp(treated["TRTSDT"]).date()   # read back as dates
    ended = adsl[adsl["EOSSTT"] == "DISCONTINUED"]
    assert not ended.empty and (ended["DCSREAS"] != "").all()
    assert (adsl.loc[adsl["EOSSTT"] != "DISCONTINUED", "DCSREAS"] == "").all()
    adlb, _ = pyreadstat.read_xport(str(folder / "adlb.xpt"))
    assert (adlb.loc[adlb["AVAL"].notna(), "AVALC"] == "").all()             # AVAL and AVALC one-to-one
    assert adlb["AVAL"].isna().any() and (adlb.groupby("PARAMCD")["PARAM"].nunique() == 1).all(), \
        "PARAMCD and PARAM one-to-one, records without a value included (ADaMIG 1.3 3.3.4)"
    assert not ((adlb["ABLFL"] == "Y") & (adlb["ONTRTFL"] == "Y")).any()     # a pre-dose baseline is not on treatment
    score, _ = pyreadstat.read_xport(str(folder / "adscore.xpt"))
    assert set(score["PARAMCD"]) == {"MELDPROT", "MELD", "MELDNA", "MELD3", "CTPSCORE", "CTPCLASN"}
    missing = score[score["AVAL"].isna()]
    assert not missing.empty and missing["AREASND"].str.startswith("missing:").all()
    assert (score.groupby(["USUBJID", "PARAMCD", "AVISITN"]).size() == 1).all()
    # every period of onset has its dates in ADSL, which date the protocol's stages for every arm
    adae, _ = pyreadstat.read_xport(str(folder / "adae.xpt"))
    assert {1.0, 2.0} <= set(adae["APERIOD"].dropna())
    periods = adae.merge(adsl[["USUBJID", "AP01SDT", "AP01EDT", "AP02SDT", "AP02EDT"]], on="USUBJID")
    for n in (1, 2):
        inside = periods[periods["APERIOD"] == n]
        start, end = (pd.to_datetime(inside[f"AP0{n}{e}DT"]) for e in "SE")
        onset = pd.to_datetime(inside["ASTDT"])
        assert ((start <= onset) & (end.isna() | (onset <= end))).all()
    treated = adsl[adsl["TRTSDT"].notna()]
    assert (treated["AP01SDT"] == treated["TRTSDT"]).all() and treated["AP02SDT"].notna().any()
    figures = settings.output / "blinded" / "figures"
    assert {p.name for p in figures.glob("*.png")} == {"km_transplant_free_survival.png",
                                                      "meld_protocol_by_visit.png", "bilirubin_by_visit.png"}


def test_the_figures_are_ready_to_print(package):
    """PNG at 300 dpi, SVG and PDF; the KM with its number at risk; labels from the parameter, not
    its code; a footnote with population, N and data cut (read back from the SVG's text)."""
    import re

    from PIL import Image

    _, settings = package
    figures = settings.output / "blinded" / "figures"
    for png in figures.glob("*.png"):
        assert png.with_suffix(".svg").is_file() and png.with_suffix(".pdf").read_bytes().startswith(b"%PDF")
        assert round(Image.open(png).info["dpi"][0]) == 300
    def words(name):                       # matplotlib writes SVG text as glyph paths with a comment
        return " ".join(re.findall(r"<!-- (.*?) -->", (figures / f"{name}.svg").read_text(encoding="utf-8")))
    km = words("km_transplant_free_survival")
    assert "Number at risk" in km and "Data cut" in km and "N=" in km
    meld = words("meld_protocol_by_visit")
    assert "MELDPROT" not in meld and "Data cut" in meld and "Subjects with a value" in meld


def test_the_figures_need_only_the_records_sent_to_the_worker(package, tmp_path):
    """Drawn from what the night sends the worker (the drawn parameters' records, the variables the
    figures read), the figures and the Kaplan-Meier estimates are those drawn from whole datasets."""
    from cdisc.figures import draw_figures
    from cdisc.publish import figure_records

    folder, _ = package
    whole = {name: pyreadstat.read_xport(str(folder / f"{name.lower()}.xpt"))[0] for name in ("ADTTE", "ADLB", "ADSCORE")}
    sent = figure_records(whole, ANALYSIS)
    assert len(sent["ADLB"].columns) < len(whole["ADLB"].columns) / 3
    drawn = {}
    for name, datasets in (("whole", whole), ("sent", sent)):
        (tmp_path / name).mkdir()
        drawn[name] = draw_figures(datasets, ANALYSIS, load_study(), tmp_path / name, "2025-01-31")
    (figures, rates), (sent_figures, sent_rates) = drawn["whole"], drawn["sent"]
    assert rates and sent_rates == rates and figures.keys() == sent_figures.keys()
    for key, png in figures.items():
        assert sent_figures[key].read_bytes() == png.read_bytes()


def test_invalid_components_leave_a_score_missing_instead_of_stopping_the_night():
    """An HE grade of 5, an unknown ascites code or an implausible albumin are findings; the score of
    that visit is missing (with its reason) and the build goes on."""
    from cdisc.adam.bds import _scoreable

    comp = pd.DataFrame({"bilirubin": [5.0, 5.0], "inr": [2.0, 2.0], "creatinine": [1.0, 1.0],
                         "sodium": [135.0, 135.0], "albumin": [30.0, 300.0], "prothrombin_time": [20.0, 20.0],
                         "encephalopathy": ["1", "5"], "ascites": ["MILD", "LOTS"], "dialysis": [False, False]})
    clean = _scoreable(comp, load_study(), ANALYSIS.scores)
    ctp = scores.child_pugh(clean["bilirubin"], clean["albumin"], clean["inr"], ascites=clean["ascites"].fillna(""),
                            encephalopathy=pd.to_numeric(clean["encephalopathy"], errors="coerce"))
    assert ctp["score"].iloc[0] == 11 and np.isnan(ctp["score"].iloc[1])    # 3 + 2 + 2 + 2 + 2
    meld3 = scores.meld_3(clean["bilirubin"], clean["inr"], clean["creatinine"], clean["sodium"],
                          scores.g_l_to_g_dl(clean["albumin"]), pd.Series([False, False]))
    assert not np.isnan(meld3.iloc[0]) and np.isnan(meld3.iloc[1])


def test_meld3_of_a_subject_of_unknown_sex_is_missing_and_says_why():
    """MELD 3.0 adds 1.33 for a woman: with ADSL.SEX U (the EDC held no valid code) it has no value,
    and AREASND names sex; the other scores do not need it."""
    from cdisc.adam.bds import _score_parameters

    index = pd.MultiIndex.from_tuples([("S-F", 10.0), ("S-M", 10.0), ("S-U", 10.0)], names=["USUBJID", "AVISITN"])
    comp = pd.DataFrame({"bilirubin": 5.0, "inr": 2.0, "creatinine": 1.0, "sodium": 135.0, "albumin": 30.0,
                         "prothrombin_time": 20.0, "encephalopathy": 1.0, "ascites": "MILD", "dialysis": False},
                        index=index)
    adsl = pd.DataFrame({"USUBJID": ["S-F", "S-M", "S-U"], "SEX": ["F", "M", "U"], "MELDETIO": 0.0})
    out = _score_parameters(comp, adsl, ANALYSIS.scores).set_index(["PARAMCD", "USUBJID"])
    meld3 = out.loc["MELD3"]
    assert meld3.loc["S-F", "AVAL"] - meld3.loc["S-M", "AVAL"] in (1.0, 2.0)      # 1.33, rounded
    assert np.isnan(meld3.loc["S-U", "AVAL"]) and meld3.loc["S-U", "AREASND"] == "missing: sex"
    assert out.loc["MELD"].loc["S-U", "AVAL"] == out.loc["MELD"].loc["S-M", "AVAL"]


def test_a_visit_without_a_dialysis_answer_is_not_read_as_not_dialysed():
    """A missing dialysis answer leaves the MELD scores missing, AREASND naming it, unless creatinine
    is at the cap already (the answer cannot change it); Child-Pugh does not use it."""
    from cdisc.adam.bds import _score_parameters

    index = pd.MultiIndex.from_tuples([("S-Y", 10.0), ("S-N", 10.0), ("S-?", 10.0), ("S-?", 20.0), ("S-?", 30.0)],
                                      names=["USUBJID", "AVISITN"])
    comp = pd.DataFrame({"bilirubin": [5.0, 5.0, 5.0, 5.0, np.nan], "inr": 2.0, "creatinine": [1.0, 1.0, 1.0, 4.5, 4.5],
                         "sodium": 135.0, "albumin": 30.0, "prothrombin_time": 20.0, "encephalopathy": 1.0,
                         "ascites": "MILD", "dialysis": [True, False, np.nan, np.nan, np.nan]}, index=index)
    adsl = pd.DataFrame({"USUBJID": ["S-Y", "S-N", "S-?"], "SEX": "M", "MELDETIO": 0.0})
    out = _score_parameters(comp, adsl, ANALYSIS.scores).set_index(["PARAMCD", "USUBJID", "AVISITN"])
    for code in ("MELDPROT", "MELD", "MELDNA", "MELD3"):
        meld = out.loc[code]
        assert meld.loc[("S-Y", 10.0), "AVAL"] > meld.loc[("S-N", 10.0), "AVAL"]
        assert np.isnan(meld.loc[("S-?", 10.0), "AVAL"])
        assert meld.loc[("S-?", 10.0), "AREASND"] == "missing: dialysis"
        assert meld.loc[("S-?", 20.0), "AVAL"] == meld.loc[("S-Y", 10.0), "AVAL"]
        assert not meld.loc[("S-?", 20.0), "AREASND"]
        assert meld.loc[("S-?", 30.0), "AREASND"].startswith("missing: bilirubin")        # capped: the answer is not
        assert "dialysis" not in meld.loc[("S-?", 30.0), "AREASND"]                      # missing there
    ctp = out.loc["CTPSCORE"]
    assert ctp["AVAL"].notna().sum() == 4 and ctp.loc[("S-?", 30.0), "AREASND"] == "missing: bilirubin"


def test_sdtm_and_adam_baselines_agree(package):
    """LBBLFL and ABLFL come from one derivation: where the SDTM baseline has a numeric result, ADaM
    flags that same record (a censored last value can only be an SDTM baseline: it has no AVAL)."""
    folder, _ = package
    lb, _ = pyreadstat.read_xport(str(folder.parents[2] / "tabulations" / "sdtm" / "lb.xpt"))
    adlb, _ = pyreadstat.read_xport(str(folder / "adlb.xpt"))
    sdtm = lb[(lb["LBBLFL"] == "Y") & lb["LBSTRESN"].notna()].set_index(["USUBJID", "LBTESTCD"])["LBSEQ"]
    adam = adlb[adlb["ABLFL"] == "Y"].set_index(["USUBJID", "PARAMCD"])["SRCSEQ"]
    assert len(sdtm) > 100
    assert adam.reindex(sdtm.index).tolist() == sdtm.tolist()


def test_adscore_reads_dialysis_from_sdtm_pr():
    """The MELD creatinine rule's dialysis comes from PR (traceable to SDTM), by analysis visit."""
    from cdisc.adam.bds import _assessments
    adsl = pd.DataFrame([adsl_row()])
    rs = pd.DataFrame({"USUBJID": ["S-1", "S-1"], "RSTESTCD": ["WHEG0101"] * 2, "RSORRES": ["1", "1"],
                       "RSDTC": ["2024-03-05", "2024-03-12"]})
    pr = pd.DataFrame({"USUBJID": ["S-1"] * 3, "PRTRT": ["DIALYSIS", "DIALYSIS", "LIVER TRANSPLANTATION"],
                       "PROCCUR": ["N", "Y", ""], "PRDTC": ["2024-03-05", "2024-03-12", ""]})
    study = load_study()
    num = {v.code: float(v.visitnum) for v in study.visits}
    got = _assessments(rs, pr, adsl, study, ANALYSIS.scores)["dialysis"]
    assert got.to_dict() == {("S-1", num["WEEK0"]): False, ("S-1", num["WEEK1"]): True}


def test_adsl_subject_facts_come_from_sdtm(package):
    """ETIOL is MH.MHTERM, MELDETIO its protocol E, EOSSTT/EOSDT the DS end-of-study record and the
    last known alive date never before DM.RFPENDTC (the end of participation) of a living subject."""
    folder, _ = package
    sdtm = folder.parents[2] / "tabulations" / "sdtm"
    adsl, _ = pyreadstat.read_xport(str(folder / "adsl.xpt"))
    mh, _ = pyreadstat.read_xport(str(sdtm / "mh.xpt"))
    dm, _ = pyreadstat.read_xport(str(sdtm / "dm.xpt"))
    ds, _ = pyreadstat.read_xport(str(sdtm / "ds.xpt"))
    etiology = mh[mh["MHCAT"] == load_design().etiology_category].set_index("USUBJID")["MHTERM"]
    adsl = adsl.set_index("USUBJID")
    assert (adsl["ETIOL"] == etiology.reindex(adsl.index)).all() and (adsl["ETIOL"] != "").all()
    e0 = adsl["ETIOL"].isin(ANALYSIS.meld_e0_etiologies)
    assert e0.any() and (adsl.loc[e0, "MELDETIO"] == 0).all() and (adsl.loc[~e0, "MELDETIO"] == 1).all()
    ended = ds[(ds["DSCAT"] == "DISPOSITION EVENT") & (ds["DSDECOD"] != "SCREEN FAILURE")].set_index("USUBJID")
    assert (adsl.loc[ended.index, "EOSSTT"] != "ONGOING").all()
    assert (adsl.drop(ended.index)["EOSSTT"] == "ONGOING").all()
    assert (pd.to_datetime(adsl.loc[ended.index, "EOSDT"]) == pd.to_datetime(ended["DSSTDTC"]).dt.normalize()).all()
    contact = pd.to_datetime(dm.set_index("USUBJID")["RFPENDTC"].reindex(adsl.index).replace("", None))
    alive = adsl["DTHFL"] != "Y"
    assert contact[alive].notna().sum() > 0
    known = alive & contact.notna()
    assert (pd.to_datetime(adsl.loc[known, "LSTALVDT"]) >= contact[known]).all()
    failed = dm[dm["ARMNRS"] == "SCREEN FAILURE"]
    assert len(failed) and (failed["RFPENDTC"] != "").all()          # screen failures too: their screening date


def test_adscore_aval_has_a_method_per_parameter(package):
    """Value-level metadata: each score parameter's AVAL carries its own method, whose description
    names the SDTM/ADaM variables it uses; derived variables show their sources in the Origin."""
    from lxml import etree
    folder, _ = package
    ns = {"odm": "http://www.cdisc.org/ns/odm/v1.3", "def": "http://www.cdisc.org/ns/def/v2.1"}
    tree = etree.parse(str(folder / "define.xml"))
    aval = tree.find(".//odm:ItemDef[@OID='IT.ADSCORE.AVAL']", ns)
    vl = tree.find(".//def:ValueListDef[@OID='%s']" % aval.find("def:ValueListRef", ns).get("ValueListOID"), ns)
    methods = {}
    for ref in vl.iterfind("odm:ItemRef", ns):
        wc = tree.find(".//def:WhereClauseDef[@OID='%s']/odm:RangeCheck" % ref.find("def:WhereClauseRef", ns).get("WhereClauseOID"), ns)
        methods[wc.find("odm:CheckValue", ns).text] = ref.get("MethodOID")
    assert methods == {p: f"MT.SCORE.{p}" for p in ANALYSIS.scores.parameters}
    meld = tree.find(".//odm:MethodDef[@OID='MT.SCORE.MELD3']", ns)
    assert "ADLB.AVAL" in "".join(meld.itertext()) and "ADSL.SEX" in "".join(meld.itertext())
    origin = tree.find(".//odm:ItemDef[@OID='IT.ADSL.LSTALVDT']/def:Origin", ns)
    assert origin.get("Type") == "Derived" and "DM.RFPENDTC" in "".join(origin.itertext())


def test_occds_and_tte_datasets_name_their_subclass(package):
    """Define-XML 2.1 def:SubClass: ADAE is an OCCDS of ADVERSE EVENT, ADTTE a BDS of TIME-TO-EVENT
    (the XSD's enumeration; the package's define.xml is validated against it above)."""
    from lxml import etree
    folder, _ = package
    ns = {"odm": "http://www.cdisc.org/ns/odm/v1.3", "def": "http://www.cdisc.org/ns/def/v2.1"}
    tree = etree.parse(str(folder / "define.xml"))
    classes = {ig.get("Name"): (ig.find("def:Class", ns).get("Name"),
                                [s.get("Name") for s in ig.iterfind("def:Class/def:SubClass", ns)])
               for ig in tree.iterfind(".//odm:ItemGroupDef", ns)}
    assert classes["ADTTE"] == ("BASIC DATA STRUCTURE", ["TIME-TO-EVENT"])
    assert classes["ADAE"] == ("OCCURRENCE DATA STRUCTURE", ["ADVERSE EVENT"])
    assert classes["ADLB"] == ("BASIC DATA STRUCTURE", [])


def test_a_dialysis_question_not_answered_is_unknown_not_no():
    """PR's NOT DONE record (PROCCUR null) leaves the visit's dialysis unknown; Y and N are read."""
    from cdisc.adam.bds import _assessments

    study = load_study()
    adsl = pd.DataFrame({"USUBJID": ["S-1", "S-2", "S-3"], "TRTSDT": sas_date(pd.Series(["2024-03-01"] * 3)),
                         "TRTSDTC": "2024-03-01T10:00", "TRTEDT": sas_date(pd.Series(["2024-03-15"] * 3))})
    rs = pd.DataFrame(columns=["USUBJID", "RSDTC", "RSTESTCD", "RSORRES"])
    pr = pd.DataFrame({"USUBJID": ["S-1", "S-2", "S-3"], "PRTRT": "DIALYSIS", "PROCCUR": ["Y", "N", ""],
                       "PRSTAT": ["", "", "NOT DONE"], "PRDTC": "2024-03-08"})
    dialysis = _assessments(rs, pr, adsl, study, ANALYSIS.scores)["dialysis"].droplevel("AVISITN")
    assert dialysis.get("S-1") is True and dialysis.get("S-2") is False and "S-3" not in dialysis.index
