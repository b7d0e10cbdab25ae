"""The blinded SDTM package from a generated study, built by the real nightly job: read back by
pyreadstat value for value, define.xml valid, study days, partial dates, censored and not-done lab
records, and the blinding rule checked against the randomization key."""
import lzma

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from aclf.store import make_engine
from aclf.current import forms_in_force
from aclf.config import DEFAULT_STUDY_DIR, load_study
from cdisc.define import validate_define
from cdisc.design import load_design
from cdisc.area import AreaFolders
from aclf.registry import data_night
from validation.findings import open_findings
from cdisc.sdtm.build import build_context, build_domains
from cdisc.sdtm.common import study_day
from cdisc.spec import for_area, load_spec
from test_ct import SHARED_CT
from support import generated_night
from aclf.harmonized_lab import load_harmonized_lab

SUBJECT_LEVEL = ["DM", "SE", "SV", "EC", "AE", "MH", "DS", "PR", "LB", "RS"]


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    with generated_night(tmp_path_factory.mktemp("sdtm"), subjects=60, seed=5) as (settings, summary, url):
        study, engine = load_study(), make_engine(url)
        ctx = build_context(study, load_design(), forms_in_force(engine, study), data_cut=data_night(engine),
                            ct_release=BLINDED_SPEC().ct_version,      # as the SDTM asset builds it
                            eligibility=open_findings(engine, "eligibility"))
        built = build_domains(ctx, BLINDED_SPEC(), lambda: load_harmonized_lab(engine)).datasets
        folder = AreaFolders(settings.output / "blinded", study.study.studyid).sdtm
        yield folder, built, settings, summary, engine


def read(folder, name):
    frame, meta = pyreadstat.read_xport(str(folder / f"{name.lower()}.xpt"))
    return frame, meta


def test_the_package_is_laid_out_for_submission(package):
    folder, built, _, _, _ = package
    assert folder.parts[-6:] == ("blinded", "m5", "datasets", "nct05985863", "tabulations", "sdtm")
    assert sorted(p.name for p in folder.glob("*.xpt")) == sorted(f"{n.lower()}.xpt" for n in built)
    assert (folder / "define.xml").exists() and (folder / "define.html").exists()
    assert (folder / "acrf.pdf").read_bytes().startswith(b"%PDF")
    assert b'href="acrf.pdf"' in (folder / "define.xml").read_bytes()


def test_every_dataset_reads_back_with_the_same_values(package):
    folder, built, _, _, _ = package
    spec = BLINDED_SPEC()
    for name, frame in built.items():
        back, meta = read(folder, name)
        ds = spec.datasets[name]
        assert meta.table_name == name and meta.file_label == ds.label
        assert list(back.columns) == list(frame.columns)
        assert meta.column_labels == [ds.variable[c].label for c in frame.columns]
        for col in frame.columns:
            if ds.variable[col].is_numeric:
                np.testing.assert_array_equal(back[col].to_numpy(float), frame[col].to_numpy(float), err_msg=col)
            else:
                assert back[col].fillna("").tolist() == frame[col].tolist(), f"{name}.{col}"
        assert len(back) == len(frame) and len(frame) > 0


def test_define_xml_validates_against_the_schema(package):
    folder, _, _, _, _ = package
    assert validate_define(folder / "define.xml") == []


def test_study_days_around_day_one():
    rf = pd.Series(["2024-03-05T10:00"] * 5)
    dtc = pd.Series(["2024-03-03", "2024-03-04T23:59", "2024-03-05T07:00", "2024-03-06", "2024-03"])
    assert study_day(dtc, rf).tolist()[:4] == [-2, -1, 1, 2]          # no day 0
    assert np.isnan(study_day(dtc, rf).iloc[4])                         # partial date: no study day


def test_partial_dates_stay_partial(package):
    _, built, _, summary, _ = package
    ae = built["AE"]
    partial = ae[ae["AESTDTC"].str.len().between(1, 9)]
    assert not partial.empty and partial["AESTDY"].isna().all()
    assert set(partial["AESTDTC"].str.len()) <= {4, 7}                 # YYYY or YYYY-MM, as sent


def test_lab_records_for_censored_and_not_done_results(package):
    _, built, _, _, _ = package
    lb = built["LB"]
    censored = lb[lb["LBSTRESC"].str.match(r"^[<>]")]
    assert not censored.empty and censored["LBSTRESN"].isna().all()
    assert (censored["LBORRES"].str[0] == censored["LBSTRESC"].str[0]).all()
    not_done = lb[lb["LBSTAT"] == "NOT DONE"]
    assert not not_done.empty and (not_done["LBORRES"] == "").all() and (not_done["LBREASND"] != "").all()
    assert lb.groupby(["USUBJID", "LBTESTCD"])["LBBLFL"].apply(lambda s: (s == "Y").sum()).max() == 1


def test_every_lab_sample_lies_within_its_visits_dates(package):
    """Found by a reviewer's pass: SV held the EDC's visit date alone, and 249 samples of the demo
    labelled with a visit were taken on another day (SDTMIG 3.4 SV: a visit's dates span its data).
    SV now spans them; its study days follow, and a visit not done keeps no dates."""
    _, built, _, _, _ = package
    sv, lb = built["SV"], built["LB"]
    spans = sv[sv["SVOCCUR"] != "N"].groupby(["USUBJID", "VISITNUM"]).agg(start=("SVSTDTC", "min"), end=("SVENDTC", "max"))
    dated = lb[lb["LBDTC"].str.len() >= 10]
    at = spans.reindex(pd.MultiIndex.from_frame(dated[["USUBJID", "VISITNUM"]]))
    day = dated["LBDTC"].str[:10].to_numpy()
    assert at["start"].notna().all()
    assert ((at["start"].str[:10].to_numpy() <= day) & (day <= at["end"].str[:10].to_numpy())).all()
    assert (sv.loc[sv["SVOCCUR"] == "N", "SVSTDTC"] == "").all()
    assert (sv["SVSTDY"].isna() | (sv["SVSTDY"] <= sv["SVENDY"])).all()


