"""Tests of the synthetic study generator against the DTS contract and its own defects summary."""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pyreadstat
import pytest

from aclf.synth import generate
from aclf.synth.course import simulate
from aclf.synth.people import id_check_char

LAST = dt.date(2025, 6, 30)
NIGHTS = ("20250628", "20250629", "20250630")
LAB = {"site01": "SITE01_{}.csv", "site02": "SITE02_{}.csv", "site03": "SITE03_{}.xlsx", "site04": "SITE04_{}.txt",
       "site05": "SITE05_{}.sav"}
EDC_FILES = {
    "enrollment.csv": "SUBJID,SITEID,SCREEN_DATE,CONSENT_DATE,BRTHDTC,SEX,ETHNIC,RACE,ELIGIBLE,SCREEN_FAIL_REASON,"
                      "PATIENT_NAME,PHONE,ID_CARD_NO",
    "medical_history.csv": "SUBJID,ETIOLOGY,CIRRHOSIS,ACLF_ONSET_DATE,PRIOR_PLT,PRIOR_CTP",
    "clinical_assessment.csv": "SUBJID,VISIT,ASSESS_DATE,HE_GRADE,ASCITES,DIALYSIS_2X_WEEK,AKI,GI_BLEED,"
                               "INFECTION_UNCONTROLLED",
    "infusion.csv": "SUBJID,VISIT,INF_START,INF_END,KIT_NO,VOLUME_ML,DONE,NOT_DONE_REASON",
    "adverse_events.csv": "SUBJID,AESPID,AETERM,AETERM_EN,AEDECOD,AEBODSYS,AESTDTC,AEENDTC,AESER,AETOXGR,AEREL,"
                          "AEOUT,AEACN",
    "outcome_events.csv": "SUBJID,EVENT,EVENT_DATE,DEATH_CAUSE",
    "end_of_study.csv": "SUBJID,STATUS,END_DATE,LAST_CONTACT_DATE",
    "visits.csv": "SUBJID,VISIT,VISIT_DATE",
}
PERSONAL = {"site01": ("PATIENT_NAME", "MRN"), "site02": ("姓名", "住院号"), "site04": ("PAT_NAME", "PHONE"),
            "enrollment.csv": ("PATIENT_NAME", "PHONE", "ID_CARD_NO")}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    landing = tmp_path_factory.mktemp("landing")
    return generate(landing, subjects=90, seed=7, nights=3, last_night=LAST)


def read_csv(path: Path, source: str) -> pd.DataFrame:
    enc = {"site01": "utf-8-sig", "site02": "gb18030"}.get(source, "utf-8")
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=enc, sep="\t" if source == "site04" else ",")


def read_site03(path: Path) -> tuple[list[str], list[tuple]]:
    wb = openpyxl.load_workbook(path)
    rows = list(wb["Lab"].iter_rows(values_only=True))
    return list(rows[0]), rows[1:]


def lab_records(landing: Path, source: str, tag: str) -> dict[tuple, object]:
    """(accession, test as the defects summary names it) -> result as written."""
    path = landing / source / LAB[source].format(tag)
    if source == "site03":
        header, rows = read_site03(path)
        tests = [h.split(" (")[0] for h in header]
        return {(r[2], tests[i]): r[i] for r in rows for i in range(5, len(header)) if r[i] is not None}
    if source == "site05":
        df, _ = pyreadstat.read_sav(str(path))
        return {(s, int(c)): (t if t else v) for s, c, v, t in zip(df.sampid, df.lbcode, df.lbres, df.lbresc)}
    df = read_csv(path, source)
    cols = {"site01": ("SAMPLE_ID", "TEST_CODE", "RESULT"), "site02": ("标本号", "检验项目", "结果"),
            "site04": ("ACCESSION", "ANALYTE", "VALUE")}[source]
    return {(a, b): v for a, b, v in zip(df[cols[0]], df[cols[1]], df[cols[2]])}


