"""Findings about subjects: unknown to the EDC, eligibility the data contradict, impossible order
of events. Thresholds come from ``study/lab.yaml`` (eligibility)."""
from __future__ import annotations

import pandas as pd

from aclf.blinding import stage2_rows
from aclf.disclosure import quoted
from aclf.frames import isin
from aclf.isodate import date_part

from validation.findings import combine, make_findings
from validation.inputs import RuleInputs

EMPTY = pd.DataFrame(columns=["SUBJID"])


def _form(inp: RuleInputs, name: str) -> pd.DataFrame:
    return inp.forms.get(name, EMPTY)


def orphans(inp: RuleInputs) -> pd.DataFrame:
    """Records for a SUBJID that the EDC enrollment form does not hold, per source and subject."""
    enrolled = set(_form(inp, "enrollment")["SUBJID"])
    found = [inp.lab[["subjid", "source"]].rename(columns={"subjid": "SUBJID"}).assign(stage2=False)]
    for name, frame in inp.forms.items():
        if name != "enrollment" and not frame.empty:
            source, spec = inp.study.form(name)
            found.append(frame[["SUBJID"]].assign(source=f"{source}:{name}", stage2=stage2_rows(spec, frame)))
    records = pd.concat(found, ignore_index=True)
    unknown = records[~isin(records["SUBJID"], enrolled) & (records["SUBJID"] != "")]
    # stage-2 rows counted apart: a count of five infusions would tell a blinded reader the arm
    counts = unknown.groupby(["source", "SUBJID", "stage2"]).size().reset_index(name="n")
    rows = counts.rename(columns={"SUBJID": "subjid"})
    kind = rows["stage2"].map({True: " stage-2", False: ""})
    message = ("Subject " + rows["subjid"] + " has " + rows["n"].astype(str) + kind + " record(s) in "
               + rows["source"] + " but is not in the EDC enrollment form. Please check the subject number.")
    key = rows["source"] + "|" + rows["subjid"] + rows["stage2"].map({True: "|stage2", False: ""})
    return make_findings("orphan_subject", rows, key, message, inp.study, rows["stage2"])


def sites(inp: RuleInputs) -> pd.DataFrame:
    """A subject whose site in the enrollment form or the stage-1 randomization is not the one its
    SUBJID names (SS-NNN): DM.SITEID is the form's, so the two must agree."""
    parts = []
    for name in ("enrollment", "randomization"):
        form = _form(inp, name)
        if form.empty or "SITEID" not in form:
            continue
        form = form[~stage2_rows(inp.study.form(name)[1], form)]     # a stage-2 row would tell the arm
        site = form["SITEID"].fillna("")
        bad = form[(site != "") & (site != form["SUBJID"].str[:2])].drop_duplicates("SUBJID")
        if bad.empty:
            continue
        rows = _located(inp, name, bad).reindex(bad["SUBJID"]).rename_axis("subjid").reset_index()
        message = ("Subject " + rows["subjid"] + " is recorded at site " + quoted(bad["SITEID"]).to_numpy()
                   + f" in the {name} form, but its subject number belongs to site " + rows["subjid"].str[:2]
                   + ". Please correct the site or the subject number.")
        parts.append(make_findings("site_mismatch", rows, name + "|" + rows["subjid"], message, inp.study))
    return combine(parts)


def _randomized(inp: RuleInputs) -> pd.Index:
    iwrs = _form(inp, "randomization")
    return pd.Index(iwrs.loc[iwrs["STAGE"] == "1", "SUBJID"].unique()) if "STAGE" in iwrs else pd.Index([])


def _last_screening(inp: RuleInputs, test: str) -> pd.DataFrame:
    """Each subject's last numeric screening record of a test (by date window, else by label), with
    what locates it for the site: the value, visit, test as written, file and row."""
    screening = inp.study.lab.eligibility.screening_visit
    lab = inp.lab
    at_screening = (lab["avisit"] == screening) | ((lab["avisit"] == "") & (lab["visit"] == screening))
    wanted = at_screening & (lab["lbtestcd"] == test) & lab["lbstresn"].notna()
    values = lab.loc[wanted, ["subjid", "lbdtc", "lbstresn", "visit", "test_raw", "transfer_id", "row_number"]] \
        .sort_values("lbdtc")     # the columns it shows: every column of the table cost more than the rule
    last = values.groupby("subjid").tail(1).set_index("subjid")
    return last.assign(test=last["test_raw"], file=inp.file_of(last["transfer_id"]))[
        ["lbstresn", "visit", "test", "file", "row_number"]]