def test_sv_is_taken_from_the_hand_off_only_while_its_visits_sample_dates_are_the_same(package):
    """SV is kept by a key of the forms and of each visit's first and last sample date: a sample
    dated anew (its visit spanning another day) builds SV again, as a full build would."""
    _, _, _, _, engine = package
    study = load_study()
    ctx = build_context(study, load_design(), forms_in_force(engine, study))
    lab = load_harmonized_lab(engine)
    first = build_domains(ctx, BLINDED_SPEC(), lambda: lab, forms_key="forms")
    assert set(first.keys) == {"SV"} and first.taken == []
    asked = []

    def previous(name, key):
        asked.append(name)
        return first.datasets[name] if key == first.keys[name] else None

    again = build_domains(ctx, BLINDED_SPEC(), lambda: lab, forms_key="forms", previous=previous)
    assert again.taken == ["SV"] and again.keys == first.keys and asked == ["SV"]
    assert "SV" not in set(again.trace["dataset"])            # its trace stays the hand-off's
    moved = lab.copy()
    row = moved.index[(moved["lbdtc"].str.len() >= 10)][0]
    moved.loc[row, "lbdtc"] = "2019-01-01"                    # before every visit of the study
    redated = build_domains(ctx, BLINDED_SPEC(), lambda: moved, forms_key="forms", previous=previous)
    full = build_domains(ctx, BLINDED_SPEC(), lambda: moved)
    assert redated.taken == [] and redated.keys != first.keys
    assert "2019-01-01" in set(redated.datasets["SV"]["SVSTDTC"])
    pd.testing.assert_frame_equal(redated.datasets["SV"], full.datasets["SV"])


def test_a_code_outside_its_allowed_values_is_submitted_as_not_known(study):
    """A value the form does not allow (a name typed as SEX) is a schema finding for the site and is
    blanked for the submission; a key column (a visit) and one a derivation turns on (an infusion
    given) stay as sent; missing values stay missing."""
    from cdisc.sdtm.build import submittable

    enrol = pd.DataFrame({"SUBJID": ["01-001", "01-002", "01-003"], "SITEID": ["01", "06", "01"],
                          "SEX": ["F", "Wang Fang", ""], "RACE": ["ASIAN", "13812345678", None],
                          "ELIGIBLE": ["Y", "YES", "N"]})
    assess = pd.DataFrame({"SUBJID": ["01-001"] * 2, "VISIT": ["WEEK99", "WEEK1"], "ASCITES": ["MILD", "LOTS"]})
    infusion = pd.DataFrame({"SUBJID": ["01-001"], "VISIT": ["WEEK0"], "DONE": ["YES"]})
    forms = submittable({name: frame.reindex(columns=study.forms[name].columns, fill_value="") for name, frame in
                         {"enrollment": enrol, "clinical_assessment": assess, "infusion": infusion}.items()}, study)
    assert forms["clinical_assessment"]["VISIT"].tolist() == ["WEEK99", "WEEK1"]
    assert forms["clinical_assessment"]["ASCITES"].tolist() == ["MILD", ""]
    assert forms["infusion"]["DONE"].tolist() == ["YES"]
    got = forms["enrollment"]
    assert got["SEX"].tolist() == ["F", "", ""] and got["ELIGIBLE"].tolist() == ["Y", "", "N"]
    assert got["RACE"].iloc[:2].tolist() == ["ASIAN", ""] and pd.isna(got["RACE"].iloc[2])
    assert got["SITEID"].tolist() == ["01", "", "01"] and got["SUBJID"].equals(enrol["SUBJID"])
    assert enrol["SEX"].iloc[1] == "Wang Fang"                       # the forms given are not changed


def test_a_visit_spans_its_samples_dates_but_not_a_partial_date_or_a_visit_not_done(study):
    from cdisc.sdtm.special import span_findings, visit_spans

    class Ctx:    # what span_findings reads of the context (epoch: the design and the blinding)
        forms = {"enrollment": pd.DataFrame({"SUBJID": ["01-001"]})}
        reference = pd.DataFrame({"RFSTDTC": ["2024-03-10"]}, index=["01-001"])
        usubjid = staticmethod(lambda s: "S-" + s)
        design, blinded = load_design(), True

    sv = pd.DataFrame({"USUBJID": "S-01-001", "VISITNUM": [1.0, 2.0, 3.0, 4.0],
                       "SVOCCUR": ["Y", "Y", "N", "Y"], "SVSTDTC": ["2024-03-03", "2024-03", "", "2024-04-07"],
                       "SVENDTC": ["2024-03-03", "2024-03", "", "2024-04-07"], "SVSTDY": [-7.0, np.nan, np.nan, 29.0],
                       "SVENDY": [-7.0, np.nan, np.nan, 29.0], "EPOCH": ["SCREENING", "", "", "TREATMENT 1"]})
    lb = pd.DataFrame({"USUBJID": "S-01-001", "VISITNUM": [1.0, 1.0, 2.0, 3.0, 4.0],
                       "LBDTC": ["2024-03-01T08:00", "2024-03-04", "2024-03-12", "2024-04-01", "2024-04"]})
    out = span_findings(sv, visit_spans(lb, "LBDTC"), Ctx())
    assert out["SVSTDTC"].tolist() == ["2024-03-01", "2024-03", "", "2024-04-07"]
    assert out["SVENDTC"].tolist() == ["2024-03-04", "2024-03", "", "2024-04-07"]
    assert out["SVSTDY"].tolist()[0] == -9 and out["SVENDY"].tolist()[0] == -6
    assert out["EPOCH"].tolist()[0] == "SCREENING" and out[["SVSTDY", "EPOCH"]].iloc[3].tolist() == [29.0, "TREATMENT 1"]