def test_every_complete_transfer_has_a_matching_manifest(run):
    landing = run.landing
    line = re.compile(r"^[0-9a-f]{64}  [^/\s]+$")
    for source, name in LAB.items():
        for tag in NIGHTS:
            data = landing / source / name.format(tag)
            manifest = data.with_name(data.name + ".sha256")
            if source == "site04" and tag == NIGHTS[-1]:
                continue
            text = manifest.read_text("ascii")
            assert text.endswith("\n") and line.match(text.rstrip("\n"))
            digest, fname = text.rstrip("\n").split("  ")
            assert fname == data.name and digest == hashlib.sha256(data.read_bytes()).hexdigest()
    for tag in NIGHTS:
        folder = landing / "edc" / f"EDC_{tag}"
        lines = (folder / "MANIFEST.sha256").read_text("ascii").splitlines()
        assert sorted(l.split("  ")[1] for l in lines) == sorted(EDC_FILES)
        for l in lines:
            assert line.match(l)
            digest, fname = l.split("  ")
            assert hashlib.sha256((folder / fname).read_bytes()).hexdigest() == digest
        for source, prefix in (("iwrs", "IWRS"), ("iwrs_key", "RANDKEY")):
            data = landing / source / f"{prefix}_{tag}.csv"
            digest, fname = (landing / source / f"{prefix}_{tag}.csv.sha256").read_text().split()
            assert fname == data.name and digest == hashlib.sha256(data.read_bytes()).hexdigest()


def test_in_flight_file_has_no_manifest_on_the_last_night_only(run):
    folder = run.landing / "site04"
    last = folder / "SITE04_20250630.txt"
    assert last.exists() and not (folder / "SITE04_20250630.txt.sha256").exists()
    assert (folder / "SITE04_20250629.txt.sha256").exists()
    assert run.in_flight == ["site04/SITE04_20250630.txt"]
    assert "site04/SITE04_20250630.txt.sha256" not in run.files["site04"]


