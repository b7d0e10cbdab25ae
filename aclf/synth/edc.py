"""EDC case report forms and IWRS tables as of a data cut, built from the simulated course.

Each form is prepared once for the whole course with `_known` (the day a row enters the database);
a snapshot keeps the rows known by the cut and fills the cut-dependent fields (ongoing AEs, eligibility).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .adverse import term_columns
from .course import NEVER, Course, iso_dates, iso_minutes
from .design import VI, VISITS, VISIT_CODES
from .labs import Labs

FILES = {
    "enrollment.csv": ["SUBJID", "SITEID", "SCREEN_DATE", "CONSENT_DATE", "BRTHDTC", "SEX", "ETHNIC", "RACE",
                       "ELIGIBLE", "SCREEN_FAIL_REASON", "PATIENT_NAME", "PHONE", "ID_CARD_NO"],
    "medical_history.csv": ["SUBJID", "ETIOLOGY", "CIRRHOSIS", "ACLF_ONSET_DATE", "PRIOR_PLT", "PRIOR_CTP"],
    "clinical_assessment.csv": ["SUBJID", "VISIT", "ASSESS_DATE", "HE_GRADE", "ASCITES", "DIALYSIS_2X_WEEK", "AKI",
                                "GI_BLEED", "INFECTION_UNCONTROLLED"],
    "infusion.csv": ["SUBJID", "VISIT", "INF_START", "INF_END", "KIT_NO", "VOLUME_ML", "DONE", "NOT_DONE_REASON"],
    "adverse_events.csv": ["SUBJID", "AESPID", "AETERM", "AETERM_EN", "AEDECOD", "AEBODSYS", "AESTDTC", "AEENDTC",
                           "AESER", "AETOXGR", "AEREL", "AEOUT", "AEACN"],
    "outcome_events.csv": ["SUBJID", "EVENT", "EVENT_DATE", "DEATH_CAUSE"],
    "end_of_study.csv": ["SUBJID", "STATUS", "END_DATE", "LAST_CONTACT_DATE"],
    "visits.csv": ["SUBJID", "VISIT", "VISIT_DATE"],
}
IWRS_COLUMNS = ["SUBJID", "SITEID", "STAGE", "RAND_NO", "RAND_DTM", "KIT_NOS"]
RANDKEY_COLUMNS = ["RAND_NO", "TREATMENT"]
ASCITES = np.array(["NONE", "MILD", "MODERATE", "SEVERE"], dtype=object)


def _yn(b: np.ndarray) -> np.ndarray:
    return np.where(b, "Y", "N").astype(object)


def _partial(iso: np.ndarray, kind: np.ndarray) -> np.ndarray:
    out = iso.copy()
    out[kind == 1] = [s[:7] for s in iso[kind == 1]]
    out[kind == 2] = [s[:4] for s in iso[kind == 2]]
    return out


@dataclass
class Edc:
    """Whole-course forms; `snapshot(cut)` gives the tables a transfer holds."""

    course: Course
    labs: Labs
    aes: pd.DataFrame
    people: pd.DataFrame
    rng: np.random.Generator
    forms: dict[str, pd.DataFrame] = field(default_factory=dict)

    def __post_init__(self) -> None:
        c, p = self.course, self.course.pat
        self.forms = {
            "enrollment.csv": self._enrollment(),
            "medical_history.csv": pd.DataFrame({
                "SUBJID": p.subjid, "ETIOLOGY": p.etiology, "CIRRHOSIS": p.cirrhosis,
                "ACLF_ONSET_DATE": iso_dates(p.onset), "PRIOR_PLT": p.prior_plt.astype(str),
                "PRIOR_CTP": p.prior_ctp.astype(str), "_known": p.screen}),
            "clinical_assessment.csv": self._assessments(),
            "infusion.csv": self._infusions(),
            "outcome_events.csv": self._outcomes(),
            "end_of_study.csv": self._end_of_study(),
            "visits.csv": self._visits(),
        }
        self.ae_terms = term_columns(self.aes)

    def _enrollment(self) -> pd.DataFrame:
        p, pe = self.course.pat, self.people
        return pd.DataFrame({
            "SUBJID": p.subjid, "SITEID": p.site, "SCREEN_DATE": iso_dates(p.screen),
            "CONSENT_DATE": iso_dates(p.consent), "BRTHDTC": [f"{b:%Y-%m-%d}" for b in p.birth],
            "SEX": np.where(p.female, "F", "M"), "ETHNIC": p.ethnic, "RACE": p.race,
            "ELIGIBLE": np.where(p.randomized, "Y", "N"), "SCREEN_FAIL_REASON": p.fail_text,
            "PATIENT_NAME": pe.name_cn, "PHONE": pe.phone, "ID_CARD_NO": pe.id_card,
            "_known": p.screen, "_decided": p.d0})

    def _assessments(self) -> pd.DataFrame:
        c, p, rng = self.course, self.course.pat, self.rng
        assess = np.array([v.assess for v in VISITS])
        pid, vis = np.nonzero(c.vdone & assess[None, :])
        day = c.vday[pid, vis]
        m = len(pid)
        h = c.health(pid, day)
        he0 = p.he0.to_numpy()[pid]
        he = np.where(h > 1.05, np.clip(he0 + np.floor((h - 1) * 3.5), 0, 4), he0)
        he = np.where(h < 0.5, 0, he).astype(int)
        scr = vis == VI["WEEK-1"]
        baseline = scr | (vis == VI["WEEK0"])
        he[baseline] = np.minimum(he[baseline], 1)
        reason = p.fail_reason.to_numpy()[pid]
        he[scr & (reason == "HE")] = rng.integers(2, 4, (scr & (reason == "HE")).sum())
        he[(vis == VI["WEEK0"]) & (p.ineligible.to_numpy()[pid] == "HE")] = 2
        a0 = rng.choice(4, size=len(p), p=[0.25, 0.35, 0.3, 0.1])[pid]
        asc = np.clip(np.round(a0 * np.minimum(h, 1) + 1.5 * np.maximum(h - 1, 0)), 0, 3).astype(int)
        u = rng.random((4, m))
        sick = h > 1.3
        return pd.DataFrame({
            "SUBJID": p.subjid.to_numpy()[pid], "VISIT": np.array(VISIT_CODES, dtype=object)[vis],
            "ASSESS_DATE": iso_dates(p.d0.to_numpy()[pid] + day), "HE_GRADE": he.astype(str),
            "ASCITES": ASCITES[asc], "DIALYSIS_2X_WEEK": _yn((h > 1.4) & (u[0] < 0.35)),
            "AKI": _yn((sick & (u[1] < 0.7)) | (u[1] < 0.03)), "GI_BLEED": _yn(u[2] < 0.03 + 0.12 * sick),
            "INFECTION_UNCONTROLLED": _yn(u[3] < 0.02 + 0.2 * sick), "_known": p.d0.to_numpy()[pid] + day})

    def _infusions(self) -> pd.DataFrame:
        f, p = self.course.infusions, self.course.pat
        d0 = p.d0.to_numpy()[f.pid]
        done = f.done.to_numpy()
        day = d0 + f.day.to_numpy()
        df = pd.DataFrame({
            "SUBJID": p.subjid.to_numpy()[f.pid], "VISIT": f.visit,
            "INF_START": np.where(done, iso_minutes(day, f.start), ""),
            "INF_END": np.where(done, iso_minutes(day, f.end), ""), "KIT_NO": f.kit,
            "VOLUME_ML": np.where(done, "100", ""), "DONE": _yn(done), "NOT_DONE_REASON": f.reason,
            "_known": f.known, "_order": f.pid * 10 + f.visit.map(VI)})
        return df.sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)

    def _outcomes(self) -> pd.DataFrame:
        p = self.course.pat
        m = p.end.isin(["DEATH", "LIVER TRANSPLANT"]).to_numpy()
        q = p[m]
        day = q.d0 + q.end_day
        return pd.DataFrame({"SUBJID": q.subjid, "EVENT": q.end, "EVENT_DATE": iso_dates(day),
                             "DEATH_CAUSE": q.death_cause, "_known": day}).reset_index(drop=True)

    def _end_of_study(self) -> pd.DataFrame:
        p = self.course.pat
        q = p[p.randomized]
        day = q.d0 + q.end_day
        return pd.DataFrame({"SUBJID": q.subjid, "STATUS": q.end, "END_DATE": iso_dates(day),
                             "LAST_CONTACT_DATE": iso_dates(q.d0 + q.last_contact), "_known": day}).reset_index(drop=True)

    def _visits(self) -> pd.DataFrame:
        c, p = self.course, self.course.pat
        pid, vis = np.nonzero(c.vdone)
        s = self.labs.samples
        u = s[s.kind == "unscheduled"]
        pid = np.r_[pid, u.pid.to_numpy()]
        days = np.r_[p.d0.to_numpy()[pid[:len(vis)]] + c.vday[pid[:len(vis)], vis], u.date.to_numpy()]
        code = np.r_[np.array(VISIT_CODES, dtype=object)[vis], np.full(len(u), "UNSCHEDULED", dtype=object)]
        df = pd.DataFrame({"SUBJID": p.subjid.to_numpy()[pid], "VISIT": code, "VISIT_DATE": iso_dates(days),
                           "_known": days, "_pid": pid})
        df = df.sort_values(["_pid", "_known"], kind="stable").drop(columns="_pid")
        return df.drop_duplicates(["SUBJID", "VISIT", "VISIT_DATE"]).reset_index(drop=True)

    def snapshot(self, cut: int, ae_grade_override: dict[int, int] | None = None) -> dict[str, pd.DataFrame]:
        """The eight forms as the EDC exports them for data up to and including day `cut`."""
        out = {}
        for name, df in self.forms.items():
            df = df[df._known.to_numpy() <= cut]
            if name == "enrollment.csv":
                df = df.copy()
                pending = df._decided.to_numpy() > cut
                df.loc[pending, "ELIGIBLE"] = ""
                df.loc[pending, "SCREEN_FAIL_REASON"] = ""
            out[name] = df[FILES[name]]
        out["adverse_events.csv"] = self._aes(cut, ae_grade_override or {})
        return {name: out[name] for name in FILES}

    def _aes(self, cut: int, override: dict[int, int]) -> pd.DataFrame:
        ae = self.aes
        keep = ae.onset.to_numpy() <= cut
        a = ae[keep]
        terms = {k: v[keep] for k, v in self.ae_terms.items()}
        ended = (a.end.to_numpy() <= cut) & (a.end.to_numpy() < NEVER)
        grade = np.where(a.fatal.to_numpy() & ~ended, 4, a.grade.to_numpy())
        if override:
            idx = a.index.to_numpy()
            for row, g in override.items():
                grade[idx == row] = g
        end_iso = np.where(ended, iso_dates(np.where(ended, a.end.to_numpy(), 0)), "")
        return pd.DataFrame({
            "SUBJID": self.course.pat.subjid.to_numpy()[a.pid], "AESPID": a.spid.astype(str).to_numpy(),
            **terms,
            "AESTDTC": _partial(iso_dates(a.onset), a.partial_st.to_numpy()),
            "AEENDTC": np.where(ended, _partial(end_iso.astype(object), np.where(ended, a.partial_en, 0)), ""),
            "AESER": a.ser.to_numpy(), "AETOXGR": grade.astype(str), "AEREL": a.rel.to_numpy(),
            "AEOUT": np.where(ended, a.out.to_numpy(), "NOT RECOVERED/NOT RESOLVED"), "AEACN": a.acn.to_numpy(),
        })[FILES["adverse_events.csv"]]


def iwrs_snapshot(course: Course, cut: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Blinded randomization list and the restricted key, as of the cut."""
    r = course.rand
    r = r[r.day.to_numpy() <= cut]
    p = course.pat
    blind = pd.DataFrame({
        "SUBJID": p.subjid.to_numpy()[r.pid], "SITEID": p.site.to_numpy()[r.pid], "STAGE": r.stage.astype(str),
        "RAND_NO": r.rand_no, "RAND_DTM": iso_minutes(r.day, r.minute), "KIT_NOS": [";".join(k) for k in r.kits]})
    key = pd.DataFrame({"RAND_NO": r.rand_no.to_numpy(), "TREATMENT": r.treatment.to_numpy()})
    return blind[IWRS_COLUMNS], key[RANDKEY_COLUMNS]