def test_lb_and_dm_carry_sdtmig_3_4_expected_variables(package, study):
    """Found by a reviewer's pass: SDTMIG 3.4 expects LBCAT and LBLOBXFL (LBBLFL is permissible) and
    DM.ACTARMUD. The protocol's baseline is the last observation before exposure, so LBLOBXFL is
    LBBLFL; LBCAT is the test's configured category; no actual arm is unplanned."""
    folder, built, _, _, _ = package
    lb, dm = built["LB"], built["DM"]
    assert (lb["LBLOBXFL"] == lb["LBBLFL"]).all() and (lb["LBLOBXFL"] == "Y").any()
    assert set(lb["LBLOBXFL"]) <= {"Y", ""}
    categories = {code: test.category for code, test in study.lab.tests.items()}
    assert (lb["LBCAT"] == lb["LBTESTCD"].map(categories)).all()
    assert set(lb["LBCAT"]) <= {"CHEMISTRY", "COAGULATION", "HEMATOLOGY"} and len(set(lb["LBCAT"])) == 3
    assert (dm["ACTARMUD"] == "").all()
    written, _ = read(folder, "LB")
    assert {"LBCAT", "LBLOBXFL", "LBBLFL"} <= set(written.columns)


def test_the_blinded_package_reveals_no_assignment(package):
    folder, built, settings, _, _ = package
    key = pd.concat(pd.read_csv(p, dtype=str) for p in (settings.landing / "iwrs_key").glob("RANDKEY_*.csv"))
    iwrs = pd.concat(pd.read_csv(p, dtype=str) for p in (settings.landing / "iwrs").glob("IWRS_*.csv"))
    assignment = iwrs.merge(key, on="RAND_NO")
    assert set(assignment["TREATMENT"]) == {"HUC-MSC", "PLACEBO"}       # the key really holds assignments
    stage1 = assignment[assignment["STAGE"] == "1"].set_index("SUBJID")["TREATMENT"]
    revealing = {"HUC-MSC", "PLACEBO", "PBO", "MSC3", "MSC3PBO2", "MSC5", "TREATMENT 2"}
    for name in SUBJECT_LEVEL:
        frame, _ = read(folder, name)
        for subjid, treatment in stage1.items():
            rows = frame[frame["USUBJID"] == f"NCT05985863-{subjid}"]
            values = {str(v) for v in rows.to_numpy().ravel()}
            assert not values & revealing, (name, subjid)
        assert not any(str(v).startswith("R2-") for v in frame.to_numpy().ravel())               # no stage-2 randomization number
    dm, _ = read(folder, "DM")
    assert set(dm["ARMCD"]) <= {"BLINDED", ""} and set(dm["ACTARM"]) <= {"Blinded until unblinding is authorized", ""}
    # SDTMIG 3.4: no arm code for a screen failure or an untreated subject; ARMNRS says why
    assert set(dm.loc[dm["ARMCD"] == "", "ARMNRS"]) == {"SCREEN FAILURE"}
    assert set(dm.loc[(dm["ARMCD"] != "") & (dm["ACTARMCD"] == ""), "ARMNRS"]) <= {"ASSIGNED, NOT TREATED"}
    assert (dm.loc[dm["ACTARMCD"] != "", "ARMNRS"] == "").all()
    assert set(dm["ETHNIC"]) == {"NOT HISPANIC OR LATINO"}
    suppdm, _ = read(folder, "SUPPDM")
    assert set(suppdm["QNAM"]) == {"CETHNIC"} and set(suppdm["QVAL"]) <= {"HAN", "OTHER"}
    assert set(suppdm["USUBJID"]) == set(dm["USUBJID"]) and set(suppdm["RDOMAIN"]) == {"DM"}
    ec, _ = read(folder, "EC")
    assert not ec["VISIT"].isin(["WEEK 4", "WEEK 5"]).any()
    per_subject = ec.groupby("USUBJID").size()
    by_arm = per_subject.groupby(per_subject.index.str[12:].map(stage1)).max()
    assert by_arm.nunique() == 1                                        # the same exposure shape in both arms
    assert set(ec.loc[ec["ECOCCUR"] == "Y", "ECDOSFRM"]) == {"INJECTION"}  # the form both products have
    assert (ec.loc[ec["ECOCCUR"] != "Y", "ECDOSFRM"] == "").all()
    ds, _ = read(folder, "DS")
    assert set(ds.loc[ds["DSDECOD"] == "RANDOMIZED", "DSSCAT"]) == {"STAGE 1"}
    raw = b"".join(p.read_bytes() for p in folder.iterdir())
    assert b"R2-" not in raw


def test_every_subject_record_traces_to_its_source_row(package):
    folder, built, _, _, engine = package
    trace = pd.read_sql("select * from sdtm_trace where area = 'blinded' order by dataset, record", engine)
    for name in SUBJECT_LEVEL:
        mine = trace[trace["dataset"] == name]
        assert len(mine) == len(built[name]) and mine["record"].tolist() == list(range(1, len(mine) + 1))
        assert mine["transfer_id"].notna().all() and mine["row_number"].notna().all(), name
    lb = trace[trace["dataset"] == "LB"].merge(pd.read_sql("select id, name from transfer", engine),
                                               left_on="transfer_id", right_on="id")
    assert lb["name"].str.startswith("SITE").all()
    first = built["LB"].iloc[0]
    source = lb.iloc[0]
    lab = pd.read_sql("select * from lab_result where transfer_id = %d and row_number = %d"
                      % (source["transfer_id"], source["row_number"]), engine)
    assert first["LBREFID"] in set(lab["sample_id"])               # the traced row is that sample's row