def test_site01_is_utf8_with_bom_and_crlf(run):
    raw = (run.landing / "site01" / "SITE01_20250630.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.count(b"\n") == raw.count(b"\r\n") > 100
    df = read_csv(run.landing / "site01" / "SITE01_20250630.csv", "site01")
    assert df.SUBJECT_NO.str.fullmatch(r"01-\d{3}").all()
    assert df.COLLECT_DTM.str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d").all()
    assert set(df.TEST_CODE) == {"TBIL", "ALB", "CREA", "UREA", "INR", "PT", "PTA", "NA", "PLT", "ALT", "AST"}
    assert b'"Prothrombin time, INR"' in raw          # quoted where needed
    assert set(df.ABN_FLAG) <= {"H", "L", ""}


def test_site02_is_gb18030_not_utf8(run):
    raw = (run.landing / "site02" / "SITE02_20250630.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = raw.decode("gb18030")
    assert "\r" not in text and text.startswith("受试者编号,姓名,住院号,访视,标本号,采样时间,检验项目,结果,单位,参考范围,提示\n")
    df = read_csv(run.landing / "site02" / "SITE02_20250630.csv", "site02")
    assert df["采样时间"].str.fullmatch(r"\d{4}/[1-9]\d?/[1-9]\d? [1-9]?\d:\d\d").all()
    assert df["受试者编号"].str.fullmatch(r"2-[1-9]\d*").all()
    assert {"μmol/L", "秒", "×10^9/L"} <= set(df["单位"])
    assert {"3.4-20.5", "<40", ">35", ""} <= set(df["参考范围"])


def test_site03_workbook_reads_back_with_date_cells(run):
    path = run.landing / "site03" / "SITE03_20250630.xlsx"
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Lab", "Reference ranges"]
    ws = wb["Lab"]
    header = [c.value for c in ws[1]]
    assert header[:5] == ["Subject", "Visit", "Sample No", "Collection Date", "Collection Time"]
    assert "TBIL (µmol/L)" in header and "INR" in header
    cell = ws.cell(row=2, column=4)
    assert cell.is_date and isinstance(cell.value, dt.datetime)
    subjects = [r[0] for r in ws.iter_rows(min_row=2, values_only=True)]
    assert all(isinstance(s, int) or re.fullmatch(r"03\d{3}", s) for s in subjects)
    ref = list(wb["Reference ranges"].iter_rows(values_only=True))
    assert ref[0] == ("Test", "Low", "High", "Unit")
    assert [r[0] for r in ref[1:]] == [h.split(" (")[0] for h in header[5:]]
    assert wb.properties.modified == dt.datetime(2025, 6, 30, 0, 30)


def test_site04_is_tab_delimited_with_us_units(run):
    df = read_csv(run.landing / "site04" / "SITE04_20250630.txt", "site04")
    assert df.SUBJID.str.fullmatch(r"SZ3-\d{3}").all()
    assert df.COLL_DATE.str.fullmatch(r"\d\d(JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)\d{4}").all()
    assert df.COLL_TIME.str.fullmatch(r"(\d{4})?").all()
    assert set(df.UNITS) <= {"mg/dL", "mg/dl", "g/dL", "", "sec", "%", "mEq/L", "10^3/uL", "U/L"}
    empty = df[df.VALUE == ""]
    assert set(empty.COMMENT) <= {"QNS", "hemolyzed"}


def test_site05_reads_with_value_labels(run):
    df, meta = pyreadstat.read_sav(str(run.landing / "site05" / "SITE05_20250630.sav"))
    labels = meta.variable_value_labels
    assert labels["lbcode"][1] == "TBIL" and labels["lbunit"][4] == "(none)" and labels["visno"][99] == "Unscheduled"
    assert meta.original_variable_types["sampdt"].startswith("DATETIME")
    assert pd.api.types.is_datetime64_any_dtype(df.sampdt)
    assert ((df.subj >= 5001) & (df.subj <= 5999)).all()
    text = df.lbresc != ""
    assert df.lbres[text].isna().all() and df.lbres[~text].notna().all()


def test_edc_files_have_exactly_the_dts_columns(run):
    folder = run.landing / "edc" / "EDC_20250630"
    for name, header in EDC_FILES.items():
        raw = (folder / name).read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf")
        assert raw.decode("utf-8").split("\n", 1)[0] == header
    en = pd.read_csv(folder / "enrollment.csv", dtype=str, keep_default_na=False)
    assert (en.ELIGIBLE == "N").sum() == round(0.1 * run.screened)
    for card, birth in zip(en.ID_CARD_NO, en.BRTHDTC):
        assert len(card) == 18 and card[6:14] == birth.replace("-", "") and card[17] == id_check_char(card[:17])
    mh = pd.read_csv(folder / "medical_history.csv", dtype=str, keep_default_na=False)
    assert mh.ACLF_ONSET_DATE.str.fullmatch(r"\d{4}-\d\d-\d\d").all()


def test_cumulative_snapshots_keep_keys_except_vanished(run):
    for source in LAB:
        first = lab_records(run.landing, source, NIGHTS[0])
        second = lab_records(run.landing, source, NIGHTS[1])
        gone = {(v["sample_id"], v["test"]) for v in run.defects["vanished"]
                if v["source"] == source and v["first_night_absent"] == "2025-06-29"}
        assert gone and gone <= set(first)
        assert set(first) - set(second) == gone
        for c in run.defects["corrected"]:
            if c["source"] == source and c["night_new"] == "2025-06-29":
                key = (c["sample_id"], c["test"])
                assert first[key] == c["old"] and second[key] == c["new"] and c["old"] != c["new"]


def test_edc_correction_is_visible_between_nights(run):
    (c, *_) = run.defects["edc_corrected"]
    def grade(night):
        ae = pd.read_csv(run.landing / "edc" / f"EDC_{night.replace('-', '')}" / "adverse_events.csv",
                         dtype=str, keep_default_na=False)
        return ae[(ae.SUBJID == c["subjid"]) & (ae.AESPID == c["aespid"])].AETOXGR.item()
    assert grade(c["night_old"]) == c["old"] and grade(c["night_new"]) == c["new"]


def test_same_seed_gives_identical_bytes(tmp_path):
    a = generate(tmp_path / "a", subjects=30, seed=3, nights=2)
    b = generate(tmp_path / "b", subjects=30, seed=3, nights=2)
    c = generate(tmp_path / "c", subjects=30, seed=4, nights=2)
    assert a.files == b.files
    for rel in a.files["site01"] + a.files["site03"] + a.files["site05"] + a.files["edc"] + a.files["iwrs"]:
        assert (a.landing / rel).read_bytes() == (b.landing / rel).read_bytes(), rel
    assert (a.landing / "site01" / "SITE01_20250630.csv").read_bytes() != (c.landing / "site01" / "SITE01_20250630.csv").read_bytes()


def test_randomization_ratio_and_no_stage2_for_placebo(run):
    iw = pd.read_csv(run.landing / "iwrs" / "IWRS_20250630.csv", dtype=str)
    key = pd.read_csv(run.landing / "iwrs_key" / "RANDKEY_20250630.csv", dtype=str)
    arm = dict(zip(key.RAND_NO, key.TREATMENT))
    s1 = iw[iw.STAGE == "1"]
    assert len(s1) == run.randomized and s1.SUBJID.is_unique
    placebo = np.mean([arm[r] == "PLACEBO" for r in s1.RAND_NO])
    assert abs(placebo - 1 / 3) < 0.08
    stage1 = dict(zip(s1.SUBJID, s1.RAND_NO.map(arm)))
    s2 = iw[iw.STAGE == "2"]
    assert len(s2) > 0 and all(stage1[s] == "HUC-MSC" for s in s2.SUBJID)
    assert iw.RAND_NO.str.fullmatch(r"R[12]-\d{4}").all()
    kits = [k for ks in iw.KIT_NOS for k in ks.split(";")]
    assert len(kits) == len(set(kits))
    inf = pd.read_csv(run.landing / "edc" / "EDC_20250630" / "infusion.csv", dtype=str, keep_default_na=False)
    assert set(inf.KIT_NO) <= set(kits)
    assert not inf.apply(lambda c: c.str.contains("MSC|PLACEBO|hUC", case=False)).any().any()


def test_personal_values_never_appear_in_non_personal_columns(run):
    tag = "20250630"
    personal: set[str] = set()
    other: list[str] = []
    frames = {s: read_csv(run.landing / s / LAB[s].format(tag), s) for s in ("site01", "site02", "site04")}
    frames["enrollment.csv"] = pd.read_csv(run.landing / "edc" / f"EDC_{tag}" / "enrollment.csv", dtype=str,
                                           keep_default_na=False)
    for name in EDC_FILES:
        if name != "enrollment.csv":
            frames[name] = pd.read_csv(run.landing / "edc" / f"EDC_{tag}" / name, dtype=str, keep_default_na=False)
    for name, df in frames.items():
        for col in df.columns:
            (personal.update if col in PERSONAL.get(name, ()) else other.extend)(df[col].tolist())
    _, rows = read_site03(run.landing / "site03" / LAB["site03"].format(tag))
    other += [str(v) for r in rows for v in r if v is not None]
    sav, _ = pyreadstat.read_sav(str(run.landing / "site05" / LAB["site05"].format(tag)))
    other += [str(v) for v in sav.to_numpy().ravel()]
    for d in ("iwrs", "iwrs_key"):
        for f in (run.landing / d).glob(f"*_{tag}.csv"):
            other += f.read_text("utf-8").split(",")
    haystack = "\x00".join(other)
    assert len(personal) > 3 * run.screened
    leaks = [p for p in personal if p and p in haystack]
    assert not leaks


def test_one_night_has_no_changes_and_is_in_flight(tmp_path):
    s = generate(tmp_path, subjects=25, seed=1, nights=1, in_flight=("edc",))
    assert s.nights == ["2025-06-30"]
    assert s.defects["corrected"] == [] and s.defects["vanished"] == [] and s.defects["edc_corrected"] == []
    assert not (tmp_path / "edc" / "EDC_20250630" / "MANIFEST.sha256").exists()
    assert (tmp_path / "site04" / "SITE04_20250630.txt.sha256").exists()
    assert all(p.startswith("edc/EDC_20250630/") for p in s.in_flight) and len(s.in_flight) == 8


def test_scale_rule_caps_site05_and_widens_large_sites():
    c = simulate(np.random.default_rng(0), 9000, LAST)
    p = c.pat
    assert (p.site == "05").sum() == 999
    site01 = p.subjid[p.site == "01"]
    assert site01.str.fullmatch(r"01-\d{3,4}").all() and (site01.str.len() == 7).any()
    assert "01-007" in set(site01)                 # numbers below 1000 keep three digits
    assert p.subjid[p.site == "05"].str.fullmatch(r"05-\d{3}").all()


def test_summary_counts_match_the_files(run):
    s01 = read_csv(run.landing / "site01" / "SITE01_20250630.csv", "site01")
    nonnumeric = pd.to_numeric(s01.RESULT, errors="coerce").isna().sum()
    assert nonnumeric == sum(run.defects["nonnumeric"]["site01"].values()) > 0
    s04 = read_csv(run.landing / "site04" / "SITE04_20250630.txt", "site04")
    assert (s04.COMMENT == "QNS").sum() == run.defects["qns"]["site04"]
    for o in run.defects["out_of_window"] + run.defects["unscheduled"]:
        if o["source"] == "site01":
            rows = s01[s01.SAMPLE_ID == o["sample_id"]]
            assert set(rows.VISIT) == {o["visit_as_written"]}
            assert set(rows.COLLECT_DTM.str[:10]) == {o["collection_date"]}


def test_randomized_patients_meet_eligibility_except_listed(run):
    folder = run.landing / "edc" / "EDC_20250630"
    en = pd.read_csv(folder / "enrollment.csv", dtype=str, keep_default_na=False)
    en = en[en.ELIGIBLE == "Y"]
    age = (pd.to_datetime(en.CONSENT_DATE) - pd.to_datetime(en.BRTHDTC)).dt.days / 365.25
    bad = {("AGE", s) for s in en.SUBJID[(age < 18) | (age >= 71)]}
    mh = pd.read_csv(folder / "medical_history.csv", dtype=str, keep_default_na=False)
    bad |= {("PRIOR_PLT", s) for s in mh.SUBJID[mh.SUBJID.isin(en.SUBJID) & (mh.PRIOR_PLT.astype(int) < 50)]}
    ca = pd.read_csv(folder / "clinical_assessment.csv", dtype=str, keep_default_na=False)
    he = ca[ca.SUBJID.isin(en.SUBJID) & ca.VISIT.isin(["WEEK-1", "WEEK0"]) & (ca.HE_GRADE.astype(int) >= 2)]
    bad |= {("HE", s) for s in he.SUBJID}
    s01 = read_csv(run.landing / "site01" / "SITE01_20250630.csv", "site01")
    scr = s01[(s01.VISIT == "Week-1") & s01.SUBJECT_NO.isin(en.SUBJID)]
    scr = scr.pivot(index="SUBJECT_NO", columns="TEST_CODE", values="RESULT").apply(pd.to_numeric)
    bad |= {("TBIL", s) for s in scr.index[scr.TBIL < 85.5]}
    bad |= {("INR", s) for s in scr.index[(scr.INR < 1.5) & (scr.PTA >= 40)]}
    listed = {(i["rule"], i["subjid"]) for i in run.defects["ineligible"]}
    assert listed and bad <= listed
    assert {x for x in listed if x[0] in ("AGE", "PRIOR_PLT", "HE")} <= bad


def test_no_data_after_death_or_transplant(run):
    folder = run.landing / "edc" / "EDC_20250630"
    ev = pd.read_csv(folder / "outcome_events.csv", dtype=str, keep_default_na=False)
    end = dict(zip(ev.SUBJID, ev.EVENT_DATE))
    assert len(end) > 0
    vis = pd.read_csv(folder / "visits.csv", dtype=str, keep_default_na=False)
    assert not any(d >= end[s] for s, d in zip(vis.SUBJID, vis.VISIT_DATE) if s in end)
    inf = pd.read_csv(folder / "infusion.csv", dtype=str, keep_default_na=False)
    done = inf[inf.DONE == "Y"]
    assert not any(d[:10] >= end[s] for s, d in zip(done.SUBJID, done.INF_START) if s in end)
    s01 = read_csv(run.landing / "site01" / "SITE01_20250630.csv", "site01")
    assert not any(d[:10] >= end[s] for s, d in zip(s01.SUBJECT_NO, s01.COLLECT_DTM) if s in end)