def _located(inp: RuleInputs, name: str, form: pd.DataFrame, visit: str = "") -> pd.DataFrame:
    """A form's rows by subject (the first of each), with the file (``EDC_<date>/<form file>``) and
    row that locate them."""
    if form.empty or "transfer_id" not in form:
        return pd.DataFrame(columns=["visit", "file", "row_number"])
    first = form.drop_duplicates("SUBJID").set_index("SUBJID")
    spec = inp.study.forms.get(name)
    inner = f"/{spec.file}" if spec is not None and spec.file else ""
    return pd.DataFrame({"visit": visit, "file": inp.file_of(first["transfer_id"]) + inner,
                         "row_number": first["row_number"]}, index=first.index)


def eligibility(inp: RuleInputs) -> pd.DataFrame:
    """Randomized subjects whose data contradict an eligibility rule; each finding names the record
    that does (visit, test, file, row) so the site can find the value."""
    rules = inp.study.lab.eligibility
    randomized = _randomized(inp)
    subjects = pd.DataFrame(index=randomized)
    records = {t: _last_screening(inp, t) for t in ("BILI", "INR", "PTAC")}
    tbil, inr, ptac = (records[t]["lbstresn"].reindex(randomized) for t in ("BILI", "INR", "PTAC"))
    enrol = _form(inp, "enrollment").set_index("SUBJID") if not _form(inp, "enrollment").empty else None
    history = _form(inp, "medical_history")
    assessment = _form(inp, "clinical_assessment")
    checks = []

    def add(rule, mask, message, where: pd.DataFrame | None = None):
        mask = mask.reindex(randomized).fillna(False).astype(bool)
        rows = subjects[mask]
        if where is not None:
            rows = rows.join(where.drop(columns=["lbstresn"], errors="ignore"))
        rows = rows.reset_index(names="subjid")
        checks.append(make_findings(rule, rows, rule + "|" + rows["subjid"],
                                    ("Randomized subject " + rows["subjid"] + ": " + message[mask].to_numpy())
                                    if len(rows) else pd.Series(dtype=str), inp.study))

    def text(series):   # object dtype: with no randomized subject the empty float series cannot take "+ str"
        return series.map(lambda v: f"{v:g}").astype(object)

    add("eligibility_tbil", tbil < rules.tbil_min_mg_dl,
        "screening total bilirubin " + text(tbil) + f" mg/dL is below the APASL {rules.tbil_min_mg_dl:g} mg/dL.",
        records["BILI"])
    coag_ok = (inr >= rules.inr_min) | (ptac < rules.ptac_max_exclusive)
    add("eligibility_coagulopathy", ~coag_ok & (inr.notna() | ptac.notna()),
        "screening INR " + text(inr).fillna("missing") + " and prothrombin activity " + text(ptac).fillna("missing")
        + f" % meet neither INR >= {rules.inr_min:g} nor activity < {rules.ptac_max_exclusive:g} %.",
        records["INR"].combine_first(records["PTAC"]))
    missing = pd.Series(randomized, index=randomized)[tbil.isna() | (inr.isna() & ptac.isna())]
    add("eligibility_unverifiable", pd.Series(True, index=missing.index),
        pd.Series("no numeric screening bilirubin or INR/prothrombin activity to verify APASL ACLF.",
                  index=randomized))
    if enrol is not None:
        born, consent = date_part(enrol["BRTHDTC"]), date_part(enrol["CONSENT_DATE"])
        had_birthday = (consent.dt.month > born.dt.month) | ((consent.dt.month == born.dt.month) &
                                                             (consent.dt.day >= born.dt.day))
        age = (consent.dt.year - born.dt.year - (~had_birthday).astype(int)).reindex(randomized)
        low, high = rules.age
        add("eligibility_age", (age < low) | (age > high),
            "age " + age.astype("Int64").astype(str) + f" at consent is outside {low}-{high}.",
            _located(inp, "enrollment", _form(inp, "enrollment")))
    if not assessment.empty:
        base = assessment[assessment["VISIT"] == rules.baseline_visit]
        he = pd.to_numeric(base.set_index("SUBJID")["HE_GRADE"], errors="coerce").groupby(level=0).max()
        he = he.reindex(randomized)
        add("eligibility_he_grade", he >= rules.he_grade_excluding,
            "hepatic encephalopathy grade " + text(he) + f" at baseline ({rules.baseline_visit}) excludes "
            f"(grade {rules.he_grade_excluding} or more).", _located(inp, "clinical_assessment", base, rules.baseline_visit))
    if not history.empty:
        plt = pd.to_numeric(history.set_index("SUBJID")["PRIOR_PLT"], errors="coerce")
        plt = plt[~plt.index.duplicated()].reindex(randomized)
        add("eligibility_platelets", plt < rules.prior_platelets_min,
            "platelets " + text(plt) + f" x10^9/L before onset exclude (below {rules.prior_platelets_min:g}).",
            _located(inp, "medical_history", history))
        ctp = pd.to_numeric(history.set_index("SUBJID")["PRIOR_CTP"], errors="coerce")
        ctp = ctp[~ctp.index.duplicated()].reindex(randomized)
        add("eligibility_prior_child_pugh", ctp > rules.prior_child_pugh_max,
            "Child-Pugh score " + text(ctp) + f" before onset excludes (above {rules.prior_child_pugh_max:g}).",
            _located(inp, "medical_history", history))
    return combine(checks)