@pytest.mark.parametrize("empty", ["everything", "adverse_events", "outcome_events", "end_of_study", "infusion"])
def test_missing_forms_or_no_data_build_valid_datasets(package, engine, empty):
    """Early in a study some forms are empty (no death yet, nobody finished): still a valid package."""
    from cdisc.package import check_all

    _, _, settings, _, full_engine = package
    study = load_study()
    source = engine if empty == "everything" else full_engine
    forms = forms_in_force(source, study)
    if empty != "everything":
        forms[empty] = forms[empty].iloc[0:0]
    ctx = build_context(study, load_design(), forms)
    datasets = build_domains(ctx, BLINDED_SPEC(), lambda: load_harmonized_lab(source)).datasets
    assert not {name: v for name, v in check_all(datasets, BLINDED_SPEC()).items() if v}


@pytest.mark.parametrize("area", ["blinded", "unblinded"])
@pytest.mark.parametrize("bad", ["ZZ?", ""])
def test_no_value_of_any_form_column_refuses_the_package(package, area, bad):
    """Every read column of every form given a value outside its rules, or none, in one record each
    (each a finding of the form's schema): the package still passes every check of the spec, a
    required value taking the one a reviewer can rely on, or the record waiting for the correction.
    Keys, and the columns a derivation turns on (kept_if_invalid), are kept as sent."""
    from cdisc.package import check_all
    from aclf.randkey import read_key

    _, _, settings, _, engine = package
    study, design = load_study(), load_design()
    forms, changed = forms_in_force(engine, study), {}
    for name, frame in forms.items():
        spec = study.forms[name]
        frame = forms[name] = frame.copy()
        columns = [c for c in spec.columns if c not in spec.key and c != spec.subject
                   and c not in spec.kept_if_invalid                  # refuse the package on purpose (below)
                   and not (area == "unblinded" and c == "RAND_NO")]  # refuses the area on purpose (test_assignment)
        for i, column in enumerate(columns[:len(frame)]):
            frame.loc[frame.index[i], column] = bad
            changed[name, column] = frame.loc[frame.index[i], spec.subject]
    key = None if area == "blinded" else read_key(settings.landing / design.blinding.key_folder,
                                                   design.blinding.key, list(design.products))
    spec = for_area(load_spec(), area)
    ctx = build_context(study, design, forms, level="full" if key is not None else "blinded", key=key,
                        ct_release=spec.ct_version)
    datasets = build_domains(ctx, spec, lambda: load_harmonized_lab(engine)).datasets
    assert not {name: v for name, v in check_all(datasets, spec).items() if v}
    dm = datasets["DM"].set_index("SUBJID")
    assert dm.loc[changed["enrollment", "SEX"], "SEX"] == "U" and set(dm["SEX"]) <= {"M", "F", "U"}
    assert dm.loc[changed["enrollment", "SITEID"], "SITEID"] == changed["enrollment", "SITEID"][:2]
    mh = datasets["MH"]
    cirrhosis = mh[(mh["MHTERM"] == "CIRRHOSIS") & (mh["USUBJID"] == dm.loc[changed["medical_history", "CIRRHOSIS"], "USUBJID"])]
    assert cirrhosis[["MHPRESP", "MHOCCUR", "MHSTAT"]].values.tolist() == [["Y", "", "NOT DONE"]]
    assert (mh["MHSTAT"] == "NOT DONE").sum() == 1 and (mh["MHOCCUR"] == "").sum() == (mh["MHPRESP"] == "").sum() + 1
    for name, column, count in (("PR", "DIALYSIS_2X_WEEK", 1), ("CE", "AKI", 3)):   # AKI, GI bleed, infection
        frame, prefix = datasets[name], name
        unanswered = frame[frame[f"{prefix}STAT"] == "NOT DONE"]
        assert len(unanswered) == count and set(unanswered[f"{prefix}OCCUR"]) == {""}
        assert set(unanswered[f"{prefix}PRESP"]) == {"Y"}
        assert dm.loc[changed["clinical_assessment", column], "USUBJID"] in set(unanswered["USUBJID"])
        assert set(frame.loc[frame[f"{prefix}STAT"] == "", f"{prefix}OCCUR"]) <= {"Y", "N", ""}
    # and the ADaM package made from that SDTM
    from cdisc.adam.analysis import load_analysis
    from cdisc.adam.build import build_adam
    adam_spec = for_area(load_spec(DEFAULT_STUDY_DIR / "adam"), area)
    adam = build_adam(datasets, study, load_analysis(), adam_spec, design).datasets
    assert not {name: v for name, v in check_all(adam, adam_spec).items() if v}


@pytest.mark.parametrize("form, column, dataset, variable", [("infusion", "DONE", "EC", "ECOCCUR"),
                                                               ("end_of_study", "STATUS", "DS", "DSDECOD")])
def test_an_invalid_value_a_derivation_turns_on_refuses_the_package(package, form, column, dataset, variable):
    """Blank, an infusion would read as not given (treatment dates, arm) and an end of study as still in
    the study: the value is kept, so the package is refused until the site corrects it."""
    from cdisc.package import check_all

    _, _, _, _, engine = package
    study = load_study()
    forms = forms_in_force(engine, study)
    forms[form] = forms[form].copy()
    forms[form].loc[forms[form].index[0], column] = "ZZ?"
    ctx = build_context(study, load_design(), forms)
    found = check_all(build_domains(ctx, BLINDED_SPEC(), lambda: load_harmonized_lab(engine)).datasets, BLINDED_SPEC())
    assert [(v.dataset, v.variable, v.rule) for vs in found.values() for v in vs] == [(dataset, variable, "codelist_value")]


def BLINDED_SPEC():
    """The SDTM spec as the blinded area sees it (EX and the assignment variables left out)."""
    return for_area(load_spec(), "blinded")


def test_trial_design_is_consistent_with_dm_and_se(package):
    """CORE/P21: every DM.ARMCD and SE.ETCD is in TA/TE; TE holds no element no arm uses; the blinded
    TA has the one blinded arm, without a branch (nothing to branch into)."""
    folder, built, _, _, _ = package
    dm, ta, te, se = (read(folder, n)[0] for n in ("DM", "TA", "TE", "SE"))
    assert set(dm["ARMCD"]) - {""} <= set(ta["ARMCD"]) == {"BLINDED"}
    assert set(se["ETCD"]) <= set(te["ETCD"]) and set(te["ETCD"]) == set(ta["ETCD"])
    assert (ta["TABRANCH"] == "").all()


def test_the_unblinded_ta_branches_only_where_the_design_randomizes():
    from cdisc.sdtm.trial_design import build_ta
    from types import SimpleNamespace
    ta = build_ta(SimpleNamespace(design=load_design(), level="full", studyid="S"))
    branch = ta.set_index(["ARMCD", "ETCD"])["TABRANCH"]
    assert branch[("MSC3", "MSC1")] == "" and branch[("MSC5", "MSC1")].startswith("Surviving")
    assert branch[("PBO", "SCRN")].startswith("Randomized 2:1")


def test_trial_summary_has_the_fda_parameters_coded(package):
    folder, _, _, _, _ = package
    ts, _ = read(folder, "TS")
    expected = {"ACTSUB", "ADAPT", "ADDON", "CURTRT", "DCUTDTC", "DCUTDESC", "DOSE", "DOSU", "DOSFRQ", "INTTYPE",
                "OBJSEC", "OUTMSSEC", "PDPSTIND", "PDSTIND", "PIPIND", "RDIND", "STOPRULE", "TDIGRP", "THERAREA",
                "TINDTP", "EXTTIND"}
    assert expected <= set(ts["TSPARMCD"])
    coded = ts[ts["TSVCDREF"] == "CDISC CT"]
    assert len(coded) >= 15 and coded["TSVALCD"].str.fullmatch(r"C\d+").all()
    assert set(coded["TSVCDVER"]) == {"2025-03-28"}
    assert ts.loc[ts["TSPARMCD"] == "ONGOSIND", ["TSVAL", "TSVALCD"]].values.tolist() == [["Y", "C49488"]]


def test_a_study_with_its_end_date_configured_is_not_ongoing():
    """ONGOSIND (the FDA's trial summary for a study in progress) follows the configured SENDTC."""
    from types import SimpleNamespace

    from cdisc.design import Parameter
    from cdisc.sdtm.trial_design import build_ts

    design = load_design()
    end = Parameter(parmcd="SENDTC", parm="Study End Date", val="2026-10-31")
    ended = design.model_copy(update={"trial_summary": [*design.trial_summary, end]})
    for d, expected in ((design, ["Y", "C49488"]), (ended, ["N", "C49487"])):
        ts = build_ts(SimpleNamespace(design=d, studyid="S", data_cut=None, ct_release="2025-03-28",
                                      forms={"randomization": pd.DataFrame(columns=["SUBJID", "STAGE"])}))
        assert ts.loc[ts["TSPARMCD"] == "ONGOSIND", ["TSVAL", "TSVALCD"]].values.tolist() == [expected]



@pytest.mark.skipif(not SHARED_CT.is_file(), reason="CDISC's full terminology file is not on this machine")
def test_each_trial_summary_parameter_is_named_as_the_release_names_its_code(package):
    """TSPARM is the TSPARM term (codelist C67152) of the concept its TSPARMCD (C66738) codes: a
    name the sponsor shortened ('Pharmacological Class of Invest. Therapy') is a CT finding."""
    code_of, name_of = {}, {}
    with lzma.open(SHARED_CT, "rt", encoding="utf-8") as release:
        for fields in (line.rstrip("\n").split("\t") for line in release):
            if len(fields) > 4 and fields[1] == "C66738":        # TSPARMCD: code -> concept
                code_of[fields[4]] = fields[0]
            elif len(fields) > 4 and fields[1] == "C67152":      # TSPARM: concept -> name
                name_of[fields[0]] = fields[4]
    ts, _ = read(package[0], "TS")
    named = ts.drop_duplicates("TSPARMCD").set_index("TSPARMCD")["TSPARM"]
    assert {code: parm for code, parm in named.items() if name_of.get(code_of.get(code)) != parm} == {}
    assert ts.loc[ts["TSPARMCD"] == "TBLIND", "TSVALCD"].tolist() == ["C15228"]


def test_ae_seriousness_soc_and_epoch(package):
    folder, _, _, _, _ = package
    ae, _ = read(folder, "AE")
    assert (ae["AESOC"] == ae["AEBODSYS"]).all()
    assert (ae.loc[ae["AEOUT"] == "FATAL", "AESDTH"] == "Y").all()
    assert set(ae.loc[ae["AESER"] == "Y", "AESDTH"]) <= {"Y", "N"}
    assert (ae.loc[ae["AESER"] != "Y", "AESDTH"] == "").all()
    day1 = ae[ae["AESTDY"] == 1]
    assert not day1.empty and (day1["EPOCH"] != "SCREENING").all()   # treatment-emergent, as ADAE says


def test_every_ec_visit_is_in_sv(package):
    """A planned infusion not given (ECOCCUR = N, its reason in ECREASOC) keeps its visit, which SV
    then holds as a scheduled visit that did not occur (SVOCCUR = N, SVREASOC)."""
    folder, _, _, _, _ = package
    ec, _ = read(folder, "EC")
    sv, _ = read(folder, "SV")
    missed = ec[ec["ECOCCUR"] == "N"]
    assert not missed.empty and (missed["ECREASOC"] != "").all()
    assert (ec.loc[ec["ECOCCUR"] == "Y", "ECREASOC"] == "").all()
    visits = set(zip(sv["USUBJID"], sv["VISITNUM"]))
    assert set(zip(ec["USUBJID"], ec["VISITNUM"])) <= visits
    not_held = sv[sv["SVOCCUR"] == "N"]
    assert not not_held.empty and (not_held["SVREASOC"] != "").all() and (not_held["SVSTDTC"] == "").all()
    assert set(sv.loc[sv["VISIT"].str.startswith("UNSCHEDULED"), "SVPRESP"]) <= {""}
    assert (sv.loc[sv["SVOCCUR"] == "Y", "SVPRESP"] == "Y").all()