def chronology(inp: RuleInputs) -> pd.DataFrame:
    """Infusions, visits and samples after death; samples before consent."""
    outcomes = _form(inp, "outcome_events")
    deaths = outcomes[outcomes["EVENT"] == "DEATH"] if "EVENT" in outcomes else EMPTY
    death = date_part(deaths.set_index("SUBJID")["EVENT_DATE"]).groupby(level=0).min() if not deaths.empty \
        else pd.Series(dtype="datetime64[ns]")
    parts = []

    def after_death(rule, frame, subj, date_col, label, key_cols, what, form=None):
        if frame.empty or death.empty:
            return
        when = date_part(frame[date_col])
        died = frame[subj].map(death)
        bad = frame[when > died]
        if bad.empty:
            return
        if subj != "subjid":   # a frame carrying both spellings (lab samples) keeps one
            bad = bad.drop(columns=["subjid"], errors="ignore")
        rows = bad.rename(columns={subj: "subjid"}).assign(visit=bad[label] if label in bad else "")
        key = rule + "|" + bad[key_cols].astype(str).agg("|".join, axis=1)
        message = (what(bad) + " on " + when[bad.index].dt.strftime("%Y-%m-%d") + " is after the recorded death on "
                   + died[bad.index].dt.strftime("%Y-%m-%d") + ". Please correct the date or the event.")
        parts.append(make_findings(rule, rows, key, message, inp.study,
                                   stage2_rows(inp.study.form(form)[1], bad) if form else None))

    infusion = _form(inp, "infusion")
    if not infusion.empty:
        after_death("infusion_after_death", infusion[infusion["DONE"] == "Y"], "SUBJID", "INF_START", "VISIT",
                    ["SUBJID", "VISIT"], lambda b: "Subject " + b["SUBJID"] + ": infusion at " + b["VISIT"], "infusion")
    after_death("visit_after_death", _form(inp, "visits"), "SUBJID", "VISIT_DATE", "VISIT",
                ["SUBJID", "VISIT", "VISIT_DATE"], lambda b: "Subject " + b["SUBJID"] + ": visit " + b["VISIT"])
    samples = inp.lab.drop_duplicates(["source", "sample_id"]).assign(SUBJID=lambda f: f["subjid"])
    after_death("sample_after_death", samples, "SUBJID", "lbdtc", "visit", ["source", "sample_id"],
                lambda b: "Subject " + b["SUBJID"] + ": lab sample " + b["sample_id"])
    enrol = _form(inp, "enrollment")
    if not enrol.empty and not samples.empty:
        consent = date_part(enrol.set_index("SUBJID")["CONSENT_DATE"])
        consent = consent[~consent.index.duplicated()]
        drawn = date_part(samples["lbdtc"])
        given = samples["subjid"].map(consent)
        early = samples[drawn < given]
        rows = early.assign(file=inp.file_of(early["transfer_id"]))
        message = ("Subject " + early["subjid"] + ": lab sample " + early["sample_id"] + " drawn on "
                   + early["lbdtc"].str[:10] + " is before informed consent on "
                   + given[early.index].dt.strftime("%Y-%m-%d") + ".")
        parts.append(make_findings("sample_before_consent", rows, early["source"] + "|" + early["sample_id"],
                                   message, inp.study))
    return combine(parts)