def test_lb_conformance(package):
    folder, _, _, _, _ = package
    lb, _ = read(folder, "LB")
    assert (lb.loc[lb["LBSTRESC"] == "", "LBSTRESU"] == "").all()           # no unit without a result
    assert (lb.loc[lb["LBORRES"] == "", "LBORRESU"] == "").all()
    assert "NOT DONE" not in set(lb["LBREASND"])                            # a reason, not the status again
    assert "BUN" not in set(lb["LBTESTCD"]) and "UREAN" in set(lb["LBTESTCD"])
    by_unit = {code: t.loinc for code, t in load_study().lab.tests.items() if isinstance(t.loinc, dict)}
    coded = [lb["LBORRESU"].isin(list(units)) & (lb["LBTESTCD"] == code) for code, units in by_unit.items()]
    uncoded = (lb["LBORRES"] != "") & lb["LBTESTCD"].isin(list(by_unit)) & ~np.logical_or.reduce(coded)
    assert (lb.loc[~uncoded, "LBLOINC"] != "").all() and (lb.loc[uncoded, "LBLOINC"] == "").all()
    # the code of the property reported: moles or mass per volume, as the unit sent says
    reported = lb[lb["LBORRESU"] != ""].groupby(["LBTESTCD", "LBORRESU"])["LBLOINC"].agg(set).to_dict()
    assert reported[("BILI", "umol/L")] == {"14631-6"} and reported[("BILI", "mg/dL")] == {"1975-2"}
    assert reported[("CREAT", "umol/L")] == {"14682-9"} and reported[("UREAN", "mg/dL")] == {"3094-0"}
    assert reported[("ALB", "g/L")] == reported[("ALB", "g/dL")] == {"1751-7"}
    assert lb.loc[lb["LBBLFL"] == "Y", "LBSTRESN"].notna().all()            # the record ABLFL can pick
    names = lb.groupby("VISITNUM")["VISIT"].nunique()
    assert (names == 1).all() and lb["VISIT"].str.startswith("UNSCHEDULED ").any()   # VISIT <-> VISITNUM 1:1


def test_lbloinc_names_the_property_the_unit_sent_says_or_none():
    """Moles or mass per volume: the unit sent decides the code; a test not done takes the standard
    unit's; a result in a unit the test has no code for, or one the study does not know, has none.
    Site 01 measures urea, which the study reads as urea nitrogen: its code is urea's."""
    from cdisc.sdtm.lb import _loinc

    h = pd.DataFrame({"lbtestcd": ["BILI", "BILI", "BILI", "CREAT", "ALB", "UREAN", "UREAN", "UREAN", "UREAN"],
                      "unit_cd": ["umol/L", "", None, "mmol/L", None, "mmol/L", "mmol/L", "mg/dL", ""],
                      "site_id": ["01", "01", "02", "04", "01", "01", "02", "01", "01"],
                      "test_raw": ["TBIL", "TBIL", "TBIL", "Creatinine", "ALB", "UREA", "UREA", "UREA", "UREA"]})
    codes = _loinc(h, pd.Series([True, False, True, True, True, True, True, True, False]), load_study())
    assert codes.tolist() == ["14631-6", "1975-2", "", "", "1751-7", "22664-7", "14937-7", "", "22664-7"]


def test_a_site_loinc_must_name_its_own_tests_and_units():
    """A dialect's LOINC code, or list of agreed units, for a local test it does not map, or naming a
    unit the test does not convert from, is refused when the configuration loads."""
    study = load_study()
    site01 = study.sources["site01"]
    with pytest.raises(ValueError, match="not in 'tests'"):
        type(site01).model_validate({**site01.model_dump(), "loinc": {"UREE": "22664-7"}})
    bad = site01.model_copy(update={"loinc": {"UREA": {"g/L": "22664-7"}}})
    with pytest.raises(ValueError, match="does not convert from"):
        type(study).model_validate({**study.model_dump(by_alias=True), "loaded_sources": {"site01": bad}})
    # the same for the units a dialect lets a local test be sent in
    with pytest.raises(ValueError, match="units names local tests not in 'tests'"):
        type(site01).model_validate({**site01.model_dump(), "units": {"UREE": ["mmol/L"]}})
    with pytest.raises(ValueError, match="at least 1 item"):
        type(site01).model_validate({**site01.model_dump(), "units": {"UREA": []}})
    bad = site01.model_copy(update={"units": {"UREA": ["mmol/L", "g/L"]}})
    with pytest.raises(ValueError, match=r"lists \['g/L'\], which UREAN does not convert from"):
        type(study).model_validate({**study.model_dump(by_alias=True), "loaded_sources": {"site01": bad}})
    assert study.agreed_units == {("site01", "UREA"): ["mmol/L"]}


def test_ie_records_each_criterion_not_met(package):
    """Screen failures by the EDC's reason, randomized subjects by the eligibility rules the data
    contradict; every IETESTCD is a TI criterion, inclusion answered N and exclusion Y."""
    folder, _, _, _, engine = package
    ie, ti, dm, ds = (read(folder, n)[0] for n in ("IE", "TI", "DM", "DS"))
    assert not ie.empty and set(ie["IETESTCD"]) <= set(ti["IETESTCD"])
    assert (ie["IEORRES"] == ie["IECAT"].map({"INCLUSION": "N", "EXCLUSION": "Y"})).all()
    failures = set(ds.loc[ds["DSDECOD"] == "SCREEN FAILURE", "USUBJID"])
    mapped = ds[(ds["DSDECOD"] == "SCREEN FAILURE") & (ds["DSTERM"] != "SCREEN FAILURE")]
    assert set(mapped["USUBJID"]) <= set(ie["USUBJID"]) | failures
    flagged = open_findings(engine, "eligibility")
    randomized_ie = ie[~ie["USUBJID"].isin(failures)]
    assert set(randomized_ie["USUBJID"].str[12:]) == set(flagged.loc[flagged["rule"] != "eligibility_unverifiable", "subjid"])
    assert set(ie["VISIT"]) == {"WEEK -1 (SCREENING)"} and set(ie["EPOCH"]) == {"SCREENING"}


def test_dd_ce_and_dialysis_in_pr(package):
    folder, _, _, _, _ = package
    dd, dm, ce, pr = (read(folder, n)[0] for n in ("DD", "DM", "CE", "PR"))
    assert set(dd["USUBJID"]) == set(dm.loc[dm["DTHFL"] == "Y", "USUBJID"])       # every death has its cause
    assert set(dd["DDTESTCD"]) == {"PRCDTH"} and (dd["DDORRES"] != "").all()
    assert set(ce["CETERM"]) == {"ACUTE KIDNEY INJURY", "GASTROINTESTINAL BLEEDING", "UNCONTROLLED INFECTION"}
    assert set(ce["CEPRESP"]) == {"Y"} and set(ce["CEOCCUR"]) <= {"Y", "N"}
    ec, _ = read(folder, "EC")
    assert set(ec["ECPRESP"]) == {"Y"} and set(ec["ECOCCUR"]) <= {"Y", "N"}       # ECOCCUR answers a planned question
    dialysis = pr[pr["PRTRT"] == "DIALYSIS"]
    assert not dialysis.empty and set(dialysis["PREVLINT"]) == {"-P1W"} and (dialysis["PRDTC"] != "").all()
    assert (pr.loc[pr["PRTRT"] == "LIVER TRANSPLANTATION", "PRSTDTC"] != "").all()


def test_the_reviewers_guide_is_written_beside_define(package):
    """csdrg.html: every dataset with its records, the checks with their published rules, the issues
    left with their explanation, the blinding; valid HTML a browser opens offline."""
    from lxml import html
    folder, built, _, _, _ = package
    page = html.parse(str(folder / "csdrg.html")).getroot()
    text = page.text_content()
    rows = {r.xpath("string(td[1])"): r.xpath("string(td[6])") for r in page.xpath("//h2[.='3. Datasets']/following-sibling::table[1]//tr[td]")}
    assert rows == {name: str(len(frame)) for name, frame in sorted(built.items())}
    keys = {r.xpath("string(td[1])"): r.xpath("string(td[5])") for r in page.xpath("//h2[.='3. Datasets']/following-sibling::table[1]//tr[td]")}
    assert keys["LB"] == "STUDYID, USUBJID, LBTESTCD, VISITNUM, LBDTC, LBREFID"
    assert "Pinnacle 21 CT2001" in text and "2025-03-28" in text and "BLINDED" in text
    assert "seriousness criteria" in text and "AESDTH" in text                # a known issue, explained
    assert "Blinded until unblinding is authorized" in text                  # the arm TA shows
    assert "acrf.pdf" in text and (folder / "acrf.pdf").is_file()            # the annotated CRF it names
    assert not page.xpath("//script") and not page.xpath("//*[@src]")         # nothing fetched


def test_a_subject_still_in_screening_is_no_screen_failure(package):
    """At a data cut during enrollment: undecided eligibility or eligible but not yet randomized is
    no screen failure (no DS disposition, no IE record, ARMNRS says why the arm is null)."""
    from dataclasses import replace

    from cdisc.sdtm.clinical import build_ie, unmapped_screen_failures
    from cdisc.sdtm.events import build_ds
    from cdisc.sdtm.special import build_dm
    _, _, _, _, engine = package
    study = load_study()
    ctx = build_context(study, load_design(), forms_in_force(engine, study), data_cut=data_night(engine),
                        eligibility=open_findings(engine, "eligibility"))
    enrol = ctx.forms["enrollment"].copy()
    failed = enrol.index[enrol["ELIGIBLE"] == "N"][:3]
    pending, waiting, unmapped = (enrol.loc[i, "SUBJID"] for i in failed)
    enrol.loc[failed[0], ["ELIGIBLE", "SCREEN_FAIL_REASON"]] = ["", ""]
    enrol.loc[failed[1], ["ELIGIBLE", "SCREEN_FAIL_REASON"]] = ["Y", ""]
    enrol.loc[failed[2], "SCREEN_FAIL_REASON"] = "Investigator's judgement"
    ctx = replace(ctx, forms={**ctx.forms, "enrollment": enrol})
    dm = build_dm(ctx).set_index("SUBJID")
    assert (dm.loc[pending, "ARMNRS"], dm.loc[waiting, "ARMNRS"]) == ("SCREENING NOT COMPLETED", "NOT ASSIGNED")
    assert dm.loc[unmapped, "ARMNRS"] == "SCREEN FAILURE"
    ds = build_ds(ctx)
    failures = set(ds.loc[ds["DSDECOD"] == "SCREEN FAILURE", "USUBJID"])
    assert ctx.usubjid(pd.Series([pending, waiting])).isin(failures).sum() == 0
    assert ctx.usubjid(pd.Series([unmapped])).isin(failures).all()
    ie = build_ie(ctx)
    assert not ctx.usubjid(pd.Series([pending, waiting, unmapped])).isin(ie["USUBJID"]).any()
    assert unmapped_screen_failures(ctx) == [unmapped]     # the asset warns until the reason is mapped


def test_the_lab_table_is_let_go_once_lb_is_built(package, monkeypatch):
    """The largest input of the layer is not held while LB is sorted nor while the domains are
    conformed (the peaks of a large night): it is read by a loader and let go once LB's records are made."""
    import gc
    import weakref

    import cdisc.sdtm.build as build
    import cdisc.sdtm.lb as lb

    _, built, _, _, engine = package
    study = load_study()
    ctx = build_context(study, load_design(), forms_in_force(engine, study), data_cut=data_night(engine),
                        ct_release=BLINDED_SPEC().ct_version, eligibility=open_findings(engine, "eligibility"))
    tables, alive = [], []

    def load():
        lab = load_harmonized_lab(engine)
        tables.append(weakref.ref(lab))
        return lab

    def conform(frame, ds):
        gc.collect()
        alive.append(tables[0]() is not None)
        return real(frame, ds)

    def sequence(frame, *args):
        gc.collect()
        alive.append(tables[0]() is not None)
        return real_sequence(frame, *args)

    real, real_sequence = build.conform, lb.sequence
    monkeypatch.setattr(build, "conform", conform)
    monkeypatch.setattr(lb, "sequence", sequence)
    again = build_domains(ctx, BLINDED_SPEC(), load).datasets
    assert len(alive) == len(again) + 1 and not any(alive)     # gone before LB is sorted, and after
    assert all(again[name].equals(built[name]) for name in built)


def test_sequence_sorts_stably_numbers_per_subject_and_consumes_its_input():
    """--SEQ in key order (ties in input order, missing keys last), 1.. per subject; the input is
    emptied so that a large domain never exists in both row orders."""
    from cdisc.sdtm.common import sequence

    frame = pd.DataFrame({"STUDYID": "S", "DOMAIN": "XX", "USUBJID": ["B", "A", "B", "A", "A"],
                          "XXTESTCD": ["T2", "T1", "T1", None, "T1"], "XXORRES": ["5", "4", "3", "2", "1"],
                          "XXSTRESN": [5.0, 4.0, 3.0, 2.0, 1.0]}, index=[10, 11, 12, 13, 14])
    expected = frame.sort_values(["USUBJID", "XXTESTCD"], kind="stable").reset_index(drop=True)
    out = sequence(frame, "XX", ["USUBJID", "XXTESTCD"])
    assert out.columns.tolist() == ["STUDYID", "DOMAIN", "USUBJID", "XXSEQ", "XXTESTCD", "XXORRES", "XXSTRESN"]
    assert out["XXORRES"].tolist() == ["4", "1", "2", "3", "5"] and out["XXSEQ"].tolist() == [1, 2, 3, 1, 2]
    pd.testing.assert_frame_equal(out.drop(columns="XXSEQ"), expected)
    assert frame.columns.empty


def test_end_of_participation_is_never_before_the_end_of_study_or_the_death(package):
    """SDTMIG 3.4 DM (FDA business rules FB3406/FB3407): RFPENDTC is the last contact or the death,
    so no death, end-of-study, disposition or subject-element date of the subject lies after it (a
    subject still in the study has none)."""
    folder, _, _, _, _ = package
    dm, ds, se = (read(folder, n)[0] for n in ("DM", "DS", "SE"))
    ended = dm.set_index("USUBJID")["RFPENDTC"]
    ended = ended[ended != ""]
    assert (dm["DTHDTC"] != "").any(), "the study has deaths to check"
    for frame, column in ((dm, "DTHDTC"), (dm, "RFENDTC"), (ds, "DSSTDTC"), (se, "SEENDTC")):
        dated = frame[(frame[column] != "") & frame["USUBJID"].isin(ended.index)]
        later = dated[dated[column].str[:10] > dated["USUBJID"].map(ended).str[:10]]
        assert later.empty, f"{column} after RFPENDTC: {later[['USUBJID', column]].head(3).values.tolist()}"


def test_the_encephalopathy_grade_is_cdiscs_west_haven_classification_and_ascites_the_sponsors(package):
    """RS: the grade under CDISC's West Haven codes, its standard result the HEPENCGR term of the
    collected grade; ascites in its sponsor category, its severity as collected."""
    _, built, _, _, _ = package
    rs = built["RS"]
    grade, ascites = rs[rs["RSTESTCD"] == "WHEG0101"], rs[rs["RSTESTCD"] == "ASCITES"]
    assert len(grade) > 100 and len(ascites) > 100 and len(grade) + len(ascites) == len(rs)
    assert set(grade["RSCAT"]) == {"WEST HAVEN HEPATIC ENCEPHALOPATHY GRADE"}
    assert set(grade["RSTEST"]) == {"WHEG01-WH Hepatic Encephalopathy Grade"}
    assert (grade["RSSTRESC"] == "GRADE " + grade["RSORRES"]).all()
    assert (grade["RSSTRESN"] == grade["RSORRES"].astype(float)).all()
    assert set(ascites["RSCAT"]) == {"ASCITES SEVERITY"} and (ascites["RSSTRESC"] == ascites["RSORRES"]).all()
    assert ascites["RSSTRESN"].isna().all()


def test_ae_carries_meddras_other_levels_and_codes_empty_with_the_reason(package):
    """Expected for a MedDRA-coded submission (SDTMIG 3.4 AE assumption 12): present in the spec's
    order, empty while the EDC sends names only, and explained in define.xml's comment."""
    from cdisc.sdtm.events import MEDDRA_NOT_TRANSFERRED

    _, built, _, _, _ = package
    ae, spec = built["AE"], load_spec().datasets["AE"]
    assert len(ae) > 10 and [c for c in ae.columns if c in spec.names] == spec.names
    for name in MEDDRA_NOT_TRANSFERRED:
        assert spec.variable[name].core == "Exp" and spec.variable[name].comment == "COM.MEDDRA"
        assert (ae[name].isna() | (ae[name] == "")).all(), name
    assert (ae["AEDECOD"] != "").all() and (ae["AESOC"] == ae["AEBODSYS"]).all()
